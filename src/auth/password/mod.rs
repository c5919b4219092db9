//! Password hashing: Argon2id with explicit parameters, computed on a fixed set of dedicated
//! threads, plus verification of imported hashes so they can be upgraded on the next
//! successful sign-in.
//!
//! `workers.rs` runs the hashing threads, `argon.rs` holds the Argon2 parameters and
//! computations, [`imported`] the bcrypt and PL/pgSQL hasura-jwt-auth schemes.

mod argon;
pub mod imported;
mod workers;

use std::sync::{mpsc, Arc};

use anyhow::Context;
use argon2::Params;

use crate::secret::Secret;
use argon::Memory;
use imported::{is_bcrypt, PLPGSQL_HASH_PREFIX};
use workers::{spawn_workers, Job};

/// Shortest password accepted for new passwords.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted (in characters); bounds the hashing work per request.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Checks a new password against the length rules; the error says which rule.
pub fn check_new_password(password: &str) -> Result<(), &'static str> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        Err("Password should be at least 8 characters")
    } else if chars > MAX_PASSWORD_CHARS {
        Err("Password should be at most 256 characters")
    } else {
        Ok(())
    }
}

/// Whether `hash` is a hash this server can verify (Argon2 PHC string or bcrypt).
pub fn is_supported_hash(hash: &str) -> bool {
    is_bcrypt(hash) || argon::is_verifiable(hash)
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordCheck {
    pub ok: bool,
    /// The hash is not Argon2id with the current parameters and should be replaced.
    pub needs_rehash: bool,
}

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// Queue of the hashing threads.
    jobs: mpsc::Sender<Job>,
    /// Hashing jobs handed to the threads so far (lets tests see that work was done).
    jobs_queued: Arc<std::sync::atomic::AtomicU64>,
    /// Hash verified against when the account does not exist, so that an unknown email
    /// costs the same work as a wrong password.
    dummy_hash: Arc<str>,
    /// JWT secret of the PL/pgSQL hasura-jwt-auth, for the hashes imported from it.
    plpgsql_secret: Option<Secret>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    pub fn new(
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
        concurrency: usize,
        plpgsql_secret: Option<Secret>,
    ) -> anyhow::Result<Self> {
        let params = Params::new(memory_kib, iterations, parallelism, None)
            .map_err(|e| anyhow::anyhow!("invalid Argon2 parameters: {e}"))?;
        let dummy = argon::hash_phc(&params, "dummy password, never matches", Memory::Scratch)?;
        Ok(Self {
            params,
            jobs: spawn_workers(concurrency.max(1))?,
            jobs_queued: Arc::default(),
            dummy_hash: dummy.into(),
            plpgsql_secret,
        })
    }

    /// Runs `f` on one of the hashing threads (queued while all are busy).
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let (reply, result) = tokio::sync::oneshot::channel();
        let span = tracing::Span::current();
        let job: Job = Box::new(move || {
            let _ = reply.send(span.in_scope(f));
        });
        self.jobs
            .send(job)
            .map_err(|_| anyhow::anyhow!("password hashing threads are gone"))?;
        self.jobs_queued
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        result.await.context("password hashing job failed")
    }

    /// Hashes a new password with Argon2id and the configured parameters.
    pub async fn hash(&self, password: &Secret) -> anyhow::Result<String> {
        let params = self.params.clone();
        let password = password.clone();
        self.run(move || argon::hash_phc(&params, password.expose(), Memory::Reuse))
            .await?
    }

    /// Verifies `password` against `stored`; with no stored hash (unknown account), verifies
    /// against a dummy hash so the work is the same, and fails.
    pub async fn verify(
        &self,
        password: &Secret,
        stored: Option<&str>,
    ) -> anyhow::Result<PasswordCheck> {
        let known = stored.is_some();
        let stored: Arc<str> = stored
            .map(Arc::from)
            .unwrap_or_else(|| self.dummy_hash.clone());
        let password = password.clone();
        let params = self.params.clone();
        let plpgsql_secret = self.plpgsql_secret.clone();
        let verified = self
            .run(move || {
                verify_stored(&params, plpgsql_secret.as_ref(), password.expose(), &stored)
            })
            .await?;
        Ok(PasswordCheck {
            ok: verified.ok && known,
            ..verified
        })
    }
}

