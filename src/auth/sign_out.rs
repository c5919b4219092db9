//! Ending sessions: `POST /logout` (this session, the others, or all) and RFC 7009 revocation.

use serde_json::json;
use uuid::Uuid;

use super::{
    refresh::{
        standing_of,
        token::{RefreshToken, Standing},
    },
    Auth,
};
use crate::{
    client::Client,
    error::{Code, Error, Result},
    store::{
        self,
        audit::{self, event},
        session_events::SessionEvent,
    },
};

/// `POST /logout?scope=` (and the `logout` action's `scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(try_from = "String")]
pub enum LogoutScope {
    /// This session only.
    Local,
    /// Every other session of the user.
    Others,
    /// All the user's sessions.
    #[default]
    Global,
}

impl LogoutScope {
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Local, Self::Others, Self::Global]
            .into_iter()
            .find(|scope| scope.name() == s)
    }

    /// The scope's name in requests and the audit log.
    pub fn name(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Others => "others",
            Self::Global => "global",
        }
    }
}

impl TryFrom<String> for LogoutScope {
    type Error = String;

    fn try_from(s: String) -> std::result::Result<Self, String> {
        Self::parse(&s).ok_or_else(|| format!("unknown scope {s:?}: use local, others or global"))
    }
}

impl Auth {
    /// Ends sessions of `user_id`. `session_id` is the caller's session; scopes `local` and
    /// `others` need it.
    pub async fn logout(
        &self,
        user_id: Uuid,
        session_id: Option<Uuid>,
        scope: LogoutScope,
        client: &Client,
    ) -> Result<()> {
        let needs_session = || {
            Error::new(
                Code::SessionNotFound,
                "scope local and others need the caller's session id",
            )
        };
        if scope != LogoutScope::Local {
            let step_up = self
                .require_step_up(&self.pool, user_id, session_id, "end other sessions")
                .await;
            if let Err(e) = step_up {
                // A global sign-out still ends the caller's own session (auth-js forgets it
                // locally whatever the answer); the others need the second factor.
                if scope == LogoutScope::Global && session_id.is_some() {
                    Box::pin(self.logout(user_id, session_id, LogoutScope::Local, client)).await?;
                }
                return Err(e);
            }
        }
        let mut tx = self.pool.begin().await?;
        let (n, ended) = match scope {
            LogoutScope::Local => {
                let sid = session_id.ok_or_else(needs_session)?;
                let n = store::sessions::delete_of_user(&mut *tx, sid, user_id).await?;
                (n, SessionEvent::SessionDeleted(sid))
            }
            LogoutScope::Others => {
                let sid = session_id.ok_or_else(needs_session)?;
                let n = store::sessions::delete_for_user(&mut *tx, user_id, Some(sid)).await?;
                (n, SessionEvent::UserChanged(user_id))
            }
            LogoutScope::Global => {
                let n = store::sessions::delete_for_user(&mut *tx, user_id, None).await?;
                (n, SessionEvent::UserChanged(user_id))
            }
        };
        // Only a sign-out that ended something is recorded: repeating `scope=others` with no
        // other session left must not fill the audit log.
        if n > 0 {
            audit::record(
                &mut *tx,
                event::LOGOUT,
                Some(user_id),
                session_id,
                client,
                json!({"scope": scope.name(), "sessions": n}),
            )
            .await?;
        }
        tx.commit().await?;
        // Seen here at once; other instances hear it from the database (milliseconds).
        self.session_cache.apply(ended);
        Ok(())
    }

    /// `POST /revoke` (RFC 7009): revokes the session of a refresh token (current or a
    /// genuine old one) or of a valid access token. Anything else is silently ignored.
    pub async fn revoke(&self, presented: &str, client: &Client) -> Result<()> {
        let target = if let Some(token) = RefreshToken::parse(presented) {
            match store::sessions::find_for_refresh(&self.pool, token.session_id, None).await? {
                Some(row) if standing_of(&token, &row) != Standing::Unknown => {
                    Some((row.session_id, row.user.id))
                }
                _ => None,
            }
        } else {
            self.tokens
                .verify(presented)
                .ok()
                .map(|t| (t.session_id, t.user_id))
        };
        if let Some((session_id, user_id)) = target {
            let mut tx = self.pool.begin().await?;
            if store::sessions::delete(&mut *tx, session_id).await? > 0 {
                audit::record(
                    &mut *tx,
                    event::TOKEN_REVOKED,
                    Some(user_id),
                    Some(session_id),
                    client,
                    json!({}),
                )
                .await?;
            }
            tx.commit().await?;
            self.session_cache
                .apply(SessionEvent::SessionDeleted(session_id));
        }
        Ok(())
    }
}
