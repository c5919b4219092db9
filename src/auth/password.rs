//! Password hashing: Argon2id with explicit parameters, computed on blocking threads with
//! bounded concurrency, plus verification of imported hashes (bcrypt, other Argon2
//! parameters, and the PL/pgSQL hasura-jwt-auth scheme) so they can be upgraded on the next
//! successful sign-in.

use std::sync::Arc;

use anyhow::Context;
use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash},
    Algorithm, Argon2, Block, Params, Version,
};
use base64::{engine::general_purpose::STANDARD_NO_PAD as PHC_B64, Engine};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::cell::RefCell;
use std::sync::{mpsc, Mutex};
use subtle::ConstantTimeEq;

use crate::secret::Secret;

/// Shortest password accepted for new passwords.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password accepted (in characters); bounds the hashing work per request.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Prefix of hashes imported from the PL/pgSQL hasura-jwt-auth: bcrypt over the `escape`
/// encoding of HMAC-SHA256(key = old JWT secret, message = password). The stored form is
/// `$hja-seed$v1$<fingerprint of the old secret>$<bcrypt hash>`: the secret itself stays out of
/// the database (it is a pepper), and the fingerprint catches a wrong AUTH_LEGACY_HMAC_SECRET.
pub const SEED_SCHEME_PREFIX: &str = "$hja-seed$v1$";

/// Short fingerprint of the old JWT secret (first 8 bytes of its SHA-256, hex).
pub fn legacy_secret_fingerprint(secret: &str) -> String {
    use sha2::Digest;
    Sha256::digest(secret.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The stored form of an imported PL/pgSQL hasura-jwt-auth hash.
pub fn seed_scheme_hash(secret: &str, bcrypt_hash: &str) -> String {
    format!(
        "{SEED_SCHEME_PREFIX}{}${bcrypt_hash}",
        legacy_secret_fingerprint(secret)
    )
}

/// Whether `hash` is a bcrypt hash (`$2a$`, `$2b$`, `$2y$`).
pub fn is_bcrypt(hash: &str) -> bool {
    hash.len() == 60
        && (hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$"))
}

/// Whether `hash` is a hash this server can verify (Argon2 PHC string or bcrypt).
pub fn is_supported_hash(hash: &str) -> bool {
    is_bcrypt(hash) || PasswordHash::new(hash).is_ok_and(|p| argon2_settings(&p).is_ok())
}

/// Largest Argon2 costs this server computes for a stored hash: an imported hash with absurd
/// parameters must not exhaust memory or the hashing threads.
const MAX_M_KIB: u32 = 1024 * 1024;
const MAX_T: u32 = 16;
const MAX_P: u32 = 16;

/// Algorithm, version and parameters of an Argon2 PHC hash, within the limits above. A hash
/// without `v=` is version 0x10, as in the reference implementation.
fn argon2_settings(parsed: &PasswordHash<'_>) -> Result<(Algorithm, Version, Params), String> {
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|e| e.to_string())?;
    let version = match parsed.version {
        None => Version::V0x10,
        Some(v) => Version::try_from(v).map_err(|e| e.to_string())?,
    };
    let params = Params::try_from(parsed).map_err(|e| e.to_string())?;
    if params.m_cost() > MAX_M_KIB || params.t_cost() > MAX_T || params.p_cost() > MAX_P {
        return Err(format!(
            "Argon2 parameters beyond m={MAX_M_KIB},t={MAX_T},p={MAX_P}"
        ));
    }
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err("Argon2 hash without salt or output".into());
    }
    Ok((algorithm, version, params))
}

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

/// Result of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub ok: bool,
    /// The hash is not Argon2id with the current parameters and should be replaced.
    pub needs_rehash: bool,
}

type Job = Box<dyn FnOnce() + Send>;

