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

use axum::{
    extract::{Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Response},
    routing::post,
    Json, Router,
};
use serde::Deserialize;
use serde_json::Value;

use super::{
    extract::{media_type, Payload, RedirectTo, FORM},
    origin::{ApiOrigin, PageOrigin},
    redirect,
    token::{session_body, with_tokens},
};
use crate::{
    api::{Empty, Message, VerifyResponse},
    app::App,
    auth::email::{pkce::Challenge, url_encode, SignInLinkRequest, Verification, VerifyOutcome},
    client::Client,
    error::{Error, Result},
};

pub fn router() -> Router<App> {
    Router::new()
        .route("/recover", post(recover))
        .route("/otp", post(otp))
        .route("/magiclink", post(magiclink))
        .route("/resend", post(resend))
        .route("/verify", post(verify).get(verify_page))
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
    let email = req
        .email
        .ok_or_else(|| Error::validation_failed("email is required"))?;
    let challenge = Challenge::from_request(req.code_challenge, req.code_challenge_method)?;
    app.auth
        .request_recovery(&email, redirect_to.as_deref(), challenge, &client)
        .await?;
    Ok(sent())
}

#[derive(Deserialize)]
struct OtpRequest {
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
    Payload(req): Payload<OtpRequest>,
) -> Result<Json<Empty>> {
    let request = SignInLinkRequest {
        email: req
            .email
            .ok_or_else(|| Error::validation_failed("email is required"))?,
        create_user: req.create_user.unwrap_or(true),
        data: req.data,
        redirect_to,
        challenge: Challenge::from_request(req.code_challenge, req.code_challenge_method)?,
    };
    app.auth.request_sign_in_link(request, &client).await?;
    Ok(sent())
}

#[derive(Deserialize)]
struct MagicLinkRequest {
    email: Option<String>,
    data: Option<Value>,
}

/// The older name of `/otp` (always creates the account when sign-up is allowed).
/// Sends a sign-in link (older name of /otp).
#[utoipa::path(post, path = "/magiclink", tag = "email",
    request_body(content = Object, description = "`{email, data?}`"),
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
    Payload(req): Payload<MagicLinkRequest>,
) -> Result<Json<Empty>> {
    let request = SignInLinkRequest {
        email: req
            .email
            .ok_or_else(|| Error::validation_failed("email is required"))?,
        create_user: true,
        data: req.data,
        redirect_to,
        challenge: None,
    };
    app.auth.request_sign_in_link(request, &client).await?;
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
    let email = req
        .email
        .ok_or_else(|| Error::validation_failed("email is required"))?;
    let kind = req
        .kind
        .ok_or_else(|| Error::validation_failed("type is required"))?;
    app.auth
        .resend(&kind, &email, redirect_to.as_deref(), &client)
        .await?;
    Ok(sent())
}

#[derive(Deserialize)]
struct VerifyQuery {
    token: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    redirect_to: Option<String>,
}

/// `GET /verify`: the page behind an email link. It uses nothing: the button does.
async fn verify_page(
    query: std::result::Result<Query<VerifyQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = query.map(|Query(q)| q).ok();
    let (Some(token), Some(kind)) = (
        q.as_ref().and_then(|q| q.token.clone()),
        q.as_ref().and_then(|q| q.kind.clone()),
    ) else {
        return page(StatusCode::BAD_REQUEST, "This link is incomplete", None);
    };
    let redirect_to = q.and_then(|q| q.redirect_to).unwrap_or_default();
    page(
        StatusCode::OK,
        button_label(&kind),
        Some((&token, &kind, &redirect_to)),
    )
}

fn button_label(kind: &str) -> &'static str {
    match kind {
        "recovery" => "Continue to reset your password",
        "signup" => "Confirm your email address",
        "invite" => "Accept the invitation",
        "email_change" => "Confirm your new email address",
        _ => "Sign in",
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A minimal page, no script: a heading and, with a token, the form that uses it.
fn page(status: StatusCode, title: &str, form: Option<(&str, &str, &str)>) -> Response {
    let form = match form {
        Some((token, kind, redirect_to)) => format!(
            r#"<form method="post" action="verify">
<input type="hidden" name="token" value="{}">
<input type="hidden" name="type" value="{}">
<input type="hidden" name="redirect_to" value="{}">
<button type="submit">{}</button>
</form>"#,
            escape(token),
            escape(kind),
            escape(redirect_to),
            escape(title)
        ),
        None => String::new(),
    };
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"strict-origin\"><title>{t}</title></head>\n\
         <body><main><h1>{t}</h1>\n{form}\n</main></body></html>\n",
        t = escape(title)
    );
    let mut response = (status, Html(html)).into_response();
    let h = response.headers_mut();
    // The URL holds a token: no caching, no path in any referrer (`strict-origin`: the
    // button's POST still carries this origin, which `no-referrer` would turn into `null`),
    // no framing, no scripts.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
    );
    response
}

