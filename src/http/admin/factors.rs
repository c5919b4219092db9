//! `/admin/users/{id}/factors` and `/passkeys`: a user's second factors (auth-js
//! `admin.mfa.listFactors`, `deleteFactor`) and passkeys (`admin.passkey.list`, `delete`).

use axum::{
    extract::{Path, State},
    routing::{delete, get},
    Json, Router,
};
use uuid::Uuid;

use super::{parse_id, AdminAuth};
use crate::{api::FactorView, app::App, auth::mfa::factor_not_found, error::Result};

pub(super) fn router() -> Router<App> {
    Router::new()
        .route("/admin/users/{id}/factors", get(list_factors))
        .route(
            "/admin/users/{id}/factors/{factor_id}",
            delete(delete_factor),
        )
        .route("/admin/users/{id}/passkeys", get(list_passkeys))
        .route(
            "/admin/users/{id}/passkeys/{passkey_id}",
            delete(delete_passkey),
        )
}

/// The user's factors, as an array.
#[utoipa::path(get, path = "/admin/users/{id}/factors", tag = "admin", security(("admin_secret" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<FactorView>), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn list_factors(
    State(app): State<App>,
    AdminAuth(_): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<Vec<FactorView>>> {
    let factors = app.admin.list_factors(parse_id(&id)?).await?;
    Ok(Json(factors.iter().map(Into::into).collect()))
}

/// Removes one of the user's factors; the sessions it raised drop to aal1. The factor removed.
#[utoipa::path(delete, path = "/admin/users/{id}/factors/{factor_id}", tag = "admin", security(("admin_secret" = [])),
    params(("id" = String, Path), ("factor_id" = String, Path)),
    responses((status = 200, body = FactorView), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn delete_factor(
    State(app): State<App>,
    AdminAuth(actor): AdminAuth,
    Path((id, factor_id)): Path<(String, String)>,
) -> Result<Json<FactorView>> {
    let factor_id = Uuid::parse_str(&factor_id).map_err(|_| factor_not_found())?;
    let factor = app
        .admin
        .delete_factor(parse_id(&id)?, factor_id, &actor)
        .await?;
    Ok(Json((&factor).into()))
}

/// The user's passkeys, as an array.
#[utoipa::path(get, path = "/admin/users/{id}/passkeys", tag = "admin", security(("admin_secret" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<crate::api::PasskeyView>), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn list_passkeys(
    State(app): State<App>,
    AdminAuth(_): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<Vec<crate::api::PasskeyView>>> {
    let all = app.admin.list_passkeys(parse_id(&id)?).await?;
    Ok(Json(all.into_iter().map(Into::into).collect()))
}

/// Removes one of the user's passkeys. 204.
#[utoipa::path(delete, path = "/admin/users/{id}/passkeys/{passkey_id}", tag = "admin", security(("admin_secret" = [])),
    params(("id" = String, Path), ("passkey_id" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn delete_passkey(
    State(app): State<App>,
    AdminAuth(actor): AdminAuth,
    Path((id, passkey_id)): Path<(String, String)>,
) -> Result<axum::response::Response> {
    let passkey_id = Uuid::parse_str(&passkey_id).map_err(|_| {
        crate::error::Error::new(crate::error::Code::PasskeyNotFound, "Passkey not found")
    })?;
    app.admin
        .delete_passkey(parse_id(&id)?, passkey_id, &actor)
        .await?;
    Ok(crate::http::no_content())
}
