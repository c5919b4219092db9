//! `/organizations`: the signed-in user's organizations, their members and roles. The rules
//! are the core's (`auth::organizations`).

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{delete, get, post, put},
    Json, Router,
};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::{no_content, origin::ApiOrigin, Payload};
use crate::{
    api::{MemberView, OrganizationView},
    app::App,
    auth::{organizations::NewOrganization, Authenticated},
    client::Client,
    error::{Code, Error, Required, Result},
};

pub mod invitations;

pub fn router() -> Router<App> {
    Router::new()
        .merge(invitations::router())
        .route("/organizations", get(list).post(create))
        .route("/organizations/{id}", get(show).delete(remove))
        .route("/organizations/{id}/members", get(members))
        .route(
            "/organizations/{id}/members/{user_id}",
            put(set_roles).delete(remove_member),
        )
        .route("/organizations/{id}/leave", post(leave))
        .route("/organizations/{id}/activate", post(activate))
        .route("/organizations/active", delete(deactivate))
}

pub(super) fn uuid_of(raw: &str, code: Code, what: &str) -> Result<Uuid> {
    Uuid::parse_str(raw).map_err(|_| Error::new(code, what.to_owned()))
}

/// The organization id of a path: 404 `organization_not_found` when it is not a UUID.
pub(super) fn org_id(raw: &str) -> Result<Uuid> {
    Uuid::parse_str(raw).map_err(|_| crate::auth::organizations::not_found())
}

#[derive(Deserialize)]
struct CreateRequest {
    name: Option<String>,
    slug: Option<String>,
    metadata: Option<Value>,
}

/// Creates an organization; the caller becomes its administrator. 201.
#[utoipa::path(post, path = "/organizations", tag = "organizations", security(("access_token" = [])),
    request_body(content = Object, description = "`{name, slug?, metadata?}`"),
    responses((status = 201, body = OrganizationView), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody),
        (status = 403, body = crate::api::ErrorBody), (status = 409, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody)))]
async fn create(
    State(app): State<App>,
    _: ApiOrigin,
    who: Authenticated,
    client: Client,
    Payload(req): Payload<CreateRequest>,
) -> Result<Response> {
    let new = NewOrganization {
        name: req.name.required("name")?,
        slug: req.slug,
        metadata: req.metadata,
    };
    let created = app
        .auth
        .create_organization(&who.caller(), new, &client)
        .await?;
    Ok((StatusCode::CREATED, Json(OrganizationView::from(created))).into_response())
}

/// The caller's organizations, with the caller's roles in each.
#[utoipa::path(get, path = "/organizations", tag = "organizations", security(("access_token" = [])),
    responses((status = 200, body = Vec<OrganizationView>), (status = 401, body = crate::api::ErrorBody)))]
async fn list(State(app): State<App>, who: Authenticated) -> Result<Json<Vec<OrganizationView>>> {
    let all = app.auth.own_organizations(&who.caller()).await?;
    Ok(Json(all.into_iter().map(Into::into).collect()))
}

/// One of the caller's organizations.
#[utoipa::path(get, path = "/organizations/{id}", tag = "organizations", security(("access_token" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = OrganizationView), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn show(
    State(app): State<App>,
    who: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<OrganizationView>> {
    let found = app.auth.organization(&who.caller(), org_id(&id)?).await?;
    Ok(Json(found.into()))
}

/// Deletes the organization (administrators). 204.
#[utoipa::path(delete, path = "/organizations/{id}", tag = "organizations", security(("access_token" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 401, body = crate::api::ErrorBody), (status = 403, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn remove(
    State(app): State<App>,
    _: ApiOrigin,
    who: Authenticated,
    client: Client,
    Path(id): Path<String>,
) -> Result<Response> {
    app.auth
        .delete_organization(&who.caller(), org_id(&id)?, &client)
        .await?;
    Ok(no_content())
}

