//! This server as an OAuth 2.1 / OpenID Connect provider for third-party applications.

use std::time::Duration;

use clap::Args;

use super::parse_duration;

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "OAuth 2.1 provider")]
pub struct OAuthServerArgs {
    /// Let third-party applications (OAuth clients, registered by an administrator) sign users
    /// in through this server; off by default, as in Supabase Auth. Off, every OAuth-server
    /// route answers 404 `feature_disabled`.
    #[arg(long, env = "AUTH_OAUTH_SERVER")]
    pub oauth_server: bool,

    /// Let applications register themselves (RFC 7591, `POST /oauth/clients/register`), as
    /// MCP clients do; off by default. Needs AUTH_OAUTH_SERVER.
    #[arg(long, env = "AUTH_OAUTH_DYNAMIC_REGISTRATION")]
    pub oauth_dynamic_registration: bool,

    /// Dynamic registrations allowed per client address and hour (`0`: no limit); kept in
    /// PostgreSQL, shared by every instance.
    #[arg(long, env = "AUTH_RATE_LIMIT_OAUTH_REGISTRATION", default_value_t = 10)]
    pub rate_limit_oauth_registration: u32,

    /// Authorization requests (`GET /oauth/authorize`) allowed per client address and minute
    /// (`0`: no limit); kept in PostgreSQL, shared by every instance.
    #[arg(long, env = "AUTH_RATE_LIMIT_OAUTH_AUTHORIZE", default_value_t = 30)]
    pub rate_limit_oauth_authorize: u32,

    /// Where users consent to an application's request: the app's own page, which reads
    /// `?authorization_id=` and answers through `/oauth/authorizations/{id}`. Unset: the hosted
    /// consent page (`/ui/oauth/consent`).
    #[arg(long, env = "AUTH_OAUTH_AUTHORIZATION_URL")]
    pub oauth_authorization_url: Option<String>,

    /// How long an authorization request may wait for the user's answer.
    #[arg(long, env = "AUTH_OAUTH_AUTHORIZATION_TTL", default_value = "10m", value_parser = parse_duration)]
    pub oauth_authorization_ttl: Duration,
}

impl OAuthServerArgs {
    /// Users must have somewhere to consent: the hosted pages, or the app's own page.
    pub fn validate(&self, pages_off: bool) -> anyhow::Result<()> {
        anyhow::ensure!(
            !(self.oauth_server && pages_off && self.oauth_authorization_url.is_none()),
            "AUTH_OAUTH_SERVER with AUTH_DISABLE_UI needs AUTH_OAUTH_AUTHORIZATION_URL (the app's consent page)"
        );
        if let Some(url) = &self.oauth_authorization_url {
            let parsed = url::Url::parse(url);
            anyhow::ensure!(
                parsed.is_ok_and(|u| matches!(u.scheme(), "http" | "https")),
                "AUTH_OAUTH_AUTHORIZATION_URL must be an http(s) URL"
            );
        }
        Ok(())
    }
}
