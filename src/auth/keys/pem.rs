//! Loading keys from PEM: PKCS#8, PKCS#1 (RSA) and SEC1 (P-256) private keys, SPKI public
//! keys, and the development key kept in the data directory.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::{bail, Context};

use super::{generate::generate_private_key_pem, Key, Material};
use crate::config::JwtAlgorithm;

impl Key {
    pub(super) fn from_pem_file(path: &Path, need_private: bool) -> anyhow::Result<Self> {
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read key file {}", path.display()))?;
        Self::from_pem(&pem, need_private, path.display().to_string())
            .with_context(|| format!("key file {}", path.display()))
    }

    /// Parses a PEM key: PKCS#8, PKCS#1 (RSA) or SEC1 (P-256) private keys, or SPKI public keys.
    pub fn from_pem(pem: &str, need_private: bool, source: String) -> anyhow::Result<Self> {
        use rsa::pkcs1::{DecodeRsaPrivateKey as _, DecodeRsaPublicKey as _};
        let pem = pem.trim();
        let material = if pem.starts_with("-----BEGIN PRIVATE KEY-----") {
            pkcs8_private(pem)?
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
            spki_public(pem)?
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

    /// The development key: Ed25519, created in `data_dir` on first start and reused after.
    pub(super) fn development(data_dir: &Path) -> anyhow::Result<Self> {
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

/// A PKCS#8 private key of any of the three algorithms.
fn pkcs8_private(pem: &str) -> anyhow::Result<Material> {
    use ed25519_dalek::pkcs8::DecodePrivateKey as _;
    if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
        Ok(Material::Ed25519 {
            public: k.verifying_key(),
            private: Some(k),
        })
    } else if let Ok(k) = p256::SecretKey::from_pkcs8_pem(pem) {
        Ok(Material::P256 {
            public: k.public_key(),
            private: Some(k),
        })
    } else if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_pem(pem) {
        Ok(Material::Rsa {
            public: k.to_public_key(),
            private: Some(Box::new(k)),
        })
    } else {
        bail!("unsupported PKCS#8 private key: use RSA, EC P-256 or Ed25519");
    }
}

/// An SPKI public key of any of the three algorithms.
fn spki_public(pem: &str) -> anyhow::Result<Material> {
    use ed25519_dalek::pkcs8::DecodePublicKey as _;
    if let Ok(k) = ed25519_dalek::VerifyingKey::from_public_key_pem(pem) {
        Ok(Material::Ed25519 {
            public: k,
            private: None,
        })
    } else if let Ok(k) = p256::PublicKey::from_public_key_pem(pem) {
        Ok(Material::P256 {
            public: k,
            private: None,
        })
    } else if let Ok(k) = rsa::RsaPublicKey::from_public_key_pem(pem) {
        Ok(Material::Rsa {
            public: k,
            private: None,
        })
    } else {
        bail!("unsupported public key: use RSA, EC P-256 or Ed25519");
    }
}
