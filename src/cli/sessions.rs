//! `session …`: list and revoke a user's sessions.

use clap::Subcommand;
use uuid::Uuid;

use crate::{admin::Actor, app, config::Config, error::Error};

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

pub async fn run(cmd: SessionCommand) -> anyhow::Result<()> {
    let actor = Actor::cli();
    match cmd {
        SessionCommand::List { user, json, config } => {
            let admin = app::admin(&config).await?;
            let u = admin.find_user(&user).await.map_err(Error::into_anyhow)?;
            let sessions = admin
                .list_sessions(u.id)
                .await
                .map_err(Error::into_anyhow)?;
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
            let admin = app::admin(&config).await?;
            let u = admin.find_user(&user).await.map_err(Error::into_anyhow)?;
            let n = admin
                .revoke_sessions(u.id, session, &actor)
                .await
                .map_err(Error::into_anyhow)?;
            println!("revoked {n} session(s) of {}", u.email);
        }
    }
    Ok(())
}
