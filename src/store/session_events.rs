//! The notifications of `migrations/…_session_events.sql`: which session or user changed.

use sqlx::{postgres::PgListener, PgPool};
use uuid::Uuid;

/// What a notification says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEvent {
    SessionDeleted(Uuid),
    UserChanged(Uuid),
    /// Anything else on the channel (the listener's own check that it is connected).
    Other,
}

/// The channel of schema `schema`.
pub fn channel(schema: &str) -> String {
    format!("hja_sessions_{schema}")
}

pub fn parse(payload: &str) -> SessionEvent {
    let id = |s: &str| Uuid::parse_str(s).ok();
    match payload.split_once(':') {
        Some(("s", rest)) => id(rest).map_or(SessionEvent::Other, SessionEvent::SessionDeleted),
        Some(("u", rest)) => id(rest).map_or(SessionEvent::Other, SessionEvent::UserChanged),
        _ => SessionEvent::Other,
    }
}

/// A connection listening on the channel.
pub async fn listen(pool: &PgPool, schema: &str) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(&channel(schema)).await?;
    Ok(listener)
}

/// Sends a notification on the channel (the listener's connectivity check).
pub async fn ping(pool: &PgPool, schema: &str) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify($1, 'ping')")
        .bind(channel(schema))
        .execute(pool)
        .await?;
    Ok(())
}
