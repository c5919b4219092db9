//! `outbox`: messages waiting for delivery. Written in the transaction that creates what they
//! carry; deleted once delivered (their bodies hold usable tokens).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};

pub struct NewMessage<'a> {
    pub kind: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub text_body: &'a str,
    pub html_body: &'a str,
}

pub async fn insert(db: impl PgExecutor<'_>, m: &NewMessage<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO outbox (kind, recipient, subject, text_body, html_body)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(m.kind)
    .bind(m.recipient)
    .bind(m.subject)
    .bind(m.text_body)
    .bind(m.html_body)
    .fetch_one(db)
    .await
}

#[derive(FromRow)]
pub struct Message {
    pub id: i64,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The bodies hold tokens.
        f.debug_struct("Message")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// Claims up to `limit` messages that are due, for `lease`: another worker (another
/// instance) skips them meanwhile, and takes them over if this one dies before it is done.
pub async fn claim_due(
    db: impl PgExecutor<'_>,
    limit: i64,
    lease: Duration,
) -> sqlx::Result<Vec<Message>> {
    sqlx::query_as(
        "UPDATE outbox SET next_attempt_at = now() + make_interval(secs => $2)
         WHERE id IN (SELECT id FROM outbox WHERE next_attempt_at <= now()
                      ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING id, kind, recipient, subject, text_body, html_body, attempts, created_at",
    )
    .bind(limit)
    .bind(lease.as_secs_f64())
    .fetch_all(db)
    .await
}

/// A delivered message goes.
pub async fn delete(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM outbox WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Records a failed attempt; the next one is due after `retry_in`.
pub async fn failed(
    db: impl PgExecutor<'_>,
    id: i64,
    retry_in: Duration,
    error: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, last_error = $3,
                next_attempt_at = now() + make_interval(secs => $2)
         WHERE id = $1",
    )
    .bind(id)
    .bind(retry_in.as_secs_f64())
    .bind(error)
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes messages older than `age` that could not be delivered; returns how many.
pub async fn drop_older_than(db: impl PgExecutor<'_>, age: Duration) -> sqlx::Result<u64> {
    let r = sqlx::query("DELETE FROM outbox WHERE created_at < now() - make_interval(secs => $1)")
        .bind(age.as_secs_f64())
        .execute(db)
        .await?;
    Ok(r.rows_affected())
}

/// Messages waiting, for tests and metrics.
pub async fn pending(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(db)
        .await
}
