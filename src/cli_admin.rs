//! Administration subcommands: users, sessions, keys, audit log, imports. They talk to the
//! database directly (for scripts and emergencies) and share their logic with the admin API.

use std::{io::IsTerminal, path::PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    admin::{prune_audit_log, Actor, Admin, Ban, NewUserInput, UserPatch},
    auth::{keys::KeySet, password::PasswordHasher},
    config::{parse_role, Config},
    error::Error,
    http::user::user_json_for,
    import,
    secret::Secret,
    store::{self, users::User},
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
}

#[derive(Args, Debug)]
pub struct UserArg {
    /// Email or id.
    user: String,
    #[command(flatten)]
    config: Box<Config>,
}

#[derive(Subcommand, Debug)]
pub enum SessionCommand {
    /// List a user's sessions.
    List {
        user: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Revoke one session of a user (`--session`) or all of them (`--all`).
    Revoke {
        user: String,
        #[arg(long, required_unless_present = "all", conflicts_with = "all")]
        session: Option<Uuid>,
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        config: Box<Config>,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Show the newest audit-log entries.
    List {
        /// Only this user's entries (email or id).
        #[arg(long)]
        user: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Delete entries older than AUTH_AUDIT_RETENTION now (the server also does it every ten minutes).
    Prune {
        #[command(flatten)]
        config: Box<Config>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Import the `hasura_user` table of the PL/pgSQL hasura-jwt-auth.
    HasuraJwtAuth {
        /// PostgreSQL URL of the database that holds the table.
        #[arg(long, env = "AUTH_IMPORT_FROM", hide_env_values = true)]
        from: Secret,
        /// Table name, optionally schema-qualified.
        #[arg(long, default_value = "hasura_user")]
        table: String,
        #[command(flatten)]
        config: Box<Config>,
    },
    /// Import users from a JSON (array of objects) or CSV file with bcrypt or Argon2 hashes.
    Users {
        #[arg(long)]
        file: PathBuf,
        /// Name recorded with `legacy_id`s in `legacy_user_ids`.
        #[arg(long, default_value = "file")]
        source: String,
        #[command(flatten)]
        config: Box<Config>,
    },
}

/// A CLI error: the message and its cause (the status code means nothing here).
fn cli(e: Error) -> anyhow::Error {
    e.into_anyhow()
}

async fn admin(config: &Config) -> anyhow::Result<Admin> {
    config.validate()?;
    let pool = store::connect(&config.db).await?;
    store::migrate(&pool, &config.db.db_schema).await?;
    let hasher = PasswordHasher::new(
        config.argon2_memory_kib,
        config.argon2_iterations,
        config.argon2_parallelism,
        1,
        config.legacy_hmac_secret.clone(),
    )?;
    Ok(Admin {
        pool,
        hasher,
        default_role: config.default_role.clone(),
        default_allowed_roles: config.default_allowed_roles.clone(),
    })
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

fn aud(config: &Config) -> &str {
    config.jwt_audience.as_deref().unwrap_or("authenticated")
}

fn print_user(config: &Config, user: &User, as_json: bool) {
    if as_json {
        println!(
            "{}",
            serde_json::to_string_pretty(&user_json_for(aud(config), user)).unwrap_or_default()
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
    let admin = admin(config).await?;
    let u = admin.find_user(user).await.map_err(cli)?;
    let u = admin
        .update_user(u.id, patch, &Actor::cli())
        .await
        .map_err(cli)?;
    print_user(config, &u, false);
    Ok(())
}

pub async fn run_user(cmd: UserCommand) -> anyhow::Result<()> {
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
            let admin = admin(&config).await?;
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
                ..Default::default()
            };
            let user = admin.create_user(input, &actor).await.map_err(cli)?;
            print_user(&config, &user, false);
        }
        UserCommand::List {
            json,
            page,
            per_page,
            config,
        } => {
            let admin = admin(&config).await?;
            let (users, total) = admin
                .list_users(page, per_page.clamp(1, 10_000))
                .await
                .map_err(cli)?;
            if json {
                let list: Vec<Value> = users
                    .iter()
                    .map(|u| user_json_for(aud(&config), u))
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
            let admin = admin(&config).await?;
            let u = admin.find_user(&user).await.map_err(cli)?;
            print_user(&config, &u, json);
            if !json {
                let sessions = admin.list_sessions(u.id).await.map_err(cli)?;
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
            let admin = admin(&config).await?;
            let u = admin.find_user(&user).await.map_err(cli)?;
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
                .map_err(cli)?;
            println!(
                "password set for {}; all their sessions were revoked",
                u.email
            );
        }
        UserCommand::Delete(UserArg { user, config }) => {
            let admin = admin(&config).await?;
            let u = admin.find_user(&user).await.map_err(cli)?;
            admin.delete_user(u.id, &actor).await.map_err(cli)?;
            println!("deleted {} ({})", u.email, u.id);
        }
    }
    Ok(())
}

pub async fn run_session(cmd: SessionCommand) -> anyhow::Result<()> {
    let actor = Actor::cli();
    match cmd {
        SessionCommand::List { user, json, config } => {
            let admin = admin(&config).await?;
            let u = admin.find_user(&user).await.map_err(cli)?;
            let sessions = admin.list_sessions(u.id).await.map_err(cli)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&sessions)?);
            } else {
                for s in &sessions {
                    println!(
                        "{}  created {}  last refresh {}  ip {}  {}",
                        s.id,
                        s.created_at.to_rfc3339(),
                        s.refreshed_at.to_rfc3339(),
                        s.ip.as_deref().unwrap_or("-"),
                        s.user_agent.as_deref().unwrap_or("-")
                    );
                }
                eprintln!("{} sessions", sessions.len());
            }
        }
        SessionCommand::Revoke {
            user,
            session,
            all: _,
            config,
        } => {
            let admin = admin(&config).await?;
            let u = admin.find_user(&user).await.map_err(cli)?;
            let n = admin
                .revoke_sessions(u.id, session, &actor)
                .await
                .map_err(cli)?;
            println!("revoked {n} session(s) of {}", u.email);
        }
    }
    Ok(())
}

pub async fn run_audit(cmd: AuditCommand) -> anyhow::Result<()> {
    match cmd {
        AuditCommand::List {
            user,
            limit,
            json,
            config,
        } => {
            let admin = admin(&config).await?;
            let user_id = match user {
                Some(u) => Some(admin.find_user(&u).await.map_err(cli)?.id),
                None => None,
            };
            let (entries, _) = admin
                .audit_log(1, limit.clamp(1, 10_000), user_id)
                .await
                .map_err(cli)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&entries)?);
            } else {
                for e in &entries {
                    println!(
                        "{}  {:<24} user={} session={} ip={} {}",
                        e.created_at.to_rfc3339(),
                        e.event,
                        e.user_id
                            .map(|u| u.to_string())
                            .unwrap_or_else(|| "-".into()),
                        e.session_id
                            .map(|u| u.to_string())
                            .unwrap_or_else(|| "-".into()),
                        e.ip.as_deref().unwrap_or("-"),
                        e.detail
                    );
                }
            }
        }
        AuditCommand::Prune { config } => {
            let admin = admin(&config).await?;
            match config.audit_retention.0 {
                None => println!("AUTH_AUDIT_RETENTION is off: nothing pruned"),
                Some(d) => println!(
                    "pruned {} audit entries",
                    prune_audit_log(&admin.pool, d).await?
                ),
            }
        }
    }
    Ok(())
}

