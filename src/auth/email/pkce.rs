//! PKCE (RFC 7636) for flows that end in a redirect: the client sends a `code_challenge` with
//! its request, the redirect carries a one-time `code` instead of tokens, and only the holder
//! of the `code_verifier` can exchange it (`POST /token?grant_type=pkce`).

use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use rand::{rngs::OsRng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::{
    auth::{Auth, Session},
    client::Client,
    error::{Code, Error, Result},
    secret::Secret,
    store,
};

/// How long an authorization code can be exchanged.
pub const CODE_TTL: Duration = Duration::from_secs(300);

/// A client's `code_challenge` and its method (`S256` or `plain`, any case).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Challenge {
    pub challenge: String,
    pub method: String,
}

impl Challenge {
    /// The challenge of a request, checked: both given or neither; S256 or plain; 43 to 128
    /// characters of the unreserved set.
    pub fn from_request(challenge: Option<String>, method: Option<String>) -> Result<Option<Self>> {
        let challenge = challenge.filter(|c| !c.is_empty());
        let Some(challenge) = challenge else {
            return Ok(None);
        };
        let method = method
            .unwrap_or_else(|| "plain".into())
            .to_ascii_lowercase();
        if method != "s256" && method != "plain" {
            return Err(Error::validation_failed(
                "code_challenge_method must be s256 or plain",
            ));
        }
        if !is_pkce_string(&challenge) {
            return Err(Error::validation_failed(
                "code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~",
            ));
        }
        Ok(Some(Self { challenge, method }))
    }

    /// Whether `verifier` answers this challenge.
    pub fn is_answered_by(&self, verifier: &str) -> bool {
        if !is_pkce_string(verifier) {
            return false;
        }
        let expected = match self.method.as_str() {
            "s256" => B64.encode(Sha256::digest(verifier.as_bytes())),
            _ => verifier.to_owned(),
        };
        bool::from(expected.as_bytes().ct_eq(self.challenge.as_bytes()))
    }
}

fn is_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'))
}

fn code_hash(code: &str) -> [u8; 32] {
    Sha256::digest(code.as_bytes()).into()
}

impl Auth {
    /// A new authorization code for `user_id`, bound to `challenge` (inside `tx`).
    pub async fn issue_auth_code(
        &self,
        tx: &mut sqlx::PgConnection,
        user_id: Uuid,
        challenge: &Challenge,
        authentication_method: &str,
        pending_identity: Option<&serde_json::Value>,
    ) -> Result<Secret> {
        self.insert_auth_code(
            tx,
            user_id,
            challenge,
            authentication_method,
            pending_identity,
            None,
        )
        .await
    }

    /// [`Self::issue_auth_code`] for a code whose session starts at aal2, raised by `raised`
    /// (the `amr` method and factor of the session it is handed out from).
    pub(crate) async fn issue_raised_auth_code(
        &self,
        tx: &mut sqlx::PgConnection,
        user_id: Uuid,
        challenge: &Challenge,
        authentication_method: &str,
        raised: (&str, Option<Uuid>),
    ) -> Result<Secret> {
        self.insert_auth_code(
            tx,
            user_id,
            challenge,
            authentication_method,
            None,
            Some(raised),
        )
        .await
    }

    async fn insert_auth_code(
        &self,
        tx: &mut sqlx::PgConnection,
        user_id: Uuid,
        challenge: &Challenge,
        authentication_method: &str,
        pending_identity: Option<&serde_json::Value>,
        raised: Option<(&str, Option<Uuid>)>,
    ) -> Result<Secret> {
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let code = B64.encode(bytes);
        store::auth_codes::insert(
            &mut *tx,
            &store::auth_codes::NewAuthCode {
                code_hash: &code_hash(&code),
                user_id,
                code_challenge: &challenge.challenge,
                code_challenge_method: &challenge.method,
                authentication_method,
                pending_identity,
                ttl: CODE_TTL,
                raised,
            },
        )
        .await?;
        Ok(Secret::new(code))
    }

    /// `POST /token?grant_type=pkce`: exchanges an authorization code and its verifier for a
    /// session. A code works once, for five minutes.
    pub async fn exchange_auth_code(
        &self,
        auth_code: &str,
        code_verifier: &str,
        client: &Client,
    ) -> Result<Session> {
        let invalid = || {
            Error::new(
                Code::FlowStateNotFound,
                "invalid flow state, no valid flow state found",
            )
        };
        let mut tx = self.pool.begin().await?;
        let found = store::auth_codes::take(&mut *tx, &code_hash(auth_code.trim()))
            .await?
            .ok_or_else(invalid)?;
        let challenge = Challenge {
            challenge: found.code_challenge,
            method: found.code_challenge_method,
        };
        if !found.live {
            tx.commit().await?;
            return Err(Error::new(
                Code::FlowStateExpired,
                "the authorization code has expired",
            ));
        }
        if !challenge.is_answered_by(code_verifier) {
            tx.commit().await?;
            return Err(Error::new(
                Code::BadCodeVerifier,
                "code challenge does not match previously saved code verifier",
            ));
        }
        let user = store::users::find_by_id(&mut *tx, found.user_id)
            .await?
            .ok_or_else(invalid)?;
        if !user.is_active(chrono::Utc::now()) {
            return Err(Error::user_banned_grant());
        }
        let user = match found.pending_identity {
            Some(pending) => self.link_pending(&mut tx, user.id, pending, client).await?,
            None => user,
        };
        let method = found.authentication_method.as_str();
        let mut session = self.open_session_for(&mut tx, user, client, method).await?;
        if let Some(by) = &found.raised_by {
            session = self
                .raise_opened(&mut tx, session, found.raised_factor_id, by)
                .await?;
        }
        tx.commit().await?;
        session.finish(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_and_plain_challenges() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let c = Challenge::from_request(
            Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
            Some("S256".into()),
        )
        .unwrap()
        .unwrap();
        assert!(c.is_answered_by(verifier));
        assert!(!c.is_answered_by("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx"));
        let plain = Challenge::from_request(Some(verifier.into()), None)
            .unwrap()
            .unwrap();
        assert!(plain.is_answered_by(verifier));
        assert!(Challenge::from_request(Some("short".into()), None).is_err());
        assert!(Challenge::from_request(Some(verifier.into()), Some("md5".into())).is_err());
        assert!(Challenge::from_request(None, Some("s256".into()))
            .unwrap()
            .is_none());
    }
}
