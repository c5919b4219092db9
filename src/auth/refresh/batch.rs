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
//! lone statement would. The statement (even for a batch of one) skips sessions locked by
//! another transaction (those refreshes take the slow path, alone and outside the batcher),
//! so it never waits on a lock and cannot deadlock.
//!
//! Waiting is bounded like waiting for a pooled connection: a refresh whose statement has not
//! started within `wait_limit` of its arrival gets 503 and is not rotated. A refresh whose caller has gone
//! by the time its statement has a connection (request timed out or cancelled) is left out, so
//! its token stays current. A statement whose connection broke is tried once more on a
//! connection that answers a ping (safe even if it had committed: the rotations would then fail their checks, and their
//! refreshes converge on the new tokens); if the database stays out of reach, every refresh
//! of the batch gets 503. A statement that fails in the database otherwise has changed
//! nothing, and its refreshes run again one by one. With `max_batch` 1, every refresh runs
//! its own statement, as before merging.

use std::{
    collections::VecDeque,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use sqlx::{pool::PoolConnection, Connection, PgConnection, PgPool, Postgres};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::{
    client::Client,
    error::{is_outage, Error, Result},
    store::{
        self,
        sessions::{CurrentRotation, Lifetimes, SessionUser},
    },
};

/// Rotation statements run at once: one can be flushing its commit while the next runs. On a
/// two-core machine two beat five (10,100–11,800 against 7,300–7,900 refreshes/s): the
/// fewer statements, the larger each batch and the fewer commits.
pub const STATEMENTS_AT_ONCE: usize = 2;

/// One rotation to run: the presented token (counter and hash) and its successor's hash.
pub struct Rotation {
    pub session_id: Uuid,
    pub counter: i64,
    pub hash: [u8; 32],
    pub new_hash: [u8; 32],
    pub client: Client,
}

impl Rotation {
    fn checked(&self) -> CurrentRotation<'_> {
        CurrentRotation {
            session_id: self.session_id,
            counter: self.counter,
            hash: &self.hash,
            new_hash: &self.new_hash,
            client: &self.client,
        }
    }
}

type Reply = oneshot::Sender<Result<Option<SessionUser>>>;

struct Pending {
    id: u64,
    /// When its wait runs out: a statement that starts later answers it 503.
    deadline: Instant,
    rotation: Rotation,
    reply: Reply,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Pending>,
    in_flight: usize,
    next_id: u64,
}

/// Merges concurrent refreshes into batches (see the module documentation).
pub struct RotationBatcher {
    pool: PgPool,
    lifetimes: Lifetimes,
    max_batch: usize,
    wait_limit: Duration,
    queue: Mutex<Queue>,
    /// The largest batch run so far (for tests).
    largest: AtomicUsize,
}

impl std::fmt::Debug for RotationBatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotationBatcher")
            .field("max_batch", &self.max_batch)
            .finish_non_exhaustive()
    }
}

impl RotationBatcher {
    /// `wait_limit`: how long a refresh may wait for its statement to start (the pool's
    /// acquire timeout, so that it fares as a request waiting for a connection would).
    pub fn new(pool: PgPool, lifetimes: Lifetimes, max_batch: usize, wait_limit: Duration) -> Self {
        Self {
            pool,
            lifetimes,
            max_batch: max_batch.max(1),
            wait_limit,
            queue: Mutex::default(),
            largest: AtomicUsize::new(0),
        }
    }

    /// The largest number of rotations one statement has carried so far.
    pub fn largest_batch(&self) -> usize {
        self.largest.load(Ordering::Relaxed)
    }

