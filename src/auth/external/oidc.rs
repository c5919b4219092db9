//! OpenID Connect providers (configured ones, Google, Microsoft): discovery, the
//! authorization URL, the code exchange and ID-token validation, all by `openidconnect`.

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use anyhow::Context;
use openidconnect::{
    core::{CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreProviderMetadata},
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
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
    /// Further audiences accepted in ID tokens posted by native apps.
    pub native_client_ids: Vec<String>,
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
            native_client_ids: Vec::new(),
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

    /// A client of the provider, from its (cached) metadata.
    async fn client(
        &self,
        http: &openidconnect::reqwest::Client,
    ) -> anyhow::Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
    > {
        let metadata = self.metadata(http).await?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.client_id.clone()),
            Some(ClientSecret::new(self.client_secret.expose().to_owned())),
        ))
    }

    /// The authorization URL, with a new `state`, `nonce` and PKCE challenge.
    pub async fn start(
        &self,
        http: &openidconnect::reqwest::Client,
        redirect_uri: &str,
        extra_scopes: &[String],
    ) -> anyhow::Result<Started> {
        let client = self
            .client(http)
            .await?
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
    /// `iss`, `aud`, `exp`, `nonce`) as [`Self::verify_id_token`] does.
    pub async fn finish(
        &self,
        http: &openidconnect::reqwest::Client,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> anyhow::Result<ExternalUser> {
        let client = self
            .client(http)
            .await?
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
        // The same checks as for an ID token posted by an app, with this sign-in's nonce.
        let mut user = self
            .verify_id_token(http, &id_token.to_string(), Some(nonce))
            .await?;
        user.tokens = Some(super::vault::ProviderTokens {
            access_token: crate::secret::Secret::new(response.access_token().secret().clone()),
            refresh_token: response
                .refresh_token()
                .map(|t| crate::secret::Secret::new(t.secret().clone())),
            expires_at: response
                .expires_in()
                .and_then(|d| chrono::Duration::from_std(d).ok())
                .map(|d| chrono::Utc::now() + d),
        });
        Ok(user)
    }

    /// Validates an ID token the app obtained itself (`grant_type=id_token`): signature with
    /// the provider's keys, `iss`, `aud` = our client id, `exp`, and `nonce` when given.
    pub async fn verify_id_token(
        &self,
        http: &openidconnect::reqwest::Client,
        id_token: &str,
        nonce: Option<&str>,
    ) -> anyhow::Result<ExternalUser> {
        let token: CoreIdToken = id_token
            .parse()
            .map_err(|e| anyhow::Error::new(Refused).context(format!("not an ID token: {e}")))?;
        let mut refreshed = false;
        loop {
            let metadata = self.metadata(http).await?;
            let mut last_error = None;
            // Our client id first, then the native apps'.
            for audience in std::iter::once(&self.client_id).chain(&self.native_client_ids) {
                let verifier = openidconnect::core::CoreIdTokenVerifier::new_confidential_client(
                    ClientId::new(audience.clone()),
                    ClientSecret::new(self.client_secret.expose().to_owned()),
                    metadata.issuer().clone(),
                    metadata.jwks().clone(),
                );
                let expected = nonce.map(str::to_owned);
                match token.claims(&verifier, move |got: Option<&Nonce>| {
                    nonce_matches(expected.as_deref(), got.map(|n| n.secret().as_str()))
                }) {
                    Ok(claims) => return Ok(self.user_of(claims, id_token)),
                    Err(e) => last_error = Some(e),
                }
            }
            // Perhaps signed with a key the provider added since the last discovery.
            if !refreshed && self.forget_stale_metadata() {
                refreshed = true;
                continue;
            }
            let e = last_error.map(|e| e.to_string()).unwrap_or_default();
            return Err(
                anyhow::Error::new(Refused).context(format!("the ID token does not verify: {e}"))
            );
        }
    }

    /// Drops cached metadata older than a minute (so that a new signing key is found); says
    /// whether it did. Younger metadata is kept: forged tokens must not make us hammer the
    /// provider.
    fn forget_stale_metadata(&self) -> bool {
        let Ok(mut cached) = self.metadata.lock() else {
            return false;
        };
        match cached.as_ref() {
            Some((at, _)) if at.elapsed() > Duration::from_secs(60) => {
                *cached = None;
                true
            }
            _ => false,
        }
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
            tokens: None,
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

/// The ID token's `nonce` against the app's: both absent, or equal either as given or as its
/// SHA-256 in hex (what Supabase Auth's guides have apps hand to Google and Apple).
fn nonce_matches(expected: Option<&str>, got: Option<&str>) -> Result<(), String> {
    use sha2::{Digest, Sha256};
    match (expected, got) {
        (None, None) => Ok(()),
        (Some(e), Some(g)) if g == e || g == hex::encode(Sha256::digest(e.as_bytes())) => Ok(()),
        (None, Some(_)) => Err("the ID token has a nonce but none was given".to_owned()),
        _ => Err("the nonce does not match".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::nonce_matches;

    #[test]
    fn nonces_match_raw_or_hashed() {
        assert!(nonce_matches(None, None).is_ok());
        assert!(nonce_matches(Some("abc"), Some("abc")).is_ok());
        // SHA-256("abc").
        let hashed = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert!(nonce_matches(Some("abc"), Some(hashed)).is_ok());
        assert!(nonce_matches(Some("abc"), Some("abd")).is_err());
        assert!(nonce_matches(Some("abc"), None).is_err());
        assert!(nonce_matches(None, Some("abc")).is_err());
    }
}
