//! From an access token (or Hasura's session variables) to a live session: the signature and
//! claims must check out, the session must still exist, and its user must still be active.

use std::sync::Arc;

use uuid::Uuid;

use super::{
    session_cache::LiveUser,
    tokens::{VerifiedToken, VerifyError},
    Auth,
};
use crate::{
    error::{Code, Error, Result},
    store::users::User,
};

/// An access token that checked out, with its live session's user (shared with the session
/// cache: a cache hit copies nothing).
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: Arc<LiveUser>,
    pub token: Arc<VerifiedToken>,
}

/// Who takes a step on their account (a second factor, a passkey): the user of a live
/// session, and that session.
pub struct Caller<'a> {
    pub user: &'a User,
    pub session_id: Uuid,
}

impl Authenticated {
    /// This access token's user and session, as the account steps take them.
    pub fn caller(&self) -> Caller<'_> {
        Caller {
            user: &self.user,
            session_id: self.token.session_id,
        }
    }
}

/// 401 `bad_jwt`, worded as Supabase Auth words it.
fn bad_jwt(e: VerifyError) -> Error {
    Error::new(
        Code::BadJwt,
        format!(
            "invalid JWT: unable to parse or verify signature, {}",
            e.reason()
        ),
    )
}

/// 403 for an OAuth client's session where only the user's own may act.
fn refuse_client(user: &LiveUser) -> Result<()> {
    match user.binding().oauth_client_id {
        None => Ok(()),
        Some(_) => Err(Error::new(
            Code::OAuthClientToken,
            "This token was issued to an application; it is accepted by Hasura and /oauth/userinfo only",
        )),
    }
}

impl Auth {
    /// Verifies an access token and checks that its session is still live and its user active;
    /// a user's own session (an OAuth client's token is refused with 403
    /// `oauth_client_token`: it cannot act on the account).
    pub async fn authenticate(&self, access_token: &str) -> Result<Authenticated> {
        let who = self.authenticate_any(access_token).await?;
        refuse_client(&who.user)?;
        Ok(who)
    }

    /// [`Self::authenticate`], also for an OAuth client's session (for Hasura and
    /// `/oauth/userinfo`).
    pub async fn authenticate_any(&self, access_token: &str) -> Result<Authenticated> {
        let token = self.tokens.verify(access_token).map_err(bad_jwt)?;
        let user = self.any_live_user(token.session_id, token.user_id).await?;
        Ok(Authenticated { user, token })
    }

    /// The user of session `session_id`, which must still exist, belong to `user_id`, and
    /// whose user must be active: 401 `session_not_found` or `user_banned` otherwise. A user's
    /// own session only (403 `oauth_client_token` for a client's).
    pub async fn live_user(&self, session_id: Uuid, user_id: Uuid) -> Result<Arc<LiveUser>> {
        let user = self.any_live_user(session_id, user_id).await?;
        refuse_client(&user)?;
        Ok(user)
    }

    /// [`Self::live_user`], also of an OAuth client's session.
    async fn any_live_user(&self, session_id: Uuid, user_id: Uuid) -> Result<Arc<LiveUser>> {
        let user = match self.session_cache.get(session_id, user_id) {
            Some(user) => user,
            None => {
                super::session_cache::load(&self.session_cache, &self.pool, session_id, user_id)
                    .await?
                    .ok_or_else(Error::session_not_found)?
            }
        };
        if !user.is_active(chrono::Utc::now()) {
            return Err(Error::user_banned());
        }
        Ok(user)
    }
}
