//! Public keys as JWKs (RFC 7517), with `kid` = the RFC 7638 thumbprint, so every instance
//! names a key the same way without any setting.

use std::collections::BTreeMap;

use anyhow::Context;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use jsonwebtoken::DecodingKey;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{Key, Material};
use crate::{api::Jwk, config::JwtAlgorithm};

/// The RFC 7638 thumbprint of a public JWK: base64url(SHA-256) of the JSON object holding only
/// the key type's required members, in lexicographic order, without whitespace. `None` for a
/// key type other than RSA, EC and OKP, or when a required member is missing.
pub fn thumbprint(jwk: &Value) -> Option<String> {
    let required: &[&str] = match jwk.get("kty")?.as_str()? {
        "RSA" => &["e", "kty", "n"],
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        _ => return None,
    };
    let members = required
        .iter()
        .map(|&name| Some((name, jwk.get(name)?.as_str()?)))
        .collect::<Option<BTreeMap<_, _>>>()?;
    let canonical = serde_json::to_string(&members).ok()?;
    Some(B64.encode(Sha256::digest(canonical.as_bytes())))
}

impl Key {
    /// Builds an asymmetric key: its algorithm, public JWK with `kid`, and verification key.
    pub(super) fn from_material(material: Material, source: String) -> anyhow::Result<Self> {
        use rsa::traits::PublicKeyParts;
        let (alg, mut jwk) = match &material {
            Material::Hmac(_) => unreachable!("HMAC keys are built by Key::hmac"),
            Material::Rsa { public, .. } => {
                anyhow::ensure!(public.size() >= 256, "RSA keys must be at least 2048 bits");
                let n = B64.encode(public.n().to_bytes_be());
                let e = B64.encode(public.e().to_bytes_be());
                (JwtAlgorithm::Rs256, json!({"kty": "RSA", "n": n, "e": e}))
            }
            Material::P256 { public, .. } => {
                use p256::elliptic_curve::sec1::ToEncodedPoint;
                let point = public.to_encoded_point(false);
                let x = B64.encode(point.x().context("EC point has no x")?);
                let y = B64.encode(point.y().context("EC point has no y")?);
                (
                    JwtAlgorithm::Es256,
                    json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
                )
            }
            Material::Ed25519 { public, .. } => {
                let x = B64.encode(public.as_bytes());
                (
                    JwtAlgorithm::EdDsa,
                    json!({"kty": "OKP", "crv": "Ed25519", "x": x}),
                )
            }
        };
        let kid = thumbprint(&jwk).context("cannot compute the key's thumbprint")?;
        let member = |name: &str| jwk[name].as_str().unwrap_or_default().to_owned();
        let decoding = match alg {
            JwtAlgorithm::Rs256 => DecodingKey::from_rsa_components(&member("n"), &member("e"))?,
            JwtAlgorithm::Es256 => DecodingKey::from_ec_components(&member("x"), &member("y"))?,
            _ => DecodingKey::from_ed_components(&member("x"))?,
        };
        jwk["kid"] = json!(kid);
        jwk["alg"] = json!(alg.name());
        jwk["use"] = json!("sig");
        let jwk: Jwk = serde_json::from_value(jwk).context("the key's JWK")?;
        Ok(Self {
            alg,
            kid: Some(kid),
            jwk: Some(jwk),
            source,
            material,
            decoding,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1: the example RSA key and its thumbprint.
    #[test]
    fn thumbprint_matches_the_rfc_7638_example() {
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            thumbprint(&jwk).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
        assert_eq!(thumbprint(&json!({"kty": "RSA", "e": "AQAB"})), None);
        assert_eq!(thumbprint(&json!({"kty": "oct", "k": "x"})), None);
    }

    #[test]
    fn published_keys_carry_their_thumbprint_as_kid() {
        for alg in [JwtAlgorithm::EdDsa, JwtAlgorithm::Es256] {
            let pem = super::super::generate::generate_private_key_pem(alg).unwrap();
            let key = Key::from_pem(pem.expose(), true, "test".into()).unwrap();
            let jwk = serde_json::to_value(key.jwk.as_ref().unwrap()).unwrap();
            assert_eq!(key.kid.as_deref(), thumbprint(&jwk).as_deref());
            assert_eq!(jwk["alg"], alg.name());
            assert_eq!(jwk["use"], "sig");
        }
    }
}
