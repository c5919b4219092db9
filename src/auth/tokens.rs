//! Access tokens: short-lived JWTs carrying Hasura's claims.

use std::{sync::Arc, time::Duration};

use jsonwebtoken::{decode, decode_header, encode, Header, Validation};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::{
    auth::{claims::HasuraClaims, keys::KeySet},
    config::ClaimsFormat,
};

/// Issues and verifies access tokens.
#[derive(Clone, Debug)]
pub struct AccessTokens {
    pub keys: Arc<KeySet>,
    pub issuer: String,
    pub audience: Option<String>,
    pub ttl: Duration,
    pub namespace: String,
    pub format: ClaimsFormat,
}

/// A freshly signed access token.
pub struct Issued {
    pub token: String,
    pub expires_in: u64,
    pub expires_at: i64,
}

/// What a verified access token says.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub user_id: Uuid,
    pub session_id: Uuid,
    pub expires_at: i64,
    /// The Hasura claims object as it stands in the token.
    pub hasura: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    Expired,
    Invalid,
}

#[derive(Deserialize)]
struct RawClaims {
    sub: String,
    sid: String,
    exp: i64,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

impl AccessTokens {
    /// Signs an access token for `claims` in session `session_id`.
    pub fn issue(
        &self,
        claims: &HasuraClaims,
        email: &str,
        session_id: Uuid,
    ) -> anyhow::Result<Issued> {
        let now = chrono::Utc::now().timestamp();
        let exp = now + self.ttl.as_secs() as i64;
        let mut payload = json!({
            "iss": self.issuer,
            "sub": claims.user_id,
            "iat": now,
            "exp": exp,
            "jti": Uuid::new_v4(),
            "sid": session_id,
            "session_id": session_id,
            "email": email,
        });
        if let Some(aud) = &self.audience {
            payload["aud"] = json!(aud);
        }
        payload[&self.namespace] = claims.to_value(Some(&session_id.to_string()), self.format);
        let signing = self.keys.signing();
        let mut header = Header::new(signing.alg.jsonwebtoken());
        header.kid = signing.kid.clone();
        let token = encode(&header, &payload, self.keys.encoding_key())?;
        Ok(Issued {
            token,
            expires_in: self.ttl.as_secs(),
            expires_at: exp,
        })
    }

    /// Verifies signature (with the key named by `kid`, or any key of the token's algorithm),
    /// `exp`, `iss` and `aud`. The algorithm is pinned to the keys' own.
    pub fn verify(&self, token: &str) -> Result<VerifiedToken, VerifyError> {
        let header = decode_header(token).map_err(|_| VerifyError::Invalid)?;
        let mut last = VerifyError::Invalid;
        for key in self.keys.all() {
            if key.alg.jsonwebtoken() != header.alg {
                continue;
            }
            if header.kid.is_some() && key.kid.is_some() && header.kid != key.kid {
                continue;
            }
            let mut validation = Validation::new(header.alg);
            // No leeway, like Hasura's default `allowed_skew` of 0: what Hasura rejects, we reject.
            validation.leeway = 0;
            validation.set_issuer(&[&self.issuer]);
            validation.set_required_spec_claims(&["exp", "iss", "sub"]);
            match &self.audience {
                Some(aud) => validation.set_audience(&[aud]),
                None => validation.validate_aud = false,
            }
            match decode::<RawClaims>(token, &key.decoding, &validation) {
                Ok(data) => {
                    let c = data.claims;
                    let user_id = Uuid::parse_str(&c.sub).map_err(|_| VerifyError::Invalid)?;
                    let session_id = Uuid::parse_str(&c.sid).map_err(|_| VerifyError::Invalid)?;
                    let hasura = match c.rest.get(&self.namespace) {
                        Some(Value::Object(m)) => m.clone(),
                        Some(Value::String(s)) => {
                            serde_json::from_str(s).map_err(|_| VerifyError::Invalid)?
                        }
                        _ => return Err(VerifyError::Invalid),
                    };
                    return Ok(VerifiedToken {
                        user_id,
                        session_id,
                        expires_at: c.exp,
                        hasura,
                    });
                }
                Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature) => {
                    last = VerifyError::Expired;
                }
                Err(_) => {}
            }
        }
        Err(last)
    }
}
