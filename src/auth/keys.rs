//! Signing keys: the configured set (one signs, all verify), JWKS publication and Hasura's
//! view of them. Loading from PEM is in `pem.rs`, JWKs and thumbprints in `jwk.rs`, new keys in
//! `generate.rs`.
//!
//! One key signs; every configured key verifies and every asymmetric key is published, so a
//! key can be rotated without downtime (publish the next key first, switch, keep the old one
//! published until its tokens have expired). Asymmetric keys get a `kid` that is their
//! RFC 7638 JWK thumbprint: stable across restarts and instances without any setting.

mod generate;
mod jwk;
mod pem;

pub use generate::generate_private_key_pem;
pub use jwk::thumbprint;
pub use pem::write_private_file;

use anyhow::{bail, Context};
use jsonwebtoken::{DecodingKey, EncodingKey};

use crate::{
    api::{Jwk, Jwks},
    config::{JwtAlgorithm, KeyArgs},
    secret::Secret,
};

/// The material of one key. A handful exist per process, so variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum Material {
    Hmac(Secret),
    Rsa {
        private: Option<Box<rsa::RsaPrivateKey>>,
        public: rsa::RsaPublicKey,
    },
    P256 {
        private: Option<p256::SecretKey>,
        public: p256::PublicKey,
    },
    Ed25519 {
        private: Option<ed25519_dalek::SigningKey>,
        public: ed25519_dalek::VerifyingKey,
    },
}

/// A key that verifies tokens, and may sign them.
pub struct Key {
    pub alg: JwtAlgorithm,
    /// RFC 7638 thumbprint; `None` for HMAC keys, which are never published.
    pub kid: Option<String>,
    /// Public JWK (asymmetric keys only).
    pub jwk: Option<Jwk>,
    /// Where the key came from, for `keys list` and logs.
    pub source: String,
    material: Material,
    pub decoding: DecodingKey,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// The configured keys: the first one signs.
pub struct KeySet {
    signing: Key,
    encoding: EncodingKey,
    others: Vec<Key>,
    /// True when the signing key is the generated development key.
    pub development: bool,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("signing", &self.signing)
            .field("others", &self.others)
            .field("development", &self.development)
            .finish()
    }
}

impl KeySet {
    /// Loads the keys from the settings; with no key configured, creates (or reuses) the
    /// development Ed25519 key in the data directory.
    pub fn load(args: &KeyArgs) -> anyhow::Result<Self> {
        let (signing, development) = match (&args.jwt_secret, &args.jwt_private_key_file) {
            (Some(_), Some(_)) => bail!(
                "set either AUTH_JWT_SECRET (HMAC) or AUTH_JWT_PRIVATE_KEY_FILE (asymmetric), not both"
            ),
            (Some(secret), None) => {
                let alg = args.jwt_algorithm.unwrap_or(JwtAlgorithm::Hs256);
                (Key::hmac(alg, secret.clone())?, false)
            }
            (None, Some(path)) => {
                let key = Key::from_pem_file(path, true).context("AUTH_JWT_PRIVATE_KEY_FILE")?;
                (key.with_algorithm(args.jwt_algorithm, "AUTH_JWT_PRIVATE_KEY_FILE")?, false)
            }
            (None, None) => {
                if let Some(alg) = args.jwt_algorithm.filter(|a| *a != JwtAlgorithm::EdDsa) {
                    bail!(
                        "AUTH_JWT_ALGORITHM is {} but no key is configured: set AUTH_JWT_SECRET \
                         (HS*) or AUTH_JWT_PRIVATE_KEY_FILE (RS256, ES256, EdDSA)",
                        alg.name()
                    );
                }
                (Key::development(&args.data_dir)?, true)
            }
        };
        let mut others = Vec::new();
        for path in &args.jwt_additional_key_files {
            let key = Key::from_pem_file(path, false).context("AUTH_JWT_ADDITIONAL_KEY_FILES")?;
            if key.kid.is_some() && key.kid == signing.kid {
                continue;
            }
            others.push(key);
        }
        let encoding = signing.encoding_key()?;
        Ok(Self {
            signing,
            encoding,
            others,
            development,
        })
    }

    /// An HMAC key set, for tests and tools.
    pub fn from_hmac(alg: JwtAlgorithm, secret: &str) -> anyhow::Result<Self> {
        let signing = Key::hmac(alg, Secret::new(secret))?;
        let encoding = signing.encoding_key()?;
        Ok(Self {
            signing,
            encoding,
            others: Vec::new(),
            development: false,
        })
    }

