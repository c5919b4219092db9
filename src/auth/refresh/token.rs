//! Refresh tokens.
//!
//! A refresh token is `base64url(version ‖ session id ‖ counter ‖ secret)`: 1 + 16 + 8 + 32
//! bytes, 76 characters. The session's first secret is 256 random bits; each rotation derives
//! the next one from the previous:
//!
//! ```text
//! secret[n+1] = HMAC-SHA256(key = secret[n], "hasura-jwt-auth/refresh/v1" ‖ salt ‖ session id ‖ n+1)
//! ```
//!
//! where `salt` is 256 random bits stored with the session. The database holds only
//! `SHA-256(secret[current])`, the counter and the salt, so a dump yields no usable token: it
//! takes a real earlier token of the session *and* the salt to compute the current one.
//!
//! The chain is what makes reuse handling exact without storing any token:
//! - racing requests (or a retry after a lost response) that present the token just rotated
//!   away can be handed the *same* current token, which the server re-derives instead of
//!   minting a fork;
//! - a genuine old token can be told from a forged one (deriving forward from it reaches the
//!   stored hash), so presenting one outside the reuse interval revokes the session, while a
//!   made-up token revokes nothing.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use hmac::{Hmac, Mac};
use rand::{rngs::OsRng, RngCore};
use sha2::{Digest, Sha256};
use uuid::Uuid;

const VERSION: u8 = 1;
const RAW_LEN: usize = 1 + 16 + 8 + 32;
/// Length of an encoded refresh token.
pub const ENCODED_LEN: usize = 76;
/// Longest chain walked to recognise an old token: a token more rotations old than this is
/// unknown (refused, revoking nothing). The walk runs before anything proves the token
/// genuine, so this bounds what a made-up token can cost: 64 HMACs, a few microseconds, less
/// than the database read every refresh makes anyway. 64 rotations are 16 hours of use with
/// 15-minute access tokens: reuse of a token stolen longer ago is refused, not detected.
pub const MAX_CHAIN: u64 = 64;

#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    pub session_id: Uuid,
    pub counter: u64,
    secret: [u8; 32],
}

impl std::fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshToken")
            .field("session_id", &self.session_id)
            .field("counter", &self.counter)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

/// A new session's first token and its salt.
pub struct NewChain {
    pub token: RefreshToken,
    pub salt: [u8; 32],
}

/// Where a presented token stands relative to the session's current one.
#[derive(Debug, PartialEq, Eq)]
pub enum Standing {
    /// It is the current token.
    Current,
    /// A genuine token `lag` rotations old; `current` is the session's current token.
    Superseded { lag: u64, current: RefreshToken },
    /// Not a token of this session (forged, corrupted, or too old to recognise).
    Unknown,
}

impl RefreshToken {
    /// Starts the chain of a new session.
    pub fn new_chain(session_id: Uuid) -> NewChain {
        let mut secret = [0u8; 32];
        let mut salt = [0u8; 32];
        OsRng.fill_bytes(&mut secret);
        OsRng.fill_bytes(&mut salt);
        NewChain {
            token: Self {
                session_id,
                counter: 0,
                secret,
            },
            salt,
        }
    }

    /// A token with a new random secret for session `session_id` at `counter`: the session's
    /// chain starts again from it (the salt stays), so no token issued before derives it.
    /// Raising a session's assurance level does this, so that a token of the lower level
    /// cannot obtain the higher one.
    pub fn restart(session_id: Uuid, counter: u64) -> Self {
        let mut secret = [0u8; 32];
        OsRng.fill_bytes(&mut secret);
        Self {
            session_id,
            counter,
            secret,
        }
    }

    pub fn encode(&self) -> String {
        let mut raw = Vec::with_capacity(RAW_LEN);
        raw.push(VERSION);
        raw.extend_from_slice(self.session_id.as_bytes());
        raw.extend_from_slice(&self.counter.to_be_bytes());
        raw.extend_from_slice(&self.secret);
        B64.encode(raw)
    }

