//! Recovery codes (`mfa_recovery_codes`): kept as hashes, each used once.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

/// Replaces `user_id`'s recovery codes with those of `hashes`.
pub async fn replace(
    db: &mut sqlx::PgConnection,
    user_id: Uuid,
    hashes: &[Vec<u8>],
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *db)
        .await?;
    let ids: Vec<Uuid> = hashes.iter().map(|_| Uuid::new_v4()).collect();
    sqlx::query(
        "INSERT INTO mfa_recovery_codes (id, user_id, code_hash)
         SELECT id, $2, hash FROM unnest($1::uuid[], $3::bytea[]) AS c(id, hash)",
    )
    .bind(&ids)
    .bind(user_id)
    .bind(hashes)
    .execute(&mut *db)
    .await?;
    Ok(())
}

/// Uses `user_id`'s unused code of hash `hash`: the codes left after it, or `None` when there
/// is no such unused code.
pub async fn take(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    hash: &[u8],
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "WITH used AS (
             UPDATE mfa_recovery_codes SET used_at = now()
             WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL
             RETURNING id
         )
         SELECT count(*) FROM mfa_recovery_codes
         WHERE user_id = $1 AND used_at IS NULL AND id NOT IN (SELECT id FROM used)
         HAVING EXISTS (SELECT 1 FROM used)",
    )
    .bind(user_id)
    .bind(hash)
    .fetch_optional(db)
    .await
}

/// How many of `user_id`'s codes are unused, and when they were made (none: no codes).
pub async fn status(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> sqlx::Result<(i64, Option<DateTime<Utc>>)> {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE used_at IS NULL), max(created_at)
         FROM mfa_recovery_codes WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_one(db)
    .await
}
