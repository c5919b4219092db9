//! The email flows in Supabase Auth's dialect: `POST /recover`, `/otp`, `/magiclink`,
//! `/resend` (each `200 {}` whether or not the address has an account), and `/verify`.
//!
//! Links in messages lead to `GET /verify`, which only shows a page with a button: mail
//! scanners that fetch every link consume nothing. The button POSTs the form to `/verify`,
//! which uses the token and redirects (303) to the allowed `redirect_to` with the session in
//! the fragment (`#access_token=…&refresh_token=…&expires_in=…&expires_at=…&token_type=bearer
//! &type=…`), or `?code=…` for PKCE clients; failures redirect with `error`, `error_code` and
//! `error_description`. `POST /verify` with JSON (auth-js's `verifyOtp`: `{type, token_hash}`
//! or `{type, email, token}`) answers with the session.

use std::sync::Arc;

use axum::{
    extract::{rejection::QueryRejection, Query, State},
    routing::post,
    Json, Router,
};
use serde::Deserialize;
use serde_json::Value;

use super::{
    extract::{Payload, RedirectTo},
    origin::ApiOrigin,
    ui::Pages,
};
use crate::{
    api::Empty,
    app::App,
    auth::email::{pkce::Challenge, SignInLinkRequest},
    client::Client,
    error::{Required, Result},
};

pub(super) mod verify;

/// The email routes; `pages` renders the page behind email links.
pub fn router(pages: Arc<Pages>) -> Router<App> {
    let page = move |query: Result<Query<verify::VerifyQuery>, QueryRejection>| {
        let pages = pages.clone();
        async move { verify::page(&pages, query) }
    };
    Router::new()
        .route("/recover", post(recover))
        .route("/otp", post(otp))
        .route("/magiclink", post(magiclink))
        .route("/resend", post(resend))
        .route("/verify", post(verify::verify).get(page))
}

/// What the first of the two confirmations of a secure email change answers (Supabase Auth's
/// words).
const PENDING_CONFIRMATION: &str =
    "Confirmation link accepted. Please proceed to confirm link sent to the other email";

/// The success answer of requests that send a message (`{}`).
fn sent() -> Json<Empty> {
    Json(Empty {})
}

#[derive(Deserialize)]
struct RecoverRequest {
    email: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// Sends a password-recovery message (if the address has an account).
#[utoipa::path(post, path = "/recover", tag = "email",
    request_body(content = Object, description = "`{email, code_challenge?, code_challenge_method?}`"),
    params(("redirect_to" = Option<String>, Query, description = "Where the link leads")),
    responses(
        (status = 200, body = crate::api::Empty),
        (status = 400, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody),
        (status = 429, body = crate::api::ErrorBody),
    ))]
async fn recover(
    State(app): State<App>,
    _: ApiOrigin,
    client: Client,
    RedirectTo(redirect_to): RedirectTo,
    Payload(req): Payload<RecoverRequest>,
) -> Result<Json<Empty>> {
    let email = req.email.required("email")?;
    let challenge = Challenge::from_request(req.code_challenge, req.code_challenge_method)?;
    app.auth
        .request_recovery(&email, redirect_to.as_deref(), challenge, &client)
        .await?;
    Ok(sent())
}

/// `/otp` and `/magiclink` (its older name): `create_user` is `/otp`'s only.
#[derive(Deserialize)]
struct SignInLinkBody {
    email: Option<String>,
    data: Option<Value>,
    create_user: Option<bool>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// Sends a sign-in link and code.
#[utoipa::path(post, path = "/otp", tag = "email",
    request_body(content = Object, description = "`{email, create_user?, data?, code_challenge?, code_challenge_method?}`"),
    params(("redirect_to" = Option<String>, Query, description = "Where the link leads")),
    responses(
        (status = 200, body = crate::api::Empty),
        (status = 400, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody),
        (status = 429, body = crate::api::ErrorBody),
    ))]
async fn otp(
    State(app): State<App>,
    _: ApiOrigin,
    client: Client,
    RedirectTo(redirect_to): RedirectTo,
    Payload(req): Payload<SignInLinkBody>,
) -> Result<Json<Empty>> {
    send_sign_in_link(&app, &client, redirect_to, req).await
}

/// Sends a sign-in link and code (the older name of `/otp`, which always creates the
/// account when sign-up is allowed).
#[utoipa::path(post, path = "/magiclink", tag = "email",
    request_body(content = Object, description = "`{email, data?, code_challenge?, code_challenge_method?}`"),
    params(("redirect_to" = Option<String>, Query, description = "Where the link leads")),
    responses(
        (status = 200, body = crate::api::Empty),
        (status = 400, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody),
        (status = 429, body = crate::api::ErrorBody),
    ))]
async fn magiclink(
    State(app): State<App>,
    _: ApiOrigin,
    client: Client,
    RedirectTo(redirect_to): RedirectTo,
    Payload(req): Payload<SignInLinkBody>,
) -> Result<Json<Empty>> {
    let req = SignInLinkBody {
        create_user: None,
        ..req
    };
    send_sign_in_link(&app, &client, redirect_to, req).await
}

async fn send_sign_in_link(
    app: &App,
    client: &Client,
    redirect_to: Option<String>,
    req: SignInLinkBody,
) -> Result<Json<Empty>> {
    let request = SignInLinkRequest {
        email: req.email.required("email")?,
        create_user: req.create_user.unwrap_or(true),
        data: req.data,
        redirect_to,
        challenge: Challenge::from_request(req.code_challenge, req.code_challenge_method)?,
    };
    app.auth.request_sign_in_link(request, client).await?;
    Ok(sent())
}

#[derive(Deserialize)]
struct ResendRequest {
    email: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// Sends a confirmation message again.
#[utoipa::path(post, path = "/resend", tag = "email",
    request_body(content = Object, description = "`{email, type}`"),
    params(("redirect_to" = Option<String>, Query, description = "Where the link leads")),
    responses(
        (status = 200, body = crate::api::Empty),
        (status = 400, body = crate::api::ErrorBody), (status = 422, body = crate::api::ErrorBody),
        (status = 429, body = crate::api::ErrorBody),
    ))]
async fn resend(
    State(app): State<App>,
    _: ApiOrigin,
    client: Client,
    RedirectTo(redirect_to): RedirectTo,
    Payload(req): Payload<ResendRequest>,
) -> Result<Json<Empty>> {
    let email = req.email.required("email")?;
    let kind = req.kind.required("type")?;
    app.auth
        .resend(&kind, &email, redirect_to.as_deref(), &client)
        .await?;
    Ok(sent())
}
