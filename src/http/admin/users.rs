//! `/admin/users`: creating, listing, reading, changing and deleting users, and the provider
//! tokens kept for them.

use axum::{
    extract::{Path, Query, State},
    response::Response,
    routing::get,
    Json, Router,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{paginated, paging, parse_id, AdminAuth, Paging};
use crate::{
    admin::{Ban, NewUserInput, UserPatch},
    api::{UserPage, UserView},
    app::App,
    error::{Error, Required, Result},
    http::{user::user_view, Payload},
    secret::Secret,
};

pub(super) fn router() -> Router<App> {
    Router::new()
        .route("/admin/users", get(list_users).post(create_user))
        .route(
            "/admin/users/{id}",
            get(get_user).put(update_user).delete(delete_user),
        )
        .route("/admin/users/{id}/provider_tokens", get(provider_tokens))
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
    responses((status = 200, body = UserView), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody)))]
async fn create_user(
    State(app): State<App>,
    AdminAuth(actor): AdminAuth,
    Payload(req): Payload<CreateUser>,
) -> Result<Json<UserView>> {
    let email = req.email.required("email")?;
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
    responses((status = 200, body = crate::api::UserPage), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody)))]
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
        UserPage {
            users,
            aud: aud.to_owned(),
        },
        "/admin/users?",
        page,
        per_page,
        total,
    ))
}

#[utoipa::path(get, path = "/admin/users/{id}", tag = "admin", security(("admin_secret" = [])),
    params(("id" = String, Path)), responses((status = 200, body = UserView), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody)))]
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
    responses((status = 200, body = UserView), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody)))]
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
    params(("id" = String, Path)), responses((status = 200, body = UserView), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody)))]
async fn delete_user(
    State(app): State<App>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<UserView>> {
    // The deleted user, as Supabase Auth answers (auth-js's deleteUser returns it).
    let user = app.admin.delete_user(parse_id(&id)?, &actor).await?;
    Ok(Json(user_view(&app, &user)))
}

/// `{provider_tokens: [...]}`.
#[derive(Serialize)]
pub(super) struct ProviderTokens {
    provider_tokens: Vec<Value>,
}

/// `GET /admin/users/{id}/provider_tokens` (admin secret): the provider tokens kept for the
/// user's identities, with `AUTH_PROVIDER_TOKENS_KEY`.
#[utoipa::path(get, path = "/admin/users/{id}/provider_tokens", tag = "admin", security(("admin_secret" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "`{provider_tokens: [...]}`", body = Object), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody)))]
async fn provider_tokens(
    State(app): State<App>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<ProviderTokens>> {
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| Error::validation_failed("user id must be a UUID"))?;
    let tokens = app.auth.provider_tokens(id, &actor.client).await?;
    Ok(Json(ProviderTokens {
        provider_tokens: tokens,
    }))
}
