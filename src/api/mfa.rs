//! Second factors as the API sends them, in Supabase Auth's shapes (auth-js's `mfa.*`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::store::mfa::Factor;

/// A factor in user payloads (`factors`) and the admin API.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FactorView {
    pub id: Uuid,
    pub friendly_name: String,
    /// `totp`.
    pub factor_type: String,
    /// `unverified` until its first code, then `verified`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Factor> for FactorView {
    fn from(f: &Factor) -> Self {
        Self {
            id: f.id,
            friendly_name: f.friendly_name.clone(),
            factor_type: f.factor_type.clone(),
            status: f.status.clone(),
            created_at: f.created_at,
            updated_at: f.updated_at,
        }
    }
}

/// `POST /factors`: the new factor and, shown this once, its secret.
#[derive(Serialize, ToSchema)]
pub struct EnrollResponse {
    pub id: Uuid,
    /// `totp`.
    #[serde(rename = "type")]
    pub factor_type: String,
    pub friendly_name: String,
    /// For a TOTP factor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totp: Option<TotpView>,
}

/// What an authenticator app needs. Never logged: no `Debug`.
#[derive(Serialize, ToSchema)]
pub struct TotpView {
    /// The `otpauth://` URI as a QR code: an SVG document (auth-js makes it a data URL).
    pub qr_code: String,
    /// The secret in base32, for typing it in.
    pub secret: String,
    /// `otpauth://totp/<issuer>:<account>?secret=…&issuer=…`.
    pub uri: String,
}

/// `POST /factors/{id}/challenge`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChallengeResponse {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub factor_type: String,
    /// Unix seconds.
    pub expires_at: i64,
    /// For a WebAuthn factor: `{type: "create"|"request", credential_options: {publicKey}}`,
    /// what `navigator.credentials.create()` (or `.get()`) takes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub webauthn: Option<serde_json::Value>,
}

/// `DELETE /factors/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnenrollResponse {
    pub id: Uuid,
}

/// `POST /factors/recovery_codes`: the codes, shown this once. Never logged: no `Debug`.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten codes, `xxxx-xxxx-xxxx-xxxx`; each works once.
    pub recovery_codes: Vec<String>,
}

/// `GET /factors/recovery_codes`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodesLeft {
    /// Unused codes.
    pub remaining: i64,
    /// When the set was made (`null`: never).
    pub created_at: Option<DateTime<Utc>>,
}
