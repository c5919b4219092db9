//! `GET /oauth/authorize`: a client asks to act for a user. The request is checked as OAuth 2.1
//! wants (an exact redirect URI, the authorization code with PKCE S256 only), stored, and the
//! user is sent to consent. A request whose redirect URI cannot be trusted is refused here;
//! once the redirect URI is known good, every other refusal goes back to the client there.

use uuid::Uuid;

use super::{parse_scopes, with_params, HOSTED_CONSENT_PATH};
use crate::{
    auth::Auth,
    client::Client,
    error::{Code, Error, Result},
    store::{self, oauth_authorizations::NewAuthorization},
};

/// The request's parameters, as the client sent them.
#[derive(Debug, Default, Clone)]
pub struct AuthorizeRequest {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub resource: Option<String>,
}

/// Where the browser goes next: to the consent page, or back to the client with an error.
#[derive(Debug)]
pub enum Authorize {
    Consent(String),
    Refused(String),
}

/// An RFC 6749 §4.1.2.1 error, to send back to the client.
struct Refusal(&'static str, &'static str);

/// A PKCE challenge: S256 of a verifier, 43 base64url characters.
fn valid_challenge(c: &str) -> bool {
    c.len() == 43
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// RFC 8707: an absolute URI without a fragment (an MCP server's URL, say).
pub fn valid_resource(r: &str) -> bool {
    url::Url::parse(r).is_ok_and(|u| u.fragment().is_none() && u.has_host() && r.len() <= 2048)
}

impl Auth {
    /// Checks and records an authorization request (see the module documentation).
    pub async fn start_authorization(
        &self,
        r: AuthorizeRequest,
        client: &Client,
    ) -> Result<Authorize> {
        super::require_enabled(&self.config)?;
        self.limits.oauth_authorize.check(client).await?;
        let client_id = r
            .client_id
            .as_deref()
            .and_then(|id| Uuid::parse_str(id).ok())
            .ok_or_else(|| Error::validation_failed("client_id is missing or not a client's id"))?;
        let oauth_client = store::oauth_clients::find(&self.pool, client_id)
            .await?
            .ok_or_else(|| Error::new(Code::OAuthClientNotFound, "OAuth client not found"))?;
        // The redirect URI must be one registered, character for character; it may be left
        // out only when the client has exactly one.
        let uris = oauth_client.redirect_uris.as_slice();
        let redirect_uri = match (r.redirect_uri.as_deref(), uris) {
            (Some(uri), uris) if uris.iter().any(|u| u == uri) => uri.to_owned(),
            (None, [only]) => only.clone(),
            (Some(_), _) => {
                return Err(Error::validation_failed(
                    "redirect_uri is not one registered for this client",
                ))
            }
            (None, _) => return Err(Error::validation_failed("redirect_uri is required")),
        };
        // A client that registered itself is anyone's: its redirect URI is not trusted with
        // an error nobody asked for (RFC 9700 §4.11.2), which is answered here instead.
        let dynamic = oauth_client.registration_type == "dynamic";
        let back = |Refusal(error, description): Refusal| {
            if dynamic {
                return Err(Error::validation_failed(format!("{error}: {description}")));
            }
            let url = self.error_redirect(&redirect_uri, r.state.as_deref(), error, description);
            Ok(Authorize::Refused(url))
        };
        let scopes = match self.check_request(&r, &oauth_client.grant_types) {
            Ok(scopes) => scopes,
            Err(refusal) => return back(refusal),
        };
        let id = Uuid::new_v4();
        let ttl = self.config.oauth_server.oauth_authorization_ttl;
        let new = NewAuthorization {
            id,
            client_id,
            redirect_uri: &redirect_uri,
            redirect_uri_given: r.redirect_uri.is_some(),
            scopes: &scopes,
            state: r.state.as_deref(),
            nonce: r.nonce.as_deref(),
            code_challenge: r.code_challenge.as_deref().unwrap_or_default(),
            resource: r.resource.as_deref(),
            ttl_secs: ttl.as_secs_f64(),
        };
        store::oauth_authorizations::insert(&self.pool, &new).await?;
        let consent = self.consent_url();
        Ok(Authorize::Consent(with_params(
            &consent,
            &[("authorization_id", &id.to_string())],
        )))
    }

    /// The parts of a request that are refused back at the client: the scopes it asks for.
    fn check_request(
        &self,
        r: &AuthorizeRequest,
        grant_types: &[String],
    ) -> std::result::Result<Vec<String>, Refusal> {
        if r.response_type.as_deref() != Some("code") {
            return Err(Refusal(
                "unsupported_response_type",
                "response_type must be code",
            ));
        }
        if !grant_types.iter().any(|g| g == "authorization_code") {
            return Err(Refusal(
                "unauthorized_client",
                "this client may not use the authorization code grant",
            ));
        }
        if r.code_challenge_method.as_deref() != Some("S256") {
            return Err(Refusal(
                "invalid_request",
                "PKCE is required: code_challenge_method must be S256",
            ));
        }
        if !r.code_challenge.as_deref().is_some_and(valid_challenge) {
            return Err(Refusal(
                "invalid_request",
                "code_challenge must be the S256 of a code verifier (43 characters)",
            ));
        }
        let too_long = |v: &Option<String>| v.as_ref().is_some_and(|v| v.len() > 2048);
        if too_long(&r.state) || too_long(&r.nonce) {
            return Err(Refusal(
                "invalid_request",
                "state and nonce are limited to 2048 bytes",
            ));
        }
        if r.resource
            .as_deref()
            .is_some_and(|res| !valid_resource(res))
        {
            return Err(Refusal(
                "invalid_target",
                "resource must be an absolute URI without a fragment",
            ));
        }
        let scopes = parse_scopes(r.scope.as_deref())
            .map_err(|_| Refusal("invalid_scope", "unknown scope requested"))?;
        if scopes.iter().any(|s| s == "openid") && self.tokens.keys.signing().alg.is_hmac() {
            return Err(Refusal(
                "invalid_scope",
                "openid needs an asymmetric signing key on this server",
            ));
        }
        Ok(scopes)
    }

    /// Where users consent: the app's page (`AUTH_OAUTH_AUTHORIZATION_URL`) or the hosted one.
    fn consent_url(&self) -> String {
        match &self.config.oauth_server.oauth_authorization_url {
            Some(url) => url.clone(),
            None => format!("{}{HOSTED_CONSENT_PATH}", self.config.public_url()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_and_resources() {
        assert!(valid_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!valid_challenge("short"));
        assert!(!valid_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"
        ));
        assert!(valid_resource("https://mcp.example.com/mcp"));
        assert!(!valid_resource("https://mcp.example.com/#x"));
        assert!(!valid_resource("not a uri"));
    }
}
