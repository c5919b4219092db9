//! Signing keys: loading (HMAC secret or PEM files), the development key, JWKS publication,
//! key generation and Hasura's view of them.
//!
//! One key signs; every configured key verifies and every asymmetric key is published, so a
//! key can be rotated without downtime (publish the next key first, switch, keep the old one
//! published until its tokens have expired). Asymmetric keys get a `kid` that is their
//! RFC 7638 JWK thumbprint: stable across restarts and instances without any setting.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::{
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
    pub jwk: Option<Value>,
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
    pub fn jwks(&self) -> Value {
        let keys: Vec<&Value> = self.all().filter_map(|k| k.jwk.as_ref()).collect();
        json!({ "keys": keys })
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

    fn from_pem_file(path: &Path, need_private: bool) -> anyhow::Result<Self> {
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read key file {}", path.display()))?;
        Self::from_pem(&pem, need_private, path.display().to_string())
            .with_context(|| format!("key file {}", path.display()))
    }

    /// Parses a PEM key: PKCS#8, PKCS#1 (RSA) or SEC1 (P-256) private keys, or SPKI public keys.
    pub fn from_pem(pem: &str, need_private: bool, source: String) -> anyhow::Result<Self> {
        use ed25519_dalek::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
        use rsa::pkcs1::{DecodeRsaPrivateKey as _, DecodeRsaPublicKey as _};
        let pem = pem.trim();
        let material = if pem.starts_with("-----BEGIN PRIVATE KEY-----") {
            if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
                Material::Ed25519 {
                    public: k.verifying_key(),
                    private: Some(k),
                }
            } else if let Ok(k) = p256::SecretKey::from_pkcs8_pem(pem) {
                Material::P256 {
                    public: k.public_key(),
                    private: Some(k),
                }
            } else if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_pem(pem) {
                Material::Rsa {
                    public: k.to_public_key(),
                    private: Some(Box::new(k)),
                }
            } else {
                bail!("unsupported PKCS#8 private key: use RSA, EC P-256 or Ed25519");
            }
        } else if pem.starts_with("-----BEGIN RSA PRIVATE KEY-----") {
            let k = rsa::RsaPrivateKey::from_pkcs1_pem(pem)
                .context("invalid PKCS#1 RSA private key")?;
            Material::Rsa {
                public: k.to_public_key(),
                private: Some(Box::new(k)),
            }
        } else if pem.starts_with("-----BEGIN EC PRIVATE KEY-----") {
            let k = p256::SecretKey::from_sec1_pem(pem)
                .context("invalid SEC1 EC private key (only P-256 is supported)")?;
            Material::P256 {
                public: k.public_key(),
                private: Some(k),
            }
        } else if pem.starts_with("-----BEGIN PUBLIC KEY-----") {
            if need_private {
                bail!("this is a public key; the signing key must be a private key");
            }
            if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_pem(pem) {
                Material::Ed25519 {
                    public: k,
                    private: None,
                }
            } else if let Ok(k) = p256::PublicKey::from_public_key_pem(pem) {
                Material::P256 {
                    public: k,
                    private: None,
                }
            } else if let Ok(k) = rsa::RsaPublicKey::from_public_key_pem(pem) {
                Material::Rsa {
                    public: k,
                    private: None,
                }
            } else {
                bail!("unsupported public key: use RSA, EC P-256 or Ed25519");
            }
        } else if pem.starts_with("-----BEGIN RSA PUBLIC KEY-----") && !need_private {
            Material::Rsa {
                public: rsa::RsaPublicKey::from_pkcs1_pem(pem)
                    .context("invalid PKCS#1 RSA public key")?,
                private: None,
            }
        } else {
            bail!("not a PEM key (expected -----BEGIN PRIVATE KEY-----, RSA/EC PRIVATE KEY or PUBLIC KEY)");
        };
        Self::from_material(material, source)
    }

    fn from_material(material: Material, source: String) -> anyhow::Result<Self> {
        use rsa::traits::PublicKeyParts;
        let (alg, thumb_input, jwk_base) = match &material {
            Material::Hmac(_) => unreachable!("HMAC keys are built by Key::hmac"),
            Material::Rsa { public, .. } => {
                if public.size() < 256 {
                    bail!("RSA keys must be at least 2048 bits");
                }
                let n = B64.encode(public.n().to_bytes_be());
                let e = B64.encode(public.e().to_bytes_be());
                let thumb = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
                (
                    JwtAlgorithm::Rs256,
                    thumb,
                    json!({"kty": "RSA", "n": n, "e": e}),
                )
            }
            Material::P256 { public, .. } => {
                use p256::elliptic_curve::sec1::ToEncodedPoint;
                let point = public.to_encoded_point(false);
                let x = B64.encode(point.x().context("EC point has no x")?);
                let y = B64.encode(point.y().context("EC point has no y")?);
                let thumb = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
                (
                    JwtAlgorithm::Es256,
                    thumb,
                    json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
                )
            }
            Material::Ed25519 { public, .. } => {
                let x = B64.encode(public.as_bytes());
                let thumb = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
                (
                    JwtAlgorithm::EdDsa,
                    thumb,
                    json!({"kty": "OKP", "crv": "Ed25519", "x": x}),
                )
            }
        };
        let kid = B64.encode(Sha256::digest(thumb_input.as_bytes()));
        let mut jwk = jwk_base;
        jwk["kid"] = json!(kid);
        jwk["alg"] = json!(alg.name());
        jwk["use"] = json!("sig");
        let decoding = match &jwk["kty"].as_str() {
            Some("RSA") => DecodingKey::from_rsa_components(
                jwk["n"].as_str().unwrap(),
                jwk["e"].as_str().unwrap(),
            )?,
            Some("EC") => DecodingKey::from_ec_components(
                jwk["x"].as_str().unwrap(),
                jwk["y"].as_str().unwrap(),
            )?,
            _ => DecodingKey::from_ed_components(jwk["x"].as_str().unwrap())?,
        };
        Ok(Self {
            alg,
            kid: Some(kid),
            jwk: Some(jwk),
            source,
            material,
            decoding,
        })
    }

    /// Checks a configured algorithm against the key's type.
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

    /// The development key: Ed25519, created in `data_dir` on first start and reused after.
    fn development(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join("dev-signing-key.pem");
        if !path.exists() {
            let pem = generate_private_key_pem(JwtAlgorithm::EdDsa)?;
            std::fs::create_dir_all(data_dir)
                .with_context(|| format!("cannot create AUTH_DATA_DIR {}", data_dir.display()))?;
            write_private_file(&path, pem.expose())?;
        }
        let mut key = Self::from_pem_file(&path, true)?;
        key.source = format!("development key {}", path.display());
        Ok(key)
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

/// Writes a file readable by its owner only.
pub fn write_private_file(path: &PathBuf, contents: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

/// A new key for `alg`: a PKCS#8 PEM private key, or a random HMAC secret of the right length.
pub fn generate_private_key_pem(alg: JwtAlgorithm) -> anyhow::Result<Secret> {
    use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePrivateKey as _};
    use rand::{rngs::OsRng, RngCore};
    let pem = match alg {
        JwtAlgorithm::Hs256 | JwtAlgorithm::Hs384 | JwtAlgorithm::Hs512 => {
            let mut bytes = vec![0u8; alg.min_hmac_key_len()];
            OsRng.fill_bytes(&mut bytes);
            // URL-safe base64 of n random bytes is longer than n bytes: Hasura's length rule holds.
            return Ok(Secret::new(B64.encode(bytes)));
        }
        JwtAlgorithm::Rs256 => {
            rsa::RsaPrivateKey::new(&mut OsRng, 2048)?.to_pkcs8_pem(LineEnding::LF)?
        }
        JwtAlgorithm::Es256 => p256::SecretKey::random(&mut OsRng).to_pkcs8_pem(LineEnding::LF)?,
        JwtAlgorithm::EdDsa => {
            ed25519_dalek::SigningKey::generate(&mut OsRng).to_pkcs8_pem(LineEnding::LF)?
        }
    };
    Ok(Secret::new(pem.to_string()))
}
