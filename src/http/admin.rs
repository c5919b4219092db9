//! The admin API, shaped like Supabase Auth's (`@supabase/auth-js` admin client), behind
//! `Authorization: Bearer <AUTH_ADMIN_SECRET>`. Without the setting these routes do not exist.

use axum::{
    extract::{FromRequestParts, Path, Query, State},
    http::{header, request::Parts, HeaderValue},
    response::{IntoResponse, Response},
    routing::{delete, get},
    Json, Router,
};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{extract::bearer, user::user_view, Payload};
use crate::{
    admin::{Actor, Ban, NewUserInput, UserPatch},
    api::UserView,
    app::App,
    client::Client,
    error::{code, Error, Result},
    secret::Secret,
};

pub fn router() -> Router<App> {
    Router::new()
        .route("/admin/users", get(list_users).post(create_user))
        .route(
            "/admin/users/{id}",
            get(get_user).put(update_user).delete(delete_user),
        )
        .route(
            "/admin/users/{id}/sessions",
            get(list_sessions).delete(revoke_all_sessions),
        )
        .route(
            "/admin/users/{id}/sessions/{session_id}",
            delete(revoke_session),
        )
        .route("/admin/audit", get(audit))
}

/// Proof that the request carries the admin secret.
pub(super) struct AdminAuth(pub(super) Actor);

impl FromRequestParts<App> for AdminAuth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self> {
        let Some(secret) = &app.config.server.admin_secret else {
            return Err(Error::not_found(code::NOT_FOUND, "No such endpoint"));
        };
        let token = bearer(&parts.headers)?;
        if !secret.matches(token.as_bytes()) {
            return Err(Error::forbidden(code::NOT_ADMIN, "User not allowed"));
        }
        let client = Client::from_request_parts(parts, app)
            .await
            .unwrap_or_default();
        Ok(Self(Actor {
            via: "admin_api",
            client,
        }))
    }
}

#[derive(Deserialize)]
/// Query parameters as text: auth-js sends `page=&per_page=` (empty) when the caller gives none.
struct Paging {
    page: Option<String>,
    per_page: Option<String>,
    user_id: Option<String>,
}

fn number(value: &Option<String>, name: &str, default: u32) -> Result<u32> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(default),
        Some(v) => v.parse().map_err(|_| {
            Error::bad_request(
                code::VALIDATION_FAILED,
                format!("{name} must be a positive integer"),
            )
        }),
    }
}

impl Paging {
    fn user_id(&self) -> Result<Option<Uuid>> {
        match self.user_id.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => Uuid::parse_str(v)
                .map(Some)
                .map_err(|_| Error::bad_request(code::VALIDATION_FAILED, "user_id must be a UUID")),
        }
    }

    fn get(&self) -> Result<(u32, u32)> {
        let page = number(&self.page, "page", 1)?.max(1);
        let per_page = number(&self.per_page, "per_page", 50)?;
        if !(1..=1000).contains(&per_page) {
            return Err(Error::bad_request(
                code::VALIDATION_FAILED,
                "per_page must be between 1 and 1000",
            ));
        }
        Ok((page, per_page))
    }
}

fn paging(
    query: std::result::Result<Query<Paging>, axum::extract::rejection::QueryRejection>,
) -> Result<Paging> {
    query.map(|Query(q)| q).map_err(|e| {
        Error::bad_request(
            code::VALIDATION_FAILED,
            format!("invalid query: {}", e.body_text()),
        )
    })
}

/// `x-total-count` plus an RFC 8288 `link` header with next and last pages, as auth-js reads
/// them. `path` may carry other query parameters (`/admin/audit?user_id=…&`).
fn paginated(body: Value, path: &str, page: u32, per_page: u32, total: i64) -> Response {
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert("x-total-count", HeaderValue::from(total));
    let last = ((total.max(1) as u64).div_ceil(u64::from(per_page))).max(1);
    let mut links = Vec::new();
    if u64::from(page) < last {
        links.push(format!(
            "<{path}page={}&per_page={per_page}>; rel=\"next\"",
            page + 1
        ));
    }
    links.push(format!(
        "<{path}page={last}&per_page={per_page}>; rel=\"last\""
    ));
    if let Ok(v) = HeaderValue::from_str(&links.join(", ")) {
        headers.insert(header::LINK, v);
    }
    response
}

/// A user id from the path; one that is not a UUID names no user.
fn parse_id(id: &str) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| Error::user_not_found())
}

