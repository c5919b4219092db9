//! Session liveness from memory: the webhook, `GET /user` and every other access-token check
//! ask [`super::Auth::live_user`], which answers from this bounded cache when it can and from the
//! database otherwise.
//!
//! Correctness rests on invalidation, never on expiry alone:
//! - Database triggers notify (`LISTEN/NOTIFY`) every session deleted and every user or
//!   identity changed, on every instance ([`run_listener`]).
//! - While the listener is not connected (at start, after a lost connection) the cache is
//!   empty and unused: every check goes to the database until a notification proves the
//!   listener is back. The listener pings itself through the channel every 250 ms; a second
//!   without any notification counts as a lost connection, so even a connection that died
//!   silently (a failover, a network split) stops the cache within about a second.
//! - A check that read the database while any invalidation arrived does not store its
//!   answer (the epoch moved), so a sign-out racing a check can never be cached away.
//! - Entries also expire after [`MAX_AGE`], as a safety net.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use sqlx::PgPool;
use uuid::Uuid;

use crate::store::{
    self,
    session_events::{self, SessionEvent},
};

/// The longest an entry is used without being checked again.
pub const MAX_AGE: Duration = Duration::from_secs(60);

mod entries;
mod live_user;

use entries::{Entries, Entry};
pub use live_user::{KeyGrant, LiveUser};

/// Live sessions recently checked: session id → its user.
pub struct SessionCache {
    entries: Mutex<Entries>,
    capacity: usize,
    /// Whether the listener is connected (entries may be used and stored).
    healthy: AtomicBool,
    /// Moves on every invalidation.
    epoch: AtomicU64,
    hits: AtomicU64,
}

impl std::fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl SessionCache {
    /// A cache of at most `capacity` sessions (0: off). Unused until the listener connects.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::default(),
            capacity,
            healthy: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            hits: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        super::bounded::lock(&self.entries)
    }

    pub fn len(&self) -> usize {
        self.lock().sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Answers served from memory so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Acquire)
    }

    /// The epoch to pass to [`Self::store`] after reading the database.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The user of session `session_id` if it is cached, belongs to `user_id` and is fresh.
    pub fn get(&self, session_id: Uuid, user_id: Uuid) -> Option<Arc<LiveUser>> {
        // A session's entry only: an API key's (under its id) is never a session.
        self.fresh(session_id, |user| {
            user.id == user_id && user.key().is_none()
        })
    }

    /// The API key `id`'s user if it is cached and fresh (a key's id names no user).
    pub fn get_key(&self, id: Uuid) -> Option<Arc<LiveUser>> {
        self.fresh(id, |user| user.key().is_some())
    }

    /// The entry stored under `id`, if the cache may be used, the entry is fresh and `fits`.
    fn fresh(&self, id: Uuid, fits: impl Fn(&LiveUser) -> bool) -> Option<Arc<LiveUser>> {
        if !self.is_healthy() {
            return None;
        }
        let entries = self.lock();
        let entry = entries.sessions.get(&id)?;
        if !fits(&entry.user) || entry.stored.elapsed() > MAX_AGE {
            return None;
        }
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(entry.user.clone())
    }

    /// A change to `user_id` (or the end of some of their sessions) that this instance has just
    /// committed: seen here at once, so that a client reading right after its own write gets
    /// what it wrote; other instances hear it from the database (milliseconds).
    pub fn user_changed(&self, user_id: Uuid) {
        self.apply(SessionEvent::UserChanged(user_id));
    }

    /// Stores what the database said, unless something was invalidated since `epoch`.
    pub fn store(&self, session_id: Uuid, user: &Arc<LiveUser>, epoch: u64) {
        if self.capacity == 0 || !self.is_healthy() {
            return;
        }
        let mut entries = self.lock();
        // Checked under the lock that invalidation also takes.
        if self.epoch() != epoch {
            return;
        }
        let entry = Entry {
            user: user.clone(),
            stored: Instant::now(),
        };
        entries.insert(session_id, entry, self.capacity);
    }

    /// Applies one notification.
    pub fn apply(&self, event: SessionEvent) {
        if event == SessionEvent::Other {
            // A ping, or another schema's event: nothing here changed.
            return;
        }
        let mut entries = self.lock();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        match event {
            SessionEvent::SessionDeleted(id) => entries.remove(id),
            SessionEvent::UserChanged(user_id) => entries.remove_user(user_id),
            SessionEvent::All => entries.clear(),
            SessionEvent::Other => {}
        }
    }

    /// Forgets everything and stops serving (the listener lost its connection).
    pub fn disconnect(&self) {
        let mut entries = self.lock();
        self.healthy.store(false, Ordering::Release);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    fn connected(&self) {
        let _entries = self.lock();
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.healthy.store(true, Ordering::Release);
    }
}

/// How often the listener pings itself, and how long it waits for any notification before
/// taking the connection for lost.
const PING_EVERY: Duration = Duration::from_millis(250);
const SILENCE: Duration = Duration::from_secs(1);

