//! The refresh-token cookie for browsers.

use clap::{Args, ValueEnum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Refresh-token cookie")]
pub struct CookieArgs {
    /// Also set the refresh token as an HttpOnly, Secure, SameSite cookie (for browsers);
    /// a refresh request without a token in its body then uses the cookie.
    #[arg(long, env = "AUTH_REFRESH_TOKEN_COOKIE")]
    pub refresh_token_cookie: bool,

    /// Name of the refresh-token cookie. The `__Host-` prefix makes browsers refuse a cookie
    /// of that name set by any other host (a sibling subdomain cannot plant one); it needs
    /// `Path=/` and no `Domain`.
    #[arg(
        long,
        env = "AUTH_REFRESH_TOKEN_COOKIE_NAME",
        default_value = "__Host-hja_refresh_token"
    )]
    pub refresh_token_cookie_name: String,

    /// `Path` of the refresh-token cookie (`/` with a `__Host-` name; otherwise the path
    /// refresh requests go to, such as `/token`, or Hasura's `/v1/graphql` when refreshing
    /// through actions).
    #[arg(long, env = "AUTH_REFRESH_TOKEN_COOKIE_PATH", default_value = "/")]
    pub refresh_token_cookie_path: String,

    /// `SameSite` of the refresh-token cookie.
    #[arg(
        long,
        env = "AUTH_REFRESH_TOKEN_COOKIE_SAMESITE",
        value_enum,
        default_value = "strict"
    )]
    pub refresh_token_cookie_samesite: SameSite,

    /// `Domain` of the refresh-token cookie (default: none, the host only).
    #[arg(long, env = "AUTH_REFRESH_TOKEN_COOKIE_DOMAIN")]
    pub refresh_token_cookie_domain: Option<String>,
}

impl CookieArgs {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.refresh_token_cookie_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                && !self.refresh_token_cookie_name.is_empty(),
            "AUTH_REFRESH_TOKEN_COOKIE_NAME may only hold letters, digits, '-', '_' and '.'"
        );
        anyhow::ensure!(
            self.refresh_token_cookie_path.starts_with('/')
                && !self.refresh_token_cookie_path.contains(';'),
            "AUTH_REFRESH_TOKEN_COOKIE_PATH must be a path starting with /"
        );
        if self.refresh_token_cookie_name.starts_with("__Host-") {
            anyhow::ensure!(
                self.refresh_token_cookie_path == "/" && self.refresh_token_cookie_domain.is_none(),
                "AUTH_REFRESH_TOKEN_COOKIE_NAME starts with __Host-, which browsers only accept \
                 with Path=/ and no Domain: keep AUTH_REFRESH_TOKEN_COOKIE_PATH=/ and no \
                 AUTH_REFRESH_TOKEN_COOKIE_DOMAIN, or choose another name (such as \
                 __Secure-hja_refresh_token)"
            );
        }
        Ok(())
    }
}
