//! `audit …`: read and prune the audit log.

use clap::Subcommand;

use crate::{app, config::Config, error::Error, store};

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

pub async fn run(cmd: AuditCommand) -> anyhow::Result<()> {
    match cmd {
        AuditCommand::List {
            user,
            limit,
            json,
            config,
        } => {
            let admin = app::admin(&config).await?;
            let user_id = match user {
                Some(u) => Some(admin.find_user(&u).await.map_err(Error::into_anyhow)?.id),
                None => None,
            };
            let (entries, _) = admin
                .audit_log(1, limit.clamp(1, 10_000), user_id)
                .await
                .map_err(Error::into_anyhow)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&entries)?);
            } else {
                for e in &entries {
                    println!(
                        "{}  {:<24} user={} session={} ip={} request={} {}",
                        e.created_at.to_rfc3339(),
                        e.event,
                        e.user_id
                            .map(|u| u.to_string())
                            .unwrap_or_else(|| "-".into()),
                        e.session_id
                            .map(|u| u.to_string())
                            .unwrap_or_else(|| "-".into()),
                        e.ip.as_deref().unwrap_or("-"),
                        e.request_id.as_deref().unwrap_or("-"),
                        e.detail
                    );
                }
            }
        }
        AuditCommand::Prune { config } => {
            let admin = app::admin(&config).await?;
            match config.server.audit_retention.0 {
                None => println!("AUTH_AUDIT_RETENTION is off: nothing pruned"),
                Some(d) => println!(
                    "pruned {} audit entries",
                    store::audit::prune(&admin.pool, d).await?
                ),
            }
        }
    }
    Ok(())
}
