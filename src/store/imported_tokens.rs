//! The refresh tokens of the server users moved in from (`store::imports` writes them): each
//! accepted once, for its own session (see `auth::refresh::imported`).

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

/// An imported refresh token: its session, when it was used (if it was), whether the old
/// server would no longer take it, and the time now.
#[derive(sqlx::FromRow)]
pub struct ImportedToken {
    pub session_id: Uuid,
    pub used_at: Option<DateTime<Utc>>,
    pub expired: bool,
    pub db_now: DateTime<Utc>,
}

pub async fn find(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
) -> sqlx::Result<Option<ImportedToken>> {
    sqlx::query_as(
        "SELECT session_id, used_at, coalesce(expires_at <= now(), false) AS expired,
                now() AS db_now
         FROM imported_refresh_tokens
         WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await
}

/// Deletes the imported refresh tokens whose session has ended (nothing references sessions,
/// so that `TRUNCATE sessions` stays possible).
pub async fn prune_orphans(db: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM imported_refresh_tokens t
         WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.id = t.session_id)",
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Marks every old token of `session_id` used, the presented one (`token_hash`) included;
/// `false` when that one was already (another request won): the session continues here from
/// one old token only.
pub async fn use_once(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
    session_id: Uuid,
) -> sqlx::Result<bool> {
    let used: Vec<Vec<u8>> = sqlx::query_scalar(
        "UPDATE imported_refresh_tokens SET used_at = now()
         WHERE session_id = $1 AND used_at IS NULL
         RETURNING token_hash",
    )
    .bind(session_id)
    .fetch_all(db)
    .await?;
    Ok(used.iter().any(|h| h.as_slice() == token_hash))
}
