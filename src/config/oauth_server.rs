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

    /// Where users consent to an application's request: the app's own page, which reads
    /// `?authorization_id=` and answers through `/oauth/authorizations/{id}`. Unset: the hosted
    /// consent page (`/ui/oauth/consent`).
    #[arg(long, env = "AUTH_OAUTH_AUTHORIZATION_URL")]
    pub oauth_authorization_url: Option<String>,

    /// How long an authorization request may wait for the user's answer.
    #[arg(long, env = "AUTH_OAUTH_AUTHORIZATION_TTL", default_value = "10m", value_parser = parse_duration)]
    pub oauth_authorization_ttl: Duration,
}
