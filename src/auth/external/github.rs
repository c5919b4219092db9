//! GitHub: plain OAuth 2.0 (no ID token), so the user comes from its API: `GET /user` for the
//! account and `GET /user/emails` for which addresses GitHub has verified. The protocol work
//! (authorization URL, PKCE, code exchange) is done by `oauth2`.

use anyhow::{bail, Context};
use oauth2::{
    basic::BasicClient, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use serde::Deserialize;
use serde_json::json;

use super::{ExternalUser, Refused, Started};
use crate::secret::Secret;

/// The GitHub preset (github.com or a GitHub Enterprise Server).
#[derive(Debug)]
pub struct GitHubProvider {
    client_id: String,
    client_secret: Secret,
    /// `https://github.com`, or the Enterprise server.
    web_url: String,
    /// `https://api.github.com`, or `<server>/api/v3`.
    api_url: String,
}

#[derive(Deserialize)]
struct GitHubUser {
    id: i64,
    login: String,
    name: Option<String>,
    avatar_url: Option<String>,
}

#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

impl GitHubProvider {
    pub fn new(client_id: String, client_secret: Secret, web_url: String, api_url: String) -> Self {
        Self {
            client_id,
            client_secret,
            web_url: web_url.trim_end_matches('/').to_owned(),
            api_url: api_url.trim_end_matches('/').to_owned(),
        }
    }

    fn client(
        &self,
        redirect_uri: &str,
    ) -> anyhow::Result<
        BasicClient<
            oauth2::EndpointSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointSet,
        >,
    > {
        Ok(BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.client_secret.expose().to_owned()))
            .set_auth_uri(AuthUrl::new(format!(
                "{}/login/oauth/authorize",
                self.web_url
            ))?)
            .set_token_uri(TokenUrl::new(format!(
                "{}/login/oauth/access_token",
                self.web_url
            ))?)
            .set_redirect_uri(RedirectUrl::new(redirect_uri.to_owned())?))
    }

    /// The authorization URL with a new `state` and PKCE challenge (GitHub has no nonce).
    pub fn start(&self, redirect_uri: &str, extra_scopes: &[String]) -> anyhow::Result<Started> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let client = self.client(redirect_uri)?;
        let mut request = client
            .authorize_url(CsrfToken::new_random)
            .set_pkce_challenge(challenge)
            .add_scope(Scope::new("read:user".into()))
            .add_scope(Scope::new("user:email".into()));
        for scope in extra_scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state) = request.url();
        Ok(Started {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: String::new(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the code, then reads the user and their verified addresses from the API.
    pub async fn finish(
        &self,
        http: &oauth2::reqwest::Client,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
    ) -> anyhow::Result<ExternalUser> {
        let token =
            self.client(redirect_uri)?
                .exchange_code(AuthorizationCode::new(code.to_owned()))
                .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
                .request_async(http)
                .await
                .map_err(|e| match e {
                    // GitHub refuses a code with 200 and `{"error": …}`, which is no token response.
                    oauth2::RequestTokenError::Parse(parse, _) => anyhow::Error::new(Refused)
                        .context(format!("GitHub refused the code: {parse}")),
                    other => super::oidc::exchange_error(other),
                })?;
        let access = token.access_token().secret();
        let user: GitHubUser = self.get(http, access, "/user").await?;
        let emails: Vec<GitHubEmail> = self.get(http, access, "/user/emails").await?;
        // The primary address if verified, else any verified one; an unverified address is
        // kept for the record but never trusted.
        let chosen = emails
            .iter()
            .filter(|e| e.verified)
            .max_by_key(|e| e.primary)
            .or_else(|| emails.iter().find(|e| e.primary));
        let email = chosen.map(|e| e.email.clone());
        let email_verified = chosen.is_some_and(|e| e.verified);
        let subject = user.id.to_string();
        let data = json!({
            "iss": self.api_url,
            "sub": subject,
            "provider_id": subject,
            "user_name": user.login,
            "preferred_username": user.login,
            "name": user.name,
            "full_name": user.name,
            "avatar_url": user.avatar_url,
            "email": email,
            "email_verified": email_verified,
        });
        Ok(ExternalUser {
            provider: "github".to_owned(),
            subject,
            email,
            email_verified,
            data,
            tokens: Some(super::vault::ProviderTokens {
                access_token: Secret::new(access.clone()),
                refresh_token: token
                    .refresh_token()
                    .map(|t| Secret::new(t.secret().clone())),
                expires_at: token
                    .expires_in()
                    .and_then(|d| chrono::Duration::from_std(d).ok())
                    .map(|d| chrono::Utc::now() + d),
            }),
        })
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        http: &oauth2::reqwest::Client,
        access_token: &str,
        path: &str,
    ) -> anyhow::Result<T> {
        let response = http
            .get(format!("{}{path}", self.api_url))
            .bearer_auth(access_token)
            .header("accept", "application/vnd.github+json")
            .header("user-agent", "hasura-jwt-auth")
            .send()
            .await
            .with_context(|| format!("GitHub API {path}"))?;
        if response.status().is_client_error() {
            return Err(anyhow::Error::new(Refused)
                .context(format!("GitHub API {path} answered {}", response.status())));
        }
        if !response.status().is_success() {
            bail!("GitHub API {path} answered {}", response.status());
        }
        let body = response.bytes().await.context("GitHub API body")?;
        serde_json::from_slice(&body)
            .with_context(|| format!("GitHub API {path}: unexpected shape"))
    }
}