/// Starts `n` hashing threads fed by one queue; they end when the last sender is dropped.
///
/// Dedicated threads rather than tokio's blocking pool bound memory as well as CPU: every
/// Argon2id hash allocates `m` KiB (19 MiB by default), and the allocator keeps such blocks
/// per thread, so hashing on an unbounded set of blocking threads let the process grow to
/// hundreds of MiB under a sign-in burst. With `n` threads it stays near `n × m`.
fn spawn_workers(n: usize) -> anyhow::Result<mpsc::Sender<Job>> {
    let (tx, rx) = mpsc::channel::<Job>();
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

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// Queue of the hashing threads.
    jobs: mpsc::Sender<Job>,
    /// Hashing jobs run so far (lets tests see that work was done).
    jobs_run: Arc<std::sync::atomic::AtomicU64>,
    /// Hash verified against when the account does not exist, so that an unknown email
    /// costs the same work as a wrong password.
    dummy_hash: Arc<str>,
    /// Old JWT secret of the PL/pgSQL hasura-jwt-auth, for imported hashes.
    legacy_hmac_key: Option<Secret>,
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
        legacy_hmac_key: Option<Secret>,
    ) -> anyhow::Result<Self> {
        let params = Params::new(memory_kib, iterations, parallelism, None)
            .map_err(|e| anyhow::anyhow!("invalid Argon2 parameters: {e}"))?;
        let dummy = hash_phc(&params, "dummy password, never matches", Memory::Scratch)?;
        Ok(Self {
            params,
            jobs: spawn_workers(concurrency.max(1))?,
            jobs_run: Arc::default(),
            dummy_hash: dummy.into(),
            legacy_hmac_key,
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
        self.jobs_run
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        result.await.context("password hashing job failed")
    }

    /// Hashes a new password with Argon2id and the configured parameters.
    pub async fn hash(&self, password: &Secret) -> anyhow::Result<String> {
        let params = self.params.clone();
        let password = password.clone();
        self.run(move || hash_phc(&params, password.expose(), Memory::Reuse))
            .await?
    }

    /// Verifies `password` against `stored`; with no stored hash (unknown account), verifies
    /// against a dummy hash so the work is the same, and fails.
    pub async fn verify(
        &self,
        password: &Secret,
        stored: Option<&str>,
    ) -> anyhow::Result<Verified> {
        let known = stored.is_some();
        let stored: Arc<str> = stored
            .map(Arc::from)
            .unwrap_or_else(|| self.dummy_hash.clone());
        let password = password.clone();
        let params = self.params.clone();
        let legacy_key = self.legacy_hmac_key.clone();
        let verified = self
            .run(move || verify_blocking(&params, legacy_key.as_ref(), password.expose(), &stored))
            .await?;
        Ok(Verified {
            ok: verified.ok && known,
            ..verified
        })
    }
}

fn verify_blocking(
    params: &Params,
    legacy_key: Option<&Secret>,
    password: &str,
    stored: &str,
) -> Verified {
    let failed = Verified {
        ok: false,
        needs_rehash: false,
    };
    if let Some(rest) = stored.strip_prefix(SEED_SCHEME_PREFIX) {
        let Some((fingerprint, bcrypt_hash)) = rest.split_once('$') else {
            tracing::error!("malformed imported hasura-jwt-auth password hash");
            return failed;
        };
        let Some(key) = legacy_key else {
            tracing::error!(
                "a password hash of the PL/pgSQL hasura-jwt-auth needs AUTH_LEGACY_HMAC_SECRET"
            );
            return failed;
        };
        if legacy_secret_fingerprint(key.expose()) != fingerprint {
            tracing::error!(
                "AUTH_LEGACY_HMAC_SECRET is not the secret these hashes were imported with"
            );
            return failed;
        }
        let input = seed_scheme_input(key.expose(), password);
        let ok = bcrypt::verify(input.as_bytes(), bcrypt_hash).unwrap_or(false);
        return Verified {
            ok,
            needs_rehash: true,
        };
    }
    if is_bcrypt(stored) {
        let ok = bcrypt::verify(password, stored).unwrap_or(false);
        return Verified {
            ok,
            needs_rehash: true,
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        tracing::error!("stored password hash has an unknown format");
        return failed;
    };
    // Verify with the hash's own algorithm and parameters (they may be an imported Argon2i or
    // older parameters); upgrade anything that is not exactly the current configuration.
    let settings = match argon2_settings(&parsed) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(reason = %e, "stored Argon2 hash cannot be verified");
            return failed;
        }
    };
    let current = matches!(settings, (Algorithm::Argon2id, Version::V0x13, ref p)
        if p.m_cost() == params.m_cost() && p.t_cost() == params.t_cost() && p.p_cost() == params.p_cost());
    // Verify with the hash's own algorithm and parameters; only the current parameters use
    // the thread's reusable memory (others are imported, rare, and upgraded on success).
    let memory = if current {
        Memory::Reuse
    } else {
        Memory::Scratch
    };
    let ok = verify_phc(&parsed, password, memory).unwrap_or(false);
    Verified {
        ok,
        needs_rehash: !current,
    }
}

