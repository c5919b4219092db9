//! `email_send_limits`: messages per recipient, so that no address can be flooded through the
//! server (whoever asks, on whichever instance).

use std::time::Duration;

use sqlx::PgExecutor;

/// Counts one message to `recipient_key` if the limits allow it: at least `min_interval`
/// since the last one, at most `hourly` within the current hour. Otherwise counts nothing
/// and returns the seconds to wait.
pub async fn reserve(
    db: impl PgExecutor<'_> + Copy,
    recipient_key: &[u8],
    min_interval: Duration,
    hourly: u32,
) -> sqlx::Result<Result<(), f64>> {
    let counted: Option<i32> = sqlx::query_scalar(
        "INSERT INTO email_send_limits AS l (recipient_key, last_sent_at, window_start, sent_in_window)
         VALUES ($1, now(), now(), 1)
         ON CONFLICT (recipient_key) DO UPDATE SET
             last_sent_at = now(),
             window_start = CASE WHEN l.window_start <= now() - interval '1 hour'
                                 THEN now() ELSE l.window_start END,
             sent_in_window = CASE WHEN l.window_start <= now() - interval '1 hour'
                                   THEN 1 ELSE l.sent_in_window + 1 END
         WHERE l.last_sent_at <= now() - make_interval(secs => $2)
           AND (l.window_start <= now() - interval '1 hour' OR l.sent_in_window < $3)
         RETURNING 1",
    )
    .bind(recipient_key)
    .bind(min_interval.as_secs_f64())
    .bind(hourly as i32)
    .fetch_optional(db)
    .await?;
    if counted.is_some() {
        return Ok(Ok(()));
    }
    let wait: f64 = sqlx::query_scalar(
        "SELECT greatest(
             extract(epoch FROM l.last_sent_at + make_interval(secs => $2) - now()),
             CASE WHEN l.sent_in_window >= $3
                  THEN extract(epoch FROM l.window_start + interval '1 hour' - now()) ELSE 0 END
         )::float8
         FROM email_send_limits l WHERE l.recipient_key = $1",
    )
    .bind(recipient_key)
    .bind(min_interval.as_secs_f64())
    .bind(hourly as i32)
    .fetch_one(db)
    .await?;
    Ok(Err(wait.max(1.0)))
}

/// Forgets entries idle for more than an hour; returns how many.
pub async fn prune(db: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    let r = sqlx::query(
        "DELETE FROM email_send_limits WHERE last_sent_at < now() - interval '1 hour'
           AND window_start < now() - interval '1 hour'",
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}
