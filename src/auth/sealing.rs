//! Values the server must read back but a database dump must not reveal (provider tokens,
//! TOTP secrets): AES-256-GCM by `ring`, a random nonce per message, and the owning row's id as
//! associated data, so a ciphertext copied to another row does not decrypt. Stored as
//! `nonce ‖ ciphertext ‖ tag`.

use std::sync::Arc;

use anyhow::{anyhow, ensure};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};

/// A 256-bit key that seals and opens values.
#[derive(Clone)]
pub struct SealingKey {
    key: Arc<LessSafeKey>,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey([REDACTED])")
    }
}

impl SealingKey {
    /// From 32 key bytes.
    pub fn new(key: &[u8]) -> anyhow::Result<Self> {
        let key = UnboundKey::new(&AES_256_GCM, key).map_err(|_| anyhow!("a key is 32 bytes"))?;
        Ok(Self {
            key: Arc::new(LessSafeKey::new(key)),
        })
    }

    /// `plain` encrypted for the row `owner`.
    pub fn seal(&self, owner: &[u8], plain: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
        let mut data = plain.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(owner),
                &mut data,
            )
            .map_err(|_| anyhow!("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(out)
    }

    /// What [`Self::seal`] sealed for `owner`; an error for another key's or another row's.
    pub fn open(&self, owner: &[u8], sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
        ensure!(sealed.len() > NONCE_LEN, "ciphertext too short");
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| anyhow!("bad nonce"))?;
        let mut data = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(owner), &mut data)
            .map_err(|_| anyhow!("does not decrypt (another key, or another row's value)"))?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_owner() {
        let key = SealingKey::new(&[7u8; 32]).unwrap();
        let sealed = key.seal(b"row-1", b"secret-123").unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("secret-123"));
        assert_eq!(key.open(b"row-1", &sealed).unwrap(), b"secret-123");
        assert!(key.open(b"row-2", &sealed).is_err());
        assert!(SealingKey::new(&[8u8; 32])
            .unwrap()
            .open(b"row-1", &sealed)
            .is_err());
        assert!(SealingKey::new(&[0u8; 16]).is_err());
        assert_ne!(
            key.seal(b"row-1", b"secret-123").unwrap(),
            sealed,
            "a new nonce each time"
        );
    }
}
