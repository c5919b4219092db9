//! From an access token (or Hasura's session variables) to a live session: the signature and
//! claims must check out, the session must still exist, and its user must still be active.

use std::{
    ops::Deref,
    sync::{Arc, OnceLock},
};

use bytes::Bytes;
use uuid::Uuid;

use super::{
    tokens::{VerifiedToken, VerifyError},
    Auth,
};
use crate::{
    error::{code, Error, Result},
    store::users::User,
};

/// An access token that checked out, with its live session's user (shared with the session
/// cache: a cache hit copies nothing).
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: Arc<LiveUser>,
    pub token: Arc<VerifiedToken>,
}

/// A live session's user as read from the database, shared by every request that finds the
/// session in the cache. What is derived from the row for an answer (the body of `GET /user`)
/// is kept beside it, made by the first request that needs it: it lives exactly as long as
/// this reading of the row, so a changed user (a new reading) never shows an old one.
#[derive(Debug)]
pub struct LiveUser {
    user: User,
    api_body: OnceLock<Bytes>,
}

/// Bodies larger than this (large metadata) are made afresh each time rather than kept.
const MAX_KEPT_BODY: usize = 4096;

impl LiveUser {
    pub fn new(user: User) -> Self {
        Self {
            user,
            api_body: OnceLock::new(),
        }
    }

    /// The user as the API shows it, serialized by `make` the first time and kept (up to
    /// 4 KiB) for the next requests that share this reading.
    pub fn api_body<E>(&self, make: impl FnOnce(&User) -> Result<Vec<u8>, E>) -> Result<Bytes, E> {
        if let Some(body) = self.api_body.get() {
            return Ok(body.clone());
        }
        let body = Bytes::from(make(&self.user)?);
        if body.len() <= MAX_KEPT_BODY {
            let _ = self.api_body.set(body.clone());
        }
        Ok(body)
    }

    /// The user row, owned: taken out when no one else holds this reading, else copied.
    pub fn into_user(this: Arc<Self>) -> User {
        Arc::try_unwrap(this).map_or_else(|shared| shared.user.clone(), |own| own.user)
    }
}

impl Deref for LiveUser {
    type Target = User;

    fn deref(&self) -> &User {
        &self.user
    }
}

/// 401 `bad_jwt`, worded as Supabase Auth words it.
fn bad_jwt(e: VerifyError) -> Error {
    Error::unauthorized(
        code::BAD_JWT,
        format!(
            "invalid JWT: unable to parse or verify signature, {}",
            e.reason()
        ),
    )
}

impl Auth {
    /// Verifies an access token and checks that its session is still live and its user active.
    pub async fn authenticate(&self, access_token: &str) -> Result<Authenticated> {
        let token = self.tokens.verify(access_token).map_err(bad_jwt)?;
        let user = self.live_user(token.session_id, token.user_id).await?;
        Ok(Authenticated { user, token })
    }

    /// The user of session `session_id`, which must still exist, belong to `user_id`, and
    /// whose user must be active: 401 `session_not_found` or `user_banned` otherwise.
    pub async fn live_user(&self, session_id: Uuid, user_id: Uuid) -> Result<Arc<LiveUser>> {
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
