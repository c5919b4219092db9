//! New keys: `keys generate` and the development key.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};

use crate::{config::JwtAlgorithm, secret::Secret};

/// A new key for `alg`: a PKCS#8 PEM private key (v1 for Ed25519), or a random HMAC secret of
/// the right length.
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
            // PKCS#8 v1 (RFC 8410: the private key only), which OpenSSL 3 and every common
            // library read; the v2 form with the public key attached is not as widely read.
            let key = ed25519_dalek::SigningKey::generate(&mut OsRng);
            ed25519_dalek::pkcs8::KeypairBytes {
                secret_key: key.to_bytes(),
                public_key: None,
            }
            .to_pkcs8_pem(LineEnding::LF)?
        }
    };
    Ok(Secret::new(pem.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Generated keys are read by OpenSSL, an implementation independent of ours (skipped
    /// where no `openssl` command exists; CI installs one).
    #[test]
    fn generated_keys_are_read_by_openssl() {
        let Ok(version) = std::process::Command::new("openssl")
            .arg("version")
            .output()
        else {
            eprintln!("openssl not installed: skipping");
            return;
        };
        assert!(version.status.success());
        let dir = tempfile::tempdir().unwrap();
        for (alg, kind) in [
            (JwtAlgorithm::EdDsa, "ED25519 PRIVATE-KEY"),
            (JwtAlgorithm::Es256, "PRIME256V1"),
            (JwtAlgorithm::Rs256, "MODULUS"),
        ] {
            let pem = generate_private_key_pem(alg).unwrap();
            let path = dir.path().join(format!("{}.pem", alg.name()));
            std::fs::write(&path, pem.expose()).unwrap();
            let out = std::process::Command::new("openssl")
                .args(["pkey", "-noout", "-text", "-in"])
                .arg(&path)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "openssl cannot read the {} key: {}",
                alg.name(),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(text.to_uppercase().contains(kind), "{text}");
        }
    }

    #[test]
    fn ed25519_keys_are_pkcs8_v1_and_both_versions_are_read() {
        use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePrivateKey as _};
        let v1 = generate_private_key_pem(JwtAlgorithm::EdDsa).unwrap();
        // RFC 8410 v1: version 0 and no public key; 48 bytes of DER.
        let der = pem_der(v1.expose());
        assert_eq!(der.len(), 48, "PKCS#8 v1 Ed25519 key");
        let key = crate::auth::keys::Key::from_pem(v1.expose(), true, "v1".into()).unwrap();
        // The v2 form (with the public key) that earlier versions wrote still loads, to the
        // same key.
        let signing = ed25519_dalek::SigningKey::from_bytes(&der[16..48].try_into().unwrap());
        let v2 = signing.to_pkcs8_pem(LineEnding::LF).unwrap();
        assert!(pem_der(&v2).len() > 48);
        let again = crate::auth::keys::Key::from_pem(&v2, true, "v2".into()).unwrap();
        assert_eq!(key.kid, again.kid);
    }

    fn pem_der(pem: &str) -> Vec<u8> {
        use base64::engine::general_purpose::STANDARD;
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        STANDARD.decode(body).unwrap()
    }
}
