//! API keys as the API sends them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::store::api_keys::ApiKey;

/// A key (never its secret): `{id, user_id, name, roles, organization_id, aal, created_at,
/// expires_at, rotated_at}` (`user_id`: whose it is).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiKeyView {
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub roles: Vec<String>,
    pub organization_id: Option<Uuid>,
    /// `aal1`, or `aal2` when made from a session that verified a second factor.
    pub aal: &'static str,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub rotated_at: Option<DateTime<Utc>>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id,
            user_id: k.user_id,
            name: k.name,
            roles: k.roles,
            organization_id: k.organization_id,
            // Stored as the level's number (1 or 2).
            aal: if k.aal >= 2 { "aal2" } else { "aal1" },
            created_at: k.created_at,
            expires_at: k.expires_at,
            rotated_at: k.rotated_at,
        }
    }
}

/// A key just made or rotated: the key (as [`ApiKeyView`]) and `api_key`, its secret text,
/// shown this once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IssuedApiKeyView {
    pub id: Uuid,
    pub name: String,
    pub roles: Vec<String>,
    pub organization_id: Option<Uuid>,
    pub aal: &'static str,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub api_key: String,
}

impl IssuedApiKeyView {
    pub fn new(key: ApiKey, api_key: String) -> Self {
        let k = ApiKeyView::from(key);
        Self {
            id: k.id,
            name: k.name,
            roles: k.roles,
            organization_id: k.organization_id,
            aal: k.aal,
            created_at: k.created_at,
            expires_at: k.expires_at,
            rotated_at: k.rotated_at,
            api_key,
        }
    }
}

/// An access token exchanged for an API key: `{access_token, token_type, expires_in,
/// expires_at}` (no refresh token).
#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyTokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub expires_at: i64,
}

/// `POST /token`: a session, or (`grant_type=api_key`) an access token alone.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum TokenResponse<'a> {
    Session(Box<crate::api::SessionResponse<'a>>),
    ApiKey(KeyTokenResponse),
}
