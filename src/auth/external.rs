//! Sign-in with external identity providers: the OAuth 2.0 authorization-code flow with
//! PKCE towards any OpenID Connect provider (`oidc.rs`, by `openidconnect`) or GitHub
//! (`github.rs`), and sign-in with an ID token a native app obtained itself.
//!
//! Linking: a known identity signs its user in. A new one is linked to the user whose address
//! it carries only when the provider asserts that address as verified (linking on an
//! unverified address would hand over the account); otherwise a new user is created, unless
//! the address already has an account, which is refused. A signed-in user can link more
//! providers and unlink them (never the last way to sign in).

mod flow;
pub use flow::{link_needs_pkce, StartExternal};
pub mod github;
mod link;
pub mod oidc;
pub mod vault;

use std::{collections::HashMap, sync::Arc, time::Duration};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use rand::{rngs::OsRng, RngCore};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{
    config::{Config, ProviderArgs},
    error::{Code, Error, Result},
    secret::Secret,
};

/// How long a browser has between `/authorize` and `/callback`.
pub const STATE_TTL: Duration = Duration::from_secs(600);

/// Who the provider says the user is.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ExternalUser {
    pub provider: String,
    /// The user's id at the provider.
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    /// What becomes `identity_data`.
    pub data: Value,
    /// The provider's tokens (kept only with `AUTH_PROVIDER_TOKENS_KEY`; never serialized).
    #[serde(skip)]
    pub tokens: Option<vault::ProviderTokens>,
}

/// A configured provider.
#[derive(Debug)]
pub enum Provider {
    Oidc(Box<oidc::OidcProvider>),
    GitHub(github::GitHubProvider),
}

/// The configured providers, by name.
#[derive(Debug, Clone, Default)]
pub struct Providers {
    by_name: Arc<HashMap<String, Provider>>,
    http: openidconnect::reqwest::Client,
    /// `<AUTH_PUBLIC_URL>/callback`.
    pub callback_url: String,
    /// With `AUTH_PROVIDER_TOKENS_KEY`: provider tokens are kept, encrypted with it.
    pub vault: Option<vault::Vault>,
}

impl Providers {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let p = &config.providers;
        let by_name = configured(p);
        let http = openidconnect::reqwest::ClientBuilder::new()
            // Following redirects would open the door to server-side request forgery.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            by_name: Arc::new(by_name),
            http,
            callback_url: format!("{}/callback", config.public_url()),
            vault: p
                .tokens_key_bytes()?
                .map(|key| vault::Vault::new(&key))
                .transpose()?,
        })
    }

    /// The names of the enabled providers.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
        names.sort();
        names
    }

    fn get(&self, name: &str) -> Result<&Provider> {
        self.by_name.get(name).ok_or_else(|| {
            Error::validation_failed("Unsupported provider: provider is not enabled")
        })
    }
}

fn sha256(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Marks a provider failure as the provider's answer (a refused code, an ID token that does
/// not verify) rather than the provider being unreachable.
#[derive(Debug)]
pub struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the provider refused")
    }
}

impl std::error::Error for Refused {}

fn provider_down(e: anyhow::Error) -> Error {
    if e.chain().any(|c| c.is::<Refused>()) {
        tracing::info!(
            error = format!("{e:#}"),
            "identity provider refused the sign-in"
        );
        return Error::new(
            Code::ProviderFailed,
            "The identity provider refused the sign-in",
        );
    }
    tracing::warn!(error = format!("{e:#}"), "identity provider failed");
    Error::new(
        Code::ProviderUnavailable,
        "The identity provider could not be reached",
    )
}

/// A new browser-binding secret (the value of the state cookie).
pub fn new_browser_secret() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    B64.encode(bytes)
}

/// Where a browser is sent, and what the callback needs to finish.
pub struct Started {
    pub url: String,
    pub state: String,
    /// Empty for providers without ID tokens.
    pub nonce: String,
    pub pkce_verifier: String,
}

/// What `/callback` gives.
pub enum ExternalOutcome {
    Session {
        session: Box<super::Session>,
        redirect_to: String,
    },
    Code {
        code: Secret,
        redirect_to: String,
    },
}

/// The providers the settings enable, by name.
fn configured(p: &ProviderArgs) -> HashMap<String, Provider> {
    let mut by_name = HashMap::new();

    let oidc = |name: &str, issuer: String, id: &str, secret: &Secret, scopes: Vec<String>| {
        Provider::Oidc(Box::new(oidc::OidcProvider::new(
            name.to_owned(),
            issuer,
            id.to_owned(),
            secret.clone(),
            scopes,
        )))
    };
    let default_scopes = || vec!["email".to_owned(), "profile".to_owned()];
    for c in p.oidc_providers.iter().flat_map(|l| l.0.iter()) {
        let scopes = c.scopes.clone().unwrap_or_else(default_scopes);
        let mut provider = oidc(
            &c.name,
            c.issuer.clone(),
            &c.client_id,
            &c.client_secret,
            scopes,
        );
        if let Provider::Oidc(p) = &mut provider {
            p.native_client_ids = c.client_ids.clone();
        }
        by_name.insert(c.name.clone(), provider);
    }
    if let (Some(id), Some(secret)) = (&p.google_client_id, &p.google_client_secret) {
        let issuer = "https://accounts.google.com".to_owned();
        by_name.insert(
            "google".into(),
            oidc("google", issuer, id, secret, default_scopes()),
        );
    }
    if let (Some(id), Some(secret), Some(tenant)) =
        (&p.azure_client_id, &p.azure_client_secret, &p.azure_tenant)
    {
        let issuer = format!("https://login.microsoftonline.com/{tenant}/v2.0");
        by_name.insert(
            "azure".into(),
            oidc("azure", issuer, id, secret, default_scopes()),
        );
    }
    if let (Some(id), Some(secret)) = (&p.github_client_id, &p.github_client_secret) {
        by_name.insert(
            "github".into(),
            Provider::GitHub(github::GitHubProvider::new(
                id.clone(),
                secret.clone(),
                p.github_url.clone(),
                p.github_api_url.clone(),
            )),
        );
    }
    by_name
}
