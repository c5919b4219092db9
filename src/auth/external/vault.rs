//! Provider tokens at rest (`AUTH_PROVIDER_TOKENS_KEY`), sealed (see [`crate::auth::sealing`])
//! with the identity's id as the owner, so a ciphertext copied to another identity does not
//! decrypt.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{auth::sealing::SealingKey, secret::Secret};
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
#[derive(Clone, Debug)]
pub struct Vault {
    key: SealingKey,
}

impl Vault {
    /// From 32 key bytes.
    pub fn new(key: &[u8]) -> anyhow::Result<Self> {
        let key = SealingKey::new(key)
            .map_err(|_| anyhow::anyhow!("AUTH_PROVIDER_TOKENS_KEY must be 32 bytes"))?;
        Ok(Self { key })
    }

    pub fn seal(&self, identity_id: Uuid, tokens: &ProviderTokens) -> anyhow::Result<Vec<u8>> {
        let plain = Plain {
            access_token: tokens.access_token.expose().to_owned(),
            refresh_token: tokens.refresh_token.as_ref().map(|t| t.expose().to_owned()),
        };
        self.key
            .seal(identity_id.as_bytes(), &serde_json::to_vec(&plain)?)
    }

    pub fn open(&self, identity_id: Uuid, sealed: &[u8]) -> anyhow::Result<ProviderTokens> {
        let plain = self
            .key
            .open(identity_id.as_bytes(), sealed)
            .map_err(|e| anyhow::anyhow!("provider tokens: {e}"))?;
        let plain: Plain = serde_json::from_slice(&plain)?;
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
