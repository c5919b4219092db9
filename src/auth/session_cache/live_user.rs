//! A live session's user: the reading of the user row that the session cache hands every
//! request of the session, with what is derived from it for answers.

use std::{
    ops::Deref,
    sync::{Arc, OnceLock},
};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::{
    auth::assurance::Aal,
    store::{organizations::ActiveOrg, sessions::ClientBinding, users::User},
};

/// What an API key grants (see `auth::api_keys`): kept with its user in the session cache,
/// under the key's id, so that revoking or rotating it (which notifies like a deleted session)
/// reaches every instance the same way.
pub struct KeyGrant {
    pub id: Uuid,
    pub name: String,
    /// The roles it may use, at most: those its user still has are granted.
    pub roles: Vec<String>,
    pub aal: Aal,
    pub expires_at: Option<DateTime<Utc>>,
    /// SHA-256 of its secret.
    pub secret_hash: Vec<u8>,
    /// Custom claims (`AUTH_CUSTOM_CLAIMS_SQL`) read with it.
    pub custom: Map<String, Value>,
}

impl std::fmt::Debug for KeyGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyGrant")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("roles", &self.roles)
            .field("aal", &self.aal)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A live session's user as read from the database, shared by every request that finds the
/// session in the cache. What is derived from the row for an answer (the body of `GET /user`)
/// is kept beside it, made by the first request that needs it: it lives exactly as long as
/// this reading of the row, so a changed user (a new reading) never shows an old one.
#[derive(Debug)]
pub struct LiveUser {
    user: User,
    /// The organization the session acts in, and the user's roles there.
    org: ActiveOrg,
    /// Set when this is an API key's user, not a session's.
    key: Option<KeyGrant>,
    /// What ties the session to an OAuth client, when it is a client's.
    binding: ClientBinding,
    api_body: OnceLock<Bytes>,
}

/// Bodies larger than this (large metadata) are made afresh each time rather than kept.
const MAX_KEPT_BODY: usize = 4096;

impl LiveUser {
    pub fn new(user: User, org: ActiveOrg) -> Self {
        Self {
            user,
            org,
            key: None,
            binding: ClientBinding::default(),
            api_body: OnceLock::new(),
        }
    }

    /// The user of an API key, acting in `org` (the key's organization).
    pub fn of_key(user: User, org: ActiveOrg, key: KeyGrant) -> Self {
        Self {
            key: Some(key),
            ..Self::new(user, org)
        }
    }

    /// The user of an OAuth client's session.
    pub fn of_client(user: User, binding: ClientBinding) -> Self {
        Self {
            binding,
            ..Self::new(user, ActiveOrg::default())
        }
    }

    /// What ties the session to an OAuth client (empty for a user's own session).
    pub fn binding(&self) -> &ClientBinding {
        &self.binding
    }

    /// What the API key grants, when this is a key's user.
    pub fn key(&self) -> Option<&KeyGrant> {
        self.key.as_ref()
    }

    /// The organization the session acts in, as just read.
    pub fn org(&self) -> &ActiveOrg {
        &self.org
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
