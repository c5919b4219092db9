//! OpenID Connect providers (configured ones, Google, Microsoft): discovery, the
//! authorization URL, the code exchange and ID-token validation, all by `openidconnect`.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use anyhow::Context;
use openidconnect::{
    core::{CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreProviderMetadata},
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};

use super::{ExternalUser, Refused, Started};
use crate::secret::Secret;

/// How long discovered metadata (and the keys it points at) are reused.
const METADATA_TTL: Duration = Duration::from_secs(600);

/// One OpenID Connect provider.
#[derive(Debug)]
pub struct OidcProvider {
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub scopes: Vec<String>,
    metadata: Mutex<Option<(Instant, CoreProviderMetadata)>>,
}

impl OidcProvider {
    pub fn new(
        name: String,
        issuer: String,
        client_id: String,
        client_secret: Secret,
        scopes: Vec<String>,
    ) -> Self {
        Self {
            name,
            issuer,
            client_id,
            client_secret,
            scopes,
            metadata: Mutex::new(None),
        }
    }

    /// The provider's metadata: discovered (with its keys), then reused for ten minutes.
    async fn metadata(
        &self,
        http: &openidconnect::reqwest::Client,
    ) -> anyhow::Result<CoreProviderMetadata> {
        if let Some((at, m)) = self
            .metadata
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .as_ref()
        {
            if at.elapsed() < METADATA_TTL {
                return Ok(m.clone());
            }
        }
        let issuer = IssuerUrl::new(self.issuer.clone()).context("issuer URL")?;
        let discovered = CoreProviderMetadata::discover_async(issuer, http)
            .await
            .with_context(|| format!("discovery of {} failed", self.issuer))?;
        *self
            .metadata
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))? = Some((Instant::now(), discovered.clone()));
        Ok(discovered)
    }

    /// The authorization URL, with a new `state`, `nonce` and PKCE challenge.
    pub async fn start(
        &self,
        http: &openidconnect::reqwest::Client,
        redirect_uri: &str,
        extra_scopes: &[String],
    ) -> anyhow::Result<Started> {
        let metadata = self.metadata(http).await?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.client_id.clone()),
            Some(ClientSecret::new(self.client_secret.expose().to_owned())),
        )
        .set_redirect_uri(RedirectUrl::new(redirect_uri.to_owned()).context("redirect URI")?);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in self.scopes.iter().chain(extra_scopes) {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        Ok(Started {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the code and validates the ID token (signature with the provider's keys,
    /// `iss`, `aud`, `exp`, `nonce`).
    pub async fn finish(
        &self,
        http: &openidconnect::reqwest::Client,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> anyhow::Result<ExternalUser> {
        let metadata = self.metadata(http).await?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.client_id.clone()),
            Some(ClientSecret::new(self.client_secret.expose().to_owned())),
        )
        .set_redirect_uri(RedirectUrl::new(redirect_uri.to_owned()).context("redirect URI")?);
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .context("the provider has no token endpoint")?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(http)
            .await
            .map_err(exchange_error)?;
        let id_token = response
            .id_token()
            .ok_or(Refused)
            .context("the provider returned no ID token")?;
        let claims = id_token
            .claims(&client.id_token_verifier(), &Nonce::new(nonce.to_owned()))
            .map_err(|e| {
                anyhow::Error::new(Refused).context(format!("the ID token does not verify: {e}"))
            })?;
        Ok(self.user_of(claims, &id_token.to_string()))
    }

    /// Validates an ID token the app obtained itself (`grant_type=id_token`): signature with
    /// the provider's keys, `iss`, `aud` = our client id, `exp`, and `nonce` when given.
    pub async fn verify_id_token(
        &self,
        http: &openidconnect::reqwest::Client,
        id_token: &str,
        nonce: Option<&str>,
    ) -> anyhow::Result<ExternalUser> {
        let metadata = self.metadata(http).await?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.client_id.clone()),
            Some(ClientSecret::new(self.client_secret.expose().to_owned())),
        );
        let token: CoreIdToken = id_token.parse().context("not an ID token")?;
        let verifier = client.id_token_verifier();
        let expected = nonce.map(str::to_owned);
        let claims = token
            .claims(&verifier, move |got: Option<&Nonce>| {
                match (&expected, got) {
                    (None, _) => Ok(()),
                    (Some(e), Some(g)) if g.secret() == e => Ok(()),
                    _ => Err("the nonce does not match".to_owned()),
                }
            })
            .context("the ID token does not verify")?;
        Ok(self.user_of(claims, id_token))
    }

    /// The user of verified `claims`; `verified_token` (the same token, already verified)
    /// gives the provider's own claims (groups, roles…), kept as `custom_claims`.
    fn user_of(
        &self,
        claims: &openidconnect::IdTokenClaims<
            openidconnect::EmptyAdditionalClaims,
            openidconnect::core::CoreGenderClaim,
        >,
        verified_token: &str,
    ) -> ExternalUser {
        let name = claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_owned());
        let email = claims.email().map(|e| e.as_str().to_owned());
        let mut data = serde_json::json!({
            "iss": claims.issuer().as_str(),
            "sub": claims.subject().as_str(),
            "email": email,
            "email_verified": claims.email_verified().unwrap_or(false),
        });
        if let Some(name) = &name {
            data["name"] = serde_json::json!(name);
        }
        let custom = custom_claims(verified_token);
        if !custom.is_empty() {
            data["custom_claims"] = serde_json::Value::Object(custom);
        }
        ExternalUser {
            provider: self.name.clone(),
            subject: claims.subject().as_str().to_owned(),
            email,
            email_verified: claims.email_verified().unwrap_or(false),
            data,
        }
    }
}

/// A code the provider refused is its answer ([`Refused`]); anything else means it could not
/// be asked.
pub fn exchange_error<RE, T>(e: openidconnect::RequestTokenError<RE, T>) -> anyhow::Error
where
    RE: std::error::Error + Send + Sync + 'static,
    T: openidconnect::ErrorResponse + Send + Sync + 'static,
{
    match e {
        openidconnect::RequestTokenError::ServerResponse(r) => {
            anyhow::Error::new(Refused).context(format!("the code exchange was refused: {r}"))
        }
        other => anyhow::Error::new(other).context("the code exchange failed"),
    }
}

/// Claims of an ID token beyond the ones OpenID Connect defines for the token itself and the
/// standard profile: what a provider adds (groups, roles, tenant). The token's signature has
/// been verified by then; this only reads its payload.
fn custom_claims(verified_token: &str) -> serde_json::Map<String, serde_json::Value> {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    const STANDARD: &[&str] = &[
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "nbf",
        "jti",
        "nonce",
        "at_hash",
        "c_hash",
        "auth_time",
        "azp",
        "acr",
        "amr",
        "sid",
        "email",
        "email_verified",
        "name",
        "given_name",
        "family_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "updated_at",
        "phone_number",
        "phone_number_verified",
        "address",
    ];
    let payload = verified_token
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Map<_, _>>(&bytes).ok())
        .unwrap_or_default();
    payload
        .into_iter()
        .filter(|(k, _)| !STANDARD.contains(&k.as_str()))
        .collect()
}
