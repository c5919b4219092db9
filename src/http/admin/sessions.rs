//! `/admin/users/{id}/sessions`: a user's sessions, and ending them.

use axum::{
    extract::{Path, State},
    routing::{delete, get},
    Json, Router,
};
use uuid::Uuid;

use super::{parse_id, AdminAuth};
use crate::{
    api::{AdminSessions, Revoked},
    app::App,
    error::{Error, Result},
};

pub(super) fn router() -> Router<App> {
    Router::new()
        .route(
            "/admin/users/{id}/sessions",
            get(list_sessions).delete(revoke_all_sessions),
        )
        .route(
            "/admin/users/{id}/sessions/{session_id}",
            delete(revoke_session),
        )
}

#[utoipa::path(get, path = "/admin/users/{id}/sessions", tag = "admin", security(("admin_secret" = [])),
    params(("id" = String, Path)), responses((status = 200, body = crate::api::AdminSessions), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody)))]
async fn list_sessions(
    State(app): State<App>,
    AdminAuth(_): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<AdminSessions>> {
    let sessions = app.admin.list_sessions(parse_id(&id)?).await?;
    Ok(Json(AdminSessions { sessions }))
}

#[utoipa::path(delete, path = "/admin/users/{id}/sessions", tag = "admin", security(("admin_secret" = [])),
    params(("id" = String, Path)), responses((status = 200, body = crate::api::Revoked), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody)))]
async fn revoke_all_sessions(
    State(app): State<App>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<Revoked>> {
    let id = parse_id(&id)?;
    app.admin.get_user(id).await?;
    let n = app.admin.revoke_sessions(id, None, &actor).await?;
    Ok(Json(Revoked { revoked: n }))
}

#[utoipa::path(delete, path = "/admin/users/{id}/sessions/{session_id}", tag = "admin", security(("admin_secret" = [])),
    params(("id" = String, Path), ("session_id" = String, Path)),
    responses((status = 200, body = crate::api::Revoked), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody)))]
async fn revoke_session(
    State(app): State<App>,
    AdminAuth(actor): AdminAuth,
    Path((id, session_id)): Path<(String, String)>,
) -> Result<Json<Revoked>> {
    let session_id = Uuid::parse_str(&session_id).map_err(|_| Error::no_such_session())?;
    let n = app
        .admin
        .revoke_sessions(parse_id(&id)?, Some(session_id), &actor)
        .await?;
    Ok(Json(Revoked { revoked: n }))
}
