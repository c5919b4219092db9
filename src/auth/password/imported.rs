//! Hashes imported from other systems, verified so that they can be replaced by Argon2id on
//! the user's next successful sign-in: bcrypt (`$2a$`, `$2b$`, `$2y$`), and the scheme of the
//! PL/pgSQL hasura-jwt-auth, which is bcrypt over the PostgreSQL `escape` text encoding of
//! HMAC-SHA256(key = its JWT secret, message = password).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::PasswordCheck;
use crate::secret::Secret;

/// Prefix of the stored form of a PL/pgSQL hasura-jwt-auth hash: `$hja-plpgsql$v2$<bcrypt
/// hash>`. Its JWT secret (a pepper) is not stored in any form: it comes from
/// AUTH_LEGACY_HMAC_SECRET. (Earlier versions stored a fingerprint of it, which a copy of the
/// database could test guesses against; migration 3 removed those.)
pub const PLPGSQL_HASH_PREFIX: &str = "$hja-plpgsql$v2$";

/// The stored form of a password hash imported from the PL/pgSQL hasura-jwt-auth.
pub fn plpgsql_hash(bcrypt_hash: &str) -> String {
    format!("{PLPGSQL_HASH_PREFIX}{bcrypt_hash}")
}

/// Highest bcrypt cost verified: each step doubles the work, and cost 12 already takes a
/// hashing thread a quarter of a second. Hashes above it are refused at import.
pub const MAX_BCRYPT_COST: u32 = 12;

/// Whether `hash` is a bcrypt hash (`$2a$`, `$2b$`, `$2y$`), whatever its cost.
pub fn is_bcrypt(hash: &str) -> bool {
    hash.len() == 60
        && (hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$"))
}

/// The cost of a bcrypt hash.
pub fn bcrypt_cost(hash: &str) -> Option<u32> {
    hash.get(4..6)?.parse().ok()
}

/// Whether `hash` is a bcrypt hash this server verifies (cost at most [`MAX_BCRYPT_COST`]).
pub fn is_verifiable_bcrypt(hash: &str) -> bool {
    is_bcrypt(hash) && bcrypt_cost(hash).is_some_and(|c| c <= MAX_BCRYPT_COST)
}

/// Verifies a bcrypt hash; success always asks for an upgrade.
pub(super) fn verify_bcrypt(password: &str, stored: &str) -> PasswordCheck {
    if !is_verifiable_bcrypt(stored) {
        tracing::error!("stored bcrypt hash has a cost above {MAX_BCRYPT_COST}: not verified");
        return PasswordCheck {
            ok: false,
            needs_rehash: true,
        };
    }
    PasswordCheck {
        ok: bcrypt::verify(password, stored).unwrap_or(false),
        needs_rehash: true,
    }
}

/// Verifies the bcrypt hash after [`PLPGSQL_HASH_PREFIX`] with the old JWT secret. A wrong
/// AUTH_LEGACY_HMAC_SECRET makes every such check fail.
pub(super) fn verify_plpgsql(
    secret: Option<&Secret>,
    password: &str,
    bcrypt_hash: &str,
) -> PasswordCheck {
    let failed = PasswordCheck {
        ok: false,
        needs_rehash: true,
    };
    let Some(key) = secret else {
        tracing::error!(
            "a password hash of the PL/pgSQL hasura-jwt-auth needs AUTH_LEGACY_HMAC_SECRET"
        );
        return failed;
    };
    if !is_verifiable_bcrypt(bcrypt_hash) {
        tracing::error!(
            "imported hasura-jwt-auth hash is not a bcrypt hash of cost at most {MAX_BCRYPT_COST}"
        );
        return failed;
    }
    let input = plpgsql_hmac_text(key.expose(), password);
    PasswordCheck {
        ok: bcrypt::verify(input.as_bytes(), bcrypt_hash).unwrap_or(false),
        needs_rehash: true,
    }
}

/// `encode(hmac(password, key, 'sha256'), 'escape')` as PostgreSQL computes it: the text that
/// the PL/pgSQL hasura-jwt-auth handed to `crypt()`. The escape format writes a zero byte and
/// every byte with the high bit set as `\nnn` (octal), doubles backslashes, and keeps the rest.
pub fn plpgsql_hmac_text(key: &str, password: &str) -> String {
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

    #[test]
    fn escape_encoding_matches_postgres_rules() {
        // Every byte value class appears across these digests; check the shape rules.
        for pw in ["a", "b", "password", "ü"] {
            let s = plpgsql_hmac_text("k", pw);
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
    fn plpgsql_hashes_keep_nothing_of_the_secret() {
        let bc = bcrypt::hash(plpgsql_hmac_text("old secret", "pw"), 4).unwrap();
        let stored = plpgsql_hash(&bc);
        assert_eq!(stored, format!("{PLPGSQL_HASH_PREFIX}{bc}"));
        let rest = stored.strip_prefix(PLPGSQL_HASH_PREFIX).unwrap();
        let right = Secret::new("old secret");
        let wrong = Secret::new("new secret");
        assert!(verify_plpgsql(Some(&right), "pw", rest).ok);
        assert!(!verify_plpgsql(Some(&right), "px", rest).ok);
        assert!(!verify_plpgsql(Some(&wrong), "pw", rest).ok);
        assert!(!verify_plpgsql(None, "pw", rest).ok);
    }
}
