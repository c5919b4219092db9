//! OAuth clients as the API sends them, in Supabase Auth's shape.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::store::{oauth_clients::OAuthClient, oauth_grants::Grant};

/// A client: `client_secret` only when just made or regenerated (and confidential); for a
/// dynamic registration also RFC 7591's `client_id_issued_at` and, with a secret,
/// `client_secret_expires_at` (0: never).
#[derive(Serialize, utoipa::ToSchema)]
pub struct OAuthClientView {
    pub client_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id_issued_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    pub client_type: String,
    pub token_endpoint_auth_method: String,
    pub registration_type: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    /// Always `["code"]`.
    pub response_types: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// The Hasura roles its tokens may carry, at most (absent: the user's default role only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_roles: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OAuthClientView {
    pub fn new(c: OAuthClient, client_secret: Option<String>) -> Self {
        Self {
            client_id: c.id,
            client_id_issued_at: None,
            client_secret,
            client_secret_expires_at: None,
            client_type: c.client_type,
            token_endpoint_auth_method: c.token_endpoint_auth_method,
            registration_type: c.registration_type,
            redirect_uris: c.redirect_uris,
            grant_types: c.grant_types,
            response_types: vec!["code"],
            client_name: c.client_name,
            client_uri: c.client_uri,
            logo_uri: c.logo_uri,
            allowed_roles: c.allowed_roles,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

impl OAuthClientView {
    /// The answer to a dynamic registration (RFC 7591 §3.2.1).
    pub fn registered(c: OAuthClient, client_secret: Option<String>) -> Self {
        let mut view = Self::new(c, client_secret);
        view.client_id_issued_at = Some(view.created_at.timestamp());
        view.client_secret_expires_at = view.client_secret.as_ref().map(|_| 0);
        view
    }
}

impl From<OAuthClient> for OAuthClientView {
    fn from(c: OAuthClient) -> Self {
        Self::new(c, None)
    }
}

/// `GET /admin/oauth/clients`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OAuthClientList {
    pub clients: Vec<OAuthClientView>,
}

/// A client as a user sees it when asked to consent or listing their grants.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OAuthClientSummary {
    pub id: Uuid,
    pub name: String,
    pub uri: String,
    pub logo_uri: String,
}

impl OAuthClientSummary {
    pub fn new(id: Uuid, name: Option<String>, uri: Option<String>, logo: Option<String>) -> Self {
        Self {
            id,
            name: name.unwrap_or_default(),
            uri: uri.unwrap_or_default(),
            logo_uri: logo.unwrap_or_default(),
        }
    }
}

/// `GET /oauth/authorizations/{id}`: what the user is asked.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OAuthAuthorizationDetails {
    pub authorization_id: Uuid,
    pub redirect_uri: String,
    pub client: OAuthClientSummary,
    pub user: OAuthUserSummary,
    /// Space-separated.
    pub scope: String,
    /// The Hasura roles the application's tokens would carry (this server's addition).
    pub roles: Vec<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct OAuthUserSummary {
    pub id: Uuid,
    pub email: String,
}

/// Where the browser goes next: the client's redirect URI with a code or an error.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OAuthRedirect {
    pub redirect_url: String,
}

/// A user's consent to a client (`GET /user/oauth/grants`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct OAuthGrantView {
    pub client: OAuthClientSummary,
    pub scopes: Vec<String>,
    /// The Hasura roles granted.
    pub roles: Vec<String>,
    /// The resources (RFC 8707) granted.
    pub resources: Vec<String>,
    pub granted_at: DateTime<Utc>,
}

impl From<Grant> for OAuthGrantView {
    fn from(g: Grant) -> Self {
        Self {
            client: OAuthClientSummary::new(g.client_id, g.client_name, g.client_uri, g.logo_uri),
            scopes: g.scopes,
            roles: g.roles,
            resources: g.resources,
            granted_at: g.granted_at,
        }
    }
}

/// A client's grant as administrators see it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OAuthClientGrantView {
    pub user_id: Uuid,
    pub email: String,
    pub scopes: Vec<String>,
    pub roles: Vec<String>,
    pub resources: Vec<String>,
    pub granted_at: DateTime<Utc>,
}

/// `GET /admin/oauth/clients/{client_id}/grants`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OAuthClientGrantList {
    pub grants: Vec<OAuthClientGrantView>,
}

/// `POST /oauth/token` (RFC 6749 §5.1; OpenID Connect Core §3.1.3.3).
#[derive(Serialize, utoipa::ToSchema)]
pub struct OAuthTokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    pub expires_in: u64,
    pub refresh_token: String,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}