/// The organization's members (administrators).
#[utoipa::path(get, path = "/organizations/{id}/members", tag = "organizations", security(("access_token" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<MemberView>), (status = 401, body = crate::api::ErrorBody), (status = 403, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn members(
    State(app): State<App>,
    who: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Vec<MemberView>>> {
    let all = app
        .auth
        .organization_members(&who.caller(), org_id(&id)?)
        .await?;
    Ok(Json(all.into_iter().map(Into::into).collect()))
}

#[derive(Deserialize)]
struct RolesRequest {
    roles: Option<Vec<String>>,
}

fn member_id(raw: &str) -> Result<Uuid> {
    uuid_of(
        raw,
        Code::OrganizationMemberNotFound,
        "No such member of this organization",
    )
}

/// Sets a member's roles (administrators; the last administrator keeps the role).
#[utoipa::path(put, path = "/organizations/{id}/members/{user_id}", tag = "organizations", security(("access_token" = [])),
    params(("id" = String, Path), ("user_id" = String, Path)), request_body(content = Object, description = "`{roles}`"),
    responses((status = 200, body = MemberView), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody),
        (status = 403, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody)))]
async fn set_roles(
    State(app): State<App>,
    _: ApiOrigin,
    who: Authenticated,
    client: Client,
    Path((id, user_id)): Path<(String, String)>,
    Payload(req): Payload<RolesRequest>,
) -> Result<Json<MemberView>> {
    let roles = req.roles.required("roles")?;
    let member = app
        .auth
        .set_organization_member_roles(
            &who.caller(),
            org_id(&id)?,
            member_id(&user_id)?,
            &roles,
            &client,
        )
        .await?;
    Ok(Json(member.into()))
}

/// Removes a member (administrators; not the last administrator). 204.
#[utoipa::path(delete, path = "/organizations/{id}/members/{user_id}", tag = "organizations", security(("access_token" = [])),
    params(("id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204, description = "Removed"), (status = 401, body = crate::api::ErrorBody), (status = 403, body = crate::api::ErrorBody),
        (status = 404, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody)))]
async fn remove_member(
    State(app): State<App>,
    _: ApiOrigin,
    who: Authenticated,
    client: Client,
    Path((id, user_id)): Path<(String, String)>,
) -> Result<Response> {
    app.auth
        .remove_organization_member(&who.caller(), org_id(&id)?, member_id(&user_id)?, &client)
        .await?;
    Ok(no_content())
}

/// Leaves the organization (any member but the last administrator). 204.
#[utoipa::path(post, path = "/organizations/{id}/leave", tag = "organizations", security(("access_token" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "Left"), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody)))]
async fn leave(
    State(app): State<App>,
    _: ApiOrigin,
    who: Authenticated,
    client: Client,
    Path(id): Path<String>,
) -> Result<Response> {
    app.auth
        .leave_organization(&who.caller(), org_id(&id)?, &client)
        .await?;
    Ok(no_content())
}

/// The caller's session acts in this organization from now on: its id (`x-hasura-org-id`)
/// and the caller's roles there are in the webhook's answers at once, and in the access token
/// from the next refresh.
#[utoipa::path(post, path = "/organizations/{id}/activate", tag = "organizations", security(("access_token" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = OrganizationView), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn activate(
    State(app): State<App>,
    _: ApiOrigin,
    who: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<OrganizationView>> {
    let active = app
        .auth
        .activate_organization(&who.caller(), Some(org_id(&id)?))
        .await?
        .ok_or_else(|| Error::new(Code::OrganizationNotFound, "Organization not found"))?;
    Ok(Json(active.into()))
}

/// The caller's session acts in no organization from now on. 204.
#[utoipa::path(delete, path = "/organizations/active", tag = "organizations", security(("access_token" = [])),
    responses((status = 204, description = "In no organization"), (status = 401, body = crate::api::ErrorBody)))]
async fn deactivate(State(app): State<App>, _: ApiOrigin, who: Authenticated) -> Result<Response> {
    app.auth.activate_organization(&who.caller(), None).await?;
    Ok(no_content())
}
