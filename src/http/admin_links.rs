//! Admin API of the email flows (auth-js's `admin.generateLink` and `admin.inviteUserByEmail`):
//! `POST /admin/generate_link` answers the user plus `action_link`, `email_otp`,
//! `hashed_token`, `verification_type` and `redirect_to`, and sends nothing; `POST /invite`
//! creates the user and sends the invitation.

use axum::{extract::State, routing::post, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{admin::AdminAuth, extract::RedirectTo, user::user_view, Payload};
use crate::{
    api::UserView,
    app::App,
    auth::email::generate_link::LinkRequest,
    error::{Error, Result},
    secret::Secret,
};

pub fn router() -> Router<App> {
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
    responses((status = 200, body = Object), (status = 400, body = super::openapi::Error), (status = 401, body = super::openapi::Error), (status = 404, body = super::openapi::Error), (status = 422, body = super::openapi::Error)))]
async fn generate_link(
    State(app): State<App>,
    AdminAuth(_): AdminAuth,
    RedirectTo(query_redirect): RedirectTo,
    Payload(req): Payload<GenerateLinkRequest>,
) -> Result<Json<Value>> {
    let request = LinkRequest {
        link_type: req
            .link_type
            .ok_or_else(|| Error::invalid("type is required"))?,
        email: req
            .email
            .ok_or_else(|| Error::invalid("email is required"))?,
        password: req.password,
        data: req.data,
        new_email: req.new_email,
        redirect_to: req.redirect_to.or(query_redirect),
    };
    let (user, token) = app.auth.generate_link(request).await?;
    let mut body = serde_json::to_value(user_view(&app, &user)).map_err(anyhow::Error::from)?;
    body["action_link"] = json!(token.action_link.expose());
    body["email_otp"] = json!(token.code.expose());
    body["hashed_token"] = json!(token.link_token.expose());
    body["verification_type"] = json!(token.kind.verification_type());
    body["redirect_to"] = json!(token.redirect_to);
    Ok(Json(body))
}

#[derive(Deserialize)]
struct InviteRequest {
    email: Option<String>,
    data: Option<Value>,
}

/// Invites a new user by email (`auth.admin.inviteUserByEmail`).
#[utoipa::path(post, path = "/invite", tag = "admin", security(("admin_secret" = [])),
    request_body(content = Object, description = "`{email, data?}`"),
    responses((status = 200, body = UserView), (status = 400, body = super::openapi::Error), (status = 401, body = super::openapi::Error), (status = 404, body = super::openapi::Error), (status = 422, body = super::openapi::Error), (status = 429, body = super::openapi::Error)))]
async fn invite(
    State(app): State<App>,
    AdminAuth(actor): AdminAuth,
    RedirectTo(redirect_to): RedirectTo,
    Payload(req): Payload<InviteRequest>,
) -> Result<Json<UserView>> {
    let email = req
        .email
        .ok_or_else(|| Error::invalid("email is required"))?;
    let user = app
        .auth
        .invite(&email, req.data, redirect_to.as_deref(), &actor.client)
        .await?;
    Ok(Json(user_view(&app, &user)))
}
