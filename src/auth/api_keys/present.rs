//! A key presented: to the webhook (Hasura v2 and DDN's alternative mode), or exchanged at
//! `POST /token?grant_type=api_key` for a short-lived access token for Hasura's JWT mode.
//! Each presentation counts against the key's rate limit (`AUTH_API_KEY_RATE_LIMIT`).

use std::sync::Arc;

use chrono::Utc;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::decode;
use crate::{
    auth::{
        assurance::{Aal, Assurance},
        claims::{self, HasuraClaims},
        session_cache::{KeyGrant, LiveUser},
        tokens::Issued,
        Auth,
    },
    error::{Code, Error, Result},
    store,
};

/// The session variable naming the key a request came with.
pub const API_KEY_ID: &str = "x-hasura-api-key-id";

fn invalid_key() -> Error {
    Error::new(Code::InvalidApiKey, "Invalid API key")
}

impl Auth {
    /// The user of the presented key, which must be live (not revoked, rotated away or
    /// expired, its user active), within its rate limit.
    pub async fn authenticate_key(&self, presented: &str) -> Result<Arc<LiveUser>> {
        let (id, secret) = decode(presented).ok_or_else(invalid_key)?;
        let live = match self.session_cache.get_key(id) {
            Some(live) => live,
            None => self.load_key(id).await?.ok_or_else(invalid_key)?,
        };
        let grant = live.key().ok_or_else(invalid_key)?;
        let hash = crate::auth::email::sha256(&secret);
        if !bool::from(hash.as_slice().ct_eq(&grant.secret_hash)) {
            return Err(invalid_key());
        }
        if grant.expires_at.is_some_and(|at| at <= Utc::now()) {
            return Err(Error::new(Code::InvalidApiKey, "This API key has expired"));
        }
        if !live.is_active(Utc::now()) {
            return Err(Error::user_banned());
        }
        self.limits.api_key.check_api_key(id).await?;
        Ok(live)
    }

    /// Reads key `id` from the database, storing it in the session cache when it may.
    async fn load_key(&self, id: Uuid) -> Result<Option<Arc<LiveUser>>> {
        let epoch = self.session_cache.epoch();
        let Some(found) = store::api_keys::find_live(&self.pool, id).await? else {
            return Ok(None);
        };
        let custom = self.custom_claims(&self.pool, found.user.id).await?;
        let grant = KeyGrant {
            id,
            name: found.key_name,
            roles: found.key_roles,
            aal: Aal::from_level(found.key_aal),
            expires_at: found.expires_at,
            secret_hash: found.secret_hash,
            custom,
        };
        let live = Arc::new(LiveUser::of_key(found.user, found.org, grant));
        self.session_cache.store(id, &live, epoch);
        Ok(Some(live))
    }

    /// The default and allowed roles of a key's requests: the key's roles that its user still
    /// has (at the key's level, in its organization as the membership is now). 401 when none
    /// is left.
    pub fn key_roles<'a>(&'a self, live: &'a LiveUser) -> Result<(&'a str, Vec<&'a str>)> {
        let grant = live.key().ok_or_else(invalid_key)?;
        let (default, allowed) = self.session_roles(live, live.org(), grant.aal);
        let allowed: Vec<&str> = allowed
            .into_iter()
            .filter(|r| grant.roles.iter().any(|k| k == r))
            .collect();
        let default = match allowed.iter().find(|r| **r == default) {
            Some(r) => *r,
            None => *allowed.first().ok_or_else(|| {
                Error::new(
                    Code::InvalidApiKey,
                    "None of this API key's roles is the user's any more",
                )
            })?,
        };
        Ok((default, allowed))
    }

    /// The Hasura claims of a key's requests: its roles ([`Self::key_roles`]), the custom
    /// claims, the organization it acts in (while its user is a member) and the key's id.
    pub fn key_claims(&self, live: &LiveUser) -> Result<HasuraClaims> {
        let grant = live.key().ok_or_else(invalid_key)?;
        let (default, allowed) = self.key_roles(live)?;
        let mut custom = grant.custom.clone();
        // A key acting in an organization: its id is the live one (none once the user is no
        // longer a member), never a custom claim of that name.
        if live.org().id.is_some() {
            custom.remove(claims::ORG_ID);
        }
        if let Some((org, _)) = live.org().membership() {
            custom.insert(claims::ORG_ID.into(), Value::String(org.to_string()));
        }
        custom.insert(API_KEY_ID.into(), Value::String(grant.id.to_string()));
        Ok(HasuraClaims {
            user_id: live.id.to_string(),
            default_role: default.to_owned(),
            allowed_roles: allowed.into_iter().map(str::to_owned).collect(),
            aal: grant.aal,
            custom,
        })
    }

    /// `POST /token?grant_type=api_key`: a short-lived access token (no refresh token) with
    /// the key's claims, for Hasura's JWT mode. Its `sid` is the key's id; this server's own
    /// endpoints refuse it (a key is no session).
    pub async fn exchange_api_key(&self, presented: &str) -> Result<Issued> {
        let live = self.authenticate_key(presented).await?;
        let claims = self.key_claims(&live)?;
        let grant = live.key().ok_or_else(invalid_key)?;
        let assurance = Assurance {
            aal: grant.aal,
            amr: json!([{"method": "api_key", "timestamp": Utc::now().timestamp()}]),
        };
        let not_after = grant.expires_at.map(|at| at.timestamp());
        Ok(self
            .tokens
            .issue_until(&claims, &live.email, false, grant.id, &assurance, not_after)?)
    }
}
