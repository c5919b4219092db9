//! What the server says about itself: the settings auth-js reads, the public keys, the OAuth
//! 2.0 metadata and the probes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /settings`: what auth-js reads to show the ways to sign in.
#[derive(Serialize, ToSchema)]
pub struct Settings {
    /// Provider name → enabled.
    pub external: BTreeMap<String, bool>,
    pub disable_signup: bool,
    pub mailer_autoconfirm: bool,
    pub phone_autoconfirm: bool,
    pub sms_provider: &'static str,
    pub saml_enabled: bool,
}

/// One public key (RFC 7517); the members depend on `kty`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Jwk {
    pub kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub use_: String,
}

/// `GET /.well-known/jwks.json`.
#[derive(Serialize, ToSchema)]
pub struct Jwks<'a> {
    pub keys: Vec<&'a Jwk>,
}

/// RFC 8414 authorization-server metadata.
#[derive(Serialize, ToSchema)]
pub struct ServerMetadata {
    pub issuer: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub revocation_endpoint: String,
    pub grant_types_supported: Vec<&'static str>,
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    pub revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    /// No authorization endpoint: no response types.
    pub response_types_supported: Vec<&'static str>,
}

/// The OAuth 2.1 provider's metadata (RFC 8414), also served as OpenID Connect Discovery's
/// `/.well-known/openid-configuration`, while `AUTH_OAUTH_SERVER` is on.
#[derive(Serialize, ToSchema)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub jwks_uri: String,
    pub revocation_endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
    pub scopes_supported: Vec<&'static str>,
    pub response_types_supported: Vec<&'static str>,
    pub response_modes_supported: Vec<&'static str>,
    pub grant_types_supported: Vec<&'static str>,
    pub code_challenge_methods_supported: Vec<&'static str>,
    pub token_endpoint_auth_methods_supported: Vec<&'static str>,
    pub revocation_endpoint_auth_methods_supported: Vec<&'static str>,
    pub subject_types_supported: Vec<&'static str>,
    /// Empty when the server signs with an HMAC secret (no ID tokens then).
    pub id_token_signing_alg_values_supported: Vec<&'static str>,
    pub claims_supported: Vec<&'static str>,
    pub authorization_response_iss_parameter_supported: bool,
}

/// `GET /.well-known/oauth-authorization-server`: this server's own token endpoint's, or
/// the OAuth provider's while `AUTH_OAUTH_SERVER` is on.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum AuthorizationServerMetadata {
    Own(ServerMetadata),
    Provider(Box<ProviderMetadata>),
}

/// `GET /live`, `GET /health`.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// `ok`, `error` or `timeout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'static str>,
}

/// `GET /ready`.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `unavailable`.
    pub status: &'static str,
    pub database: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migrations: Option<Migrations>,
}

/// The migrations of the database, against this binary's.
#[derive(Serialize, ToSchema)]
pub struct Migrations {
    pub applied: usize,
    /// Versions this binary knows that are not applied.
    pub pending: Vec<i64>,
    /// Applied versions this binary does not know (a newer release's).
    pub newer: usize,
}