    /// A key set from PEM text (private signing key first, then further published keys).
    pub fn from_pems(signing_pem: &str, others: &[&str]) -> anyhow::Result<Self> {
        let signing =
            Key::from_pem(signing_pem, true, "inline".into())?.with_algorithm(None, "key")?;
        let encoding = signing.encoding_key()?;
        let others = others
            .iter()
            .map(|pem| Key::from_pem(pem, false, "inline".into()))
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            signing,
            encoding,
            others,
            development: false,
        })
    }

    pub fn signing(&self) -> &Key {
        &self.signing
    }

    pub fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }

    /// Every key that verifies tokens, the signing key first.
    pub fn all(&self) -> impl Iterator<Item = &Key> {
        std::iter::once(&self.signing).chain(self.others.iter())
    }

    /// The JWK Set published at `/.well-known/jwks.json` (asymmetric keys only).
    pub fn jwks(&self) -> Jwks<'_> {
        Jwks {
            keys: self.all().filter_map(|k| k.jwk.as_ref()).collect(),
        }
    }
}

impl Key {
    fn hmac(alg: JwtAlgorithm, secret: Secret) -> anyhow::Result<Self> {
        if !alg.is_hmac() {
            bail!(
                "AUTH_JWT_ALGORITHM is {} but AUTH_JWT_SECRET is an HMAC secret: use HS256, HS384 \
                 or HS512, or configure AUTH_JWT_PRIVATE_KEY_FILE instead",
                alg.name()
            );
        }
        let min = alg.min_hmac_key_len();
        if secret.expose().len() < min {
            bail!(
                "AUTH_JWT_SECRET is {} bytes long; {} needs at least {min} bytes (Hasura refuses \
                 shorter keys). Generate one with: hasura-jwt-auth keys generate --algorithm {}",
                secret.expose().len(),
                alg.name(),
                alg.name()
            );
        }
        let decoding = DecodingKey::from_secret(secret.expose().as_bytes());
        Ok(Self {
            alg,
            kid: None,
            jwk: None,
            source: "AUTH_JWT_SECRET".into(),
            material: Material::Hmac(secret),
            decoding,
        })
    }
    fn with_algorithm(
        self,
        configured: Option<JwtAlgorithm>,
        setting: &str,
    ) -> anyhow::Result<Self> {
        match configured {
            Some(alg) if alg != self.alg => bail!(
                "AUTH_JWT_ALGORITHM is {} but {setting} holds a key for {}",
                alg.name(),
                self.alg.name()
            ),
            _ => Ok(self),
        }
    }

    fn encoding_key(&self) -> anyhow::Result<EncodingKey> {
        use ed25519_dalek::pkcs8::EncodePrivateKey as _;
        use rsa::pkcs1::EncodeRsaPrivateKey as _;
        Ok(match &self.material {
            Material::Hmac(secret) => EncodingKey::from_secret(secret.expose().as_bytes()),
            Material::Rsa {
                private: Some(k), ..
            } => EncodingKey::from_rsa_der(k.to_pkcs1_der()?.as_bytes()),
            Material::P256 {
                private: Some(k), ..
            } => EncodingKey::from_ec_der(k.to_pkcs8_der()?.as_bytes()),
            Material::Ed25519 {
                private: Some(k), ..
            } => EncodingKey::from_ed_der(k.to_pkcs8_der()?.as_bytes()),
            _ => bail!("the signing key must be a private key"),
        })
    }

    /// The public key as PEM (SPKI), which Hasura's `key` field accepts; `None` for HMAC.
    pub fn public_pem(&self) -> Option<String> {
        use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePublicKey as _};
        match &self.material {
            Material::Hmac(_) => None,
            Material::Rsa { public, .. } => public.to_public_key_pem(LineEnding::LF).ok(),
            Material::P256 { public, .. } => public.to_public_key_pem(LineEnding::LF).ok(),
            Material::Ed25519 { public, .. } => public.to_public_key_pem(LineEnding::LF).ok(),
        }
    }

    /// The HMAC secret, for Hasura's `key` field.
    pub fn hmac_secret(&self) -> Option<&Secret> {
        match &self.material {
            Material::Hmac(s) => Some(s),
            _ => None,
        }
    }

    /// Hasura's `type` name for this key.
    pub fn hasura_type(&self) -> &'static str {
        match self.alg {
            JwtAlgorithm::EdDsa => "Ed25519",
            other => other.name(),
        }
    }
}
