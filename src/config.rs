//! Typed settings. Every setting is a command-line flag with an `AUTH_*` environment variable;
//! `--help` documents them all, grouped by concern (one struct per group below). Values are
//! checked when the server starts, and an invalid one stops it with a message that names the
//! setting and what it accepts.

mod accounts;
mod anonymous;
mod cookie;
mod db;
mod hasura;
mod keys;
mod mail;
mod mfa;
mod oauth_server;
mod organizations;
mod parse;
mod providers;
mod server;
mod tokens;
mod ui;
mod webauthn;

pub use accounts::{AccountArgs, PasswordArgs, MAX_PASSWORD_CHARS};
pub use anonymous::AnonymousArgs;
pub use cookie::{CookieArgs, SameSite};
pub use db::DbArgs;
pub use hasura::{ddn_dates, ClaimsFormat, HasuraArgs, SessionValues, DEFAULT_CLAIMS_NAMESPACE};
pub use keys::{JwtAlgorithm, KeyArgs};
pub use mail::{MailArgs, SmtpTls};
pub use mfa::{MfaArgs, MfaRequired};
pub use oauth_server::OAuthServerArgs;
pub use organizations::OrganizationArgs;
pub use parse::{key_bytes, parse_duration, parse_optional_duration, parse_role, OptionalDuration};
pub use providers::{OidcProviderConfig, OidcProviders, ProviderArgs};
pub use server::{LogFormat, ServerArgs};
pub use tokens::{SessionArgs, TokenArgs};
pub use ui::UiArgs;
pub use webauthn::WebauthnArgs;

use std::time::Duration;

use clap::{Args, Parser};

/// `aud` of users in API responses when `AUTH_JWT_AUDIENCE` is unset (Supabase Auth's value).
pub const DEFAULT_USER_AUDIENCE: &str = "authenticated";

/// Every setting of the server.
#[derive(Args, Clone, Debug)]
pub struct Config {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub keys: KeyArgs,
    #[command(flatten)]
    pub tokens: TokenArgs,
    #[command(flatten)]
    pub sessions: SessionArgs,
    #[command(flatten)]
    pub accounts: AccountArgs,
    #[command(flatten)]
    pub passwords: PasswordArgs,
    #[command(flatten)]
    pub hasura: HasuraArgs,
    #[command(flatten)]
    pub cookie: CookieArgs,
    #[command(flatten)]
    pub mail: MailArgs,
    #[command(flatten)]
    pub providers: ProviderArgs,
    #[command(flatten)]
    pub ui: UiArgs,
    #[command(flatten)]
    pub mfa: MfaArgs,
    #[command(flatten)]
    pub webauthn: WebauthnArgs,
    #[command(flatten)]
    pub anonymous: AnonymousArgs,
    #[command(flatten)]
    pub oauth_server: OAuthServerArgs,
    #[command(flatten)]
    pub organizations: OrganizationArgs,
}

#[derive(Parser)]
#[command(no_binary_name = true)]
struct ConfigOnly {
    #[command(flatten)]
    config: Config,
}

impl Config {
    /// Parses settings from flags (and the environment), as `serve` does. For tests and tools.
    pub fn from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        ConfigOnly::try_parse_from(args).map(|c| c.config)
    }

    /// The clap definition of every setting (for `--help` checks and docs).
    pub fn command() -> clap::Command {
        use clap::CommandFactory;
        ConfigOnly::command()
    }

    /// Checks the settings that clap cannot check alone.
    pub fn validate(&self) -> anyhow::Result<()> {
        use anyhow::ensure;
        self.server.validate()?;
        self.accounts.validate()?;
        self.passwords.validate()?;
        self.cookie.validate()?;
        self.mail.validate()?;
        self.providers.validate()?;
        self.ui.validate()?;
        self.mfa.validate(&self.accounts.default_role)?;
        self.organizations.validate()?;
        self.oauth_server.validate(self.ui.disable_ui)?;
        ensure!(
            self.tokens.access_token_ttl >= Duration::from_secs(10),
            "AUTH_ACCESS_TOKEN_TTL must be at least 10 seconds"
        );
        // Beyond a century, `now() - interval` leaves PostgreSQL's timestamp range.
        const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
        for (name, limit) in [
            (
                "AUTH_SESSION_IDLE_TIMEOUT",
                self.sessions.session_idle_timeout.0,
            ),
            (
                "AUTH_SESSION_MAX_LIFETIME",
                self.sessions.session_max_lifetime.0,
            ),
        ] {
            ensure!(
                limit.is_none_or(|d| d <= CENTURY),
                "{name} must be at most 100 years (or off)"
            );
        }
        ensure!(
            !self.hasura.hasura_claims_namespace.is_empty(),
            "AUTH_HASURA_CLAIMS_NAMESPACE must not be empty"
        );
        for (name, secret) in [
            ("AUTH_ADMIN_SECRET", &self.server.admin_secret),
            (
                "AUTH_HASURA_ACTIONS_SECRET",
                &self.hasura.hasura_actions_secret,
            ),
        ] {
            if let Some(secret) = secret {
                ensure!(
                    secret.expose().len() >= 32,
                    "{name} must be at least 32 bytes (generate one with: openssl rand -hex 32)"
                );
            }
        }
        Ok(())
    }

    /// Public base URL without a trailing slash.
    pub fn public_url(&self) -> String {
        self.server.public_url()
    }

    /// `iss` of access tokens.
    pub fn issuer(&self) -> String {
        self.tokens
            .jwt_issuer
            .clone()
            .unwrap_or_else(|| self.public_url())
    }

    /// The app's URL, where email links lead: AUTH_SITE_URL, else the public URL.
    pub fn site_url(&self) -> String {
        self.mail
            .site_url
            .clone()
            .unwrap_or_else(|| self.public_url())
    }

    /// `aud` of users in API responses: the access tokens' audience, else `authenticated`.
    pub fn user_audience(&self) -> &str {
        self.tokens
            .jwt_audience
            .as_deref()
            .unwrap_or(DEFAULT_USER_AUDIENCE)
    }

    /// Where email links and external sign-ins may lead besides the site URL:
    /// `AUTH_REDIRECT_URLS`, and the hosted pages (a recovery link lands on their "set a new
    /// password" page).
    pub fn redirect_urls(&self) -> Vec<String> {
        let mut urls = self.mail.redirect_urls.clone();
        if !self.ui.disable_ui {
            urls.push(format!("{}/ui/**", self.public_url()));
        }
        urls
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_falls_back_to_database_url() {
        let explicit = Config::from_args(["--database-url", "postgres://a@h/x"]).unwrap();
        assert_eq!(explicit.db.url().unwrap().expose(), "postgres://a@h/x");
        let fallback = Config::from_args(Vec::<&str>::new()).unwrap();
        // DATABASE_URL is what `cargo test` sets (.cargo/config.toml) or the caller exported.
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => assert_eq!(fallback.db.url().unwrap().expose(), url),
            _ => assert!(fallback
                .db
                .url()
                .unwrap_err()
                .to_string()
                .contains("AUTH_DATABASE_URL")),
        }
    }

    #[test]
    fn user_audience_defaults_to_authenticated() {
        let config = Config::from_args(Vec::<&str>::new()).unwrap();
        assert_eq!(config.user_audience(), "authenticated");
        let config = Config::from_args(["--jwt-audience", "my-app"]).unwrap();
        assert_eq!(config.user_audience(), "my-app");
    }
}
