//! A string that never shows itself in `Debug` or `Display` output or in logs.

use std::{fmt, str::FromStr};

/// A secret string (a password, a key, a token). `Debug` prints `Secret([REDACTED])`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Call sites are easy to grep for.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Secret {
    /// Compares a presented value with this secret in constant time, revealing neither the
    /// content nor the length (both sides are hashed first).
    pub fn matches(&self, presented: &[u8]) -> bool {
        use sha2::{Digest, Sha256};
        use subtle::ConstantTimeEq;
        let a = Sha256::digest(self.0.as_bytes());
        let b = Sha256::digest(presented);
        !self.0.is_empty() && bool::from(a.ct_eq(&b))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_only_the_exact_secret() {
        let s = Secret::new("admin-secret");
        assert!(s.matches(b"admin-secret"));
        assert!(!s.matches(b"admin-secre"));
        assert!(!s.matches(b""));
        assert!(!Secret::new("").matches(b""));
    }

    #[test]
    fn debug_output_is_redacted() {
        let s = Secret::new("hunter2hunter2");
        assert_eq!(format!("{s:?}"), "Secret([REDACTED])");
        assert!(!format!("{:?}", Some(s)).contains("hunter2"));
    }
}
