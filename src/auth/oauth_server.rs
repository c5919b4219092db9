//! This server as an OAuth 2.1 / OpenID Connect provider: third-party applications (clients)
//! sign users in through it, in Supabase Auth's shapes. Off unless `AUTH_OAUTH_SERVER`.

pub mod clients;

use crate::{
    config::Config,
    error::{Code, Error, Result},
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
