//! All SQL, one module per table. Functions take a pool or a connection/transaction.
//!
//! Connections set `search_path` to the configured schema (then `public`), so the SQL uses
//! unqualified table names and the schema name is a setting, not a string in every query.

pub mod audit;
pub mod sessions;
pub mod users;

use std::time::Duration;

use anyhow::Context;
use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    Connection, PgPool,
};

use crate::config::DbArgs;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connects to the database named by the settings and checks that it answers.
pub async fn connect(db: &DbArgs) -> anyhow::Result<PgPool> {
    let url = db.url()?;
    let options: PgConnectOptions = url.expose().parse().context(
        "AUTH_DATABASE_URL is not a valid PostgreSQL URL (postgres://user@host:port/db)",
    )?;
    connect_with(options, &db.db_schema, db.db_max_connections).await
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
        .acquire_timeout(Duration::from_secs(5))
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

/// Checks `AUTH_CUSTOM_CLAIMS_SQL` at start-up: it must prepare, take one parameter (the user
/// id) and return one column. Nothing is executed.
pub async fn check_custom_claims_sql(pool: &PgPool, sql: &str) -> anyhow::Result<()> {
    use sqlx::{Column as _, Executor as _};
    let described = pool
        .describe(sql)
        .await
        .map_err(|e| anyhow::anyhow!("AUTH_CUSTOM_CLAIMS_SQL is not valid SQL here: {e}"))?;
    let columns = described.columns();
    anyhow::ensure!(
        columns.len() == 1,
        "AUTH_CUSTOM_CLAIMS_SQL must return one column (a JSON object of claims), it returns {}: {:?}",
        columns.len(),
        columns.iter().map(|c| c.name()).collect::<Vec<_>>()
    );
    if let Some(column) = columns.first() {
        use sqlx::TypeInfo as _;
        let ty = column.type_info().name().to_ascii_uppercase();
        anyhow::ensure!(
            ty == "JSON" || ty == "JSONB",
            "AUTH_CUSTOM_CLAIMS_SQL must return json or jsonb (one object of claims), it returns {ty}"
        );
    }
    Ok(())
}
