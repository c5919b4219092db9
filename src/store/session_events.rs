//! The notifications of `migrations/…_session_events.sql`: which session or user changed.
//! One channel for every schema; the payload is `<schema>/s:<session id>`,
//! `<schema>/u:<user id>`, `<schema>/all` (a table truncated), or the listener's own
//! `<schema>/ping`.

use sqlx::{
    postgres::{PgListener, PgPoolOptions},
    PgPool,
};
use uuid::Uuid;

pub const CHANNEL: &str = "hja_sessions";

/// What a notification says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEvent {
    SessionDeleted(Uuid),
    UserChanged(Uuid),
    /// A table was truncated: everything may have changed.
    All,
    /// The listener's own ping, or an event of another schema.
    Other,
}

/// What `payload` says to the installation in `schema`.
pub fn parse(payload: &str, schema: &str) -> SessionEvent {
    let Some(rest) = payload
        .strip_prefix(schema)
        .and_then(|r| r.strip_prefix('/'))
    else {
        return SessionEvent::Other;
    };
    let id = |s: &str| Uuid::parse_str(s).ok();
    match rest.split_once(':') {
        Some(("s", s)) => id(s).map_or(SessionEvent::Other, SessionEvent::SessionDeleted),
        Some(("u", u)) => id(u).map_or(SessionEvent::Other, SessionEvent::UserChanged),
        _ if rest == "all" => SessionEvent::All,
        _ => SessionEvent::Other,
    }
}

/// A pool of one connection to the same database, for the listener alone: it keeps its
/// connection for good, which taken from the request pool would leave requests one short.
pub fn listener_pool(pool: &PgPool) -> PgPool {
    PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with((*pool.connect_options()).clone())
}

/// A connection listening on the channel.
pub async fn listen(pool: &PgPool) -> sqlx::Result<PgListener> {
    // On a lost connection the caller drops this listener and makes a new one: it must also
    // forget what it missed meanwhile.
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Sends a ping through the channel (the listener's proof of life).
pub async fn ping(pool: &PgPool, schema: &str) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(format!("{schema}/ping"))
        .execute(pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads() {
        let id = Uuid::new_v4();
        assert_eq!(
            parse(&format!("auth/s:{id}"), "auth"),
            SessionEvent::SessionDeleted(id)
        );
        assert_eq!(
            parse(&format!("auth/u:{id}"), "auth"),
            SessionEvent::UserChanged(id)
        );
        assert_eq!(parse("auth/all", "auth"), SessionEvent::All);
        assert_eq!(parse("auth/ping", "auth"), SessionEvent::Other);
        assert_eq!(parse(&format!("other/s:{id}"), "auth"), SessionEvent::Other);
        assert_eq!(parse(&format!("auth2/s:{id}"), "auth"), SessionEvent::Other);
    }
}
