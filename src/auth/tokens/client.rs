//! Tokens for OAuth clients: access tokens that say which client holds them (`client_id`,
//! `azp`), for what (`scope`) and for whom (`aud`: the resource named, RFC 8707, else the
//! usual audience), and OpenID Connect ID tokens. The user's claims that OpenID Connect scopes
//! release are made here too, for ID tokens and `/oauth/userinfo` alike.

use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::{AccessTokens, Issued};
use crate::{
    auth::{assurance::Assurance, claims::HasuraClaims},
    store::users::User,
};

/// What a client's session was granted.
pub struct ClientGrant<'a> {
    pub client_id: Uuid,
    pub scopes: &'a [String],
    pub resource: Option<&'a str>,
}

impl ClientGrant<'_> {
    fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// The user's claims that `scopes` release (OpenID Connect Core §5.4): `email` and
/// `email_verified` for `email`; `name`, `picture` and `updated_at` for `profile`, from the
/// user's metadata (`name` or `full_name`, `picture` or `avatar_url`).
pub fn user_claims(user: &User, scopes: &[String]) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("sub".into(), json!(user.id));
    let has = |s: &str| scopes.iter().any(|have| have == s);
    if has("email") && !user.email.is_empty() {
        out.insert("email".into(), json!(user.email));
        out.insert(
            "email_verified".into(),
            json!(user.email_confirmed_at.is_some()),
        );
    }
    if has("profile") {
        let meta = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| user.user_metadata.get(*k).and_then(Value::as_str))
                .map(str::to_owned)
        };
        if let Some(name) = meta(&["name", "full_name"]) {
            out.insert("name".into(), json!(name));
        }
        if let Some(picture) = meta(&["picture", "avatar_url"]) {
            out.insert("picture".into(), json!(picture));
        }
        out.insert("updated_at".into(), json!(user.updated_at.timestamp()));
    }
    out
}

impl AccessTokens {
    /// An access token of a client's session: the usual claims with the client's Hasura
    /// `claims`, plus `client_id`, `azp` and `scope`; the address only with the `email` scope.
    /// For a resource (other than `AUTH_JWT_AUDIENCE`), `aud` is the resource and there are
    /// no Hasura claims.
    pub fn issue_for_client(
        &self,
        claims: &HasuraClaims,
        user: &User,
        session_id: Uuid,
        assurance: &Assurance,
        grant: &ClientGrant<'_>,
    ) -> anyhow::Result<Issued> {
        let now = chrono::Utc::now().timestamp();
        let exp = now + self.ttl.as_secs() as i64;
        let email = if grant.has("email") {
            user.email.as_str()
        } else {
            ""
        };
        let mut payload = self.payload(
            claims,
            email,
            user.is_anonymous,
            session_id,
            assurance,
            now,
            exp,
        );
        if let Some(resource) = grant.resource {
            payload["aud"] = json!(resource);
            // A token for another API is no key to Hasura (nor to this server): the resource
            // must not pass it on (the MCP rule against token passthrough).
            if self.audience.as_deref() != Some(resource) {
                if let Some(claims) = payload.as_object_mut() {
                    claims.remove(&self.namespace);
                }
            }
        }
        payload["client_id"] = json!(grant.client_id);
        payload["azp"] = json!(grant.client_id);
        payload["scope"] = json!(grant.scopes.join(" "));
        self.sign(&payload, now, exp)
    }

    /// An OpenID Connect ID token for the client (`aud`), with the user's claims its scopes
    /// release, the request's `nonce` and when the user signed in (`auth_time`).
    pub fn id_token(
        &self,
        user: &User,
        session_id: Uuid,
        grant: &ClientGrant<'_>,
        nonce: Option<&str>,
        auth_time: Option<i64>,
    ) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let exp = now + self.ttl.as_secs() as i64;
        let mut payload = user_claims(user, grant.scopes);
        let client_id = grant.client_id.to_string();
        for (name, value) in [
            ("iss", json!(self.issuer)),
            ("aud", json!(client_id)),
            ("azp", json!(client_id)),
            ("iat", json!(now)),
            ("exp", json!(exp)),
            ("sid", json!(session_id)),
        ] {
            payload.insert(name.into(), value);
        }
        if let Some(nonce) = nonce {
            payload.insert("nonce".into(), json!(nonce));
        }
        if let Some(at) = auth_time {
            payload.insert("auth_time".into(), json!(at));
        }
        Ok(self.sign(&Value::Object(payload), now, exp)?.token)
    }
}
