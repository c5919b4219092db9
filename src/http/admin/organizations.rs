//! `/admin/organizations…`: every organization, for the server's administrators: listed,
//! created (with a user as its administrator), deleted; their members listed, put in with
//! roles, removed. The organization always keeps an administrator.

use axum::{
    extract::{Path, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, put},
    Json, Router,
};
use serde::Deserialize;
use serde_json::Value;

use super::{paginated, paging, parse_id, AdminAuth, Paging};
use crate::http::organizations::org_id;
use crate::{
    api::{MemberView, OrganizationPage, OrganizationView},
    app::App,
    auth::organizations::NewOrganization,
    error::{Required, Result},
    http::{no_content, Payload},
};

pub fn router() -> Router<App> {
    Router::new()
        .route(
            "/admin/organizations",
            get(list_organizations).post(create_organization),
        )
        .route(
            "/admin/organizations/{id}",
            axum::routing::delete(delete_organization),
        )
        .route("/admin/organizations/{id}/members", get(members))
        .route(
            "/admin/organizations/{id}/members/{user_id}",
            put(put_member).delete(remove_member),
        )
}

/// A page of organizations by name, each with its number of members; `x-total-count` and
/// `Link` headers.
#[utoipa::path(get, path = "/admin/organizations", tag = "admin", security(("admin_secret" = [])),
    params(("page" = Option<u32>, Query), ("per_page" = Option<u32>, Query)),
    responses((status = 200, body = OrganizationPage), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody)))]
async fn list_organizations(
    State(app): State<App>,
    AdminAuth(_): AdminAuth,
    query: std::result::Result<Query<Paging>, axum::extract::rejection::QueryRejection>,
) -> Result<Response> {
    let (page, per_page) = paging(query)?.get()?;
    let (listed, total) = app.admin.list_organizations(page, per_page).await?;
    let body = OrganizationPage {
        organizations: listed.into_iter().map(Into::into).collect(),
    };
    Ok(paginated(
        body,
        "/admin/organizations?",
        page,
        per_page,
        total,
    ))
}

#[derive(Deserialize)]
struct CreateRequest {
    name: Option<String>,
    slug: Option<String>,
    metadata: Option<Value>,
    admin_user_id: Option<String>,
}

/// Creates an organization with the user `admin_user_id` as its administrator. 201.
#[utoipa::path(post, path = "/admin/organizations", tag = "admin", security(("admin_secret" = [])),
    request_body(content = Object, description = "`{name, slug?, metadata?, admin_user_id}`"),
    responses((status = 201, body = OrganizationView), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody),
        (status = 404, body = crate::api::ErrorBody), (status = 409, body = crate::api::ErrorBody)))]
async fn create_organization(
    State(app): State<App>,
    AdminAuth(actor): AdminAuth,
    Payload(req): Payload<CreateRequest>,
) -> Result<Response> {
    let admin_id = parse_id(&req.admin_user_id.required("admin_user_id")?)?;
    let new = NewOrganization {
        name: req.name.required("name")?,
        slug: req.slug,
        metadata: req.metadata,
    };
    let made = app.admin.create_organization(new, admin_id, &actor).await?;
    Ok((StatusCode::CREATED, Json(OrganizationView::from(made))).into_response())
}

/// Deletes an organization and its memberships. 204.
#[utoipa::path(delete, path = "/admin/organizations/{id}", tag = "admin", security(("admin_secret" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn delete_organization(
    State(app): State<App>,
    AdminAuth(actor): AdminAuth,
    Path(id): Path<String>,
) -> Result<Response> {
    app.admin.delete_organization(org_id(&id)?, &actor).await?;
    Ok(no_content())
}

/// The organization's members.
#[utoipa::path(get, path = "/admin/organizations/{id}/members", tag = "admin", security(("admin_secret" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<MemberView>), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn members(
    State(app): State<App>,
    AdminAuth(_): AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<Vec<MemberView>>> {
    let all = app.admin.organization_members(org_id(&id)?).await?;
    Ok(Json(all.into_iter().map(Into::into).collect()))
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
    let roles = req.roles.required("roles")?;
    let member = app
        .admin
        .put_organization_member(org_id(&id)?, parse_id(&user_id)?, &roles, &actor)
        .await?;
    Ok(Json(member.into()))
}

/// Removes a member (not the organization's last administrator). 204.
#[utoipa::path(delete, path = "/admin/organizations/{id}/members/{user_id}", tag = "admin", security(("admin_secret" = [])),
    params(("id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody),
        (status = 422, body = crate::api::ErrorBody)))]
async fn remove_member(
    State(app): State<App>,
    AdminAuth(actor): AdminAuth,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<Response> {
    app.admin
        .remove_organization_member(org_id(&id)?, parse_id(&user_id)?, &actor)
        .await?;
    Ok(no_content())
}
