//! `/.well-known/jwks.json`, `/.well-known/oauth-authorization-server` (RFC 8414) and, with
//! the OAuth server on, `/.well-known/openid-configuration` (OpenID Connect Discovery).

use crate::{
    api::{AuthorizationServerMetadata, ProviderMetadata, ServerMetadata},
    app::App,
    auth::oauth_server::{self, SCOPES},
    error::Result,
};
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
        .route(
            "/.well-known/openid-configuration",
            get(openid_configuration),
        )
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

/// The OAuth server's metadata while it is on; otherwise this server's own token endpoint's.
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "meta",
    responses((status = 200, body = AuthorizationServerMetadata)))]
async fn metadata(State(app): State<App>) -> Json<AuthorizationServerMetadata> {
    if app.config.oauth_server.oauth_server {
        return Json(AuthorizationServerMetadata::Provider(Box::new(provider(
            &app,
        ))));
    }
    let base = app.config.public_url();
    Json(AuthorizationServerMetadata::Own(ServerMetadata {
        issuer: app.auth.tokens.issuer.clone(),
        token_endpoint: format!("{base}/token"),
        jwks_uri: format!("{base}/.well-known/jwks.json"),
        revocation_endpoint: format!("{base}/revoke"),
        grant_types_supported: vec!["password", "refresh_token"],
        token_endpoint_auth_methods_supported: vec!["none"],
        revocation_endpoint_auth_methods_supported: vec!["none"],
        response_types_supported: vec![],
    }))
}

/// OpenID Connect Discovery, with AUTH_OAUTH_SERVER (404 `feature_disabled` without).
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "meta",
    responses((status = 200, body = ProviderMetadata), (status = 404, body = crate::api::ErrorBody)))]
async fn openid_configuration(State(app): State<App>) -> Result<Json<ProviderMetadata>> {
    oauth_server::require_enabled(&app.config)?;
    Ok(Json(provider(&app)))
}

fn provider(app: &App) -> ProviderMetadata {
    let base = app.config.public_url();
    let alg = app.auth.tokens.keys.signing().alg;
    let oidc = !alg.is_hmac();
    let methods = vec!["client_secret_basic", "client_secret_post", "none"];
    ProviderMetadata {
        issuer: app.auth.tokens.issuer.clone(),
        authorization_endpoint: format!("{base}/oauth/authorize"),
        token_endpoint: format!("{base}/oauth/token"),
        userinfo_endpoint: format!("{base}/oauth/userinfo"),
        jwks_uri: format!("{base}/.well-known/jwks.json"),
        revocation_endpoint: format!("{base}/oauth/revoke"),
        registration_endpoint: app
            .config
            .oauth_server
            .oauth_dynamic_registration
            .then(|| format!("{base}/oauth/clients/register")),
        scopes_supported: SCOPES
            .into_iter()
            .filter(|s| oidc || *s != "openid")
            .collect(),
        response_types_supported: vec!["code"],
        response_modes_supported: vec!["query"],
        grant_types_supported: vec!["authorization_code", "refresh_token"],
        code_challenge_methods_supported: vec!["S256"],
        token_endpoint_auth_methods_supported: methods.clone(),
        revocation_endpoint_auth_methods_supported: methods,
        subject_types_supported: vec!["public"],
        id_token_signing_alg_values_supported: if oidc { vec![alg.name()] } else { vec![] },
        claims_supported: vec![
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "azp",
            "sid",
            "email",
            "email_verified",
            "name",
            "picture",
            "updated_at",
        ],
        authorization_response_iss_parameter_supported: true,
    }
}
