//! `/admin/organizations/{id}/members/{user_id}`: a user put in an organization.

use axum::{
    extract::{Path, State},
    routing::put,
    Json, Router,
};
use serde::Deserialize;
use uuid::Uuid;

use super::{parse_id, AdminAuth};
use crate::{
    api::MemberView,
    app::App,
    error::{Code, Error, Required, Result},
    http::Payload,
};

pub fn router() -> Router<App> {
    Router::new().route(
        "/admin/organizations/{id}/members/{user_id}",
        put(put_member),
    )
}

#[derive(Deserialize)]
struct RolesRequest {
    roles: Option<Vec<String>>,
}

/// Adds the user to the organization with `roles`, or sets a member's roles (the
/// organization keeps an administrator).
#[utoipa::path(put, path = "/admin/organizations/{id}/members/{user_id}", tag = "admin", security(("admin_secret" = [])),
    params(("id" = String, Path), ("user_id" = String, Path)), request_body(content = Object, description = "`{roles}`"),
    responses((status = 200, body = MemberView), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody),
        (status = 404, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody)))]
async fn put_member(
    State(app): State<App>,
    AdminAuth(actor): AdminAuth,
    Path((id, user_id)): Path<(String, String)>,
    Payload(req): Payload<RolesRequest>,
) -> Result<Json<MemberView>> {
    let id = Uuid::parse_str(&id)
        .map_err(|_| Error::new(Code::OrganizationNotFound, "Organization not found"))?;
    let roles = req.roles.required("roles")?;
    let member = app
        .admin
        .put_organization_member(id, parse_id(&user_id)?, &roles, &actor)
        .await?;
    Ok(Json(member.into()))
}
