//! Password hashing: Argon2id with explicit parameters, computed on a fixed set of dedicated
//! threads, plus verification of imported hashes so they can be upgraded on the next
//! successful sign-in.
//!
//! `workers.rs` runs the hashing threads, `argon.rs` holds the Argon2 parameters and
//! computations, [`imported`] the bcrypt and PL/pgSQL hasura-jwt-auth schemes.

mod argon;
pub mod imported;
pub mod policy;
mod workers;

pub use crate::config::MAX_PASSWORD_CHARS;

use std::sync::{
    atomic::{AtomicU64, Ordering},
    mpsc, Arc,
};

use argon2::Params;

use crate::{
    config::PasswordArgs,
    error::{Error, Result},
    secret::Secret,
};
use argon::Memory;
use imported::{is_bcrypt, PLPGSQL_HASH_PREFIX};
use workers::{spawn_workers, Job};

/// Whether `hash` is a hash this server can verify: an Argon2 PHC string or a bcrypt hash,
/// with costs within the limits (see `argon.rs` and [`imported::MAX_BCRYPT_COST`]).
pub fn is_supported_hash(hash: &str) -> bool {
    imported::is_verifiable_bcrypt(hash) || argon::is_verifiable(hash)
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordCheck {
    pub ok: bool,
    /// The hash is not Argon2id with the current parameters and should be replaced.
    pub needs_rehash: bool,
}

/// Counters of the hashing work (for tests and metrics).
#[derive(Debug, Default)]
pub struct HasherStats {
    /// Jobs accepted into the queue.
    pub queued: AtomicU64,
    /// Jobs skipped because nobody waited for their result any more.
    pub abandoned: AtomicU64,
    /// Argon2 computations run (hashes and verifications, dummy ones included).
    pub argon2_runs: AtomicU64,
}

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// Queue of the hashing threads (bounded).
    jobs: mpsc::SyncSender<Job>,
    stats: Arc<HasherStats>,
    /// Hash verified against when the account does not exist, so that an unknown email
    /// costs the same work as a wrong password.
    dummy_hash: Arc<str>,
    /// The settings: the hashing parameters, the rules for new passwords, the secret of
    /// imported PL/pgSQL hashes.
    args: Arc<PasswordArgs>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// The hasher of `args` (parameters, rules, imported hashes' secret) with `threads`
    /// hashing threads.
    pub fn new(args: &PasswordArgs, threads: usize) -> anyhow::Result<Self> {
        let params = Params::new(
            args.argon2_memory_kib,
            args.argon2_iterations,
            args.argon2_parallelism,
            None,
        )
        .map_err(|e| anyhow::anyhow!("invalid Argon2 parameters: {e}"))?;
        let dummy = argon::hash_phc(&params, "dummy password, never matches", Memory::Scratch)?;
        Ok(Self {
            params,
            jobs: spawn_workers(
                threads.max(1),
                args.password_hash_queue.max(1),
                args.password_hash_nice,
                argon::release_thread_memory,
            )?,
            stats: Arc::default(),
            dummy_hash: dummy.into(),
            args: Arc::new(args.clone()),
        })
    }

    pub fn stats(&self) -> &HasherStats {
        &self.stats
    }

    /// Checks a new password against the rules (see [`policy`]).
    pub fn check_new(&self, password: &str) -> Result<()> {
        policy::check(&self.args, password)
    }

    /// Checks a new password against the rules, then hashes it.
    pub async fn hash_new(&self, password: &Secret) -> Result<String> {
        self.check_new(password.expose())?;
        self.hash(password).await
    }

    /// Runs `f` on one of the hashing threads. When every thread is busy and the queue is
    /// full, fails at once with 503 (`Retry-After`); a job whose caller has gone (its request
    /// timed out or was cancelled) is skipped rather than computed.
    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let (reply, result) = tokio::sync::oneshot::channel();
        let span = tracing::Span::current();
        let stats = self.stats.clone();
        let queued_at = std::time::Instant::now();
        let job: Job = Box::new(move || {
            crate::metrics::hash_started(queued_at.elapsed());
            if reply.is_closed() {
                stats.abandoned.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let started = std::time::Instant::now();
            let result = span.in_scope(f);
            crate::metrics::hash_finished(started.elapsed());
            let _ = reply.send(result);
        });
        // Counted before the job can start, so that the depth never goes below zero.
        crate::metrics::hash_queued();
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(_)) => {
                crate::metrics::hash_unqueued();
                crate::metrics::hash_rejected();
                tracing::warn!("password hashing queue full: request refused");
                return Err(Error::unavailable(
                    "Too many sign-ins at once; retry in a moment",
                    1,
                ));
            }
            Err(mpsc::TrySendError::Disconnected(_)) => {
                crate::metrics::hash_unqueued();
                return Err(Error::internal(anyhow::anyhow!(
                    "password hashing threads are gone"
                )));
            }
        }
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        result
            .await
            .map_err(|_| Error::internal(anyhow::anyhow!("password hashing job failed")))
    }

    /// Hashes a new password with Argon2id and the configured parameters.
    pub async fn hash(&self, password: &Secret) -> Result<String> {
        let params = self.params.clone();
        let password = password.clone();
        let stats = self.stats.clone();
        Ok(self
            .run(move || {
                stats.argon2_runs.fetch_add(1, Ordering::Relaxed);
                argon::hash_phc(&params, password.expose(), Memory::Reuse)
            })
            .await??)
    }

    /// Verifies `password` against `stored`; with no stored hash (unknown account), verifies
    /// against a dummy hash so the work is the same, and fails. Every failure costs at least
    /// one Argon2id verification with the current parameters, whatever the stored hash is
    /// (bcrypt, imported, unreadable), so the time taken does not tell accounts apart.
    pub async fn verify(&self, password: &Secret, stored: Option<&str>) -> Result<PasswordCheck> {
        let known = stored.is_some();
        let stored: Arc<str> = stored
            .map(Arc::from)
            .unwrap_or_else(|| self.dummy_hash.clone());
        let password = password.clone();
        let hasher = self.clone();
        let verified = self
            .run(move || hasher.verify_stored(password.expose(), &stored))
            .await?;
        Ok(PasswordCheck {
            ok: verified.ok && known,
            ..verified
        })
    }

    /// Verifies `password` against any stored hash this server understands (on a hashing
    /// thread).
    fn verify_stored(&self, password: &str, stored: &str) -> PasswordCheck {
        let argon2 = |stored: &str| {
            argon::verify_argon2(&self.params, password, stored, &self.stats.argon2_runs)
        };
        let (check, current) = if let Some(rest) = stored.strip_prefix(PLPGSQL_HASH_PREFIX) {
            let check =
                imported::verify_plpgsql(self.args.legacy_hmac_secret.as_ref(), password, rest);
            (check, false)
        } else if is_bcrypt(stored) {
            (imported::verify_bcrypt(password, stored), false)
        } else {
            (argon2(stored), argon::is_current(&self.params, stored))
        };
        if !check.ok && !current {
            // Pay for the dummy Argon2id too: a failure against an imported or unreadable
            // hash must not be cheaper than one against a current hash.
            argon2(&self.dummy_hash);
        }
        check
    }
}

#[cfg(test)]
mod tests;
