//! `GET /sessions`, `DELETE /sessions/{id}`: the signed-in user's own sessions, for apps that
//! draw their own "where you're signed in" page.

use axum::{
    extract::{Path, State},
    response::Response,
    routing::{delete, get},
    Json, Router,
};
use uuid::Uuid;

use super::origin::ApiOrigin;
use crate::{
    api::SessionList,
    app::App,
    auth::Authenticated,
    client::Client,
    error::{Error, Result},
};

pub fn router() -> Router<App> {
    Router::new()
        .route("/sessions", get(list))
        .route("/sessions/{id}", delete(end))
}

/// `{"sessions": [{id, created_at, refreshed_at, user_agent, ip, current}]}`.
#[utoipa::path(get, path = "/sessions", tag = "user", security(("access_token" = [])),
    responses((status = 200, body = crate::api::SessionList), (status = 401, body = crate::api::ErrorBody)))]
async fn list(State(app): State<App>, who: Authenticated) -> Result<Json<SessionList>> {
    let sessions = app
        .auth
        .own_sessions(who.user.id, who.token.session_id)
        .await?;
    Ok(Json(SessionList { sessions }))
}

/// 204; 404 `no_such_session` for a session that is not the caller's.
#[utoipa::path(delete, path = "/sessions/{id}", tag = "user", security(("access_token" = [])),
    params(("id" = String, Path, description = "A session id from GET /sessions")),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody),
    ))]
async fn end(
    State(app): State<App>,
    _: ApiOrigin,
    who: Authenticated,
    client: Client,
    Path(id): Path<String>,
) -> Result<Response> {
    let id = Uuid::parse_str(&id).map_err(|_| Error::no_such_session())?;
    app.auth
        .end_own_session(who.user.id, id, who.token.session_id, &client)
        .await?;
    Ok(super::no_content())
}
