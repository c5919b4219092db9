//! The signed-in user's own sessions: the list an account page shows ("this device" marked)
//! and signing out one of them.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::Auth;
use crate::{
    api::OwnSession,
    client::Client,
    error::{Error, Result},
    store::{self, audit, session_events::SessionEvent},
};

impl Auth {
    /// `GET /sessions`: the user's live sessions (past the idle timeout or the lifetime a
    /// session is over even before housekeeping removes it), oldest first.
    pub async fn own_sessions(&self, user_id: Uuid, current: Uuid) -> Result<Vec<OwnSession>> {
        let now = Utc::now();
        let sessions = &self.config.sessions;
        let live = |created: DateTime<Utc>, refreshed: DateTime<Utc>| {
            let within = |since: DateTime<Utc>, limit: Option<std::time::Duration>| {
                limit.is_none_or(|l| chrono::Duration::from_std(l).is_ok_and(|l| since + l > now))
            };
            within(refreshed, sessions.session_idle_timeout.0)
                && within(created, sessions.session_max_lifetime.0)
        };
        Ok(store::sessions::list_for_user(&self.pool, user_id)
            .await?
            .into_iter()
            .filter(|s| live(s.created_at, s.refreshed_at))
            .map(|s| OwnSession {
                current: s.id == current,
                id: s.id,
                created_at: s.created_at,
                refreshed_at: s.refreshed_at,
                user_agent: s.user_agent,
                ip: s.ip,
            })
            .collect())
    }

    /// `DELETE /sessions/{id}`: signs out one of the user's own sessions (also the current
    /// one). Someone else's session is "not found", exactly like one that does not exist.
    pub async fn end_own_session(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        current: Uuid,
        client: &Client,
    ) -> Result<()> {
        if session_id != current {
            self.require_step_up(&self.pool, user_id, Some(current), "end other sessions")
                .await?;
        }
        let mut tx = self.pool.begin().await?;
        if store::sessions::delete_of_user(&mut *tx, session_id, user_id).await? == 0 {
            return Err(Error::no_such_session());
        }
        audit::record(
            &mut *tx,
            audit::event::LOGOUT,
            Some(user_id),
            Some(current),
            client,
            json!({"scope": "session", "session_id": session_id}),
        )
        .await?;
        tx.commit().await?;
        // Seen here at once; other instances hear it from the database (milliseconds).
        self.session_cache
            .apply(SessionEvent::SessionDeleted(session_id));
        Ok(())
    }
}
