//! This server as an OAuth 2.1 / OpenID Connect provider: third-party applications (clients)
//! sign users in through it, in Supabase Auth's shapes. Off unless `AUTH_OAUTH_SERVER`.

pub mod authorize;
pub mod clients;
mod consent;
mod exchange;
pub mod grants;
pub mod token;

pub use authorize::{Authorize, AuthorizeRequest};
pub use consent::{Details, Request};
pub use exchange::CodeExchange;

use serde_json::json;

use super::Auth;
use crate::{
    client::Client,
    config::Config,
    error::{Code, Error, Result},
    secret::Secret,
    store::{
        audit::{self, event},
        oauth_clients::OAuthClient,
        users::User,
    },
};

/// The scopes a client may ask for. Without `scope`, a request gets `email`, as in Supabase
/// Auth.
pub const SCOPES: [&str; 4] = ["openid", "email", "profile", "offline_access"];
const DEFAULT_SCOPE: &str = "email";

/// The scopes of a `scope` parameter (space-separated, each once, in order); `Err` with the
/// first one not offered.
pub fn parse_scopes(scope: Option<&str>) -> std::result::Result<Vec<String>, String> {
    let mut scopes: Vec<String> = Vec::new();
    for s in scope
        .unwrap_or(DEFAULT_SCOPE)
        .split(' ')
        .filter(|s| !s.is_empty())
    {
        if !SCOPES.contains(&s) {
            return Err(s.to_owned());
        }
        if !scopes.iter().any(|have| have == s) {
            scopes.push(s.to_owned());
        }
    }
    if scopes.is_empty() {
        scopes.push(DEFAULT_SCOPE.to_owned());
    }
    Ok(scopes)
}

/// The Hasura roles a client granted `granted` (`None`: the default role) gets of `user`'s.
pub fn token_roles(granted: Option<&[String]>, user: &User) -> Vec<String> {
    match granted {
        None => vec![user.default_role.clone()],
        Some(roles) => roles
            .iter()
            .filter(|r| user.allowed_roles.contains(r))
            .cloned()
            .collect(),
    }
}

/// Where the hosted consent page is, under the public URL.
pub const HOSTED_CONSENT_PATH: &str = "/ui/oauth/consent";

impl Auth {
    /// The client's redirect with an RFC 6749 §4.1.2.1 error, its `state` and our `iss`
    /// (RFC 9207).
    fn error_redirect(
        &self,
        redirect_uri: &str,
        state: Option<&str>,
        error: &str,
        description: &str,
    ) -> String {
        let mut params = vec![
            ("error", error),
            ("error_description", description),
            ("iss", self.tokens.issuer.as_str()),
        ];
        if let Some(state) = state {
            params.push(("state", state));
        }
        with_params(redirect_uri, &params)
    }
}

/// `uri` with `params` added to its query (a redirect URI may have a query of its own).
pub fn with_params(uri: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(params);
            url.to_string()
        }
        Err(_) => uri.to_owned(),
    }
}

/// 404 `feature_disabled` unless the OAuth server is on (Supabase Auth's answer).
pub fn require_enabled(config: &Config) -> Result<()> {
    if config.oauth_server.oauth_server {
        return Ok(());
    }
    Err(Error::new(
        Code::FeatureDisabled,
        "OAuth server is disabled",
    ))
}

impl Auth {
    /// `POST /oauth/clients/register` (RFC 7591): an application registers itself, as MCP
    /// clients do (`registration_type` `dynamic`). Off unless
    /// `AUTH_OAUTH_DYNAMIC_REGISTRATION` (403); counted per client address and hour.
    pub async fn register_oauth_client(
        &self,
        mut params: clients::ClientParams,
        client: &Client,
    ) -> Result<(OAuthClient, Option<Secret>)> {
        require_enabled(&self.config)?;
        if !self.config.oauth_server.oauth_dynamic_registration {
            return Err(Error::new(
                Code::OAuthDynamicClientRegistrationDisabled,
                "Dynamic client registration is disabled",
            ));
        }
        self.limits.oauth_registration.check(client).await?;
        // Roles are an administrator's to give: a client that registers itself gets the
        // user's default role only.
        params.allowed_roles = None;
        let checked = clients::check_new(params)?;
        let mut tx = self.pool.begin().await?;
        let (registered, secret) = clients::store_new(&mut tx, &checked, "dynamic").await?;
        let detail = json!({"client_id": registered.id, "client_name": registered.client_name,
                            "registration_type": "dynamic"});
        audit::record(
            &mut *tx,
            event::OAUTH_CLIENT_CREATED,
            None,
            None,
            client,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok((registered, secret))
    }
}
