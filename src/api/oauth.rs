//! OAuth clients as the API sends them, in Supabase Auth's shape.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::store::oauth_clients::OAuthClient;

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
