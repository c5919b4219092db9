//! Refresh: the hot path. In the common case (the presented token is current and this instance
//! knows the session's salt, see [`salts`]) one compare-and-set `UPDATE` checks,
//! rotates and returns the user: one statement, plus one query for custom claims when
//! configured. Otherwise one query reads session and user together, the token is classified,
//! and a current one rotates with a second statement. Racing refreshes are settled by the
//! compare-and-set in PostgreSQL, so any number of instances can share one database; the
//! losers re-read and converge on the winner's token (see [`token`] for why a superseded token
//! can be recognised and answered without storing any token). Refreshes arriving together are
//! merged into one statement ([`batch`]).

pub mod batch;
mod imported;
pub mod salts;
pub mod token;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::json;

use uuid::Uuid;

use super::{
    assurance::{Aal, Assurance},
    claims::HasuraClaims,
    Auth, Session,
};
use crate::{
    client::Client,
    error::{Code, Error, Result},
    store::{
        self,
        audit::{self, event},
        sessions::{ClientBinding, RefreshRow},
    },
};
use batch::Rotation;
use token::{RefreshToken, Standing};

/// Where `token` stands in its session's chain: at most `MAX_CHAIN` HMACs, cheap enough to
/// run right here.
pub(crate) fn standing_of(token: &RefreshToken, row: &RefreshRow) -> Standing {
    token.standing(row.token_counter as u64, &row.token_hash, &row.token_salt)
}

fn elapsed(now: DateTime<Utc>, since: DateTime<Utc>) -> Duration {
    (now - since).to_std().unwrap_or_default()
}

pub(crate) fn not_found() -> Error {
    Error::new(
        Code::RefreshTokenNotFound,
        "Invalid Refresh Token: Refresh Token Not Found",
    )
}

impl Auth {
    /// `POST /token?grant_type=refresh_token`: rotates the session's refresh token and signs a
    /// new access token from the user row as it is now. A token superseded within the reuse
    /// interval converges on the current one; later, it revokes the session as theft.
    ///
    /// `arrived` is when the request reached the server: the reuse interval is measured up to
    /// then, so time spent waiting here (for a database connection, say) never turns a retry
    /// into a theft.
    pub async fn refresh(
        &self,
        presented: &str,
        client: &Client,
        arrived: Instant,
    ) -> Result<Session> {
        self.refresh_bound(presented, client, arrived, None)
            .await
            .map(|(session, _)| session)
    }

    /// [`Self::refresh`] of a session of OAuth client `bound` (`None`: a user's own session):
    /// a token of any other session is not found. With the session's binding to its client.
    pub(crate) async fn refresh_bound(
        &self,
        presented: &str,
        client: &Client,
        arrived: Instant,
        bound: Option<Uuid>,
    ) -> Result<(Session, ClientBinding)> {
        let result = self
            .rotate_or_converge(presented, client, arrived, bound)
            .await;
        // Successes are counted where they happen (rotated or converged).
        if let Err(e) = &result {
            crate::metrics::refresh(match e.code {
                Code::RefreshTokenNotFound => "not_found",
                Code::RefreshTokenAlreadyUsed => "reuse_detected",
                Code::SessionExpired => "expired",
                Code::UserBanned => "disabled",
                Code::Conflict => "conflict",
                _ => "error",
            });
        }
        result
    }

