//! All SQL, one module per table (or per closely related tables). Functions take a pool or a
//! connection/transaction (`impl PgExecutor`), so callers decide what runs in one transaction.
//!
//! Connections set `search_path` to the configured schema (then `public`), so the SQL uses
//! unqualified table names and the schema name is a setting, not a string in every query.

pub mod api_keys;
pub mod audit;
pub mod auth_codes;
pub mod claims;
pub mod email_requests;
pub mod email_send_limits;
pub mod identities;
pub mod imported_tokens;
pub mod imports;
pub mod legacy_user_ids;
pub mod mfa;
pub mod mfa_recovery;
pub mod nhost;
pub mod oauth_authorizations;
pub mod oauth_clients;
pub mod oauth_grants;
pub mod oauth_states;
pub mod one_time_tokens;
pub mod organization_invitations;
pub mod organizations;
pub mod outbox;
pub mod passkeys;
pub mod passwords;
pub mod plpgsql_users;
pub mod rate_limits;
pub mod session_events;
pub mod sessions;
pub mod sign_in_attempts;
pub mod supabase;
pub mod users;

use std::time::Duration;

use anyhow::Context;
use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    Connection, PgPool,
};

use crate::{config::DbArgs, secret::Secret};

/// How long a request waits for a database connection before it is answered 503 with
/// `Retry-After`: short, so that an outage fails fast instead of piling up requests; the pool
/// reconnects by itself when the database is back.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);

/// A pooled connection unused for longer than this is checked (a round trip) before use.
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connects to the database named by the settings and checks that it answers.
pub async fn connect(db: &DbArgs) -> anyhow::Result<PgPool> {
    let url = db.url()?;
    let options: PgConnectOptions = url.expose().parse().context(
        "AUTH_DATABASE_URL is not a valid PostgreSQL URL (postgres://user@host:port/db)",
    )?;
    connect_with(options, &db.db_schema, db.db_max_connections).await
}

/// A one-connection pool on another database given by URL (the source of an import).
pub async fn connect_source(url: &Secret) -> anyhow::Result<PgPool> {
    let options: PgConnectOptions = url
        .expose()
        .parse()
        .context("not a valid PostgreSQL URL (postgres://user@host:port/db)")?;
    Ok(PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?)
}

/// Connects with explicit options (tests build their own).
pub async fn connect_with(
    options: PgConnectOptions,
    schema: &str,
    max_connections: u32,
) -> anyhow::Result<PgPool> {
    let options = options.options([("search_path", format!("\"{schema}\",public"))]);
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // sqlx checks every connection with a round trip as it goes back to the pool;
        // checking it again as it comes out would add a second one to every statement. Only
        // a connection idle for a while (the database may have restarted since) is checked.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > CHECK_IDLE_AFTER {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .connect_with(options.clone())
        .await
        .with_context(|| {
            format!(
                "cannot connect to PostgreSQL at {}:{} (database {}): check AUTH_DATABASE_URL and that the server is running",
                options.get_host(),
                options.get_port(),
                options.get_database().unwrap_or("<default>")
            )
        })?;
    Ok(pool)
}

/// Creates the schema and runs the embedded migrations. Safe when several instances start at
/// once: everything happens under one PostgreSQL advisory lock.
pub async fn migrate(pool: &PgPool, schema: &str) -> anyhow::Result<()> {
    // Arbitrary constant: "hja-migrate".
    const LOCK_KEY: i64 = 0x686a_612d_6d69_6772;
    let mut conn = pool.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await?;
    let result = async {
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
            .execute(&mut *conn)
            .await?;
        MIGRATOR
            .run(&mut *conn)
            .await
            .context("running migrations")?;
        anyhow::Ok(())
    }
    .await;
    let unlock = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(LOCK_KEY)
        .execute(&mut *conn)
        .await;
    if unlock.is_err() {
        // Closing the connection releases the lock.
        let _ = conn.detach().close().await;
    }
    result
}

/// Whether the database answers a trivial query.
pub async fn ping(pool: &PgPool) -> sqlx::Result<()> {
    sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(pool)
        .await
        .map(drop)
}

/// Versions of the migrations applied to this database, in order.
pub async fn applied_migrations(pool: &PgPool) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(pool)
        .await
}

/// Versions of the migrations embedded in this binary.
pub fn known_migrations() -> Vec<i64> {
    MIGRATOR.iter().map(|m| m.version).collect()
}
