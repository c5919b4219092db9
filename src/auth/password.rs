//! Password hashing: Argon2id with explicit parameters, computed on blocking threads with
//! bounded concurrency, plus verification of imported hashes (bcrypt, other Argon2
//! parameters, and the PL/pgSQL hasura-jwt-auth scheme) so they can be upgraded on the next
//! successful sign-in.

use std::sync::Arc;

use anyhow::Context;
use argon2::{
    password_hash::{
        rand_core::OsRng, PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString,
    },
    Algorithm, Argon2, Params, Version,
};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::Semaphore;
use tracing::Instrument;

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
    is_bcrypt(hash) || (hash.starts_with("$argon2") && PasswordHash::new(hash).is_ok())
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

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
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
        let dummy = Self::hash_blocking(&params, "dummy password, never matches")?;
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: dummy.into(),
            legacy_hmac_key,
        })
    }

    fn argon2(params: &Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
    }

    fn hash_blocking(params: &Params, password: &str) -> anyhow::Result<String> {
        let salt = SaltString::generate(&mut OsRng);
        Ok(Self::argon2(params)
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))?
            .to_string())
    }

    /// Runs `f` on a blocking thread once a hashing permit is free.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .context("hasher closed")?;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            span.in_scope(f)
        })
        .instrument(tracing::Span::current())
        .await
        .context("password hashing task failed")
    }

    /// Hashes a new password with Argon2id and the configured parameters.
    pub async fn hash(&self, password: &Secret) -> anyhow::Result<String> {
        let params = self.params.clone();
        let password = password.clone();
        self.run(move || Self::hash_blocking(&params, password.expose()))
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
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    let current = parsed.algorithm.as_str() == "argon2id"
        && Params::try_from(&parsed).map(|p| {
            p.m_cost() == params.m_cost()
                && p.t_cost() == params.t_cost()
                && p.p_cost() == params.p_cost()
        }) == Ok(true);
    Verified {
        ok,
        needs_rehash: !current,
    }
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
