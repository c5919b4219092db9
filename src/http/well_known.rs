//! `/.well-known/jwks.json` and `/.well-known/oauth-authorization-server` (RFC 8414).

use crate::{api::ServerMetadata, app::App};
use axum::{
    extract::State,
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};

pub fn router() -> Router<App> {
    Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/oauth-authorization-server", get(metadata))
}

/// The public keys, with `Cache-Control: max-age` so Hasura knows when to refetch.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "meta",
    responses((status = 200, body = crate::api::Jwks)))]
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
    responses((status = 200, body = crate::api::ServerMetadata)))]
async fn metadata(State(app): State<App>) -> Json<ServerMetadata> {
    let base = app.config.public_url();
    Json(ServerMetadata {
        issuer: app.auth.tokens.issuer.clone(),
        token_endpoint: format!("{base}/token"),
        jwks_uri: format!("{base}/.well-known/jwks.json"),
        revocation_endpoint: format!("{base}/revoke"),
        grant_types_supported: vec!["password", "refresh_token"],
        token_endpoint_auth_methods_supported: vec!["none"],
        revocation_endpoint_auth_methods_supported: vec!["none"],
        response_types_supported: vec![],
    })
}
