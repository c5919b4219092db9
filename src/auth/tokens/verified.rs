//! Access tokens already verified, so that a client presenting the same token again (the
//! Hasura webhook sees every GraphQL request's) costs a lookup instead of a signature check
//! and three JSON parses, a quarter of the webhook's CPU.
//!
//! Only a token that passed every check is remembered, under its exact text, and only until
//! its `exp`: a token differing in any character is verified afresh, and nothing here can
//! outlive what verification would accept. The signing keys are fixed for the life of the
//! process, so a verdict cannot go stale before `exp`. Whether the session is still live is
//! not decided here: every check still asks the session cache or the database.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::{Map, Value};
use uuid::Uuid;

/// What a verified access token says.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub expires_at: i64,
    /// The session's assurance level when the token was issued (`aal`).
    pub aal: crate::auth::assurance::Aal,
    /// The Hasura claims object as it stands in the token.
    pub hasura: Map<String, Value>,
    /// The OAuth client it was issued to (`client_id`), if any.
    pub client_id: Option<Uuid>,
}

/// Token text → what it says, at most `capacity` of them.
pub struct VerifiedTokens {
    tokens: Mutex<Entries>,
    capacity: usize,
}

struct Entries {
    map: HashMap<Box<str>, Arc<VerifiedToken>>,
    /// When expired entries were last dropped all at once.
    swept: Instant,
}

/// How often a full cache looks for expired entries before it evicts a live one.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

impl std::fmt::Debug for VerifiedTokens {
    // Never the tokens themselves: they are bearer credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokens")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

/// Off: every token is verified afresh.
impl Default for VerifiedTokens {
    fn default() -> Self {
        Self::new(0)
    }
}

impl VerifiedTokens {
    /// Remembers at most `capacity` tokens (0: off).
    pub fn new(capacity: usize) -> Self {
        Self {
            tokens: Mutex::new(Entries {
                map: HashMap::new(),
                swept: Instant::now(),
            }),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        crate::auth::bounded::lock(&self.tokens)
    }

    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What `token` says, if it was verified before and has not expired at `now` (seconds).
    pub fn get(&self, token: &str, now: i64) -> Option<Arc<VerifiedToken>> {
        if self.capacity == 0 {
            return None;
        }
        let mut tokens = self.lock();
        let found = tokens.map.get(token)?;
        if found.expires_at <= now {
            tokens.map.remove(token);
            return None;
        }
        Some(found.clone())
    }

    /// Remembers a token that passed verification.
    pub fn insert(&self, token: &str, verified: &Arc<VerifiedToken>) {
        if self.capacity == 0 {
            return;
        }
        let mut tokens = self.lock();
        if tokens.map.len() >= self.capacity && !tokens.map.contains_key(token) {
            // Full: drop what has expired (at most once a second, it is a full pass); failing
            // that, an arbitrary entry.
            if tokens.swept.elapsed() >= SWEEP_EVERY {
                let now = chrono::Utc::now().timestamp();
                tokens.map.retain(|_, t| t.expires_at > now);
                tokens.swept = Instant::now();
            }
            crate::auth::bounded::make_room(&mut tokens.map, self.capacity, token);
        }
        tokens.map.insert(token.into(), verified.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(expires_at: i64) -> Arc<VerifiedToken> {
        Arc::new(VerifiedToken {
            user_id: uuid::Uuid::new_v4(),
            session_id: uuid::Uuid::new_v4(),
            expires_at,
            aal: crate::auth::assurance::Aal::Aal1,
            hasura: Default::default(),
            client_id: None,
        })
    }

    #[test]
    fn exact_text_until_expiry_and_bounded() {
        let cache = VerifiedTokens::new(100);
        let now = chrono::Utc::now().timestamp();
        cache.insert("a.b.c", &verified(now + 60));
        assert!(cache.get("a.b.c", now).is_some());
        assert!(cache.get("a.b.d", now).is_none(), "another text");
        assert!(cache.get("a.b.c", now + 60).is_none(), "expired");
        assert!(cache.is_empty(), "an expired entry is dropped when met");
        for i in 0..10_000 {
            cache.insert(&format!("t{i}"), &verified(now + 60));
        }
        assert!(cache.len() <= 100, "{}", cache.len());
        // A full cache of expired tokens makes room by dropping them, not live ones.
        let stale = VerifiedTokens::new(10);
        for i in 0..10 {
            stale.insert(&format!("old{i}"), &verified(now - 1));
        }
        stale.lock().swept -= SWEEP_EVERY;
        stale.insert("new", &verified(now + 60));
        assert_eq!(stale.len(), 1);
        let off = VerifiedTokens::new(0);
        off.insert("a.b.c", &verified(now + 60));
        assert!(off.get("a.b.c", now).is_none());
    }
}
