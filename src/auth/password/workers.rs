//! The hashing threads: a fixed set of dedicated threads fed by one queue.

use std::{
    sync::{mpsc, Arc, Mutex},
    time::Duration,
};

use anyhow::Context;

pub(super) type Job = Box<dyn FnOnce() + Send>;

/// How long a hashing thread waits for work before it calls `on_idle` (and waits again).
const IDLE_AFTER: Duration = Duration::from_secs(1);

/// Starts `n` hashing threads fed by one queue; they end when the last sender is dropped.
/// A thread that has waited [`IDLE_AFTER`] for work calls `on_idle`, so that memory kept for
/// the next job goes back once the burst is over (not between two jobs of a steady load).
///
/// Dedicated threads rather than tokio's blocking pool bound memory as well as CPU: every
/// Argon2id hash allocates `m` KiB (19 MiB by default), and the allocator keeps such blocks
/// per thread, so hashing on an unbounded set of blocking threads let the process grow to
/// hundreds of MiB under a sign-in burst. With `n` threads it stays near `n × m` while they
/// are busy, and `on_idle` lets an idle thread give its memory back.
///
/// Each thread first adds `nice` to its own niceness (on Linux, where niceness is a thread's
/// own): while the threads hash, the async workers that answer every other request, and a
/// PostgreSQL on the same host, are scheduled first. The hashes still get every cycle nobody
/// else wants, so sign-ins lose nothing on an otherwise idle machine.
///
/// The queue holds at most `queue` jobs: past that, callers are refused at once (see
/// `PasswordHasher::run`) rather than left waiting behind a backlog they will time out in.
pub(super) fn spawn_workers(
    n: usize,
    queue: usize,
    nice: i32,
    on_idle: fn(),
) -> anyhow::Result<mpsc::SyncSender<Job>> {
    let (tx, rx) = mpsc::sync_channel::<Job>(queue);
    let rx = Arc::new(Mutex::new(rx));
    for i in 0..n {
        let rx = rx.clone();
        std::thread::Builder::new()
            .name(format!("argon2-{i}"))
            .spawn(move || {
                lower_priority(nice);
                serve(&rx, on_idle)
            })
            .context("cannot start the password hashing threads")?;
    }
    Ok(tx)
}

fn serve(rx: &Mutex<mpsc::Receiver<Job>>, on_idle: fn()) {
    loop {
        let next = match rx.lock() {
            Ok(queue) => queue.recv_timeout(IDLE_AFTER),
            Err(_) => return,
        };
        match next {
            Ok(job) => job(),
            Err(mpsc::RecvTimeoutError::Timeout) => on_idle(),
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Adds `nice` to the calling thread's niceness (at most 19). A failure only costs
/// responsiveness under load, so it is logged, not fatal.
#[cfg(target_os = "linux")]
fn lower_priority(nice: i32) {
    use rustix::{process, thread};
    if nice == 0 {
        return;
    }
    let me = Some(thread::gettid());
    let lowered = process::getpriority_process(me)
        .and_then(|now| process::setpriority_process(me, (now + nice).min(19)));
    if let Err(e) = lowered {
        tracing::warn!(error = %e, "cannot lower the priority of a password hashing thread");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority(_nice: i32) {}