#[derive(Deserialize)]
struct VerifyRequest {
    #[serde(rename = "type")]
    kind: Option<String>,
    /// The link's token: `token_hash` from auth-js, `token` from the page's form.
    token_hash: Option<String>,
    /// The 6-digit code (with `email`), or the link's token (from the page's form).
    token: Option<String>,
    email: Option<String>,
    redirect_to: Option<String>,
}

/// `POST /verify`: JSON answers with the session; the page's form is redirected.
/// Uses a link's token (`{type, token_hash}`) or a code (`{type, email, token}`); the email
/// link page's form is redirected instead.
#[utoipa::path(post, path = "/verify", tag = "email",
    request_body(content = Object, description = "`{type, token_hash}` or `{type, email, token}`"),
    responses(
        (status = 200, body = crate::api::VerifyResponse),
        (status = 400, body = crate::api::ErrorBody), (status = 403, body = crate::api::ErrorBody),
        (status = 422, body = crate::api::ErrorBody), (status = 429, body = crate::api::ErrorBody),
    ))]
async fn verify(
    State(app): State<App>,
    _: PageOrigin,
    client: Client,
    headers: HeaderMap,
    Payload(req): Payload<VerifyRequest>,
) -> Result<Response> {
    // The page's form (same origin only, see `origin::Rule::Pages`) is answered with a
    // redirect; anything else (auth-js's JSON) with the session.
    let kind = req.kind.clone().unwrap_or_default();
    if media_type(&headers) == FORM {
        return Ok(verify_and_redirect(&app, &client, req, &kind).await);
    }
    let presented = match (&req.token_hash, &req.email, &req.token) {
        (Some(token), _, _) => Verification::Link {
            token,
            verification_type: &kind,
        },
        (None, Some(email), Some(code)) => Verification::Code {
            email,
            code,
            verification_type: &kind,
        },
        _ => {
            return Err(Error::validation_failed(
                "give type with token_hash, or type with email and token",
            ))
        }
    };
    match app.auth.verify(presented, false, &client).await? {
        VerifyOutcome::Session { session, .. } => {
            let body = VerifyResponse::Session(Box::new(session_body(&app, &session)));
            Ok(with_tokens(&app, &session, body))
        }
        VerifyOutcome::Code { .. } => {
            Err(Error::validation_failed("unexpected authorization code"))
        }
        VerifyOutcome::Pending { .. } => Ok(Json(VerifyResponse::Pending(Message {
            msg: PENDING_CONFIRMATION,
        }))
        .into_response()),
    }
}

/// The page's form: verify the link's token and go to `redirect_to` (allowed ones only).
async fn verify_and_redirect(
    app: &App,
    client: &Client,
    req: VerifyRequest,
    kind: &str,
) -> Response {
    let fallback = app.auth.redirect_target(req.redirect_to.as_deref());
    let Some(token) = req.token.or(req.token_hash) else {
        return redirect::with_error(&fallback, &Error::otp_expired());
    };
    let presented = Verification::Link {
        token: &token,
        verification_type: kind,
    };
    match app.auth.verify(presented, true, client).await {
        Ok(VerifyOutcome::Session {
            session,
            redirect_to,
            verification_type,
        }) => redirect::with_session(app, &session, &redirect_to, &[("type", verification_type)]),
        Ok(VerifyOutcome::Code { code, redirect_to }) => redirect::with_code(&redirect_to, &code),
        Ok(VerifyOutcome::Pending { redirect_to }) => redirect::see_other(&format!(
            "{redirect_to}#message={}",
            url_encode(PENDING_CONFIRMATION)
        )),
        Err(e) => {
            e.log_cause();
            redirect::with_error(&fallback, &e)
        }
    }
}
