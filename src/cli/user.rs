//! `user …`: create, list, show, disable, enable, set roles, set password, delete, invite,
//! print a link. Each command's arguments are a struct whose `run` carries it out.

use std::io::IsTerminal;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::{
    admin::{Actor, Ban, NewUserInput, UserPatch},
    api::UserView,
    app::{self, App},
    auth::email::generate_link::LinkRequest,
    config::{parse_role, Config},
    error::Error,
    secret::Secret,
    store::users::User,
};

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user. The password is read from standard input or a prompt, never from argv.
    Add(Add),
    /// List users.
    List(List),
    /// Show one user (by email or id).
    Show(Show),
    /// Disable a user and revoke all their sessions.
    Disable(UserArg),
    /// Enable a user (and lift any ban).
    Enable(UserArg),
    /// Set a user's roles; the default role must be one of the allowed roles.
    SetRoles(SetRoles),
    /// Set a user's password (standard input or a prompt) and revoke all their sessions.
    SetPassword(SetPassword),
    /// Delete a user and their sessions.
    Delete(UserArg),
    /// Invite someone by email: an account without a password, and the invitation message
    /// (sent by the running server's delivery worker).
    Invite(Invite),
    /// Print a link and code for a user, sent nowhere: `recovery`, `magiclink` or `invite`.
    Link(Link),
}

pub async fn run(cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add(c) => c.run().await,
        UserCommand::List(c) => c.run().await,
        UserCommand::Show(c) => c.run().await,
        UserCommand::Disable(c) => {
            let patch = UserPatch {
                enabled: Some(false),
                ..Default::default()
            };
            c.update_and_print(patch).await
        }
        UserCommand::Enable(c) => {
            let patch = UserPatch {
                enabled: Some(true),
                ban: Some(Ban::Lift),
                ..Default::default()
            };
            c.update_and_print(patch).await
        }
        UserCommand::SetRoles(c) => c.run().await,
        UserCommand::SetPassword(c) => c.run().await,
        UserCommand::Delete(c) => c.delete().await,
        UserCommand::Invite(c) => c.run().await,
        UserCommand::Link(c) => c.run().await,
    }
}

#[derive(Args, Debug)]
pub struct UserArg {
    /// Email or id.
    user: String,
    #[command(flatten)]
    config: Box<Config>,
}

impl UserArg {
    /// Finds the user, applies `patch` and prints the result.
    async fn update_and_print(self, patch: UserPatch) -> anyhow::Result<()> {
        let admin = app::admin(&self.config).await?;
        let u = admin
            .find_user(&self.user)
            .await
            .map_err(Error::into_anyhow)?;
        let u = admin
            .update_user(u.id, patch, &Actor::cli())
            .await
            .map_err(Error::into_anyhow)?;
        print_user(&self.config, &u, false);
        Ok(())
    }

