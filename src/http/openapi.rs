//! `GET /openapi.json`: the OpenAPI 3.1 description of the JSON API, generated (utoipa) from
//! the `#[utoipa::path]` attributes on the handlers and the response shapes below. A test
//! sends real requests to every documented route and validates each answer against this
//! document (with no undocumented fields allowed), so the two cannot drift apart.
//!
//! Not described here: the browser flows that answer with redirects or HTML (`/authorize`,
//! `/callback`, `GET /verify`, the hosted pages under `/ui`, `/user/identities/authorize`),
//! and the Hasura actions handler, whose contract is the generated actions metadata.

use std::collections::BTreeMap;

use axum::{extract::State, Json};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::{
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    Modify, OpenApi, ToSchema,
};
use uuid::Uuid;

use crate::{
    api::{IdentityView, UserView},
    app::App,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hasura-jwt-auth",
        description = "Authentication for Hasura with users in PostgreSQL, in the Supabase Auth \
                       (GoTrue) dialect. Errors have the shape `Error`."
    ),
    paths(
        super::token::signup,
        super::token::token,
        super::token::logout,
        super::token::revoke,
        super::user::get_user,
        super::user::update_user,
        super::sessions::list,
        super::sessions::end,
        super::email::recover,
        super::email::otp,
        super::email::magiclink,
        super::email::resend,
        super::email::verify,
        super::external::settings,
        super::well_known::jwks,
        super::well_known::metadata,
        super::webhook::webhook_get,
        super::webhook::webhook_post,
        super::health::live,
        super::health::health,
        super::health::ready,
        super::admin::create_user,
        super::admin::list_users,
        super::admin::get_user,
        super::admin::update_user,
        super::admin::delete_user,
        super::admin::list_sessions,
        super::admin::revoke_all_sessions,
        super::admin::revoke_session,
        super::admin::audit,
        super::admin_links::generate_link,
        super::admin_links::invite,
        super::external::provider_tokens,
        openapi_json,
    ),
    components(schemas(UserView, IdentityView)),
    modifiers(&BearerToken)
)]
pub struct ApiDoc;

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_secret",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "access_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document, with this server's public URL as its server.
pub fn document(app: &App) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.servers = Some(vec![utoipa::openapi::Server::new(app.config.public_url())]);
    doc
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)))]
pub(super) async fn openapi_json(State(app): State<App>) -> Json<utoipa::openapi::OpenApi> {
    Json(document(&app))
}

/// Every error answer.
#[derive(Serialize, ToSchema)]
pub struct Error {
    /// The OAuth 2.0 error name (`invalid_grant`…) or the same as `error_code`.
    pub error: String,
    pub error_description: String,
    /// The HTTP status.
    pub code: u16,
    /// A stable code (`invalid_credentials`, `weak_password`, `session_not_found`…).
    pub error_code: String,
    /// The same as `error_description`.
    pub msg: String,
    /// With `weak_password`: which rules the password breaks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weak_password: Option<WeakPassword>,
}

/// Why a new password was refused (Supabase Auth's shape).
#[derive(Serialize, ToSchema)]
pub struct WeakPassword {
    /// `length`, `characters`.
    pub reasons: Vec<String>,
    pub message: String,
}

/// A session: the access token, the refresh token (not in cookie mode, where it is only in
/// the cookie) and the user.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    pub expires_in: u64,
    /// Unix seconds.
    pub expires_at: i64,
    pub refresh_token: Option<String>,
    pub user: UserView,
}

/// `POST /signup`: a session, or with email confirmation required the new user only.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum SignupResponse {
    Session(Box<TokenResponse>),
    ConfirmationSent(Box<UserView>),
}

/// `POST /verify`: a session, or (the first of two confirmations of an email change) a note.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum VerifyResponse {
    Session(Box<TokenResponse>),
    Pending(Message),
}

#[derive(Serialize, ToSchema)]
pub struct Message {
    pub msg: String,
}

/// The answer of requests that send a message: `{}`, whether or not the address has an
/// account.
#[derive(Serialize, ToSchema)]
pub struct Empty {}

/// One of the signed-in user's sessions.
#[derive(Serialize, ToSchema)]
pub struct SessionEntry {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    /// When its refresh token was last used.
    pub refreshed_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// Whether this is the session of the access token that asked.
    pub current: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionEntry>,
}

/// What auth-js reads to show sign-in options.
#[derive(Serialize, ToSchema)]
pub struct Settings {
    /// Provider name → enabled.
    pub external: BTreeMap<String, bool>,
    pub disable_signup: bool,
    pub mailer_autoconfirm: bool,
    pub phone_autoconfirm: bool,
    pub sms_provider: String,
    pub saml_enabled: bool,
}

/// One public key (RFC 7517); the members depend on `kty`.
#[derive(Serialize, ToSchema)]
pub struct Jwk {
    pub kty: String,
    pub kid: String,
    #[serde(rename = "use")]
    pub use_: String,
    pub alg: String,
    pub n: Option<String>,
    pub e: Option<String>,
    pub crv: Option<String>,
    pub x: Option<String>,
    pub y: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// RFC 8414 authorization-server metadata.
#[derive(Serialize, ToSchema)]
pub struct ServerMetadata {
    pub issuer: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub revocation_endpoint: String,
    pub grant_types_supported: Vec<String>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    pub response_types_supported: Vec<String>,
}

/// Hasura's session variables (`X-Hasura-Role`, `X-Hasura-User-Id`, the custom claims, and
/// `Expires`): a map of strings, as Hasura (v2 and DDN) requires.
#[derive(Serialize, ToSchema)]
pub struct SessionVariables(pub BTreeMap<String, String>);

/// The webhook's refusal (Hasura reads `message`).
#[derive(Serialize, ToSchema)]
pub struct WebhookDenied {
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: String,
    /// `ok`, `error` or `timeout`.
    pub database: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Migrations {
    pub applied: u64,
    /// Versions this binary knows that are not applied.
    pub pending: Vec<i64>,
    /// Applied versions this binary does not know (a newer release's).
    pub newer: u64,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    pub status: String,
    pub database: String,
    pub migrations: Option<Migrations>,
}

/// `GET /admin/users`.
#[derive(Serialize, ToSchema)]
pub struct UserPage {
    pub users: Vec<UserView>,
    pub aud: String,
}

/// A session as administrators see it.
#[derive(Serialize, ToSchema)]
pub struct AdminSession {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub refreshed_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AdminSessions {
    pub sessions: Vec<AdminSession>,
}

#[derive(Serialize, ToSchema)]
pub struct Revoked {
    /// How many sessions ended.
    pub revoked: u64,
}

/// One audit-log entry.
#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub event: String,
    pub user_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The `X-Request-Id` of the request that caused it.
    pub request_id: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}
