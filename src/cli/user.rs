//! `user …`: create, list, show, disable, enable, set roles, set password, delete.

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
    Add {
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
    },
    /// List users.
    List {
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 1)]
        page: u32,
        #[arg(long, default_value_t = 1000)]
        per_page: u32,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Show one user (by email or id).
    Show {
        user: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Disable a user and revoke all their sessions.
    Disable(UserArg),
    /// Enable a user (and lift any ban).
    Enable(UserArg),
    /// Set a user's roles; the default role must be one of the allowed roles.
    SetRoles {
        user: String,
        /// The default role.
        #[arg(long = "role", value_parser = parse_role)]
        role: String,
        #[arg(long, value_delimiter = ',', value_parser = parse_role, required = true)]
        allowed_roles: Vec<String>,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Set a user's password (standard input or a prompt) and revoke all their sessions.
    SetPassword {
        user: String,
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Delete a user and their sessions.
    Delete(UserArg),
    /// Invite someone by email: an account without a password, and the invitation message
    /// (sent by the running server's delivery worker).
    Invite {
        email: String,
        /// Where the invitation link leads (an allowed URL; default: AUTH_SITE_URL).
        #[arg(long)]
        redirect_to: Option<String>,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Print a link and code for a user, sent nowhere: `recovery`, `magiclink` or `invite`.
    Link {
        /// Email of the user.
        user: String,
        #[arg(long = "type", value_parser = ["recovery", "magiclink", "invite"])]
        link_type: String,
        #[arg(long)]
        redirect_to: Option<String>,
        #[command(flatten)]
        config: Box<Config>,
    },
}

#[derive(Args, Debug)]
pub struct UserArg {
    /// Email or id.
    user: String,
    #[command(flatten)]
    config: Box<Config>,
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

/// Finds `user` (email or id), applies `patch` and prints the result.
async fn update_and_print(config: &Config, user: &str, patch: UserPatch) -> anyhow::Result<()> {
    let admin = app::admin(config).await?;
    let u = admin.find_user(user).await.map_err(Error::into_anyhow)?;
    let u = admin
        .update_user(u.id, patch, &Actor::cli())
        .await
        .map_err(Error::into_anyhow)?;
    print_user(config, &u, false);
    Ok(())
}

pub async fn run(cmd: UserCommand) -> anyhow::Result<()> {
    let actor = Actor::cli();
    match cmd {
        UserCommand::Add {
            email,
            password_stdin,
            no_password,
            role,
            allowed_roles,
            disabled,
            config,
        } => {
            let admin = app::admin(&config).await?;
            let password = if no_password {
                None
            } else {
                Some(read_password(password_stdin)?)
            };
            let mut app = serde_json::Map::new();
            if let Some(r) = role.clone() {
                app.insert("default_role".into(), json!(r));
                if allowed_roles.is_none() {
                    app.insert("allowed_roles".into(), json!([r]));
                }
            }
            if let Some(r) = allowed_roles {
                app.insert("allowed_roles".into(), json!(r));
            }
            let input = NewUserInput {
                email,
                password,
                app_metadata: (!app.is_empty()).then_some(Value::Object(app)),
                enabled: !disabled,
                // The administrator vouches for the address.
                email_confirmed: true,
                ..Default::default()
            };
            let user = admin
                .create_user(input, &actor)
                .await
                .map_err(Error::into_anyhow)?;
            print_user(&config, &user, false);
        }
        UserCommand::List {
            json,
            page,
            per_page,
            config,
        } => {
            let admin = app::admin(&config).await?;
            let (users, total) = admin
                .list_users(page, per_page.clamp(1, 10_000))
                .await
                .map_err(Error::into_anyhow)?;
            if json {
                let list: Vec<UserView> = users
                    .iter()
                    .map(|u| UserView::new(u, config.user_audience()))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for u in &users {
                    println!("{}", user_line(u));
                }
            }
            // On standard error, so `--json` output stays parseable.
            eprintln!(
                "{} of {total} users (page {page}; --page and --per-page for more)",
                users.len()
            );
        }
        UserCommand::Show { user, json, config } => {
            let admin = app::admin(&config).await?;
            let u = admin.find_user(&user).await.map_err(Error::into_anyhow)?;
            print_user(&config, &u, json);
            if !json {
                let sessions = admin
                    .list_sessions(u.id)
                    .await
                    .map_err(Error::into_anyhow)?;
                println!("sessions: {}", sessions.len());
            }
        }
        UserCommand::Disable(UserArg { user, config }) => {
            let patch = UserPatch {
                enabled: Some(false),
                ..Default::default()
            };
            update_and_print(&config, &user, patch).await?;
        }
        UserCommand::Enable(UserArg { user, config }) => {
            let patch = UserPatch {
                enabled: Some(true),
                ban: Some(Ban::Lift),
                ..Default::default()
            };
            update_and_print(&config, &user, patch).await?;
        }
        UserCommand::SetRoles {
            user,
            role,
            allowed_roles,
            config,
        } => {
            let app = json!({"default_role": role, "allowed_roles": allowed_roles});
            let patch = UserPatch {
                app_metadata: Some(app),
                ..Default::default()
            };
            update_and_print(&config, &user, patch).await?;
        }
        UserCommand::SetPassword {
            user,
            password_stdin,
            config,
        } => {
            let admin = app::admin(&config).await?;
            let u = admin.find_user(&user).await.map_err(Error::into_anyhow)?;
            let password = read_password(password_stdin)?;
            admin
                .update_user(
                    u.id,
                    UserPatch {
                        password: Some(password),
                        ..Default::default()
                    },
                    &actor,
                )
                .await
                .map_err(Error::into_anyhow)?;
            println!(
                "password set for {}; all their sessions were revoked",
                u.email
            );
        }
        UserCommand::Invite {
            email,
            redirect_to,
            config,
        } => {
            let app = App::build(*config).await?;
            let u = app
                .auth
                .invite(&email, None, redirect_to.as_deref(), &actor.client)
                .await
                .map_err(Error::into_anyhow)?;
            println!(
                "invited {} ({}); the server sends the message",
                u.email, u.id
            );
        }
        UserCommand::Link {
            user,
            link_type,
            redirect_to,
            config,
        } => {
            let app = App::build(*config).await?;
            let request = LinkRequest {
                link_type,
                email: user,
                redirect_to,
                ..Default::default()
            };
            let (_, token) = app
                .auth
                .generate_link(request)
                .await
                .map_err(Error::into_anyhow)?;
            println!("{}", token.action_link.expose());
            eprintln!("code: {}", token.code.expose());
        }
        UserCommand::Delete(UserArg { user, config }) => {
            let admin = app::admin(&config).await?;
            let u = admin.find_user(&user).await.map_err(Error::into_anyhow)?;
            admin
                .delete_user(u.id, &actor)
                .await
                .map_err(Error::into_anyhow)?;
            println!("deleted {} ({})", u.email, u.id);
        }
    }
    Ok(())
}
