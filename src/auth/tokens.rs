//! Access tokens: short-lived JWTs carrying Hasura's claims, plus the claims Supabase clients
//! read (`aud`, `role`, `email`, `session_id`, `aal`, `amr`, `is_anonymous`).
//!
//! Verification is as strict as Hasura's own (RFC 7519, RFC 8725): the algorithm is pinned to
//! the keys', `exp` is checked without leeway, a token not yet valid (`nbf`) or issued in the
//! future (`iat`) is refused beyond [`CLOCK_SKEW`], `iss` must match, `aud` must match (and be
//! present) when an audience is configured, and a header naming critical extensions (`crit`,
//! RFC 7515 §4.1.11) is refused since this server understands none.

use std::{sync::Arc, time::Duration};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use jsonwebtoken::{decode, decode_header, encode, errors::ErrorKind, Header, Validation};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

pub mod client;
pub mod verified;

pub use verified::{VerifiedToken, VerifiedTokens};

use crate::{
    auth::{assurance::Assurance, claims::HasuraClaims, keys::KeySet},
    config::{ClaimsFormat, Config, DEFAULT_USER_AUDIENCE},
};

/// How far in the future `nbf` and `iat` may be (clocks of instances differ slightly).
pub const CLOCK_SKEW: i64 = 5;

/// The `role` claim of every access token: Supabase's database role of signed-in users
/// (Hasura reads its own role claims from the namespace, not this one).
pub const ROLE_CLAIM: &str = "authenticated";

/// Issues and verifies access tokens.
#[derive(Clone, Debug)]
pub struct AccessTokens {
    pub keys: Arc<KeySet>,
    pub issuer: String,
    /// `AUTH_JWT_AUDIENCE`: when set, tokens must carry exactly this `aud`.
    pub audience: Option<String>,
    pub ttl: Duration,
    pub namespace: String,
    pub format: ClaimsFormat,
    /// Tokens already verified (see [`verified`]).
    pub verified: Arc<VerifiedTokens>,
}

/// A freshly signed access token.
pub struct Issued {
    pub token: String,
    pub expires_in: u64,
    pub expires_at: i64,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    Malformed,
    InvalidSignature,
    Expired,
    NotYetValid,
    IssuedInFuture,
    /// Wrong issuer or audience, a required claim missing, or a critical header extension.
    InvalidClaims,
}

impl VerifyError {
    /// The reason, worded as Supabase Auth words it (clients match on these).
    pub fn reason(self) -> &'static str {
        match self {
            Self::Malformed => "token is malformed",
            Self::InvalidSignature => "token signature is invalid: signature is invalid",
            Self::Expired => "token has invalid claims: token is expired",
            Self::NotYetValid => "token has invalid claims: token is not valid yet",
            Self::IssuedInFuture => "token has invalid claims: token used before issued",
            Self::InvalidClaims => "token has invalid claims",
        }
    }
}

#[derive(Deserialize)]
struct RawClaims {
    sub: String,
    sid: String,
    exp: i64,
    nbf: Option<i64>,
    iat: Option<i64>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// Whether the JOSE header names critical extensions (`crit`); none is understood here.
fn has_critical_extensions(token: &str) -> Result<bool, VerifyError> {
    let header = token.split('.').next().ok_or(VerifyError::Malformed)?;
    let bytes = B64.decode(header).map_err(|_| VerifyError::Malformed)?;
    let header: Map<String, Value> =
        serde_json::from_slice(&bytes).map_err(|_| VerifyError::Malformed)?;
    Ok(header.contains_key("crit"))
}

impl AccessTokens {
    /// The tokens of `config` signed and checked with `keys`. The settings are read once here:
    /// `issue` and `verify` are the hot paths.
    pub fn new(config: &Config, keys: Arc<KeySet>) -> Self {
        Self {
            keys,
            issuer: config.issuer(),
            audience: config.tokens.jwt_audience.clone(),
            ttl: config.tokens.access_token_ttl,
            namespace: config.hasura.hasura_claims_namespace.clone(),
            format: config.hasura.hasura_claims_format,
            verified: Arc::new(VerifiedTokens::new(config.sessions.session_cache_size)),
        }
    }

    /// Signs an access token for `claims` (a user with address `email`, anonymous or not) in
    /// session `session_id` at its `assurance`.
    pub fn issue(
        &self,
        claims: &HasuraClaims,
        email: &str,
        is_anonymous: bool,
        session_id: Uuid,
        assurance: &Assurance,
    ) -> anyhow::Result<Issued> {
        self.issue_until(claims, email, is_anonymous, session_id, assurance, None)
    }

    /// [`Self::issue`], expiring at `not_after` (Unix seconds) if that comes sooner than the
    /// usual lifetime (an API key's token never outlives the key).
    pub fn issue_until(
        &self,
        claims: &HasuraClaims,
        email: &str,
        is_anonymous: bool,
        session_id: Uuid,
        assurance: &Assurance,
        not_after: Option<i64>,
    ) -> anyhow::Result<Issued> {
        let now = chrono::Utc::now().timestamp();
        let exp = (now + self.ttl.as_secs() as i64).min(not_after.unwrap_or(i64::MAX));
        let payload = self.payload(claims, email, is_anonymous, session_id, assurance, now, exp);
        self.sign(&payload, now, exp)
    }

