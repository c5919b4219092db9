//! What the in-memory state of the hot paths ([`super::session_cache`],
//! [`super::refresh::salts`], [`super::tokens::verified`]) shares: maps behind a mutex, held to a
//! bound.

use std::{
    borrow::Borrow,
    collections::HashMap,
    hash::Hash,
    sync::{Mutex, MutexGuard},
};

/// Locks `m`. A panic while it was held cannot leave these maps half-changed (every change is
/// one map operation), so a poisoned lock is used as it is.
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Makes room for `key` in a map of at most `capacity` entries: when it is full and `key` is
/// new, drops an arbitrary entry (constant time; an entry dropped costs its owner one slower
/// answer, never a wrong one).
pub(super) fn make_room<K, V, Q>(map: &mut HashMap<K, V>, capacity: usize, key: &Q)
where
    K: Borrow<Q> + Hash + Eq + Clone,
    Q: Hash + Eq + ?Sized,
{
    if map.len() >= capacity && !map.contains_key(key) {
        if let Some(victim) = map.keys().next().cloned() {
            map.remove(victim.borrow());
        }
    }
}