/// Keeps `cache` in step with the database's notifications, forever (spawn it). Connected
/// means: listening, and one of our own pings came back through the channel.
pub async fn run_listener(pool: PgPool, schema: String, cache: Arc<SessionCache>) {
    let pinger = {
        let (pool, schema) = (pool.clone(), schema.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PING_EVERY);
            loop {
                tick.tick().await;
                if let Err(e) = session_events::ping(&pool, &schema).await {
                    tracing::debug!(error = %e, "session cache: ping failed");
                }
            }
        })
    };
    let _stop_pinger = AbortOnDrop(pinger);
    let listener_pool = session_events::listener_pool(&pool);
    loop {
        cache.disconnect();
        let mut listener = match session_events::listen(&listener_pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "session cache: cannot listen; using the database");
                tokio::time::sleep(SILENCE).await;
                continue;
            }
        };
        loop {
            match tokio::time::timeout(SILENCE, listener.try_recv()).await {
                Ok(Ok(Some(n))) => {
                    if !cache.is_healthy() {
                        cache.connected();
                        tracing::info!("session cache: listening for changes");
                    }
                    cache.apply(session_events::parse(n.payload(), &schema));
                }
                // Lost, or silent for too long: forget everything until we listen again.
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => {
                    if cache.is_healthy() {
                        tracing::warn!("session cache: lost the notification connection");
                    }
                    break;
                }
            }
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Checks the session in the database, storing the answer when it may.
pub(crate) async fn load(
    cache: &SessionCache,
    pool: &PgPool,
    session_id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<Option<Arc<LiveUser>>> {
    let epoch = cache.epoch();
    let user = store::sessions::find_live_user(pool, session_id, user_id)
        .await?
        .map(|(user, org, binding)| match binding.oauth_client_id {
            Some(_) => Arc::new(LiveUser::of_client(user, binding)),
            None => Arc::new(LiveUser::new(user, org)),
        });
    if let Some(user) = &user {
        cache.store(session_id, user, epoch);
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: Uuid) -> Arc<LiveUser> {
        let now = chrono::Utc::now();
        Arc::new(LiveUser::new(
            crate::store::users::User {
                id,
                email: "c@example.com".into(),
                enabled: true,
                banned_until: None,
                default_role: "user".into(),
                allowed_roles: vec!["user".into()],
                user_metadata: serde_json::json!({}),
                app_metadata: serde_json::json!({}),
                last_sign_in_at: None,
                created_at: now,
                updated_at: now,
                email_confirmed_at: None,
                email_verified_at: None,
                invited_at: None,
                email_change: None,
                email_identity: true,
                is_anonymous: false,
                external_identities: sqlx::types::Json(vec![]),
                factors: sqlx::types::Json(vec![]),
            },
            Default::default(),
        ))
    }

    #[test]
    fn bounded_and_invalidated() {
        let cache = SessionCache::new(1000);
        cache.connected();
        let uid = Uuid::new_v4();
        for _ in 0..100_000 {
            cache.store(Uuid::new_v4(), &user(uid), cache.epoch());
        }
        assert!(cache.len() <= 1000, "{}", cache.len());
        let s = Uuid::new_v4();
        cache.store(s, &user(uid), cache.epoch());
        assert!(cache.get(s, uid).is_some());
        assert!(cache.get(s, Uuid::new_v4()).is_none(), "another user's id");
        cache.apply(SessionEvent::SessionDeleted(s));
        assert!(cache.get(s, uid).is_none());
        cache.store(s, &user(uid), cache.epoch());
        cache.apply(SessionEvent::UserChanged(uid));
        assert!(cache.is_empty());
        cache.store(s, &user(uid), cache.epoch());
        cache.apply(SessionEvent::All);
        assert!(cache.is_empty(), "a truncated table empties the cache");
        // A read that raced an invalidation is not stored; a ping is no invalidation.
        let epoch = cache.epoch();
        cache.apply(SessionEvent::Other);
        assert_eq!(cache.epoch(), epoch);
        cache.apply(SessionEvent::SessionDeleted(Uuid::new_v4()));
        cache.store(s, &user(uid), epoch);
        assert!(cache.get(s, uid).is_none());
        // Disconnected: nothing served, nothing stored.
        cache.store(s, &user(uid), cache.epoch());
        cache.disconnect();
        assert!(cache.get(s, uid).is_none());
        cache.store(s, &user(uid), cache.epoch());
        assert!(cache.is_empty());
    }

    /// Every cached session is listed under its user, and only there, whatever was stored,
    /// evicted or invalidated.
    fn index_in_step(cache: &SessionCache) {
        let entries = cache.lock();
        let listed: usize = entries.by_user.values().map(Vec::len).sum();
        assert_eq!(listed, entries.sessions.len());
        for (user_id, ids) in &entries.by_user {
            assert!(!ids.is_empty());
            for id in ids {
                assert_eq!(entries.sessions[id].user.id, *user_id);
            }
        }
    }

    #[test]
    fn a_user_change_drops_that_user_s_sessions_only() {
        let cache = SessionCache::new(500);
        cache.connected();
        let users: Vec<Uuid> = (0..50).map(|_| Uuid::new_v4()).collect();
        let mut sessions = Vec::new();
        for i in 0..5_000 {
            let s = Uuid::new_v4();
            cache.store(s, &user(users[i % 50]), cache.epoch());
            sessions.push((s, users[i % 50]));
        }
        assert_eq!(cache.len(), 500, "bounded");
        index_in_step(&cache);
        // Stored again (a refreshed reading), a session stays listed once.
        let (s, u) = sessions[4_999];
        cache.store(s, &user(u), cache.epoch());
        index_in_step(&cache);

        let (changed, kept) = (users[0], users[1]);
        let cached = |who: Uuid| {
            sessions
                .iter()
                .filter(|(s, u)| *u == who && cache.get(*s, who).is_some())
                .count()
        };
        assert!(cached(changed) > 0 && cached(kept) > 0);
        cache.apply(SessionEvent::UserChanged(changed));
        assert_eq!(cached(changed), 0);
        assert!(cached(kept) > 0, "another user's sessions stay");
        index_in_step(&cache);
        cache.apply(SessionEvent::SessionDeleted(s));
        index_in_step(&cache);
        cache.apply(SessionEvent::All);
        assert!(cache.is_empty());
        index_in_step(&cache);
    }
}