#[derive(Deserialize)]
struct CreateUser {
    email: Option<String>,
    password: Option<Secret>,
    user_metadata: Option<Value>,
    app_metadata: Option<Value>,
    ban_duration: Option<String>,
    /// The address counts as confirmed (otherwise the user confirms it, when confirmation
    /// is required, through a link or code).
    email_confirm: Option<bool>,
    disabled: Option<bool>,
}

/// Creates a user (`auth.admin.createUser`).
#[utoipa::path(post, path = "/admin/users", tag = "admin", security(("admin_secret" = [])),
    request_body(content = Object, description = "`{email, password?, user_metadata?, app_metadata?, email_confirm?, ban_duration?, disabled?}`"),
    responses((status = 200, body = UserView), (status = 400, body = super::openapi::Error), (status = 401, body = super::openapi::Error), (status = 404, body = super::openapi::Error), (status = 422, body = super::openapi::Error)))]
async fn create_user(
    State(app): State<App>,
    AdminAuth(actor): AdminAuth,
    Payload(req): Payload<CreateUser>,
) -> Result<Json<UserView>> {
    let email = req
        .email
        .ok_or_else(|| Error::invalid("email is required"))?;
    let input = NewUserInput {
        email,
        password: req.password,
        user_metadata: req.user_metadata,
        app_metadata: req.app_metadata,
        enabled: !req.disabled.unwrap_or(false),
        ban: req.ban_duration.as_deref().map(Ban::parse).transpose()?,
        email_confirmed: req.email_confirm.unwrap_or(false),
    };
    let user = app.admin.create_user(input, &actor).await?;
    Ok(Json(user_view(&app, &user)))
}

/// A page of users, with `x-total-count` and `Link` headers.
#[utoipa::path(get, path = "/admin/users", tag = "admin", security(("admin_secret" = [])),
    params(("page" = Option<u32>, Query), ("per_page" = Option<u32>, Query)),
    responses((status = 200, body = super::openapi::UserPage), (status = 400, body = super::openapi::Error), (status = 401, body = super::openapi::Error), (status = 404, body = super::openapi::Error), (status = 422, body = super::openapi::Error)))]
async fn list_users(
    State(app): State<App>,
    AdminAuth(_): AdminAuth,
    query: std::result::Result<Query<Paging>, axum::extract::rejection::QueryRejection>,
) -> Result<Response> {
    let (page, per_page) = paging(query)?.get()?;
    let (users, total) = app.admin.list_users(page, per_page).await?;
    let users: Vec<UserView> = users.iter().map(|u| user_view(&app, u)).collect();
    let aud = app.config.user_audience();
    Ok(paginated(
        json!({"users": users, "aud": aud}),
        "/admin/users?",
        page,
        per_page,
        total,
    ))
}

#[utoipa::path(get, path = "/admin/users/{id}", tag = "admin", security(("admin_secret" = [])),
    params(("id" = String, Path)), responses((status = 200, body = UserView), (status = 400, body = super::openapi::Error), (status = 401, body = super::openapi::Error), (status = 404, body = super::openapi::Error), (status = 422, body = super::openapi::Error)))]
async fn get_user(
    State(app): State<App>,
    AdminAuth(_): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<UserView>> {
    let user = app.admin.get_user(parse_id(&id)?).await?;
    Ok(Json(user_view(&app, &user)))
}

#[derive(Deserialize)]
struct UpdateUser {
    email: Option<String>,
    password: Option<Secret>,
    user_metadata: Option<Value>,
    app_metadata: Option<Value>,
    ban_duration: Option<String>,
    disabled: Option<bool>,
    email_confirm: Option<bool>,
}

/// Changes a user (`auth.admin.updateUserById`).
#[utoipa::path(put, path = "/admin/users/{id}", tag = "admin", security(("admin_secret" = [])), params(("id" = String, Path)),
    request_body(content = Object, description = "`{email?, password?, user_metadata?, app_metadata?, email_confirm?, ban_duration?, disabled?}`"),
    responses((status = 200, body = UserView), (status = 400, body = super::openapi::Error), (status = 401, body = super::openapi::Error), (status = 404, body = super::openapi::Error), (status = 422, body = super::openapi::Error)))]
