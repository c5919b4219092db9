//! Refreshes that arrive together rotate together. Each refresh in the common case is one
//! `UPDATE … RETURNING` that checks and rotates the presented token; on its own it is one
//! transaction, so one commit, and under load PostgreSQL spends most of a refresh's cost on
//! the statement's overhead and on flushing its commit to the WAL. Here at most
//! [`STATEMENTS_AT_ONCE`] rotation statements run at once; the refreshes that arrive while
//! they run wait (never on a timer: only while the database is busy with earlier ones) and go
//! together in the next statement, up to `max_batch` of them, one transaction for all.
//!
//! Each rotation in a batch is checked exactly as alone (`store::sessions::rotate_current_many`):
//! a failed check leaves that session unchanged and sends its refresh to the slow path, as a
//! lone statement would. A batch whose statement fails in the database (a deadlock between
//! racing batches, say) has changed nothing: its refreshes run again one by one. When the
//! database is out of reach, every refresh of the batch gets that answer. A refresh whose
//! caller has gone by the time its batch starts (request timed out or cancelled) is left out,
//! so its token stays current. With `max_batch` 1, every refresh runs its own statement.

use std::sync::{Arc, Mutex};

use sqlx::PgPool;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::{
    client::Client,
    error::{Error, Result},
    store::{self, sessions::CurrentRotation, users::User},
};

/// One rotation to run: the presented token (counter and hash) and its successor's hash.
pub struct Rotation {
    pub session_id: Uuid,
    pub counter: i64,
    pub hash: [u8; 32],
    pub new_hash: [u8; 32],
    pub client: Client,
}

/// The session lifetimes every rotation checks (the server's policy, in seconds).
#[derive(Clone, Copy, Debug)]
pub struct Lifetimes {
    pub idle_secs: Option<f64>,
    pub max_secs: Option<f64>,
}

impl Rotation {
    fn checked(&self, lifetimes: Lifetimes) -> CurrentRotation<'_> {
        CurrentRotation {
            session_id: self.session_id,
            counter: self.counter,
            hash: &self.hash,
            new_hash: &self.new_hash,
            idle_secs: lifetimes.idle_secs,
            max_secs: lifetimes.max_secs,
            client: &self.client,
        }
    }
}

/// Rotation statements run at once: one can be flushing its commit while the next runs. On a
/// two-core machine two beat five (10,100–11,000 against 7,300–7,900 refreshes/s): the
/// fewer statements, the larger each batch and the fewer commits.
pub const STATEMENTS_AT_ONCE: usize = 2;

struct Pending {
    rotation: Rotation,
    reply: oneshot::Sender<Result<Option<User>>>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Pending>,
    in_flight: usize,
}

/// Merges concurrent refreshes into batches (see the module documentation).
pub struct RotationBatcher {
    queue: Mutex<Queue>,
    max_batch: usize,
    /// The largest batch run so far (for tests and the benchmark).
    largest: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for RotationBatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotationBatcher")
            .field("max_batch", &self.max_batch)
            .finish_non_exhaustive()
    }
}

impl RotationBatcher {
    pub fn new(max_batch: usize) -> Self {
        Self {
            queue: Mutex::default(),
            max_batch: max_batch.max(1),
            largest: Default::default(),
        }
    }

    /// The largest number of rotations one statement has carried so far.
    pub fn largest_batch(&self) -> usize {
        self.largest.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Rotates `rotation` if its token is current and the session and user usable (see
    /// `store::sessions::rotate_current`): the user, or `None` when a check failed and
    /// nothing changed.
    pub async fn rotate(
        self: &Arc<Self>,
        pool: &PgPool,
        lifetimes: Lifetimes,
        rotation: Rotation,
    ) -> Result<Option<User>> {
        if self.max_batch == 1 {
            return Ok(store::sessions::rotate_current(pool, &rotation.checked(lifetimes)).await?);
        }
        let (reply, answer) = oneshot::channel();
        let batch = {
            let mut queue = self.lock();
            queue.waiting.push(Pending { rotation, reply });
            self.next_batch(&mut queue)
        };
        if let Some(batch) = batch {
            tokio::spawn(self.clone().run(pool.clone(), lifetimes, batch));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(Error::internal(anyhow::anyhow!("refresh batch ended"))))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // The queue is consistent after every statement that touches it: a panic elsewhere
        // while it was held leaves nothing half-done.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the next batch off the queue if a statement may start now.
    fn next_batch(&self, queue: &mut Queue) -> Option<Vec<Pending>> {
        if queue.in_flight >= STATEMENTS_AT_ONCE || queue.waiting.is_empty() {
            return None;
        }
        queue.in_flight += 1;
        let n = queue.waiting.len().min(self.max_batch);
        Some(queue.waiting.drain(..n).collect())
    }

    /// Runs `batch`, then whatever has queued meanwhile, until the queue is empty.
    async fn run(self: Arc<Self>, pool: PgPool, lifetimes: Lifetimes, mut batch: Vec<Pending>) {
        /// Gives the statement's place back even if this task ends early.
        struct Slot<'a>(&'a RotationBatcher);
        impl Drop for Slot<'_> {
            fn drop(&mut self) {
                self.0.lock().in_flight -= 1;
            }
        }
        loop {
            {
                let _slot = Slot(&self);
                batch.retain(|p| !p.reply.is_closed());
                self.largest
                    .fetch_max(batch.len(), std::sync::atomic::Ordering::Relaxed);
                execute(&pool, lifetimes, batch).await;
            }
            match self.next_batch(&mut self.lock()) {
                Some(next) => batch = next,
                None => return,
            }
        }
    }
}

/// One statement for the whole batch; each caller gets its own outcome.
async fn execute(pool: &PgPool, lifetimes: Lifetimes, batch: Vec<Pending>) {
    if let [one] = batch.as_slice() {
        let result = store::sessions::rotate_current(pool, &one.rotation.checked(lifetimes)).await;
        let one = batch.into_iter().next().expect("one pending rotation");
        let _ = one.reply.send(result.map_err(Error::from));
        return;
    }
    if batch.is_empty() {
        return;
    }
    let checked: Vec<_> = batch
        .iter()
        .map(|p| p.rotation.checked(lifetimes))
        .collect();
    let outcome = store::sessions::rotate_current_many(pool, &checked).await;
    drop(checked);
    match outcome {
        Ok(rotated) => {
            let mut users: Vec<Option<User>> = batch.iter().map(|_| None).collect();
            for (i, user) in rotated {
                if let Some(slot) = users.get_mut(i) {
                    *slot = Some(user);
                }
            }
            for (pending, user) in batch.into_iter().zip(users) {
                let _ = pending.reply.send(Ok(user));
            }
        }
        Err(e) if crate::error::is_outage(&e) => {
            tracing::error!(error = %e, "database unavailable");
            for pending in batch {
                let _ = pending.reply.send(Err(Error::database_unavailable()));
            }
        }
        Err(e) => {
            // Nothing changed: each refresh runs again on its own.
            tracing::warn!(error = %e, rotations = batch.len(), "batched refresh failed; running its rotations one by one");
            for pending in batch {
                let result =
                    store::sessions::rotate_current(pool, &pending.rotation.checked(lifetimes))
                        .await;
                let _ = pending.reply.send(result.map_err(Error::from));
            }
        }
    }
}
