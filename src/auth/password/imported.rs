//! Hashes imported from other systems, verified so that they can be replaced by Argon2id on
//! the user's next successful sign-in: bcrypt (`$2a$`, `$2b$`, `$2y$`), and the scheme of the
//! PL/pgSQL hasura-jwt-auth, which is bcrypt over the PostgreSQL `escape` text encoding of
//! HMAC-SHA256(key = its JWT secret, message = password).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::PasswordCheck;
use crate::secret::Secret;

/// Prefix of the stored form of a PL/pgSQL hasura-jwt-auth hash:
/// `$hja-seed$v1$<fingerprint of its JWT secret>$<bcrypt hash>`. The secret itself stays out of
/// the database (it is a pepper), and the fingerprint catches a wrong AUTH_LEGACY_HMAC_SECRET.
/// (The text is part of stored data and never changes.)
pub const PLPGSQL_HASH_PREFIX: &str = "$hja-seed$v1$";

/// Short fingerprint of the PL/pgSQL hasura-jwt-auth's JWT secret (first 8 bytes of its
/// SHA-256, hex).
pub fn plpgsql_secret_fingerprint(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The stored form of a password hash imported from the PL/pgSQL hasura-jwt-auth.
pub fn plpgsql_hash(secret: &str, bcrypt_hash: &str) -> String {
    format!(
        "{PLPGSQL_HASH_PREFIX}{}${bcrypt_hash}",
        plpgsql_secret_fingerprint(secret)
    )
}

/// Whether `hash` is a bcrypt hash (`$2a$`, `$2b$`, `$2y$`).
pub fn is_bcrypt(hash: &str) -> bool {
    hash.len() == 60
        && (hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$"))
}

/// Verifies a bcrypt hash; success always asks for an upgrade.
pub(super) fn verify_bcrypt(password: &str, stored: &str) -> PasswordCheck {
    PasswordCheck {
        ok: bcrypt::verify(password, stored).unwrap_or(false),
        needs_rehash: true,
    }
}

/// Verifies the part after [`PLPGSQL_HASH_PREFIX`] with the old JWT secret.
pub(super) fn verify_plpgsql(secret: Option<&Secret>, password: &str, rest: &str) -> PasswordCheck {
    let failed = PasswordCheck {
        ok: false,
        needs_rehash: false,
    };
    let Some((fingerprint, bcrypt_hash)) = rest.split_once('$') else {
        tracing::error!("malformed imported hasura-jwt-auth password hash");
        return failed;
    };
    let Some(key) = secret else {
        tracing::error!(
            "a password hash of the PL/pgSQL hasura-jwt-auth needs AUTH_LEGACY_HMAC_SECRET"
        );
        return failed;
    };
    if plpgsql_secret_fingerprint(key.expose()) != fingerprint {
        tracing::error!(
            "AUTH_LEGACY_HMAC_SECRET is not the secret these hashes were imported with"
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
    fn plpgsql_hashes_carry_the_secret_fingerprint_only() {
        let bc = bcrypt::hash(plpgsql_hmac_text("old secret", "pw"), 4).unwrap();
        let stored = plpgsql_hash("old secret", &bc);
        assert!(stored.starts_with(PLPGSQL_HASH_PREFIX));
        assert!(!stored.contains("old secret"));
        let rest = stored.strip_prefix(PLPGSQL_HASH_PREFIX).unwrap();
        let right = Secret::new("old secret");
        let wrong = Secret::new("new secret");
        assert!(verify_plpgsql(Some(&right), "pw", rest).ok);
        assert!(!verify_plpgsql(Some(&right), "px", rest).ok);
        assert!(!verify_plpgsql(Some(&wrong), "pw", rest).ok);
        assert!(!verify_plpgsql(None, "pw", rest).ok);
    }
}