    /// Parses a presented token; `None` for anything that is not a well-formed token.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if s.len() != ENCODED_LEN {
            return None;
        }
        let raw = B64.decode(s).ok()?;
        if raw.len() != RAW_LEN || raw[0] != VERSION {
            return None;
        }
        let session_id = Uuid::from_slice(&raw[1..17]).ok()?;
        let counter = u64::from_be_bytes(raw[17..25].try_into().ok()?);
        let secret = raw[25..57].try_into().ok()?;
        Some(Self {
            session_id,
            counter,
            secret,
        })
    }

    /// What the database stores of the token.
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.secret).into()
    }

    /// The token that rotation replaces this one with.
    pub fn next(&self, salt: &[u8]) -> Self {
        let counter = self.counter + 1;
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(b"hasura-jwt-auth/refresh/v1");
        mac.update(salt);
        mac.update(self.session_id.as_bytes());
        mac.update(&counter.to_be_bytes());
        Self {
            session_id: self.session_id,
            counter,
            secret: mac.finalize().into_bytes().into(),
        }
    }

    /// Compares this token with the session's current counter and hash.
    pub fn standing(&self, current_counter: u64, current_hash: &[u8], salt: &[u8]) -> Standing {
        use subtle::ConstantTimeEq;
        if self.counter > current_counter || current_counter - self.counter > MAX_CHAIN {
            return Standing::Unknown;
        }
        let mut token = self.clone();
        while token.counter < current_counter {
            token = token.next(salt);
        }
        if !bool::from(token.hash().ct_eq(current_hash)) {
            return Standing::Unknown;
        }
        match current_counter - self.counter {
            0 => Standing::Current,
            lag => Standing::Superseded {
                lag,
                current: token,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_parses_and_rejects_garbage() {
        let chain = RefreshToken::new_chain(Uuid::new_v4());
        let s = chain.token.encode();
        assert_eq!(s.len(), ENCODED_LEN);
        assert_eq!(RefreshToken::parse(&s), Some(chain.token.clone()));
        assert_eq!(RefreshToken::parse(&s[..75]), None);
        assert_eq!(RefreshToken::parse("x"), None);
        assert_eq!(RefreshToken::parse(&"!".repeat(76)), None);
        let mut other_version = B64.decode(&s).unwrap();
        other_version[0] = 2;
        assert_eq!(RefreshToken::parse(&B64.encode(other_version)), None);
        assert!(!format!("{:?}", chain.token).contains(&s[34..]));
    }

    #[test]
    fn tokens_older_than_the_chain_limit_cost_no_walk() {
        let NewChain { token: t0, salt } = RefreshToken::new_chain(Uuid::new_v4());
        let mut current = t0.clone();
        for _ in 0..=MAX_CHAIN {
            current = current.next(&salt);
        }
        let h = current.hash();
        let c = current.counter;
        // Genuine but MAX_CHAIN + 1 rotations old: refused like a forged one, without walking.
        assert_eq!(t0.standing(c, &h, &salt), Standing::Unknown);
        let t1 = t0.next(&salt);
        assert_eq!(
            t1.standing(c, &h, &salt),
            Standing::Superseded {
                lag: MAX_CHAIN,
                current: current.clone()
            }
        );
    }

    #[test]
    fn chain_recognises_genuine_old_tokens_only() {
        let NewChain { token: t0, salt } = RefreshToken::new_chain(Uuid::new_v4());
        let t1 = t0.next(&salt);
        let t2 = t1.next(&salt);
        let h = t2.hash();
        assert_eq!(t2.standing(2, &h, &salt), Standing::Current);
        assert_eq!(
            t1.standing(2, &h, &salt),
            Standing::Superseded {
                lag: 1,
                current: t2.clone()
            }
        );
        assert_eq!(
            t0.standing(2, &h, &salt),
            Standing::Superseded {
                lag: 2,
                current: t2.clone()
            }
        );
        // Same session and counter, made-up secret: unknown, never "superseded".
        let forged = RefreshToken {
            secret: [7; 32],
            ..t1.clone()
        };
        assert_eq!(forged.standing(2, &h, &salt), Standing::Unknown);
        // A token from the future, or derived with another salt, is unknown too.
        assert_eq!(t2.next(&salt).standing(2, &h, &salt), Standing::Unknown);
        assert_eq!(
            t0.next(&[0; 32]).standing(1, &t1.hash(), &salt),
            Standing::Unknown
        );
    }
}
