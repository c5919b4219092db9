//! External identity providers: any OpenID Connect provider, plus presets.

use clap::Args;
use serde::Deserialize;

use crate::secret::Secret;

/// One OpenID Connect provider of `AUTH_OIDC_PROVIDERS`.
#[derive(Clone, Debug, Deserialize)]
pub struct OidcProviderConfig {
    /// The name clients use (`provider=…`): letters, digits, `-`, `_`.
    pub name: String,
    /// Issuer URL; its `/.well-known/openid-configuration` is read.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Scopes besides `openid` (default: `email`, `profile`).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Client ids of your native apps at this provider (iOS, Android) whose ID tokens
    /// `grant_type=id_token` accepts besides `client_id`'s.
    #[serde(default)]
    pub client_ids: Vec<String>,
}

/// `AUTH_OIDC_PROVIDERS`: a JSON list.
#[derive(Clone, Debug, Default)]
pub struct OidcProviders(pub Vec<OidcProviderConfig>);

fn parse_oidc_providers(s: &str) -> Result<OidcProviders, String> {
    let list: Vec<OidcProviderConfig> = serde_json::from_str(s).map_err(|e| {
        format!(
            "expected a JSON list of {{\"name\", \"issuer\", \"client_id\", \"client_secret\", \"scopes\"?}}: {e}"
        )
    })?;
    Ok(OidcProviders(list))
}

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "External identity providers")]
pub struct ProviderArgs {
    /// OpenID Connect providers, as a JSON list of
    /// `{"name", "issuer", "client_id", "client_secret", "scopes"?, "client_ids"?}`. Register
    /// `<AUTH_PUBLIC_URL>/callback` as the redirect URI at each.
    #[arg(long, env = "AUTH_OIDC_PROVIDERS", value_parser = parse_oidc_providers, hide_env_values = true)]
    pub oidc_providers: Option<OidcProviders>,

    /// Google (an OpenID Connect preset): client id.
    #[arg(long, env = "AUTH_GOOGLE_CLIENT_ID")]
    pub google_client_id: Option<String>,

    /// Google: client secret.
    #[arg(long, env = "AUTH_GOOGLE_CLIENT_SECRET", hide_env_values = true)]
    pub google_client_secret: Option<Secret>,

    /// Microsoft Entra ID / Azure AD (an OpenID Connect preset): client id.
    #[arg(long, env = "AUTH_AZURE_CLIENT_ID")]
    pub azure_client_id: Option<String>,

    /// Microsoft Entra ID: client secret.
    #[arg(long, env = "AUTH_AZURE_CLIENT_SECRET", hide_env_values = true)]
    pub azure_client_secret: Option<Secret>,

    /// Microsoft Entra ID: the tenant (directory) id whose users may sign in.
    #[arg(long, env = "AUTH_AZURE_TENANT")]
    pub azure_tenant: Option<String>,

    /// GitHub (OAuth 2.0 with its user and emails APIs): client id.
    #[arg(long, env = "AUTH_GITHUB_CLIENT_ID")]
    pub github_client_id: Option<String>,

    /// GitHub: client secret.
    #[arg(long, env = "AUTH_GITHUB_CLIENT_SECRET", hide_env_values = true)]
    pub github_client_secret: Option<Secret>,

    /// GitHub's web URL (GitHub Enterprise Server: your server's).
    #[arg(long, env = "AUTH_GITHUB_URL", default_value = "https://github.com")]
    pub github_url: String,

    /// GitHub's API URL (GitHub Enterprise Server: `<server>/api/v3`).
    #[arg(
        long,
        env = "AUTH_GITHUB_API_URL",
        default_value = "https://api.github.com"
    )]
    pub github_api_url: String,

    /// Keep the providers' access and refresh tokens, encrypted (AES-256-GCM) with this key:
    /// 32 bytes in base64 (`openssl rand -base64 32`). Without it they are not stored.
    #[arg(long, env = "AUTH_PROVIDER_TOKENS_KEY", hide_env_values = true)]
    pub provider_tokens_key: Option<Secret>,
}

impl ProviderArgs {
    /// The bytes of `AUTH_PROVIDER_TOKENS_KEY`.
    pub fn tokens_key_bytes(&self) -> anyhow::Result<Option<Vec<u8>>> {
        self.provider_tokens_key
            .as_ref()
            .map(|key| super::parse::key_bytes(key, "AUTH_PROVIDER_TOKENS_KEY"))
            .transpose()
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        use anyhow::ensure;
        self.tokens_key_bytes()?;
        let mut names = Vec::new();
        if let Some(list) = &self.oidc_providers {
            for p in &list.0 {
                ensure!(
                    !p.name.is_empty()
                        && p.name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                    "AUTH_OIDC_PROVIDERS: provider name {:?} may only hold letters, digits, - and _",
                    p.name
                );
                ensure!(
                    p.issuer.starts_with("https://") || p.issuer.starts_with("http://"),
                    "AUTH_OIDC_PROVIDERS: the issuer of {} must be a URL",
                    p.name
                );
                names.push(p.name.clone());
            }
        }
        for (name, id, secret) in [
            (
                "google",
                &self.google_client_id,
                self.google_client_secret.is_some(),
            ),
            (
                "azure",
                &self.azure_client_id,
                self.azure_client_secret.is_some(),
            ),
            (
                "github",
                &self.github_client_id,
                self.github_client_secret.is_some(),
            ),
        ] {
            if id.is_some() {
                ensure!(secret, "the {name} client id needs its client secret too");
                names.push(name.to_owned());
            }
        }
        if self.azure_client_id.is_some() {
            ensure!(
                self.azure_tenant.is_some(),
                "AUTH_AZURE_TENANT is required with AUTH_AZURE_CLIENT_ID (the directory id)"
            );
        }
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        ensure!(
            sorted.len() == names.len(),
            "two providers have the same name"
        );
        Ok(())
    }
}
