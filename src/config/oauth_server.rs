//! This server as an OAuth 2.1 / OpenID Connect provider for third-party applications.

use clap::Args;

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "OAuth 2.1 provider")]
pub struct OAuthServerArgs {
    /// Let third-party applications (OAuth clients, registered by an administrator) sign users
    /// in through this server; off by default, as in Supabase Auth. Off, every OAuth-server
    /// route answers 404 `feature_disabled`.
    #[arg(long, env = "AUTH_OAUTH_SERVER")]
    pub oauth_server: bool,
}
