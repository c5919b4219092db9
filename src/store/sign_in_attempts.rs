//! `sign_in_attempts`: consecutive failed password checks per account key, and the lock they
//! earned. Shared by every instance through the database.

use std::time::Duration;

use sqlx::PgExecutor;

/// What is on record for `account_key`: `None` when nothing (no failures), else the seconds
/// left of its lock (`None` when not locked now).
pub async fn find(
    db: impl PgExecutor<'_>,
    account_key: &[u8],
) -> sqlx::Result<Option<Option<f64>>> {
    sqlx::query_scalar(
        "SELECT CASE WHEN locked_until > now()
                     THEN extract(epoch FROM locked_until - now())::float8 END
         FROM sign_in_attempts WHERE account_key = $1",
    )
    .bind(account_key)
    .fetch_optional(db)
    .await
}

/// Counts one more failure (starting again from one when the last failure is older than
/// `forget_after`); returns the number of consecutive failures.
pub async fn record_failure(
    db: impl PgExecutor<'_>,
    account_key: &[u8],
    forget_after: Duration,
) -> sqlx::Result<i32> {
    sqlx::query_scalar(
        "INSERT INTO sign_in_attempts AS a (account_key, failures) VALUES ($1, 1)
         ON CONFLICT (account_key) DO UPDATE SET
             failures = CASE WHEN a.last_failure_at < now() - make_interval(secs => $2)
                             THEN 1 ELSE a.failures + 1 END,
             last_failure_at = now()
         RETURNING failures",
    )
    .bind(account_key)
    .bind(forget_after.as_secs_f64())
    .fetch_one(db)
    .await
}

/// Locks `account_key` for `duration` from now.
pub async fn lock(
    db: impl PgExecutor<'_>,
    account_key: &[u8],
    duration: Duration,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE sign_in_attempts SET locked_until = now() + make_interval(secs => $2)
         WHERE account_key = $1",
    )
    .bind(account_key)
    .bind(duration.as_secs_f64())
    .execute(db)
    .await?;
    Ok(())
}

/// Forgets the failures of `account_key` (after a successful check).
pub async fn clear(db: impl PgExecutor<'_>, account_key: &[u8]) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sign_in_attempts WHERE account_key = $1")
        .bind(account_key)
        .execute(db)
        .await?;
    Ok(())
}

/// Deletes entries whose last failure is older than `forget_after` and that are not locked;
/// returns how many.
pub async fn prune(db: impl PgExecutor<'_>, forget_after: Duration) -> sqlx::Result<u64> {
    let r = sqlx::query(
        "DELETE FROM sign_in_attempts
         WHERE last_failure_at < now() - make_interval(secs => $1)
           AND (locked_until IS NULL OR locked_until < now())",
    )
    .bind(forget_after.as_secs_f64())
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}