    async fn rotate_or_converge(
        &self,
        presented: &str,
        client: &Client,
        arrived: Instant,
        bound: Option<Uuid>,
    ) -> Result<(Session, ClientBinding)> {
        let own = ClientBinding::default;
        let Some(token) = RefreshToken::parse(presented) else {
            if bound.is_some() {
                return Err(not_found());
            }
            let session = self.refresh_imported(presented, client, arrived).await?;
            return Ok((session, own()));
        };
        // The one-statement path is for a user's own sessions (the hot path).
        if bound.is_none() {
            if let Some(session) = self.rotate_in_one_statement(&token, client).await? {
                return Ok((session, own()));
            }
        }
        // A lost compare-and-set means another request rotated first; the next pass sees the
        // token as superseded and converges. Three passes cover any realistic race.
        for _ in 0..3 {
            let row = store::sessions::find_for_refresh(&self.pool, token.session_id, bound)
                .await?
                .ok_or_else(not_found)?;
            let standing = standing_of(&token, &row);
            if standing == Standing::Unknown {
                return Err(not_found());
            }
            // From here on the presenter holds a genuine token of this session. Only a user's
            // own sessions take the one-statement path (whose statement does not look at the
            // client): an OAuth client's salt is never kept.
            if row.binding.oauth_client_id.is_none() {
                self.salt_cache
                    .insert(row.session_id, row.user.id, &row.token_salt);
            }
            self.end_unusable_session(&row, client).await?;
            let binding = row.binding.clone();
            let done = match standing {
                Standing::Unknown => return Err(not_found()),
                Standing::Current => self.rotate_current(row, &token, client).await?,
                Standing::Superseded { lag, current } => {
                    self.converge(row, lag, &current, arrived, client).await?
                }
            };
            if let Some(session) = done {
                return Ok((session, binding));
            }
        }
        Err(Error::new(
            Code::Conflict,
            "Too many concurrent token refresh requests; retry",
        ))
    }

    /// Rotates the current `token` of `row`'s session; `None` if another request rotated it
    /// meanwhile.
    async fn rotate_current(
        &self,
        row: RefreshRow,
        token: &RefreshToken,
        client: &Client,
    ) -> Result<Option<Session>> {
        let next = token.next(&row.token_salt);
        let assurance = Assurance::stored(row.aal, row.amr.clone());
        let claims = self.row_claims(&row, assurance.aal).await?;
        let rotated = store::sessions::rotate(
            &self.pool,
            row.session_id,
            row.token_counter,
            &next.hash(),
            client,
        )
        .await?;
        if !rotated {
            return Ok(None);
        }
        crate::metrics::refresh("rotated");
        self.issue_bound(
            &claims,
            row.user,
            row.session_id,
            &assurance,
            &next,
            &row.binding,
        )
        .map(Some)
    }

    /// The Hasura claims of `row`'s session at `aal`: a client's when it is bound to one.
    async fn row_claims(&self, row: &RefreshRow, aal: Aal) -> Result<HasuraClaims> {
        if row.binding.oauth_client_id.is_some() {
            self.client_claims(&self.pool, &row.user, &row.binding, aal)
                .await
        } else {
            self.claims_for(&self.pool, &row.user, &row.org, aal).await
        }
    }

    /// A token `lag` rotations old: within the reuse interval (a racing tab, a retry after a
    /// lost answer) the session's `current` token, unless the session changed meanwhile
    /// (`None`); beyond it, theft: the session is revoked.
    async fn converge(
        &self,
        row: RefreshRow,
        lag: u64,
        current: &RefreshToken,
        arrived: Instant,
        client: &Client,
    ) -> Result<Option<Session>> {
        // When was the presented token superseded? Exact for the last two rotations.
        let superseded_at = match lag {
            1 => Some(row.rotated_at),
            2 => row.prev_rotated_at,
            _ => None,
        };
        // The database's clock, turned back by how long this request has waited.
        let waited = chrono::Duration::from_std(arrived.elapsed()).unwrap_or_default();
        let arrived_at = row.db_now - waited;
        let within = superseded_at.is_some_and(|at| {
            elapsed(arrived_at, at) <= self.config.sessions.refresh_token_reuse_interval
        });
        if !within {
            return Err(self
                .revoke_for_reuse(&row, lag, superseded_at, client)
                .await?);
        }
        // Converge on the current token, but only while the session is unchanged (not
        // revoked or rotated again meanwhile).
        let assurance = Assurance::stored(row.aal, row.amr.clone());
        let claims = self.row_claims(&row, assurance.aal).await?;
        if !store::sessions::touch(&self.pool, row.session_id, row.token_counter).await? {
            return Ok(None);
        }
        crate::metrics::refresh("converged");
        self.issue_bound(
            &claims,
            row.user,
            row.session_id,
            &assurance,
            current,
            &row.binding,
        )
        .map(Some)
    }

