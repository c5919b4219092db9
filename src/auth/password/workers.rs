//! The hashing threads: a fixed set of dedicated threads fed by one queue.

use std::sync::{mpsc, Arc, Mutex, TryLockError};

use anyhow::Context;

pub(super) type Job = Box<dyn FnOnce() + Send>;

/// Starts `n` hashing threads fed by one queue; they end when the last sender is dropped.
/// A thread that finds the queue empty calls `on_idle` before it waits.
///
/// Dedicated threads rather than tokio's blocking pool bound memory as well as CPU: every
/// Argon2id hash allocates `m` KiB (19 MiB by default), and the allocator keeps such blocks
/// per thread, so hashing on an unbounded set of blocking threads let the process grow to
/// hundreds of MiB under a sign-in burst. With `n` threads it stays near `n × m` while they
/// are busy, and `on_idle` lets an idle thread give its memory back.
///
/// The queue holds at most `queue` jobs: past that, callers are refused at once (see
/// `PasswordHasher::run`) rather than left waiting behind a backlog they will time out in.
pub(super) fn spawn_workers(
    n: usize,
    queue: usize,
    on_idle: fn(),
) -> anyhow::Result<mpsc::SyncSender<Job>> {
    let (tx, rx) = mpsc::sync_channel::<Job>(queue);
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..n {
        let rx = rx.clone();
        std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || loop {
                // The thread holding the lock waits for the next job, so a thread that
                // cannot take the lock at once has nothing to do either.
                let guard = match rx.try_lock() {
                    Ok(guard) => guard,
                    Err(TryLockError::WouldBlock) => {
                        on_idle();
                        match rx.lock() {
                            Ok(guard) => guard,
                            Err(_) => return,
                        }
                    }
                    Err(TryLockError::Poisoned(_)) => return,
                };
                let job = match guard.try_recv() {
                    Err(mpsc::TryRecvError::Empty) => {
                        on_idle();
                        guard.recv()
                    }
                    next => next.map_err(|_| mpsc::RecvError),
                };
                drop(guard);
                match job {
                    Ok(job) => job(),
                    Err(_) => return,
                }
            })
            .context("cannot start the password hashing threads")?;
    }
    Ok(tx)
}
