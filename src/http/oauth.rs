//! `/oauth/…`: this server as an OAuth 2.1 provider (with `AUTH_OAUTH_SERVER`), in Supabase
//! Auth's shapes. The rules are the core's (`auth::oauth_server`).

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};
use serde::Deserialize;

use super::{no_store, origin::ApiOrigin, Payload};
use crate::{
    api::OAuthClientView, app::App, auth::oauth_server::clients::ClientParams, client::Client,
    error::Result,
};

pub(super) mod flow;
pub(super) mod grants;
pub(super) mod token;

pub fn router() -> Router<App> {
    Router::new()
        .route("/oauth/clients/register", post(register))
        .merge(flow::router())
        .merge(token::router())
        .merge(grants::router())
}

/// What a registration (RFC 7591, and the admin API) or an admin update takes. Unknown fields,
/// such as `response_types` and `scope`, are ignored, as in Supabase Auth.
#[derive(Deserialize, Default)]
pub(super) struct ClientRequest {
    redirect_uris: Option<Vec<String>>,
    client_type: Option<String>,
    token_endpoint_auth_method: Option<String>,
    grant_types: Option<Vec<String>>,
    client_name: Option<String>,
    client_uri: Option<String>,
    logo_uri: Option<String>,
    allowed_roles: Option<Vec<String>>,
}

impl From<ClientRequest> for ClientParams {
    fn from(r: ClientRequest) -> Self {
        Self {
            redirect_uris: r.redirect_uris,
            client_type: r.client_type,
            token_endpoint_auth_method: r.token_endpoint_auth_method,
            grant_types: r.grant_types,
            client_name: r.client_name,
            client_uri: r.client_uri,
            logo_uri: r.logo_uri,
            allowed_roles: r.allowed_roles,
        }
    }
}

/// Dynamic client registration (RFC 7591), with `AUTH_OAUTH_DYNAMIC_REGISTRATION`. 201.
#[utoipa::path(post, path = "/oauth/clients/register", tag = "oauth",
    request_body(content = Object, description = "RFC 7591 client metadata: `{redirect_uris, token_endpoint_auth_method?, grant_types?, client_name?, client_uri?, logo_uri?}`"),
    responses((status = 201, body = OAuthClientView), (status = 400, body = crate::api::ErrorBody), (status = 403, body = crate::api::ErrorBody),
        (status = 404, body = crate::api::ErrorBody), (status = 429, body = crate::api::ErrorBody)))]
async fn register(
    State(app): State<App>,
    _: ApiOrigin,
    client: Client,
    Payload(req): Payload<ClientRequest>,
) -> Result<Response> {
    let (registered, secret) = app.auth.register_oauth_client(req.into(), &client).await?;
    let view = OAuthClientView::registered(registered, secret.map(|s| s.expose().to_owned()));
    Ok(no_store((StatusCode::CREATED, Json(view)).into_response()))
}
