//! Hasura's JWT rules (<https://hasura.io/docs/latest/auth/authentication/jwt/>: signature,
//! registered claims, the claims object), applied to a token that has been
//! verified with the published JWKS or the shared secret by `jsonwebtoken`, not by the server.

use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::Value;

pub struct Expect<'a> {
    pub issuer: &'a str,
    pub namespace: &'a str,
    pub stringified: bool,
    pub audience: Option<&'a str>,
}

impl Default for Expect<'_> {
    fn default() -> Self {
        Self {
            issuer: "http://127.0.0.1:9999",
            namespace: "https://hasura.io/jwt/claims",
            stringified: false,
            audience: None,
        }
    }
}

/// Verifies `token` with `key` the way Hasura does (no `kid` needed, `alg` from the header)
/// and checks its claims; returns the Hasura claims object.
pub fn check(token: &str, key: &DecodingKey, expect: &Expect) -> serde_json::Map<String, Value> {
    let header = decode_header(token).expect("header");
    assert_ne!(format!("{:?}", header.alg), "none");
    let mut validation = Validation::new(header.alg);
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "iat", "iss", "sub"]);
    validation.set_issuer(&[expect.issuer]);
    match expect.audience {
        Some(aud) => validation.set_audience(&[aud]),
        None => validation.validate_aud = false,
    }
    let payload = decode::<Value>(token, key, &validation)
        .expect("token verifies")
        .claims;
    let now = chrono::Utc::now().timestamp();
    assert!(
        payload["iat"].as_i64().unwrap() <= now + 1,
        "iat in the future"
    );
    assert!(payload["exp"].as_i64().unwrap() > now, "already expired");
    assert!(payload["sid"].is_string(), "session id claim");
    let raw = &payload[expect.namespace];
    let claims: Value = if expect.stringified {
        serde_json::from_str(raw.as_str().expect("stringified_json claims are a string"))
            .expect("string holds JSON")
    } else {
        raw.clone()
    };
    let claims = claims.as_object().expect("claims object").clone();
    let allowed = claims["x-hasura-allowed-roles"]
        .as_array()
        .expect("allowed-roles is an array");
    assert!(!allowed.is_empty());
    assert!(
        allowed
            .iter()
            .all(|r| r.as_str().is_some_and(|s| !s.is_empty())),
        "roles are non-empty strings"
    );
    let default = claims["x-hasura-default-role"]
        .as_str()
        .expect("default-role is a string");
    assert!(
        allowed.iter().any(|r| r == default),
        "default role is allowed"
    );
    assert!(
        !claims.contains_key("x-hasura-role"),
        "no x-hasura-role claim"
    );
    for (k, v) in &claims {
        assert!(k.starts_with("x-hasura-"), "{k}");
        if k != "x-hasura-allowed-roles" {
            assert!(v.is_string(), "{k} must be a string, got {v}");
        }
    }
    assert_eq!(claims["x-hasura-user-id"], payload["sub"]);
    claims
}

/// The key Hasura would build from one JWK of the published set.
pub fn key_from_jwk(jwk: &Value) -> DecodingKey {
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).expect("valid JWK");
    DecodingKey::from_jwk(&jwk).expect("usable JWK")
}

pub fn hmac(secret: &str) -> DecodingKey {
    DecodingKey::from_secret(secret.as_bytes())
}

pub fn alg_of(token: &str) -> Algorithm {
    decode_header(token).unwrap().alg
}