    /// Rotates `rotation` if its token is current and the session and user usable (see
    /// `store::sessions::rotate_current`): the user, or `None` when it did not rotate and
    /// nothing changed.
    pub async fn rotate(self: &Arc<Self>, rotation: Rotation) -> Result<Option<SessionUser>> {
        if self.max_batch == 1 {
            let rotated =
                store::sessions::rotate_current(&self.pool, &rotation.checked(), self.lifetimes)
                    .await?;
            return Ok(rotated);
        }
        let (reply, mut answer) = oneshot::channel();
        let (id, batch) = {
            let mut queue = self.lock();
            let id = queue.next_id;
            queue.next_id += 1;
            queue.waiting.push_back(Pending {
                id,
                deadline: Instant::now() + self.wait_limit,
                rotation,
                reply,
            });
            (id, self.next_batch(&mut queue))
        };
        if let Some(batch) = batch {
            tokio::spawn(self.clone().run(batch));
        }
        if let Ok(outcome) = tokio::time::timeout(self.wait_limit, &mut answer).await {
            return outcome.unwrap_or_else(|_| Err(ended()));
        }
        // Still queued after the wait limit: given up, like a request that got no connection.
        // Once its statement has started, its outcome is on the way.
        let still_queued = {
            let mut queue = self.lock();
            let before = queue.waiting.len();
            queue.waiting.retain(|p| p.id != id);
            queue.waiting.len() < before
        };
        if still_queued {
            tracing::error!("database unavailable: no refresh statement could start in time");
            return Err(Error::database_unavailable());
        }
        answer.await.unwrap_or_else(|_| Err(ended()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // Every change to the queue is complete when the lock is released, so a panic
        // elsewhere while it was held leaves nothing half-done.
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
    async fn run(self: Arc<Self>, mut batch: Vec<Pending>) {
        loop {
            // A task of its own, so that a panic costs its batch only (its callers get an
            // error), never the statement's place or the refreshes queued behind it.
            let this = self.clone();
            let _ = tokio::spawn(async move { this.execute(batch).await }).await;
            let next = {
                let mut queue = self.lock();
                queue.in_flight -= 1;
                self.next_batch(&mut queue)
            };
            match next {
                Some(more) => batch = more,
                None => return,
            }
        }
    }

    /// One statement for the whole batch; each caller gets its own outcome.
    async fn execute(&self, mut batch: Vec<Pending>) {
        let mut retried = false;
        loop {
            let mut db = match self.connection(retried).await {
                Ok(db) => db,
                Err(e) => return fail_all(batch, &e),
            };
            // Only now, with a connection: a caller that gave up meanwhile, or whose wait has
            // run out (it gets 503, like a request that got no connection), changes nothing.
            let now = Instant::now();
            batch.retain(|p| !p.reply.is_closed());
            let (late, on_time): (Vec<_>, Vec<_>) =
                batch.into_iter().partition(|p| p.deadline <= now);
            if !late.is_empty() {
                tracing::error!(
                    refreshes = late.len(),
                    "database unavailable: refresh statement not started in time"
                );
            }
            for pending in late {
                let _ = pending.reply.send(Err(Error::database_unavailable()));
            }
            batch = on_time;
            if batch.is_empty() {
                return;
            }
            self.largest.fetch_max(batch.len(), Ordering::Relaxed);
            let checked: Vec<_> = batch.iter().map(|p| p.rotation.checked()).collect();
            let outcome =
                store::sessions::rotate_current_many(&mut *db, &checked, self.lifetimes).await;
            drop(checked);
            match outcome {
                Ok(rotated) => return answer(batch, rotated),
                Err(e) if is_outage(&e) && !retried => {
                    tracing::warn!(error = %e, "refresh statement lost its connection; trying once more");
                    db.close_on_drop();
                    retried = true;
                }
                Err(e) if is_outage(&e) || batch.len() == 1 => return fail_all(batch, &e),
                Err(e) => {
                    tracing::warn!(error = %e, rotations = batch.len(), "merged refresh statement failed; running its rotations one by one");
                    return self.one_by_one(&mut db, batch).await;
                }
            }
        }
    }

    /// A pooled connection. For the retry after a broken one, a connection that answers a
    /// ping: after a database restart the pool may still hold several broken ones, each closed
    /// in turn, for at most the pool's wait.
    async fn connection(&self, tested: bool) -> sqlx::Result<PoolConnection<Postgres>> {
        if !tested {
            return self.pool.acquire().await;
        }
        let deadline = Instant::now() + self.wait_limit;
        loop {
            let mut db = self.pool.acquire().await?;
            match db.ping().await {
                Ok(()) => return Ok(db),
                Err(e) => {
                    db.close_on_drop();
                    if Instant::now() >= deadline {
                        return Err(e);
                    }
                }
            }
        }
    }

    /// After a merged statement failed (and so changed nothing): each rotation on its own.
    async fn one_by_one(&self, db: &mut PgConnection, batch: Vec<Pending>) {
        for pending in batch {
            if pending.reply.is_closed() {
                continue;
            }
            let result = store::sessions::rotate_current(
                &mut *db,
                &pending.rotation.checked(),
                self.lifetimes,
            )
            .await;
            let _ = pending.reply.send(result.map_err(Error::from));
        }
    }
}

fn ended() -> Error {
    Error::internal(anyhow::anyhow!(
        "the refresh statement's task ended without an answer"
    ))
}

/// Hands each caller its user (`rotated` holds indexes into `batch`), or `None`.
fn answer(batch: Vec<Pending>, rotated: Vec<(usize, SessionUser)>) {
    let mut users: Vec<Option<SessionUser>> = batch.iter().map(|_| None).collect();
    for (i, user) in rotated {
        if let Some(slot) = users.get_mut(i) {
            *slot = Some(user);
        }
    }
    for (pending, user) in batch.into_iter().zip(users) {
        let _ = pending.reply.send(Ok(user));
    }
}

/// The same failure for every caller: 503 when the database is out of reach, else 500.
fn fail_all(batch: Vec<Pending>, e: &sqlx::Error) {
    let outage = is_outage(e);
    if outage {
        tracing::error!(error = %e, "database unavailable");
    } else {
        tracing::error!(error = %e, "refresh statement failed");
    }
    for pending in batch {
        let error = match outage {
            true => Error::database_unavailable(),
            false => Error::internal(anyhow::anyhow!("refresh statement failed")),
        };
        let _ = pending.reply.send(Err(error));
    }
}
