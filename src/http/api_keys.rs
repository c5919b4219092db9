//! `/api-keys`: the signed-in user's API keys. Keys themselves are presented to the webhook
//! and at `POST /token?grant_type=api_key` (see `webhook.rs`, `token.rs`); the rules are the
//! core's (`auth::api_keys`).

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{delete, get, post},
    Json, Router,
};
use serde::Deserialize;
use uuid::Uuid;

use super::{no_content, no_store, origin::ApiOrigin, Payload};
use crate::http::organizations::org_id;
use crate::{
    api::{ApiKeyView, IssuedApiKeyView},
    app::App,
    auth::{
        api_keys::{api_key_not_found, IssuedKey, NewApiKey},
        Authenticated,
    },
    client::Client,
    error::{Required, Result},
};

pub fn router() -> Router<App> {
    Router::new()
        .route("/api-keys", get(list).post(create))
        .route("/api-keys/{id}", delete(revoke))
        .route("/api-keys/{id}/rotate", post(rotate))
        .route("/organizations/{id}/api-keys", get(organization_keys))
        .route(
            "/organizations/{id}/api-keys/{key_id}",
            delete(revoke_organization_key),
        )
}

/// The keys acting in the organization, whoever made them (its administrators).
#[utoipa::path(get, path = "/organizations/{id}/api-keys", tag = "api-keys", security(("access_token" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<ApiKeyView>), (status = 401, body = crate::api::ErrorBody), (status = 403, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn organization_keys(
    State(app): State<App>,
    who: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Vec<ApiKeyView>>> {
    let keys = app
        .auth
        .organization_api_keys(&who.caller(), org_id(&id)?)
        .await?;
    Ok(Json(keys.into_iter().map(Into::into).collect()))
}

/// Revokes a key acting in the organization (its administrators): refused at once, on every
/// instance. 204.
#[utoipa::path(delete, path = "/organizations/{id}/api-keys/{key_id}", tag = "api-keys", security(("access_token" = [])),
    params(("id" = String, Path), ("key_id" = String, Path)),
    responses((status = 204, description = "Revoked"), (status = 401, body = crate::api::ErrorBody), (status = 403, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn revoke_organization_key(
    State(app): State<App>,
    _: ApiOrigin,
    who: Authenticated,
    client: Client,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response> {
    app.auth
        .revoke_organization_api_key(&who.caller(), org_id(&id)?, key_id(&key)?, &client)
        .await?;
    Ok(no_content())
}

fn key_id(raw: &str) -> Result<Uuid> {
    Uuid::parse_str(raw).map_err(|_| api_key_not_found())
}

fn issued(key: IssuedKey) -> IssuedApiKeyView {
    IssuedApiKeyView::new(key.key, key.secret.expose().to_owned())
}

#[derive(Deserialize)]
struct CreateRequest {
    name: Option<String>,
    roles: Option<Vec<String>>,
    organization_id: Option<Uuid>,
    expires_in: Option<u64>,
}

/// Makes an API key for the caller; its secret (`api_key`) is in this answer only. 201.
#[utoipa::path(post, path = "/api-keys", tag = "api-keys", security(("access_token" = [])),
    request_body(content = Object, description = "`{name, roles?, organization_id?, expires_in?}` (`expires_in` in seconds)"),
    responses((status = 201, body = IssuedApiKeyView), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody),
        (status = 403, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody), (status = 409, body = crate::api::ErrorBody),
        (status = 422, body = crate::api::ErrorBody)))]
async fn create(
    State(app): State<App>,
    _: ApiOrigin,
    who: Authenticated,
    client: Client,
    Payload(req): Payload<CreateRequest>,
) -> Result<Response> {
    let new = NewApiKey {
        name: req.name.required("name")?,
        roles: req.roles,
        organization_id: req.organization_id,
        expires_in: req.expires_in,
    };
    let key = app
        .auth
        .create_api_key(&who.caller(), who.token.aal, new, &client)
        .await?;
    Ok(no_store(
        (StatusCode::CREATED, Json(issued(key))).into_response(),
    ))
}

/// The caller's API keys (never their secrets), newest first.
#[utoipa::path(get, path = "/api-keys", tag = "api-keys", security(("access_token" = [])),
    responses((status = 200, body = Vec<ApiKeyView>), (status = 401, body = crate::api::ErrorBody)))]
async fn list(State(app): State<App>, who: Authenticated) -> Result<Json<Vec<ApiKeyView>>> {
    let keys = app.auth.own_api_keys(&who.caller()).await?;
    Ok(Json(keys.into_iter().map(Into::into).collect()))
}

/// Revokes one of the caller's keys: refused at once, on every instance. 204.
#[utoipa::path(delete, path = "/api-keys/{id}", tag = "api-keys", security(("access_token" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "Revoked"), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn revoke(
    State(app): State<App>,
    _: ApiOrigin,
    who: Authenticated,
    client: Client,
    Path(id): Path<String>,
) -> Result<Response> {
    app.auth
        .revoke_api_key(&who.caller(), key_id(&id)?, &client)
        .await?;
    Ok(no_content())
}

/// Gives one of the caller's keys a new secret (in this answer only); the old one is refused
/// at once.
#[utoipa::path(post, path = "/api-keys/{id}/rotate", tag = "api-keys", security(("access_token" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = IssuedApiKeyView), (status = 401, body = crate::api::ErrorBody), (status = 403, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn rotate(
    State(app): State<App>,
    _: ApiOrigin,
    who: Authenticated,
    client: Client,
    Path(id): Path<String>,
) -> Result<Response> {
    let key = app
        .auth
        .rotate_api_key(&who.caller(), who.token.aal, key_id(&id)?, &client)
        .await?;
    Ok(no_store(Json(issued(key)).into_response()))
}
