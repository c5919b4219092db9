//! Passkeys (WebAuthn): the relying party the browser binds credentials to.

use clap::Args;

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Passkeys (WebAuthn)")]
pub struct WebauthnArgs {
    /// The relying party id passkeys are bound to: a domain, the app's or a parent of it
    /// (`example.com`). Passkeys are off without it.
    #[arg(long, env = "AUTH_WEBAUTHN_RP_ID")]
    pub webauthn_rp_id: Option<String>,

    /// The name browsers show for the relying party; default: AUTH_UI_APP_NAME.
    #[arg(long, env = "AUTH_WEBAUTHN_RP_NAME")]
    pub webauthn_rp_name: Option<String>,

    /// The origins (scheme, host, port) whose pages may use passkeys, comma-separated; each
    /// must be the relying party id or a subdomain of it. Default: the origins of
    /// AUTH_SITE_URL and AUTH_PUBLIC_URL.
    #[arg(long, env = "AUTH_WEBAUTHN_ORIGINS", value_delimiter = ',')]
    pub webauthn_origins: Vec<String>,
}
