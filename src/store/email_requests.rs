//! `email_requests`: requests for a message to an address, waiting for the worker that looks
//! the address up (see `auth::email::queue`).

use std::time::Duration;

use serde_json::Value;
use sqlx::{FromRow, PgExecutor};

/// Stores a request.
pub async fn insert(
    db: impl PgExecutor<'_>,
    kind: &str,
    email: &str,
    params: &Value,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO email_requests (kind, email, params) VALUES ($1, $2, $3)")
        .bind(kind)
        .bind(email)
        .bind(params)
        .execute(db)
        .await?;
    Ok(())
}

#[derive(FromRow)]
pub struct Request {
    pub id: i64,
    pub kind: String,
    pub email: String,
    pub params: Value,
    pub attempts: i32,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The parameters may hold a PKCE challenge (with `plain`, the verifier itself).
        f.debug_struct("Request")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// Claims one due request, locked until the end of the caller's transaction: other workers
/// (other instances) skip it meanwhile, and it is free again if this one dies first.
pub async fn claim_due(db: impl PgExecutor<'_>) -> sqlx::Result<Option<Request>> {
    sqlx::query_as(
        "SELECT id, kind, email, params, attempts FROM email_requests
         WHERE next_attempt_at <= now() ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
    )
    .fetch_optional(db)
    .await
}

/// A request carried out goes (in the transaction that carried it out).
pub async fn delete(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM email_requests WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Records a failed attempt; the next one is due after `retry_in`.
pub async fn failed(db: impl PgExecutor<'_>, id: i64, retry_in: Duration) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE email_requests SET attempts = attempts + 1,
                next_attempt_at = now() + make_interval(secs => $2)
         WHERE id = $1",
    )
    .bind(id)
    .bind(retry_in.as_secs_f64())
    .execute(db)
    .await?;
    Ok(())
}

/// Requests waiting (for tests and metrics).
pub async fn pending(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM email_requests")
        .fetch_one(db)
        .await
}