    /// The claims of an access token issued at `now`, expiring at `exp`.
    #[allow(clippy::too_many_arguments)]
    fn payload(
        &self,
        claims: &HasuraClaims,
        email: &str,
        is_anonymous: bool,
        session_id: Uuid,
        assurance: &Assurance,
        now: i64,
        exp: i64,
    ) -> Value {
        let mut payload = json!({
            "iss": self.issuer,
            "sub": claims.user_id,
            "aud": self.audience.as_deref().unwrap_or(DEFAULT_USER_AUDIENCE),
            "iat": now,
            "exp": exp,
            "jti": Uuid::new_v4(),
            "sid": session_id,
            "session_id": session_id,
            "email": email,
            "role": ROLE_CLAIM,
            "aal": assurance.aal.as_str(),
            "amr": assurance.amr,
            "is_anonymous": is_anonymous,
        });
        payload[&self.namespace] = claims.to_value(Some(&session_id.to_string()), self.format);
        payload
    }

    /// Signs `payload` with the signing key.
    fn sign(&self, payload: &Value, now: i64, exp: i64) -> anyhow::Result<Issued> {
        let signing = self.keys.signing();
        let mut header = Header::new(signing.alg.jsonwebtoken());
        header.kid = signing.kid.clone();
        let token = encode(&header, payload, self.keys.encoding_key())?;
        Ok(Issued {
            token,
            expires_in: u64::try_from(exp - now).unwrap_or_default(),
            expires_at: exp,
        })
    }

    /// Verifies signature (with the key named by `kid`, or any key of the token's algorithm)
    /// and claims; see the module documentation for the rules. A token verified before is
    /// answered from memory until it expires.
    pub fn verify(&self, token: &str) -> Result<Arc<VerifiedToken>, VerifyError> {
        if let Some(known) = self.verified.get(token, chrono::Utc::now().timestamp()) {
            return Ok(known);
        }
        let verified = Arc::new(self.verify_afresh(token)?);
        self.verified.insert(token, &verified);
        Ok(verified)
    }

    fn verify_afresh(&self, token: &str) -> Result<VerifiedToken, VerifyError> {
        let header = decode_header(token).map_err(|_| VerifyError::Malformed)?;
        if has_critical_extensions(token)? {
            return Err(VerifyError::InvalidClaims);
        }
        let mut last = VerifyError::InvalidSignature;
        for key in self.keys.all() {
            if key.alg.jsonwebtoken() != header.alg {
                continue;
            }
            if header.kid.is_some() && key.kid.is_some() && header.kid != key.kid {
                continue;
            }
            let mut validation = Validation::new(header.alg);
            // No leeway on `exp`, like Hasura's default `allowed_skew` of 0: what Hasura
            // rejects, we reject. `nbf` and `iat` are checked below, with CLOCK_SKEW.
            validation.leeway = 0;
            validation.validate_nbf = false;
            validation.set_issuer(&[&self.issuer]);
            match &self.audience {
                Some(aud) => {
                    validation.set_audience(&[aud]);
                    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
                }
                None => {
                    validation.validate_aud = false;
                    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
                }
            }
            match decode::<RawClaims>(token, &key.decoding, &validation) {
                Ok(data) => return self.accept(data.claims),
                Err(e) => {
                    last = match e.kind() {
                        ErrorKind::InvalidSignature => VerifyError::InvalidSignature,
                        ErrorKind::ExpiredSignature => VerifyError::Expired,
                        ErrorKind::InvalidIssuer
                        | ErrorKind::InvalidAudience
                        | ErrorKind::MissingRequiredClaim(_) => VerifyError::InvalidClaims,
                        _ => VerifyError::Malformed,
                    };
                    if last != VerifyError::InvalidSignature {
                        // The signature checked out with this key: its verdict is final.
                        return Err(last);
                    }
                }
            }
        }
        Err(last)
    }

    /// The checks `jsonwebtoken` leaves to us, and the parts we read.
    fn accept(&self, c: RawClaims) -> Result<VerifiedToken, VerifyError> {
        let now = chrono::Utc::now().timestamp();
        if c.nbf.is_some_and(|nbf| nbf > now + CLOCK_SKEW) {
            return Err(VerifyError::NotYetValid);
        }
        if c.iat.is_some_and(|iat| iat > now + CLOCK_SKEW) {
            return Err(VerifyError::IssuedInFuture);
        }
        let user_id = Uuid::parse_str(&c.sub).map_err(|_| VerifyError::InvalidClaims)?;
        let session_id = Uuid::parse_str(&c.sid).map_err(|_| VerifyError::InvalidClaims)?;
        let hasura = match c.rest.get(&self.namespace) {
            Some(Value::Object(m)) => m.clone(),
            Some(Value::String(s)) => {
                serde_json::from_str(s).map_err(|_| VerifyError::InvalidClaims)?
            }
            _ => return Err(VerifyError::InvalidClaims),
        };
        let aal = super::assurance::Aal::from_claim(c.rest.get("aal").and_then(Value::as_str));
        let client_id = match c.rest.get("client_id") {
            None => None,
            Some(id) => Some(
                id.as_str()
                    .and_then(|id| Uuid::parse_str(id).ok())
                    .ok_or(VerifyError::InvalidClaims)?,
            ),
        };
        Ok(VerifiedToken {
            user_id,
            session_id,
            expires_at: c.exp,
            aal,
            hasura,
            client_id,
        })
    }
}
