//! The client-facing endpoints: `POST /oauth/token` (code exchange and refresh), `POST
//! /oauth/revoke` (RFC 7009) and `GET|POST /oauth/userinfo` (OpenID Connect). Clients
//! authenticate with `Authorization: Basic` (RFC 6749 §2.3.1: the id and secret
//! form-urlencoded, then base64) or with `client_id`/`client_secret` in the body; a public
//! client sends its `client_id` alone.

use axum::{
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use base64::{engine::general_purpose::STANDARD as B64, Engine};
use serde::Deserialize;
use serde_json::Value;

use crate::{
    api::OAuthTokenResponse,
    app::App,
    auth::{
        oauth_server::{
            token::{ClientCredentials, ClientTokens},
            CodeExchange,
        },
        tokens::client::user_claims,
    },
    client::Client,
    error::{Code, Error, Result},
    http::{extract::bearer, extract::Arrival, no_store, Payload},
    secret::Secret,
};

pub fn router() -> Router<App> {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/oauth/revoke", post(revoke))
        .route("/oauth/userinfo", get(userinfo).post(userinfo))
}

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    code: Option<Secret>,
    redirect_uri: Option<String>,
    code_verifier: Option<Secret>,
    refresh_token: Option<Secret>,
    client_id: Option<String>,
    client_secret: Option<Secret>,
}

/// One part of a Basic credential: form-urlencoded by the client.
fn form_decoded(part: &str) -> Option<String> {
    let spaced = part.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// The client's credentials: from `Authorization: Basic`, else from the body.
fn credentials(
    headers: &HeaderMap,
    client_id: Option<String>,
    client_secret: Option<Secret>,
) -> Result<ClientCredentials> {
    let bad = || Error::new(Code::OAuthInvalidClient, "Client authentication failed");
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| bad())?;
        let (scheme, encoded) = value.split_once(' ').ok_or_else(bad)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(bad());
        }
        let decoded = B64.decode(encoded.trim()).map_err(|_| bad())?;
        let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
        let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
        let secret = form_decoded(secret).ok_or_else(bad)?;
        return Ok(ClientCredentials {
            client_id: form_decoded(id).ok_or_else(bad)?,
            // A public client may send its id with an empty password.
            secret: (!secret.is_empty()).then(|| Secret::new(secret)),
        });
    }
    Ok(ClientCredentials {
        client_id: client_id.ok_or_else(bad)?,
        secret: client_secret.filter(|s| !s.expose().is_empty()),
    })
}

fn required(value: Option<Secret>, name: &str) -> Result<Secret> {
    value
        .filter(|v| !v.expose().is_empty())
        .ok_or_else(|| Error::validation_failed(format!("{name} is required")))
}

/// The token endpoint: `authorization_code` (with PKCE) or `refresh_token`.
#[utoipa::path(post, path = "/oauth/token", tag = "oauth",
    request_body(content = Object, content_type = "application/x-www-form-urlencoded",
        description = "`grant_type=authorization_code&code&redirect_uri&code_verifier` or `grant_type=refresh_token&refresh_token`, with `client_id` (and `client_secret`) unless sent with Basic authentication"),
    responses((status = 200, body = OAuthTokenResponse), (status = 400, body = crate::api::ErrorBody),
        (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn token(
    State(app): State<App>,
    headers: HeaderMap,
    client: Client,
    arrived: Arrival,
    Payload(r): Payload<TokenRequest>,
) -> Result<Response> {
    let credentials = credentials(&headers, r.client_id, r.client_secret)?;
    let oauth_client = app.auth.authenticate_client(&credentials).await?;
    let tokens = match r.grant_type.as_deref() {
        Some("authorization_code") => {
            let code = required(r.code, "code")?;
            let presented = CodeExchange {
                code: code.expose(),
                redirect_uri: r.redirect_uri.as_deref(),
                code_verifier: r.code_verifier.as_ref().map(Secret::expose),
            };
            app.auth
                .exchange_oauth_code(&oauth_client, &presented, &client)
                .await?
        }
        Some("refresh_token") => {
            let presented = required(r.refresh_token, "refresh_token")?;
            app.auth
                .refresh_for_client(&oauth_client, presented.expose(), &client, arrived.0)
                .await?
        }
        _ => {
            return Err(Error::new(
                Code::UnsupportedGrantType,
                "grant_type must be authorization_code or refresh_token",
            ))
        }
    };
    Ok(no_store(Json(answer(tokens)).into_response()))
}

fn answer(t: ClientTokens) -> OAuthTokenResponse {
    OAuthTokenResponse {
        access_token: t.session.access.token,
        token_type: "Bearer",
        expires_in: t.session.access.expires_in,
        refresh_token: t.session.refresh_token.expose().to_owned(),
        scope: t.scopes.join(" "),
        id_token: t.id_token,
    }
}

#[derive(Deserialize)]
struct RevokeRequest {
    token: Option<Secret>,
    client_id: Option<String>,
    client_secret: Option<Secret>,
}

/// RFC 7009: ends the session of one of the client's own tokens (refresh or access). 200
/// whatever the token was.
#[utoipa::path(post, path = "/oauth/revoke", tag = "oauth",
    request_body(content = Object, content_type = "application/x-www-form-urlencoded", description = "`token`, with the client's authentication"),
    responses((status = 200, description = "Revoked, or nothing to revoke"), (status = 401, body = crate::api::ErrorBody)))]
async fn revoke(
    State(app): State<App>,
    headers: HeaderMap,
    Payload(r): Payload<RevokeRequest>,
) -> Result<Response> {
    let credentials = credentials(&headers, r.client_id, r.client_secret)?;
    let oauth_client = app.auth.authenticate_client(&credentials).await?;
    let token = required(r.token, "token")?;
    app.auth
        .revoke_for_client(&oauth_client, token.expose())
        .await?;
    Ok(StatusCode::OK.into_response())
}

/// OpenID Connect UserInfo: the claims the token's scopes release (`sub` always).
#[utoipa::path(get, path = "/oauth/userinfo", tag = "oauth", security(("bearer" = [])),
    responses((status = 200, body = Object, description = "`{sub, email?, email_verified?, name?, picture?, updated_at?}`"),
        (status = 401, body = crate::api::ErrorBody), (status = 403, body = crate::api::ErrorBody)))]
async fn userinfo(State(app): State<App>, headers: HeaderMap) -> Result<Json<Value>> {
    let who = app.auth.authenticate_any(bearer(&headers)?).await?;
    // A user's own session releases what `openid email profile` would; a client's, what it
    // was granted, with `openid` (OpenID Connect Core §5.3).
    let own = ["openid", "email", "profile"].map(str::to_owned);
    let scopes = who
        .user
        .binding()
        .oauth_scopes
        .clone()
        .unwrap_or_else(|| own.to_vec());
    if !scopes.iter().any(|s| s == "openid") {
        return Err(Error::new(
            Code::OAuthInsufficientScope,
            "This token was not granted the openid scope",
        ));
    }
    Ok(Json(Value::Object(user_claims(&who.user, &scopes))))
}
