//! The token salts (and users) of recent sessions, so that the common refresh is one
//! statement.
//!
//! Rotating a refresh token needs the session's salt: the next token is derived from the
//! presented one *and* the salt (see [`super::token`]). The salt is fixed when the
//! session starts and never changes, so once this instance knows it (it opened the session,
//! or refreshed it before) the rotation can be a single compare-and-set `UPDATE` that checks
//! the presented token, rotates it and returns the user. Without it, the refresh reads the
//! session first.
//!
//! The session's user is kept beside its salt, so that custom claims can be read before the
//! rotation (should that read fail, nothing has changed).
//!
//! An entry can never be stale: a session's salt and user never change, and the entry of a
//! session that has ended only makes the `UPDATE` find nothing (the refresh then takes the
//! path that reads the session and explains why). So there is no invalidation, only a bound.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
};

use uuid::Uuid;

pub type Salt = [u8; 32];

/// What is remembered of a session.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Known {
    pub salt: Salt,
    pub user_id: Uuid,
}

/// Session id → its salt and user, at most `capacity` of them.
pub struct SaltCache {
    salts: Mutex<HashMap<Uuid, Known>>,
    capacity: usize,
    hits: AtomicU64,
}

impl std::fmt::Debug for SaltCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaltCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl SaltCache {
    /// A cache of at most `capacity` salts (0: off).
    pub fn new(capacity: usize) -> Self {
        Self {
            salts: Mutex::new(HashMap::new()),
            capacity,
            hits: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Known>> {
        crate::auth::bounded::lock(&self.salts)
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Refreshes that found their session's salt here so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    pub fn get(&self, session_id: Uuid) -> Option<Known> {
        let salt = self.lock().get(&session_id).copied();
        if salt.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        salt
    }

    /// Remembers a session's salt and user (a salt of anything but 32 bytes is ignored). Only
    /// a user's own session's: the one-statement refresh rotates any session whose salt is
    /// known here, and an OAuth client's session must be refreshed by its client alone.
    pub fn insert(&self, session_id: Uuid, user_id: Uuid, salt: &[u8]) {
        let Ok(salt) = Salt::try_from(salt) else {
            return;
        };
        if self.capacity == 0 {
            return;
        }
        let mut salts = self.lock();
        // A dropped salt costs its session one extra read at its next refresh.
        crate::auth::bounded::make_room(&mut salts, self.capacity, &session_id);
        salts.insert(session_id, Known { salt, user_id });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_counted_and_off_at_zero() {
        let cache = SaltCache::new(1000);
        let user_id = Uuid::new_v4();
        for _ in 0..100_000 {
            cache.insert(Uuid::new_v4(), user_id, &[7; 32]);
        }
        assert!(cache.len() <= 1000, "{}", cache.len());
        let s = Uuid::new_v4();
        cache.insert(s, user_id, &[9; 32]);
        assert!(
            cache.get(s)
                == Some(Known {
                    salt: [9; 32],
                    user_id
                })
        );
        assert_eq!(cache.hits(), 1);
        assert!(cache.get(Uuid::new_v4()).is_none());
        assert_eq!(cache.hits(), 1, "a miss is no hit");
        let t = Uuid::new_v4();
        cache.insert(t, user_id, &[1; 16]);
        assert!(cache.get(t).is_none(), "not a salt");

        let off = SaltCache::new(0);
        off.insert(s, user_id, &[9; 32]);
        assert!(off.is_empty());
    }
}