async fn update_user(
    State(app): State<App>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<String>,
    Payload(req): Payload<UpdateUser>,
) -> Result<Json<UserView>> {
    let patch = UserPatch {
        email: req.email,
        password: req.password,
        user_metadata: req.user_metadata,
        app_metadata: req.app_metadata,
        enabled: req.disabled.map(|d| !d),
        ban: req.ban_duration.as_deref().map(Ban::parse).transpose()?,
        email_confirmed: req.email_confirm,
    };
    let user = app.admin.update_user(parse_id(&id)?, patch, &actor).await?;
    Ok(Json(user_view(&app, &user)))
}

/// Deletes a user; answers with the deleted user.
#[utoipa::path(delete, path = "/admin/users/{id}", tag = "admin", security(("admin_secret" = [])),
    params(("id" = String, Path)), responses((status = 200, body = UserView), (status = 400, body = super::openapi::Error), (status = 401, body = super::openapi::Error), (status = 404, body = super::openapi::Error), (status = 422, body = super::openapi::Error)))]
async fn delete_user(
    State(app): State<App>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<UserView>> {
    // The deleted user, as Supabase Auth answers (auth-js's deleteUser returns it).
    let user = app.admin.delete_user(parse_id(&id)?, &actor).await?;
    Ok(Json(user_view(&app, &user)))
}

#[utoipa::path(get, path = "/admin/users/{id}/sessions", tag = "admin", security(("admin_secret" = [])),
    params(("id" = String, Path)), responses((status = 200, body = super::openapi::AdminSessions), (status = 400, body = super::openapi::Error), (status = 401, body = super::openapi::Error), (status = 404, body = super::openapi::Error), (status = 422, body = super::openapi::Error)))]
async fn list_sessions(
    State(app): State<App>,
    AdminAuth(_): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let sessions = app.admin.list_sessions(parse_id(&id)?).await?;
    Ok(Json(json!({"sessions": sessions})))
}

#[utoipa::path(delete, path = "/admin/users/{id}/sessions", tag = "admin", security(("admin_secret" = [])),
    params(("id" = String, Path)), responses((status = 200, body = super::openapi::Revoked), (status = 400, body = super::openapi::Error), (status = 401, body = super::openapi::Error), (status = 404, body = super::openapi::Error), (status = 422, body = super::openapi::Error)))]
async fn revoke_all_sessions(
    State(app): State<App>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let id = parse_id(&id)?;
    app.admin.get_user(id).await?;
    let n = app.admin.revoke_sessions(id, None, &actor).await?;
    Ok(Json(json!({"revoked": n})))
}

#[utoipa::path(delete, path = "/admin/users/{id}/sessions/{session_id}", tag = "admin", security(("admin_secret" = [])),
    params(("id" = String, Path), ("session_id" = String, Path)),
    responses((status = 200, body = super::openapi::Revoked), (status = 400, body = super::openapi::Error), (status = 401, body = super::openapi::Error), (status = 404, body = super::openapi::Error), (status = 422, body = super::openapi::Error)))]
async fn revoke_session(
    State(app): State<App>,
    AdminAuth(actor): AdminAuth,
    Path((id, session_id)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let session_id = Uuid::parse_str(&session_id)
        .map_err(|_| Error::not_found(code::SESSION_NOT_FOUND, "Session not found"))?;
    let n = app
        .admin
        .revoke_sessions(parse_id(&id)?, Some(session_id), &actor)
        .await?;
    Ok(Json(json!({"revoked": n})))
}

/// A page of the audit log, newest first, with `x-total-count` and `Link` headers.
#[utoipa::path(get, path = "/admin/audit", tag = "admin", security(("admin_secret" = [])),
    params(("page" = Option<u32>, Query), ("per_page" = Option<u32>, Query), ("user_id" = Option<String>, Query)),
    responses((status = 200, body = Vec<super::openapi::AuditEntry>), (status = 400, body = super::openapi::Error), (status = 401, body = super::openapi::Error), (status = 404, body = super::openapi::Error), (status = 422, body = super::openapi::Error)))]
async fn audit(
    State(app): State<App>,
    AdminAuth(_): AdminAuth,
    query: std::result::Result<Query<Paging>, axum::extract::rejection::QueryRejection>,
) -> Result<Response> {
    let q = paging(query)?;
    let (page, per_page) = q.get()?;
    let user_id = q.user_id()?;
    let (entries, total) = app.admin.audit_log(page, per_page, user_id).await?;
    let path = match user_id {
        Some(id) => format!("/admin/audit?user_id={id}&"),
        None => "/admin/audit?".to_owned(),
    };
    Ok(paginated(json!(entries), &path, page, per_page, total))
}
