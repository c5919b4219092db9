//! Where the data lives.

use clap::Args;

use super::parse::parse_identifier;
use crate::secret::Secret;

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Database")]
pub struct DbArgs {
    /// PostgreSQL connection URL. Falls back to `DATABASE_URL` when unset.
    #[arg(long, env = "AUTH_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<Secret>,

    /// Schema that holds the server's tables; created by the migrations.
    #[arg(long, env = "AUTH_DB_SCHEMA", default_value = "auth", value_parser = parse_identifier)]
    pub db_schema: String,

    /// Maximum number of pooled database connections for requests (the session cache's
    /// listener holds one more, of its own).
    #[arg(long, env = "AUTH_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
}

impl DbArgs {
    /// The database URL: `AUTH_DATABASE_URL`, else `DATABASE_URL`.
    pub fn url(&self) -> anyhow::Result<Secret> {
        if let Some(url) = &self.database_url {
            return Ok(url.clone());
        }
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => Ok(Secret::new(url)),
            _ => anyhow::bail!(
                "AUTH_DATABASE_URL (--database-url) is not set, and neither is DATABASE_URL: \
                 give a PostgreSQL URL such as postgres://postgres@127.0.0.1:5432/postgres"
            ),
        }
    }
}
