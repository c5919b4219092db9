//! `GET|DELETE /user/oauth/grants`: the applications the signed-in user let act for them,
//! listed and revoked (Supabase Auth's shapes). Revoking ends the application's sessions.

use axum::{
    extract::{rejection::QueryRejection, Query, State},
    response::Response,
    routing::get,
    Json, Router,
};
use serde::Deserialize;
use uuid::Uuid;

use crate::{
    api::OAuthGrantView,
    app::App,
    auth::Authenticated,
    client::Client,
    error::{Error, Result},
    http::{extract::bad_query, no_content, origin::ApiOrigin},
};

pub fn router() -> Router<App> {
    Router::new().route("/user/oauth/grants", get(list).delete(revoke))
}

#[derive(Deserialize)]
struct ClientQuery {
    client_id: Option<String>,
}

fn client_id(q: std::result::Result<Query<ClientQuery>, QueryRejection>) -> Result<Option<Uuid>> {
    let Query(q) = q.map_err(bad_query)?;
    q.client_id
        .map(|id| {
            Uuid::parse_str(&id).map_err(|_| Error::validation_failed("client_id must be a UUID"))
        })
        .transpose()
}

/// The user's grants, newest first (`?client_id=`: only that application's).
#[utoipa::path(get, path = "/user/oauth/grants", tag = "oauth", security(("bearer" = [])),
    params(("client_id" = Option<Uuid>, Query)),
    responses((status = 200, body = [OAuthGrantView]), (status = 401, body = crate::api::ErrorBody)))]
async fn list(
    State(app): State<App>,
    who: Authenticated,
    q: std::result::Result<Query<ClientQuery>, QueryRejection>,
) -> Result<Json<Vec<OAuthGrantView>>> {
    let grants = app
        .auth
        .user_oauth_grants(who.user.id, client_id(q)?)
        .await?;
    Ok(Json(grants.into_iter().map(Into::into).collect()))
}

/// Revokes the user's grant to `?client_id=`: its tokens stop (refresh at once; access tokens
/// at once wherever the session is checked: the webhook, `/oauth/userinfo`).
#[utoipa::path(delete, path = "/user/oauth/grants", tag = "oauth", security(("bearer" = [])),
    params(("client_id" = Uuid, Query)),
    responses((status = 204), (status = 400, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn revoke(
    State(app): State<App>,
    _: ApiOrigin,
    who: Authenticated,
    client: Client,
    q: std::result::Result<Query<ClientQuery>, QueryRejection>,
) -> Result<Response> {
    let client_id =
        client_id(q)?.ok_or_else(|| Error::validation_failed("client_id is required"))?;
    app.auth
        .revoke_oauth_grant(who.user.id, client_id, Some(who.token.session_id), &client)
        .await?;
    Ok(no_content())
}
