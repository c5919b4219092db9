//! Provider tokens at rest (`AUTH_PROVIDER_TOKENS_KEY`): AES-256-GCM by `ring`, a random
//! nonce per message, and the identity's id as associated data, so a ciphertext copied to
//! another identity does not decrypt.

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::secret::Secret;

/// The provider's tokens for an identity, as its token endpoint gave them.
#[derive(Debug, Clone, Default)]
pub struct ProviderTokens {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Serialize, Deserialize)]
struct Plain {
    access_token: String,
    refresh_token: Option<String>,
}

/// The key provider tokens are encrypted with.
#[derive(Clone)]
pub struct Vault {
    key: std::sync::Arc<LessSafeKey>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault([REDACTED])")
    }
}

impl Vault {
    /// From 32 key bytes.
    pub fn new(key: &[u8]) -> anyhow::Result<Self> {
        let key = UnboundKey::new(&AES_256_GCM, key)
            .map_err(|_| anyhow::anyhow!("AUTH_PROVIDER_TOKENS_KEY must be 32 bytes"))?;
        Ok(Self {
            key: std::sync::Arc::new(LessSafeKey::new(key)),
        })
    }

    pub fn seal(&self, identity_id: Uuid, tokens: &ProviderTokens) -> anyhow::Result<Vec<u8>> {
        let plain = Plain {
            access_token: tokens.access_token.expose().to_owned(),
            refresh_token: tokens.refresh_token.as_ref().map(|t| t.expose().to_owned()),
        };
        let mut data = serde_json::to_vec(&plain)?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(identity_id.as_bytes()),
                &mut data,
            )
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(out)
    }

    pub fn open(&self, identity_id: Uuid, sealed: &[u8]) -> anyhow::Result<ProviderTokens> {
        anyhow::ensure!(sealed.len() > NONCE_LEN, "ciphertext too short");
        let (nonce, rest) = sealed.split_at(NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| anyhow::anyhow!("bad nonce"))?;
        let mut data = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(identity_id.as_bytes()), &mut data)
            .map_err(|_| {
                anyhow::anyhow!(
                    "provider tokens do not decrypt (another key, or another identity's)"
                )
            })?;
        let plain: Plain = serde_json::from_slice(plain)?;
        Ok(ProviderTokens {
            access_token: Secret::new(plain.access_token),
            refresh_token: plain.refresh_token.map(Secret::new),
            expires_at: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_tokens_open_only_with_their_key_and_identity() {
        let vault = Vault::new(&[7u8; 32]).unwrap();
        let id = Uuid::new_v4();
        let tokens = ProviderTokens {
            access_token: Secret::new("access-123"),
            refresh_token: Some(Secret::new("refresh-456")),
            expires_at: None,
        };
        let sealed = vault.seal(id, &tokens).unwrap();
        assert!(!String::from_utf8_lossy(&sealed).contains("access-123"));
        let opened = vault.open(id, &sealed).unwrap();
        assert_eq!(opened.access_token.expose(), "access-123");
        assert_eq!(opened.refresh_token.unwrap().expose(), "refresh-456");
        assert!(vault.open(Uuid::new_v4(), &sealed).is_err());
        assert!(Vault::new(&[8u8; 32]).unwrap().open(id, &sealed).is_err());
        assert!(Vault::new(&[0u8; 16]).is_err());
        assert_ne!(
            vault.seal(id, &tokens).unwrap(),
            sealed,
            "a new nonce each time"
        );
    }
}