/// Verifies `password` against any stored hash this server understands.
fn verify_stored(
    params: &Params,
    plpgsql_secret: Option<&Secret>,
    password: &str,
    stored: &str,
) -> PasswordCheck {
    if let Some(rest) = stored.strip_prefix(PLPGSQL_HASH_PREFIX) {
        imported::verify_plpgsql(plpgsql_secret, password, rest)
    } else if is_bcrypt(stored) {
        imported::verify_bcrypt(password, stored)
    } else {
        argon::verify_argon2(params, password, stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::{
        password_hash::{rand_core::OsRng, PasswordHash},
        Algorithm, Argon2, Version,
    };

    fn hasher() -> PasswordHasher {
        PasswordHasher::new(19_456, 2, 1, 2, Some(Secret::new("old-secret"))).unwrap()
    }

    #[tokio::test]
    async fn argon2id_round_trip_with_explicit_params() {
        let h = hasher();
        let hash = h.hash(&Secret::new("correct horse")).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let ok = h
            .verify(&Secret::new("correct horse"), Some(&hash))
            .await
            .unwrap();
        assert_eq!(
            ok,
            PasswordCheck {
                ok: true,
                needs_rehash: false
            }
        );
        assert!(
            !h.verify(&Secret::new("wrong horse"), Some(&hash))
                .await
                .unwrap()
                .ok
        );
    }

    #[tokio::test]
    async fn phc_strings_interoperate_with_the_argon2_crate() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _, SaltString};
        let h = hasher();
        let ours = h.hash(&Secret::new("portable pw")).await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"portable pw", &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"other pw", &parsed)
            .is_err());
        let theirs = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(8192, 3, 2, None).unwrap(),
        )
        .hash_password(b"portable pw", &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string();
        let v = h
            .verify(&Secret::new("portable pw"), Some(&theirs))
            .await
            .unwrap();
        assert_eq!(
            v,
            PasswordCheck {
                ok: true,
                needs_rehash: true
            }
        );
        assert!(
            !h.verify(&Secret::new("portable px"), Some(&theirs))
                .await
                .unwrap()
                .ok
        );
    }

    #[tokio::test]
    async fn argon2_versions_and_limits() {
        use argon2::password_hash::{PasswordHasher as _, SaltString};
        let h = hasher();
        // Version 0x10 hashes, with and without `v=` (the reference default), verify and upgrade.
        let old = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x10,
            Params::new(19_456, 2, 1, None).unwrap(),
        )
        .hash_password(b"old version pw", &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string();
        assert!(old.starts_with("$argon2id$v=16$"), "{old}");
        assert_eq!(
            h.verify(&Secret::new("old version pw"), Some(&old))
                .await
                .unwrap(),
            PasswordCheck {
                ok: true,
                needs_rehash: true
            }
        );
        let no_v = old.replace("$v=16", "");
        assert_eq!(
            h.verify(&Secret::new("old version pw"), Some(&no_v))
                .await
                .unwrap(),
            PasswordCheck {
                ok: true,
                needs_rehash: true
            }
        );
        // Absurd imported parameters are refused without computing anything.
        let huge = "$argon2id$v=19$m=4294967295,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        assert!(!is_supported_hash(huge));
        assert!(!h.verify(&Secret::new("x"), Some(huge)).await.unwrap().ok);
        assert!(!is_supported_hash(
            "$argon2x$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA"
        ));
        assert!(!is_supported_hash(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0"
        ));
        assert!(is_supported_hash(&old));
    }

    #[tokio::test]
    async fn an_unknown_account_costs_a_full_argon2id_verification() {
        use std::sync::atomic::Ordering;
        let h = hasher();
        assert!(
            h.dummy_hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "same parameters as real hashes"
        );
        let before = h.jobs_queued.load(Ordering::Relaxed);
        assert!(
            !h.verify(&Secret::new("whatever pw"), None)
                .await
                .unwrap()
                .ok
        );
        assert_eq!(
            h.jobs_queued.load(Ordering::Relaxed),
            before + 1,
            "the dummy hash was really verified"
        );
        let real = h.hash(&Secret::new("whatever pw")).await.unwrap();
        let before = h.jobs_queued.load(Ordering::Relaxed);
        assert!(
            !h.verify(&Secret::new("wrong pw!"), Some(&real))
                .await
                .unwrap()
                .ok
        );
        assert_eq!(
            h.jobs_queued.load(Ordering::Relaxed),
            before + 1,
            "a wrong password costs one verification too"
        );
    }

    #[tokio::test]
    async fn unknown_account_never_verifies() {
        let h = hasher();
        assert!(
            !h.verify(&Secret::new("dummy password, never matches"), None)
                .await
                .unwrap()
                .ok
        );
    }

    #[tokio::test]
    async fn bcrypt_and_weaker_argon2_verify_and_ask_for_an_upgrade() {
        let h = hasher();
        let bc = bcrypt::hash("pässword1", 4).unwrap();
        assert_eq!(
            h.verify(&Secret::new("pässword1"), Some(&bc))
                .await
                .unwrap(),
            PasswordCheck {
                ok: true,
                needs_rehash: true
            }
        );
        let weak = PasswordHasher::new(19_456, 3, 1, 1, None).unwrap();
        let other = weak.hash(&Secret::new("abcdefgh")).await.unwrap();
        assert_eq!(
            h.verify(&Secret::new("abcdefgh"), Some(&other))
                .await
                .unwrap(),
            PasswordCheck {
                ok: true,
                needs_rehash: true
            }
        );
        assert!(
            !h.verify(&Secret::new("x"), Some("garbage"))
                .await
                .unwrap()
                .ok
        );
    }

    #[test]
    fn password_length_rules() {
        assert!(check_new_password("1234567").is_err());
        assert!(check_new_password("12345678").is_ok());
        assert!(check_new_password(&"x".repeat(257)).is_err());
    }
}
