//! The admin side of the email flows (auth-js's `admin.generateLink` and
//! `admin.inviteUserByEmail`): `POST /admin/generate_link` answers the user plus
//! `action_link`, `email_otp`, `hashed_token`, `verification_type` and `redirect_to`, and
//! sends nothing; `POST /invite` creates the user and sends the invitation.

use axum::{
    extract::State,
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AdminAuth;
use crate::{
    api::UserView,
    app::App,
    auth::email::generate_link::LinkRequest,
    error::{Required, Result},
    http::{extract::RedirectTo, user::user_view, Payload},
    secret::Secret,
};

pub(super) fn router() -> Router<App> {
    Router::new()
        .route("/admin/generate_link", post(generate_link))
        .route("/invite", post(invite))
}

#[derive(Deserialize)]
struct GenerateLinkRequest {
    #[serde(rename = "type")]
    link_type: Option<String>,
    email: Option<String>,
    password: Option<Secret>,
    data: Option<Value>,
    new_email: Option<String>,
    redirect_to: Option<String>,
}

/// A link or code for a user, sent to nobody (`auth.admin.generateLink`): the user's fields
/// plus `action_link`, `email_otp`, `hashed_token`, `verification_type`, `redirect_to`.
#[utoipa::path(post, path = "/admin/generate_link", tag = "admin", security(("admin_secret" = [])),
    request_body(content = Object, description = "`{type, email, password?, data?, new_email?, redirect_to?}`"),
    responses((status = 200, body = Object), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody)))]
async fn generate_link(
    State(app): State<App>,
    AdminAuth(_): AdminAuth,
    RedirectTo(query_redirect): RedirectTo,
    Payload(req): Payload<GenerateLinkRequest>,
) -> Result<Response> {
    let request = LinkRequest {
        link_type: req.link_type.required("type")?,
        email: req.email.required("email")?,
        password: req.password,
        data: req.data,
        new_email: req.new_email,
        redirect_to: req.redirect_to.or(query_redirect),
    };
    let (user, token) = app.auth.generate_link(request).await?;
    Ok(Json(GeneratedLink {
        user: user_view(&app, &user),
        action_link: token.action_link.expose(),
        email_otp: token.code.expose(),
        hashed_token: token.link_token.expose(),
        verification_type: token.kind.verification_type(),
        redirect_to: &token.redirect_to,
    })
    .into_response())
}

/// What `generate_link` answers: the user's fields, and the link for the administrator to
/// deliver.
#[derive(Serialize)]
pub(super) struct GeneratedLink<'a> {
    #[serde(flatten)]
    user: UserView,
    action_link: &'a str,
    email_otp: &'a str,
    hashed_token: &'a str,
    verification_type: &'static str,
    redirect_to: &'a str,
}

#[derive(Deserialize)]
struct InviteRequest {
    email: Option<String>,
    data: Option<Value>,
}

/// Invites a new user by email (`auth.admin.inviteUserByEmail`).
#[utoipa::path(post, path = "/invite", tag = "admin", security(("admin_secret" = [])),
    request_body(content = Object, description = "`{email, data?}`"),
    responses((status = 200, body = UserView), (status = 400, body = crate::api::ErrorBody), (status = 401, body = crate::api::ErrorBody), (status = 404, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody), (status = 429, body = crate::api::ErrorBody)))]
async fn invite(
    State(app): State<App>,
    AdminAuth(actor): AdminAuth,
    RedirectTo(redirect_to): RedirectTo,
    Payload(req): Payload<InviteRequest>,
) -> Result<Json<UserView>> {
    let email = req.email.required("email")?;
    let user = app
        .auth
        .invite(&email, req.data, redirect_to.as_deref(), &actor.client)
        .await?;
    Ok(Json(user_view(&app, &user)))
}
