//! This server as an OAuth 2.1 / OpenID Connect provider: third-party applications (clients)
//! sign users in through it, in Supabase Auth's shapes. Off unless `AUTH_OAUTH_SERVER`.

pub mod clients;

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
    },
};

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
        params: clients::ClientParams,
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
