//! New keys: `keys generate` and the development key.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};

use crate::{config::JwtAlgorithm, secret::Secret};

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
