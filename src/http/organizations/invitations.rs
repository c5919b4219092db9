//! Invitations: sent by an organization's administrators (`/organizations/{id}/invitations`),
//! seen and accepted by their invitees (`/invitations`). The rules are the core's
//! (`auth::organizations::invitations`).

use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{delete, get, post},
    Json, Router,
};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::{org_id, uuid_of};
use crate::{
    api::{InvitationView, OfferedInvitationView, OrganizationView},
    app::App,
    auth::{
        organizations::invitations::{Invite, Named},
        Authenticated,
    },
    client::Client,
    error::{Code, Error, Required, Result},
    http::{extract::RedirectTo, no_content, origin::ApiOrigin, token::session_response, Payload},
    secret::Secret,
};

pub fn router() -> Router<App> {
    Router::new()
        .route(
            "/organizations/{id}/invitations",
            get(list_sent).post(invite),
        )
        .route(
            "/organizations/{id}/invitations/{invitation_id}",
            delete(withdraw),
        )
        .route("/invitations", get(list_received))
        .route("/invitations/inspect", post(inspect))
        .route("/invitations/accept", post(accept))
}

#[derive(Deserialize)]
struct InviteRequest {
    email: Option<String>,
    roles: Option<Vec<String>>,
}

/// Invites an address to the organization (administrators): the message carries a link that
/// joins with `roles` (default: `AUTH_ORGANIZATION_DEFAULT_ROLE`). 201.
#[utoipa::path(post, path = "/organizations/{id}/invitations", tag = "organizations", security(("access_token" = [])),
    params(("id" = String, Path), ("redirect_to" = Option<String>, Query, description = "Where the invitee lands after accepting")),
    request_body(content = Object, description = "`{email, roles?}`"),
    responses((status = 201, body = InvitationView), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody),
        (status = 403, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody), (status = 409, body = crate::api::ErrorBody),
        (status = 429, body = crate::api::ErrorBody)))]
async fn invite(
    State(app): State<App>,
    _: ApiOrigin,
    who: Authenticated,
    client: Client,
    Path(id): Path<String>,
    RedirectTo(redirect_to): RedirectTo,
    Payload(req): Payload<InviteRequest>,
) -> Result<Response> {
    let invite = Invite {
        email: req.email.required("email")?,
        roles: req.roles,
        redirect_to,
    };
    let sent = app
        .auth
        .invite_to_organization(&who.caller(), org_id(&id)?, invite, &client)
        .await?;
    Ok((StatusCode::CREATED, Json(InvitationView::from(sent))).into_response())
}

/// The organization's invitations not yet accepted (administrators).
#[utoipa::path(get, path = "/organizations/{id}/invitations", tag = "organizations", security(("access_token" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<InvitationView>), (status = 401, body = crate::api::ErrorBody), (status = 403, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn list_sent(
    State(app): State<App>,
    who: Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Vec<InvitationView>>> {
    let all = app
        .auth
        .organization_invitations(&who.caller(), org_id(&id)?)
        .await?;
    Ok(Json(all.into_iter().map(Into::into).collect()))
}

fn invitation_id(raw: &str) -> Result<Uuid> {
    uuid_of(raw, Code::InvitationNotFound, "Invitation not found")
}

/// Withdraws an invitation (administrators): its link stops working. 204.
#[utoipa::path(delete, path = "/organizations/{id}/invitations/{invitation_id}", tag = "organizations", security(("access_token" = [])),
    params(("id" = String, Path), ("invitation_id" = String, Path)),
    responses((status = 204, description = "Withdrawn"), (status = 401, body = crate::api::ErrorBody), (status = 403, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn withdraw(
    State(app): State<App>,
    _: ApiOrigin,
    who: Authenticated,
    Path((id, invitation)): Path<(String, String)>,
) -> Result<Response> {
    app.auth
        .withdraw_invitation(&who.caller(), org_id(&id)?, invitation_id(&invitation)?)
        .await?;
    Ok(no_content())
}

/// The open invitations to the caller's address (once it is confirmed).
#[utoipa::path(get, path = "/invitations", tag = "organizations", security(("access_token" = [])),
    responses((status = 200, body = Vec<OfferedInvitationView>), (status = 401, body = crate::api::ErrorBody)))]
async fn list_received(
    State(app): State<App>,
    who: Authenticated,
) -> Result<Json<Vec<OfferedInvitationView>>> {
    let all = app.auth.own_invitations(&who.caller()).await?;
    Ok(Json(all.into_iter().map(Into::into).collect()))
}

#[derive(Deserialize)]
struct TokenRequest {
    token: Option<Secret>,
}

/// What an invitation's link offers: the organization, the address and the roles. 404 when
/// it can no longer be accepted.
#[utoipa::path(post, path = "/invitations/inspect", tag = "organizations",
    request_body(content = Object, description = "`{token}` (from the invitation's link)"),
    responses((status = 200, body = OfferedInvitationView), (status = 400, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody)))]
async fn inspect(
    State(app): State<App>,
    _: ApiOrigin,
    Payload(req): Payload<TokenRequest>,
) -> Result<Json<OfferedInvitationView>> {
    let token = req.token.required("token")?;
    let found = app.auth.inspect_invitation(token.expose()).await?;
    Ok(Json(found.into()))
}

#[derive(Deserialize)]
struct AcceptRequest {
    token: Option<Secret>,
    id: Option<Uuid>,
    password: Option<Secret>,
    data: Option<Value>,
}

/// Accepts an invitation. Signed in (an access token): `{token}` or `{id}`, answering the
/// organization with the caller's roles there; only the account of the invited address may.
/// Without an access token: `{token, password, data?}` creates the account of an address that
/// has none and answers its session, acting in the organization.
#[utoipa::path(post, path = "/invitations/accept", tag = "organizations", security((), ("access_token" = [])),
    request_body(content = Object, description = "`{token}` or `{id}` signed in; `{token, password, data?}` for a new account"),
    responses((status = 200, description = "The organization (signed in) or a session (new account)", body = OrganizationView),
        (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody), (status = 403, body = crate::api::ErrorBody),
        (status = 404, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody), (status = 429, body = crate::api::ErrorBody)))]
async fn accept(
    State(app): State<App>,
    _: ApiOrigin,
    client: Client,
    headers: HeaderMap,
    Payload(req): Payload<AcceptRequest>,
) -> Result<Response> {
    if headers.contains_key(axum::http::header::AUTHORIZATION) {
        let who = app
            .auth
            .authenticate(crate::http::extract::bearer(&headers)?)
            .await?;
        app.auth.require_no_pending_mfa(&who)?;
        let named = match (&req.token, req.id) {
            (Some(token), None) => Named::Token(token.expose()),
            (None, Some(id)) => Named::Id(id),
            _ => {
                return Err(Error::validation_failed(
                    "name the invitation by token or id",
                ))
            }
        };
        let joined = app
            .auth
            .accept_invitation(&who.caller(), named, &client)
            .await?;
        return Ok(Json(OrganizationView::from(joined)).into_response());
    }
    let token = req.token.required("token")?;
    let password = req.password.required("password")?;
    let session = app
        .auth
        .accept_invitation_as_new_user(token.expose(), &password, req.data, &client)
        .await?;
    Ok(session_response(&app, session))
}