    async fn delete(self) -> anyhow::Result<()> {
        let admin = app::admin(&self.config).await?;
        let u = admin
            .find_user(&self.user)
            .await
            .map_err(Error::into_anyhow)?;
        admin
            .delete_user(u.id, &Actor::cli())
            .await
            .map_err(Error::into_anyhow)?;
        println!("deleted {} ({})", u.email, u.id);
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct Add {
    #[arg(long)]
    email: String,
    /// Read the password from standard input (one line) instead of prompting.
    #[arg(long)]
    password_stdin: bool,
    /// Create the user without a password (they cannot sign in until one is set).
    #[arg(long, conflicts_with = "password_stdin")]
    no_password: bool,
    /// The user's default role (default: AUTH_DEFAULT_ROLE).
    #[arg(long = "role", value_parser = parse_role)]
    role: Option<String>,
    #[arg(long, value_delimiter = ',', value_parser = parse_role)]
    allowed_roles: Option<Vec<String>>,
    /// Create the user disabled.
    #[arg(long)]
    disabled: bool,
    #[command(flatten)]
    config: Box<Config>,
}

impl Add {
    async fn run(self) -> anyhow::Result<()> {
        let admin = app::admin(&self.config).await?;
        let password = (!self.no_password)
            .then(|| read_password(self.password_stdin))
            .transpose()?;
        let input = NewUserInput {
            email: self.email,
            password,
            app_metadata: roles_metadata(self.role, self.allowed_roles),
            enabled: !self.disabled,
            // The administrator vouches for the address.
            email_confirmed: true,
            ..Default::default()
        };
        let user = admin
            .create_user(input, &Actor::cli())
            .await
            .map_err(Error::into_anyhow)?;
        print_user(&self.config, &user, false);
        Ok(())
    }
}

/// `app_metadata` for `--role` and `--allowed-roles`: a default role alone is also the only
/// allowed one.
fn roles_metadata(role: Option<String>, allowed_roles: Option<Vec<String>>) -> Option<Value> {
    let mut app = serde_json::Map::new();
    if let Some(r) = role {
        if allowed_roles.is_none() {
            app.insert("allowed_roles".into(), json!([r]));
        }
        app.insert("default_role".into(), json!(r));
    }
    if let Some(r) = allowed_roles {
        app.insert("allowed_roles".into(), json!(r));
    }
    (!app.is_empty()).then_some(Value::Object(app))
}

#[derive(Args, Debug)]
pub struct List {
    #[arg(long)]
    json: bool,
    #[arg(long, default_value_t = 1)]
    page: u32,
    #[arg(long, default_value_t = 1000)]
    per_page: u32,
    #[command(flatten)]
    config: Box<Config>,
}

impl List {
    async fn run(self) -> anyhow::Result<()> {
        let admin = app::admin(&self.config).await?;
        let (users, total) = admin
            .list_users(self.page, self.per_page.clamp(1, 10_000))
            .await
            .map_err(Error::into_anyhow)?;
        if self.json {
            let list: Vec<UserView> = users
                .iter()
                .map(|u| UserView::new(u, self.config.user_audience()))
                .collect();
            println!("{}", serde_json::to_string_pretty(&list)?);
        } else {
            for u in &users {
                println!("{}", user_line(u));
            }
        }
        // On standard error, so `--json` output stays parseable.
        eprintln!(
            "{} of {total} users (page {}; --page and --per-page for more)",
            users.len(),
            self.page
        );
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct Show {
    user: String,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    config: Box<Config>,
}

impl Show {
    async fn run(self) -> anyhow::Result<()> {
        let admin = app::admin(&self.config).await?;
        let u = admin
            .find_user(&self.user)
            .await
            .map_err(Error::into_anyhow)?;
        print_user(&self.config, &u, self.json);
        if !self.json {
            let sessions = admin
                .list_sessions(u.id)
                .await
                .map_err(Error::into_anyhow)?;
            println!("sessions: {}", sessions.len());
        }
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct SetRoles {
    user: String,
    /// The default role.
    #[arg(long = "role", value_parser = parse_role)]
    role: String,
    #[arg(long, value_delimiter = ',', value_parser = parse_role, required = true)]
    allowed_roles: Vec<String>,
    #[command(flatten)]
    config: Box<Config>,
}

impl SetRoles {
    async fn run(self) -> anyhow::Result<()> {
        let patch = UserPatch {
            app_metadata: Some(
                json!({"default_role": self.role, "allowed_roles": self.allowed_roles}),
            ),
            ..Default::default()
        };
        let user = UserArg {
            user: self.user,
            config: self.config,
        };
        user.update_and_print(patch).await
    }
}

#[derive(Args, Debug)]
pub struct SetPassword {
    user: String,
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    config: Box<Config>,
}

impl SetPassword {
    async fn run(self) -> anyhow::Result<()> {
        let admin = app::admin(&self.config).await?;
        let u = admin
            .find_user(&self.user)
            .await
            .map_err(Error::into_anyhow)?;
        let patch = UserPatch {
            password: Some(read_password(self.password_stdin)?),
            ..Default::default()
        };
        admin
            .update_user(u.id, patch, &Actor::cli())
            .await
            .map_err(Error::into_anyhow)?;
        println!(
            "password set for {}; all their sessions were revoked",
            u.email
        );
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct Invite {
    email: String,
    /// Where the invitation link leads (an allowed URL; default: AUTH_SITE_URL).
    #[arg(long)]
    redirect_to: Option<String>,
    #[command(flatten)]
    config: Box<Config>,
}

impl Invite {
    async fn run(self) -> anyhow::Result<()> {
        let app = App::build(*self.config).await?;
        let u = app
            .auth
            .invite(
                &self.email,
                None,
                self.redirect_to.as_deref(),
                &Actor::cli().client,
            )
            .await
            .map_err(Error::into_anyhow)?;
        println!(
            "invited {} ({}); the server sends the message",
            u.email, u.id
        );
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct Link {
    /// Email of the user.
    user: String,
    #[arg(long = "type", value_parser = ["recovery", "magiclink", "invite"])]
    link_type: String,
    #[arg(long)]
    redirect_to: Option<String>,
    #[command(flatten)]
    config: Box<Config>,
}

impl Link {
    async fn run(self) -> anyhow::Result<()> {
        let app = App::build(*self.config).await?;
        let request = LinkRequest {
            link_type: self.link_type,
            email: self.user,
            redirect_to: self.redirect_to,
            ..Default::default()
        };
        let (_, token) = app
            .auth
            .generate_link(request)
            .await
            .map_err(Error::into_anyhow)?;
        println!("{}", token.action_link.expose());
        eprintln!("code: {}", token.code.expose());
        Ok(())
    }
}

/// Reads a new password from standard input, or prompts twice on a terminal.
fn read_password(from_stdin: bool) -> anyhow::Result<Secret> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        let pw = line.trim_end_matches(['\n', '\r']).to_owned();
        anyhow::ensure!(!pw.is_empty(), "no password on standard input");
        return Ok(Secret::new(pw));
    }
    let first = rpassword::prompt_password("Password: ")?;
    let second = rpassword::prompt_password("Repeat password: ")?;
    anyhow::ensure!(first == second, "the passwords differ");
    Ok(Secret::new(first))
}

fn print_user(config: &Config, user: &User, as_json: bool) {
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&UserView::new(user, config.user_audience()))
                .unwrap_or_default()
        );
    } else {
        println!("{}", user_line(user));
    }
}

fn user_line(u: &User) -> String {
    let state = if !u.enabled {
        "disabled".to_owned()
    } else if u.banned_until.is_some_and(|t| t > chrono::Utc::now()) {
        format!(
            "banned until {}",
            u.banned_until.unwrap_or_default().to_rfc3339()
        )
    } else {
        "enabled".to_owned()
    };
    format!(
        "{}  {}  {}  default_role={}  allowed_roles={}",
        u.id,
        u.email,
        state,
        u.default_role,
        u.allowed_roles.join(",")
    )
}