thread_local! {
    /// The Argon2 memory of this hashing thread, reused by every hash it computes.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Where an Argon2 computation gets its `m` KiB of memory.
#[derive(Clone, Copy)]
enum Memory {
    /// The calling thread's buffer, kept for the next hash. Freeing and reallocating 19 MiB
    /// per hash makes glibc keep such blocks around (its mmap threshold adapts upwards), so a
    /// sign-in burst grew the process by hundreds of MiB; a kept buffer holds it at `m` KiB
    /// per hashing thread.
    Reuse,
    /// A one-off buffer, for unusual parameters.
    Scratch,
}

fn argon2_into(
    argon: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    memory: Memory,
) -> Result<(), argon2::Error> {
    let blocks = params.block_count();
    match memory {
        Memory::Scratch => argon.hash_password_into_with_memory(
            password,
            salt,
            out,
            vec![Block::default(); blocks],
        ),
        Memory::Reuse => MEMORY.with(|m| {
            let mut m = m.borrow_mut();
            if m.len() != blocks {
                *m = vec![Block::default(); blocks];
            }
            argon.hash_password_into_with_memory(password, salt, out, &mut m[..])
        }),
    }
}

/// Hashes with Argon2id and `params` into a PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
fn hash_phc(params: &Params, password: &str, memory: Memory) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    OsRng.fill_bytes(&mut salt);
    let mut out = [0u8; 32];
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    argon2_into(&argon, params, password.as_bytes(), &salt, &mut out, memory)
        .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        PHC_B64.encode(salt),
        PHC_B64.encode(out)
    ))
}

/// Verifies `password` against a parsed Argon2 PHC hash, with the hash's own algorithm,
/// version and parameters, in constant time.
fn verify_phc(
    parsed: &PasswordHash<'_>,
    password: &str,
    memory: Memory,
) -> Result<bool, argon2::password_hash::Error> {
    let (algorithm, version, params) =
        argon2_settings(parsed).map_err(|_| argon2::password_hash::Error::ParamsMaxExceeded)?;
    let salt = parsed
        .salt
        .ok_or(argon2::password_hash::Error::SaltInvalid(
            argon2::password_hash::errors::InvalidValue::Malformed,
        ))?;
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf)?;
    let expected = parsed.hash.ok_or(argon2::password_hash::Error::Password)?;
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params.clone());
    argon2_into(&argon, &params, password.as_bytes(), salt, &mut out, memory)?;
    Ok(bool::from(out.ct_eq(expected.as_bytes())))
}

/// `encode(hmac(password, key, 'sha256'), 'escape')` as PostgreSQL computes it: the text that
/// the PL/pgSQL hasura-jwt-auth handed to `crypt()`. The escape format writes a zero byte and
/// every byte with the high bit set as `\nnn` (octal), doubles backslashes, and keeps the rest.
pub fn seed_scheme_input(key: &str, password: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(password.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(digest.len() * 2);
    for &b in digest.iter() {
        match b {
            b'\\' => out.push_str("\\\\"),
            0 | 0x80..=0xff => out.push_str(&format!("\\{b:03o}")),
            _ => out.push(b as char),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
            Verified {
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
            Verified {
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
            Verified {
                ok: true,
                needs_rehash: true
            }
        );
        let no_v = old.replace("$v=16", "");
        assert_eq!(
            h.verify(&Secret::new("old version pw"), Some(&no_v))
                .await
                .unwrap(),
            Verified {
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
        let before = h.jobs_run.load(Ordering::Relaxed);
        assert!(
            !h.verify(&Secret::new("whatever pw"), None)
                .await
                .unwrap()
                .ok
        );
        assert_eq!(
            h.jobs_run.load(Ordering::Relaxed),
            before + 1,
            "the dummy hash was really verified"
        );
        let real = h.hash(&Secret::new("whatever pw")).await.unwrap();
        let before = h.jobs_run.load(Ordering::Relaxed);
        assert!(
            !h.verify(&Secret::new("wrong pw!"), Some(&real))
                .await
                .unwrap()
                .ok
        );
        assert_eq!(
            h.jobs_run.load(Ordering::Relaxed),
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
            Verified {
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
            Verified {
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
    fn escape_encoding_matches_postgres_rules() {
        // Every byte value class appears across these digests; check the shape rules.
        for pw in ["a", "b", "password", "ü"] {
            let s = seed_scheme_input("k", pw);
            let mut chars = s.chars().peekable();
            while let Some(c) = chars.next() {
                assert!(c.is_ascii(), "{s}");
                if c == '\\' {
                    let next = chars.next().unwrap();
                    if next != '\\' {
                        let oct: String = std::iter::once(next)
                            .chain((0..2).map(|_| chars.next().unwrap()))
                            .collect();
                        let v = u8::from_str_radix(&oct, 8).unwrap();
                        assert!(v == 0 || v >= 0x80, "{s}");
                    }
                }
            }
        }
    }

    #[test]
    fn password_length_rules() {
        assert!(check_new_password("1234567").is_err());
        assert!(check_new_password("12345678").is_ok());
        assert!(check_new_password(&"x".repeat(257)).is_err());
    }
}
