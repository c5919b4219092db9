//! `client_rate_limits`: per-client-address allowances shared by every instance (GCRA).

use std::time::Duration;

use sqlx::PgExecutor;

/// Takes one request of `key` from limiter `limiter`, which allows one every `interval` with
/// bursts that may run `burst` ahead of the steady rate. `None`: allowed (and counted);
/// `Some(wait)`: refused, allowed again after `wait`. One statement, so racing instances
/// serialise on the row.
pub async fn take(
    db: impl PgExecutor<'_> + Copy,
    limiter: &str,
    key: &str,
    interval: Duration,
    burst: Duration,
) -> sqlx::Result<Option<Duration>> {
    let taken: Option<i32> = sqlx::query_scalar(
        "INSERT INTO client_rate_limits AS r (limiter, key, tat)
         VALUES ($1, $2, now() + make_interval(secs => $3))
         ON CONFLICT (limiter, key) DO UPDATE
            SET tat = GREATEST(r.tat, now()) + make_interval(secs => $3)
            WHERE GREATEST(r.tat, now()) <= now() + make_interval(secs => $4)
         RETURNING 1",
    )
    .bind(limiter)
    .bind(key)
    .bind(interval.as_secs_f64())
    .bind(burst.as_secs_f64())
    .fetch_optional(db)
    .await?;
    if taken.is_some() {
        return Ok(None);
    }
    let wait: Option<f64> = sqlx::query_scalar(
        "SELECT EXTRACT(EPOCH FROM GREATEST(tat, now()) - now())::float8 - $3
         FROM client_rate_limits WHERE limiter = $1 AND key = $2",
    )
    .bind(limiter)
    .bind(key)
    .bind(burst.as_secs_f64())
    .fetch_optional(db)
    .await?;
    Ok(Some(Duration::from_secs_f64(wait.unwrap_or(0.0).max(0.0))))
}

/// Forgets keys back to a full allowance.
pub async fn prune(db: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("DELETE FROM client_rate_limits WHERE tat < now()")
            .execute(db)
            .await?
            .rows_affected(),
    )
}