    /// The common case, when this instance knows the session's salt: one statement checks
    /// that `token` is current (and the session usable), rotates it and returns the user.
    /// `None` when it did not rotate (unknown salt, or any check failed); nothing has changed
    /// then, and the caller reads the session to classify the token.
    async fn rotate_in_one_statement(
        &self,
        token: &RefreshToken,
        client: &Client,
    ) -> Result<Option<Session>> {
        let Some(known) = self.salt_cache.get(token.session_id) else {
            return Ok(None);
        };
        // Custom claims (when configured) before the rotation: should reading them fail,
        // the presented token is still the current one.
        let custom = self.custom_claims(&self.pool, known.user_id).await?;
        let next = token.next(&known.salt);
        let rotation = Rotation {
            session_id: token.session_id,
            counter: i64::try_from(token.counter).unwrap_or(-1),
            hash: token.hash(),
            new_hash: next.hash(),
            client: client.clone(),
        };
        let rotated = self.rotations.rotate(rotation).await?;
        let Some(rotated) = rotated else {
            return Ok(None);
        };
        crate::metrics::refresh("rotated");
        let assurance = Assurance::stored(rotated.aal, rotated.amr);
        let claims = self.claims_of(&rotated.user, &rotated.org, assurance.aal, custom);
        self.issue(&claims, rotated.user, token.session_id, &assurance, &next)
            .map(Some)
    }

    /// Passes a usable session; otherwise ends it (past its idle timeout or lifetime) or every
    /// session of its user (no longer active, recorded in the audit log), and fails.
    async fn end_unusable_session(&self, row: &RefreshRow, client: &Client) -> Result<()> {
        let now = row.db_now;
        let sessions = &self.config.sessions;
        let idle = sessions
            .session_idle_timeout
            .0
            .is_some_and(|d| elapsed(now, row.refreshed_at) > d);
        let old = sessions
            .session_max_lifetime
            .0
            .is_some_and(|d| elapsed(now, row.session_created_at) > d);
        if idle || old {
            store::sessions::delete(&self.pool, row.session_id).await?;
            return Err(Error::new(
                Code::SessionExpired,
                "Session expired; sign in again",
            ));
        }
        if !row.user.is_active(now) {
            let mut tx = self.pool.begin().await?;
            store::sessions::delete_for_user(&mut *tx, row.user.id, None).await?;
            audit::record(
                &mut *tx,
                event::DISABLED_USER_REFRESH,
                Some(row.user.id),
                Some(row.session_id),
                client,
                json!({}),
            )
            .await?;
            tx.commit().await?;
            return Err(Error::user_banned_grant());
        }
        Ok(())
    }

    /// A genuine token presented after the reuse interval: the session is revoked as stolen
    /// and the event recorded. Returns the error to answer with.
    async fn revoke_for_reuse(
        &self,
        row: &RefreshRow,
        lag: u64,
        superseded_at: Option<DateTime<Utc>>,
        client: &Client,
    ) -> Result<Error> {
        let mut tx = self.pool.begin().await?;
        store::sessions::delete(&mut *tx, row.session_id).await?;
        let detail = json!({
            "rotations_behind": lag,
            "superseded_seconds_ago": superseded_at.map(|at| elapsed(row.db_now, at).as_secs()),
        });
        audit::record(
            &mut *tx,
            event::REFRESH_TOKEN_REUSE,
            Some(row.user.id),
            Some(row.session_id),
            client,
            detail,
        )
        .await?;
        tx.commit().await?;
        tracing::warn!(session_id = %row.session_id, user_id = %row.user.id, lag, "refresh token reuse: session revoked");
        Ok(Error::new(
            Code::RefreshTokenAlreadyUsed,
            "Invalid Refresh Token: Already Used; the session has been revoked",
        ))
    }
}
