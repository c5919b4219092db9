//! `/admin/oauth/clients…`: OAuth clients, for the server's administrators, in Supabase
//! Auth's shapes (auth-js `admin.oauth.*`). 404 `feature_disabled` unless `AUTH_OAUTH_SERVER`.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use uuid::Uuid;

use super::AdminAuth;
use crate::{
    api::{OAuthClientGrantList, OAuthClientGrantView, OAuthClientList, OAuthClientView},
    app::App,
    auth::oauth_server::require_enabled,
    error::{Error, Result},
    http::{no_content, no_store, oauth::ClientRequest, Payload},
};

pub fn router() -> Router<App> {
    Router::new()
        .route("/admin/oauth/clients", get(list).post(create))
        .route(
            "/admin/oauth/clients/{client_id}",
            get(show).put(update).delete(remove),
        )
        .route(
            "/admin/oauth/clients/{client_id}/regenerate_secret",
            post(regenerate_secret),
        )
        .route("/admin/oauth/clients/{client_id}/grants", get(grants))
}

/// The client id of the path (400 when it is not a UUID), once the feature is known to be on.
fn client_id(app: &App, raw: &str) -> Result<Uuid> {
    require_enabled(&app.config)?;
    Uuid::parse_str(raw).map_err(|_| Error::validation_failed("invalid client_id format"))
}

/// Registers a client; a confidential client's `client_secret` is in this answer only. 201.
#[utoipa::path(post, path = "/admin/oauth/clients", tag = "admin", security(("admin_secret" = [])),
    request_body(content = Object, description = "`{redirect_uris, client_type?, token_endpoint_auth_method?, grant_types?, client_name?, client_uri?, logo_uri?, allowed_roles?}`"),
    responses((status = 201, body = OAuthClientView), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody),
        (status = 404, body = crate::api::ErrorBody)))]
async fn create(
    State(app): State<App>,
    AdminAuth(actor): AdminAuth,
    Payload(req): Payload<ClientRequest>,
) -> Result<Response> {
    let (client, secret) = app.admin.create_oauth_client(req.into(), &actor).await?;
    let view = OAuthClientView::new(client, secret.map(|s| s.expose().to_owned()));
    Ok(no_store((StatusCode::CREATED, Json(view)).into_response()))
}

/// Every client, newest first (no paging: `page` and `per_page` are ignored).
#[utoipa::path(get, path = "/admin/oauth/clients", tag = "admin", security(("admin_secret" = [])),
    responses((status = 200, body = OAuthClientList), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn list(State(app): State<App>, AdminAuth(_): AdminAuth) -> Result<Json<OAuthClientList>> {
    let clients = app.admin.list_oauth_clients().await?;
    Ok(Json(OAuthClientList {
        clients: clients.into_iter().map(Into::into).collect(),
    }))
}

#[utoipa::path(get, path = "/admin/oauth/clients/{client_id}", tag = "admin", security(("admin_secret" = [])),
    params(("client_id" = String, Path)),
    responses((status = 200, body = OAuthClientView), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn show(
    State(app): State<App>,
    AdminAuth(_): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<OAuthClientView>> {
    let client = app.admin.get_oauth_client(client_id(&app, &id)?).await?;
    Ok(Json(client.into()))
}

/// Changes the fields named (not the client type).
#[utoipa::path(put, path = "/admin/oauth/clients/{client_id}", tag = "admin", security(("admin_secret" = [])),
    params(("client_id" = String, Path)),
    request_body(content = Object, description = "`{redirect_uris?, grant_types?, client_name?, client_uri?, logo_uri?, token_endpoint_auth_method?, allowed_roles?}`"),
    responses((status = 200, body = OAuthClientView), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn update(
    State(app): State<App>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<String>,
    Payload(req): Payload<ClientRequest>,
) -> Result<Json<OAuthClientView>> {
    let client = app
        .admin
        .update_oauth_client(client_id(&app, &id)?, req.into(), &actor)
        .await?;
    Ok(Json(client.into()))
}

/// Deletes the client. 204.
#[utoipa::path(delete, path = "/admin/oauth/clients/{client_id}", tag = "admin", security(("admin_secret" = [])),
    params(("client_id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn remove(
    State(app): State<App>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<String>,
) -> Result<Response> {
    app.admin
        .delete_oauth_client(client_id(&app, &id)?, &actor)
        .await?;
    Ok(no_content())
}

/// A new secret for a confidential client, in this answer only; the old one stops working.
#[utoipa::path(post, path = "/admin/oauth/clients/{client_id}/regenerate_secret", tag = "admin", security(("admin_secret" = [])),
    params(("client_id" = String, Path)),
    responses((status = 200, body = OAuthClientView), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn regenerate_secret(
    State(app): State<App>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<String>,
) -> Result<Response> {
    let (client, secret) = app
        .admin
        .regenerate_oauth_client_secret(client_id(&app, &id)?, &actor)
        .await?;
    let view = OAuthClientView::new(client, Some(secret.expose().to_owned()));
    Ok(no_store(Json(view).into_response()))
}

/// The users who granted the client access (consent given and not revoked), newest first.
#[utoipa::path(get, path = "/admin/oauth/clients/{client_id}/grants", tag = "admin", security(("admin_secret" = [])),
    params(("client_id" = String, Path)),
    responses((status = 200, body = OAuthClientGrantList), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn grants(
    State(app): State<App>,
    AdminAuth(_): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<OAuthClientGrantList>> {
    let grants = app.admin.oauth_client_grants(client_id(&app, &id)?).await?;
    let grants = grants
        .into_iter()
        .map(|(g, email)| OAuthClientGrantView {
            user_id: g.user_id,
            email,
            scopes: g.scopes,
            roles: g.roles,
            resources: g.resources,
            granted_at: g.granted_at,
        })
        .collect();
    Ok(Json(OAuthClientGrantList { grants }))
}
