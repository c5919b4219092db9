//! Passkeys as the API sends them, in Supabase Auth's shapes (auth-js `passkey.*`).

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::store::passkeys::PasskeyInfo;

/// `{challenge_id, options, expires_at}`: `options` is what `navigator.credentials.create()`
/// (or `.get()`) takes as `publicKey`, binary fields in base64url.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CeremonyResponse {
    pub challenge_id: Uuid,
    #[schema(value_type = Object)]
    pub options: Value,
    pub expires_at: i64,
}

/// A passkey: `{id, friendly_name?, created_at, last_used_at?}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PasskeyView {
    pub id: Uuid,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub friendly_name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<PasskeyInfo> for PasskeyView {
    fn from(p: PasskeyInfo) -> Self {
        Self {
            id: p.id,
            friendly_name: p.friendly_name,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
        }
    }
}
