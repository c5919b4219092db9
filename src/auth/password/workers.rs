//! The hashing threads: a fixed set of dedicated threads fed by one queue.

use std::sync::{mpsc, Arc, Mutex};

use anyhow::Context;

pub(super) type Job = Box<dyn FnOnce() + Send>;

/// Starts `n` hashing threads fed by one queue; they end when the last sender is dropped.
///
/// Dedicated threads rather than tokio's blocking pool bound memory as well as CPU: every
/// Argon2id hash allocates `m` KiB (19 MiB by default), and the allocator keeps such blocks
/// per thread, so hashing on an unbounded set of blocking threads let the process grow to
/// hundreds of MiB under a sign-in burst. With `n` threads it stays near `n × m`.
///
/// The queue holds at most `queue` jobs: past that, callers are refused at once (see
/// `PasswordHasher::run`) rather than left waiting behind a backlog they will time out in.
pub(super) fn spawn_workers(n: usize, queue: usize) -> anyhow::Result<mpsc::SyncSender<Job>> {
    let (tx, rx) = mpsc::sync_channel::<Job>(queue);
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..n {
        let rx = rx.clone();
        std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || loop {
                let job = match rx.lock() {
                    Ok(guard) => guard.recv(),
                    Err(_) => return,
                };
                match job {
                    Ok(job) => job(),
                    Err(_) => return,
                }
            })
            .context("cannot start the password hashing threads")?;
    }
    Ok(tx)
}
