//! `/.well-known/jwks.json` and `/.well-known/oauth-authorization-server` (RFC 8414).

use axum::{
    extract::State,
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde_json::json;

use crate::app::App;

pub fn router() -> Router<App> {
    Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/oauth-authorization-server", get(metadata))
}

/// The public keys, with `Cache-Control: max-age` so Hasura knows when to refetch.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "meta",
    responses((status = 200, body = super::openapi::Jwks)))]
async fn jwks(State(app): State<App>) -> Response {
    let mut response = Json(app.auth.tokens.keys.jwks()).into_response();
    let cache = format!(
        "public, max-age={}",
        app.config.tokens.jwks_max_age.as_secs()
    );
    if let Ok(v) = HeaderValue::from_str(&cache) {
        response.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    response
}

#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "meta",
    responses((status = 200, body = super::openapi::ServerMetadata)))]
async fn metadata(State(app): State<App>) -> Json<serde_json::Value> {
    let base = app.config.public_url();
    Json(json!({
        "issuer": app.auth.tokens.issuer,
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "revocation_endpoint": format!("{base}/revoke"),
        "grant_types_supported": ["password", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        // No authorization endpoint: no response types.
        "response_types_supported": [],
    }))
}