fn print_report(report: &import::Report) {
    for (row, why) in &report.skipped {
        println!("skipped {row}: {why}");
    }
    for (row, why) in &report.failed {
        eprintln!("failed {row}: {why}");
    }
    println!(
        "imported {}, skipped {}, failed {}",
        report.imported,
        report.skipped.len(),
        report.failed.len()
    );
}

pub async fn run_import(cmd: ImportCommand) -> anyhow::Result<()> {
    let actor = Actor::cli();
    let report = match cmd {
        ImportCommand::HasuraJwtAuth {
            from,
            table,
            config,
        } => {
            let secret = config.legacy_hmac_secret.clone().context(
                "set AUTH_LEGACY_HMAC_SECRET (--legacy-hmac-secret) to the old JWT secret: it is part of the old password hashes",
            )?;
            let admin = admin(&config).await?;
            let options: sqlx::postgres::PgConnectOptions = from
                .expose()
                .parse()
                .context("--from is not a valid PostgreSQL URL")?;
            let source = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await
                .context("cannot connect to the --from database")?;
            let target = import::Target {
                pool: &admin.pool,
                default_role: &config.default_role,
                default_allowed_roles: &config.default_allowed_roles,
                source: import::SEED_SOURCE,
            };
            import::from_hasura_jwt_auth(&source, &table, &secret, &target, &actor).await?
        }
        ImportCommand::Users {
            file,
            source,
            config,
        } => {
            let admin = admin(&config).await?;
            let target = import::Target {
                pool: &admin.pool,
                default_role: &config.default_role,
                default_allowed_roles: &config.default_allowed_roles,
                source: &source,
            };
            import::from_file(&file, &target, &actor).await?
        }
    };
    print_report(&report);
    if !report.failed.is_empty() {
        anyhow::bail!(
            "{} row(s) could not be imported (nothing was written for them)",
            report.failed.len()
        );
    }
    Ok(())
}

/// `keys list`: the configured keys, the signing one first.
pub fn list_keys(config: &Config) -> anyhow::Result<()> {
    let keys = KeySet::load(&config.keys)?;
    for (i, key) in keys.all().enumerate() {
        println!(
            "{}  {:<6} kid={}  {}",
            if i == 0 { "signing  " } else { "published" },
            key.alg.name(),
            key.kid.as_deref().unwrap_or("-"),
            key.source
        );
    }
    Ok(())
}
