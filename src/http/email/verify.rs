//! `/verify`: the page behind an email link (`GET`, from the `verify.html` template) and the
//! use of a link's token or a code (`POST`).

use axum::{
    extract::{rejection::QueryRejection, Query, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Response},
    Json,
};
use minijinja::context;
use serde::Deserialize;

use super::PENDING_CONFIRMATION;
use crate::{
    api::{Message, VerifyResponse},
    app::App,
    auth::email::{url_encode, Verification, VerifyOutcome},
    client::Client,
    error::{Error, Result},
    http::{
        extract::{media_type, Payload, FORM},
        origin::PageOrigin,
        redirect,
        token::{session_body, with_tokens},
        ui::Pages,
    },
};

#[derive(Deserialize)]
pub(super) struct VerifyQuery {
    token: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    redirect_to: Option<String>,
}

/// `GET /verify`: the page behind an email link. It uses nothing: the button does.
pub(super) fn page(pages: &Pages, query: Result<Query<VerifyQuery>, QueryRejection>) -> Response {
    let q = query.map(|Query(q)| q).ok();
    let (status, vars) = match q {
        Some(VerifyQuery {
            token: Some(token),
            kind: Some(kind),
            redirect_to,
        }) => (
            StatusCode::OK,
            context! {
                title => button_label(&kind),
                link => context! {
                    token, type => kind, redirect_to => redirect_to.unwrap_or_default(),
                },
            },
        ),
        _ => (
            StatusCode::BAD_REQUEST,
            context! { title => "This link is incomplete" },
        ),
    };
    let html = match pages.render("verify.html", vars) {
        Ok(html) => html,
        Err(e) => return Error::internal(e.context("verify.html")).into_response(),
    };
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

fn button_label(kind: &str) -> &'static str {
    match kind {
        "recovery" => "Continue to reset your password",
        "signup" => "Confirm your email address",
        "invite" => "Accept the invitation",
        "email_change" => "Confirm your new email address",
        _ => "Sign in",
    }
}

#[derive(Deserialize)]
pub(super) struct VerifyRequest {
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
pub(super) async fn verify(
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
