//! The session cache's map: each cached session, and each user's sessions among them.

use std::{collections::HashMap, sync::Arc, time::Instant};

use uuid::Uuid;

use super::LiveUser;

pub(super) struct Entry {
    pub(super) user: Arc<LiveUser>,
    pub(super) stored: Instant,
}

/// The cached sessions, and each user's among them: a change to one user then touches only
/// that user's entries, instead of a scan of the whole cache under the lock every webhook
/// request takes (a sign-in changes its user, on every instance).
#[derive(Default)]
pub(super) struct Entries {
    pub(super) sessions: HashMap<Uuid, Entry>,
    pub(super) by_user: HashMap<Uuid, Vec<Uuid>>,
}

impl Entries {
    /// Stores `entry` under `session_id`; when `capacity` is reached and the session is new,
    /// an arbitrary entry makes room (constant time; it costs its owner one slower answer).
    pub(super) fn insert(&mut self, session_id: Uuid, entry: Entry, capacity: usize) {
        if self.sessions.len() >= capacity && !self.sessions.contains_key(&session_id) {
            if let Some(victim) = self.sessions.keys().next().copied() {
                self.remove(victim);
            }
        }
        let user_id = entry.user.id;
        match self.sessions.insert(session_id, entry) {
            Some(old) if old.user.id == user_id => return,
            Some(old) => self.unlink(old.user.id, session_id),
            None => {}
        }
        self.by_user.entry(user_id).or_default().push(session_id);
    }

    pub(super) fn remove(&mut self, session_id: Uuid) {
        if let Some(old) = self.sessions.remove(&session_id) {
            self.unlink(old.user.id, session_id);
        }
    }

    fn unlink(&mut self, user_id: Uuid, session_id: Uuid) {
        if let Some(ids) = self.by_user.get_mut(&user_id) {
            ids.retain(|id| *id != session_id);
            if ids.is_empty() {
                self.by_user.remove(&user_id);
            }
        }
    }

    pub(super) fn remove_user(&mut self, user_id: Uuid) {
        for id in self.by_user.remove(&user_id).unwrap_or_default() {
            self.sessions.remove(&id);
        }
    }

    pub(super) fn clear(&mut self) {
        self.sessions.clear();
        self.by_user.clear();
    }
}
