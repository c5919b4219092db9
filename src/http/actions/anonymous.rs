//! The actions anyone may call: they sign up, sign in, refresh, and send or use email links.

use axum::{
    response::{IntoResponse, Response},
    Json,
};
use serde::Deserialize;
use serde_json::Value;

use super::{optional_input, required_input, unknown, Call};
use crate::{
    api::{AuthSession, Done},
    app::App,
    auth::{
        email::{SignInLinkRequest, Verification, VerifyOutcome},
        Session, SignUpRequest, SignedUp,
    },
    error::Error,
    http::{
        cookie,
        token::{refresh_in_body, with_tokens},
    },
    secret::Secret,
};

pub(super) const ACTIONS: [&str; 7] = [
    "signup",
    "signInAnonymously",
    "login",
    "refreshToken",
    "requestPasswordRecovery",
    "requestSignInLink",
    "verifyEmailToken",
];

pub(super) async fn run(call: &Call<'_>, name: &str, input: Value) -> Result<Response, Error> {
    match name {
        "signup" => sign_up(call, required_input(input)?).await,
        "login" => {
            let c: Credentials = required_input(input)?;
            let session = call
                .app
                .auth
                .sign_in(&c.email, &c.password, c.organization_id, call.client)
                .await?;
            Ok(session_output(call.app, session, None))
        }
        "signInAnonymously" => {
            let a: AnonymousInput = optional_input(input)?;
            let session = call
                .app
                .auth
                .sign_in_anonymously(a.data, call.client)
                .await?;
            Ok(session_output(call.app, session, None))
        }
        "refreshToken" => refresh(call, optional_input(input)?).await,
        "requestPasswordRecovery" => {
            let r: EmailRequestInput = required_input(input)?;
            call.app
                .auth
                .request_recovery(&r.email, r.redirect_to.as_deref(), None, call.client)
                .await?;
            Ok(Json(Done::new()).into_response())
        }
        "requestSignInLink" => {
            let r: EmailRequestInput = required_input(input)?;
            let request = SignInLinkRequest {
                email: r.email,
                create_user: r.create_user.unwrap_or(true),
                redirect_to: r.redirect_to,
                ..Default::default()
            };
            call.app
                .auth
                .request_sign_in_link(request, call.client)
                .await?;
            Ok(Json(Done::new()).into_response())
        }
        "verifyEmailToken" => verify(call, required_input(input)?).await,
        other => Err(unknown(other)),
    }
}

#[derive(Deserialize, Default)]
struct AnonymousInput {
    data: Option<Value>,
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: Secret,
    /// Sign-up only: where the confirmation link leads.
    #[serde(default)]
    redirect_to: Option<String>,
    /// Sign-in only: the organization the session acts in.
    #[serde(default)]
    organization_id: Option<uuid::Uuid>,
}

async fn sign_up(call: &Call<'_>, c: Credentials) -> Result<Response, Error> {
    call.app.auth.check_sign_up_allowed()?;
    let request = SignUpRequest {
        email: c.email,
        password: c.password,
        redirect_to: c.redirect_to,
        ..Default::default()
    };
    match call.app.auth.sign_up(request, call.client).await? {
        SignedUp::Session(session) => Ok(session_output(call.app, session, Some(false))),
        SignedUp::ConfirmationSent(user) => Ok(Json(AuthSession {
            access_token: None,
            token_type: None,
            expires_in: None,
            expires_at: None,
            refresh_token: None,
            user_id: user.id.to_string(),
            email: &user.email,
            confirmation_sent: Some(true),
        })
        .into_response()),
        SignedUp::Code(_) => Err(Error::internal(anyhow::anyhow!("sign-up answered a code"))),
    }
}

#[derive(Deserialize, Default)]
struct RefreshInput {
    refresh_token: Option<Secret>,
    organization_id: Option<uuid::Uuid>,
}

async fn refresh(call: &Call<'_>, r: RefreshInput) -> Result<Response, Error> {
    let (token, _) = cookie::refresh_token(&call.app.config, call.headers, r.refresh_token)?;
    let auth = &call.app.auth;
    let session = match r.organization_id {
        Some(org) => {
            auth.refresh_in_organization(token.expose(), org, call.client, call.arrived)
                .await?
        }
        None => {
            auth.refresh(token.expose(), call.client, call.arrived)
                .await?
        }
    };
    Ok(session_output(call.app, session, None))
}

#[derive(Deserialize)]
struct EmailRequestInput {
    email: String,
    redirect_to: Option<String>,
    create_user: Option<bool>,
}

#[derive(Deserialize)]
struct VerifyInput {
    #[serde(rename = "type")]
    kind: String,
    token_hash: Option<String>,
    email: Option<String>,
    token: Option<String>,
}

async fn verify(call: &Call<'_>, v: VerifyInput) -> Result<Response, Error> {
    let presented = match (&v.token_hash, &v.email, &v.token) {
        (Some(token), _, _) => Verification::Link {
            token,
            verification_type: &v.kind,
        },
        (None, Some(email), Some(code)) => Verification::Code {
            email,
            code,
            verification_type: &v.kind,
        },
        _ => {
            return Err(Error::validation_failed(
                "give token_hash, or email and token",
            ))
        }
    };
    match call.app.auth.verify(presented, false, call.client).await? {
        VerifyOutcome::Session { session, .. } => Ok(session_output(call.app, *session, None)),
        _ => Err(Error::validation_failed(
            "this token needs its other half confirmed first",
        )),
    }
}

/// The session as `AuthSession` (with `confirmation_sent` for `SignUpOutput`), and its
/// refresh token in the cookie in cookie mode.
pub(super) fn session_output(
    app: &App,
    session: Session,
    confirmation_sent: Option<bool>,
) -> Response {
    let body = AuthSession {
        access_token: Some(&session.access.token),
        token_type: Some("bearer"),
        expires_in: Some(session.access.expires_in),
        expires_at: Some(session.access.expires_at),
        refresh_token: refresh_in_body(app, &session),
        user_id: session.user.id.to_string(),
        email: &session.user.email,
        confirmation_sent,
    };
    with_tokens(app, &session, body)
}
