//! `POST /hasura/actions`: one handler for the Hasura actions `signup`, `login`,
//! `refreshToken`, `logout`, `changePassword`, `requestPasswordRecovery`, `requestSignInLink`
//! and `verifyEmailToken` (their metadata comes from `hasura metadata`).
//!
//! Hasura calls it with `{"action": {"name"}, "input": {…}, "session_variables": {…}}` and the
//! shared secret header; it answers 2xx with the action's output type or 4xx
//! `{message, extensions: {code}}`, which Hasura passes on as a GraphQL error
//! (<https://hasura.io/docs/latest/actions/action-handlers/>).

use std::collections::HashMap;

use axum::{
    extract::{FromRequestParts, State},
    http::{header, request::Parts, HeaderMap},
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{
    cookie,
    error::status,
    extract::Arrival,
    origin,
    token::{refresh_in_body, with_tokens},
    Payload,
};
use crate::{
    app::App,
    auth::{
        claims,
        email::{SignInLinkRequest, Verification, VerifyOutcome},
        LogoutScope, SelfUpdate, Session, SignUpRequest, SignedUp,
    },
    client::Client,
    error::{Code, Error, Kind},
    hasura_config::ACTIONS_SECRET_HEADER,
    secret::Secret,
};

pub fn router() -> Router<App> {
    Router::new().route("/hasura/actions", post(actions))
}

#[derive(Deserialize)]
struct ActionName {
    name: String,
}

#[derive(Deserialize)]
struct ActionRequest {
    action: ActionName,
    #[serde(default)]
    input: Value,
    #[serde(default)]
    session_variables: HashMap<String, String>,
}

/// Hasura's action error shape: 4xx `{message, extensions: {code}}`; internals never leave.
fn action_error(e: Error) -> Response {
    let status = status(e.kind);
    if e.kind == Kind::Internal || e.kind == Kind::Unavailable {
        e.log_cause();
        return (
            status,
            Json(
                json!({"message": "internal error", "extensions": {"code": Code::UnexpectedFailure}}),
            ),
        )
            .into_response();
    }
    let mut extensions = json!({"code": e.code});
    if !e.reasons.is_empty() {
        extensions["reasons"] = json!(e.reasons);
    }
    (
        status,
        Json(json!({"message": e.message, "extensions": extensions})),
    )
        .into_response()
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: Secret,
    /// Sign-up only: where the confirmation link leads.
    #[serde(default)]
    redirect_to: Option<String>,
}

#[derive(Deserialize, Default)]
struct RefreshInput {
    refresh_token: Option<Secret>,
}

#[derive(Deserialize, Default)]
struct LogoutInput {
    scope: Option<LogoutScope>,
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

#[derive(Deserialize)]
struct EndSessionInput {
    id: String,
}

#[derive(Deserialize)]
struct ChangePasswordInput {
    password: Secret,
    current_password: Option<Secret>,
}

/// The action's input as `T`; an action without arguments may send `null`.
fn input<T: serde::de::DeserializeOwned + Default>(value: Value) -> Result<T, Error> {
    if value.is_null() {
        return Ok(T::default());
    }
    required_input(value)
}

fn required_input<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, Error> {
    serde_json::from_value(value)
        .map_err(|e| Error::validation_failed(format!("invalid action input: {e}")))
}

/// The `AuthSession` output type of the generated metadata (and `SignUpOutput`, with
/// `confirmation_sent`): exactly these fields. `refresh_token` is `null` in cookie mode,
/// where the cookie carries it.
#[derive(Serialize)]
struct AuthSession<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
    expires_at: i64,
    refresh_token: Option<&'a str>,
    user_id: String,
    email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    confirmation_sent: Option<bool>,
}

fn session_output(app: &App, session: Session) -> Response {
    session_output_with(app, session, None)
}

/// [`session_output`] of an output type with `confirmation_sent`.
fn session_output_with(app: &App, session: Session, confirmation_sent: Option<bool>) -> Response {
    let body = AuthSession {
        access_token: &session.access.token,
        token_type: "bearer",
        expires_in: session.access.expires_in,
        expires_at: session.access.expires_at,
        refresh_token: refresh_in_body(app, &session),
        user_id: session.user.id.to_string(),
        email: &session.user.email,
        confirmation_sent,
    };
    with_tokens(app, &session, body)
}

/// The signed-in user and session of an action call, from Hasura's session variables. Hasura
/// only checked the token's signature, so the session must still be live and the user active.
async fn acting_user(app: &App, vars: &HashMap<String, String>) -> Result<(Uuid, Uuid), Error> {
    let get = |k: &str| {
        vars.iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    };
    let unauthorized = || Error::new(Code::NoAuthorization, "This action needs a signed-in user");
    if get("x-hasura-role") == Some(app.config.hasura.hasura_unauthorized_role.as_str()) {
        return Err(unauthorized());
    }
    let user_id = get(claims::USER_ID)
        .and_then(|v| Uuid::parse_str(v).ok())
        .ok_or_else(unauthorized)?;
    let session_id = get(claims::SESSION_ID)
        .and_then(|v| Uuid::parse_str(v).ok())
        .ok_or_else(unauthorized)?;
    app.auth.live_user(session_id, user_id).await?;
    Ok((user_id, session_id))
}

/// Proof that a request to the actions handler carries the shared secret; checked before the
/// body is read.
struct ActionsCaller;

impl FromRequestParts<App> for ActionsCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Response> {
        let Some(expected) = &app.config.hasura.hasura_actions_secret else {
            return Err(action_error(Error::not_found(
                "The actions handler is off: set AUTH_HASURA_ACTIONS_SECRET",
            )));
        };
        let presented = parts
            .headers
            .get(ACTIONS_SECRET_HEADER)
            .map(|v| v.as_bytes());
        match presented {
            Some(p) if expected.matches(p) => Ok(Self),
            _ => Err(action_error(Error::new(
                Code::Unauthorized,
                "missing or wrong actions secret",
            ))),
        }
    }
}

/// The client behind Hasura: its address as for any request (Hasura passes on the client's
/// `X-Forwarded-For` with `forward_client_headers`; list Hasura in AUTH_TRUSTED_PROXIES), and
/// its user agent from X-Forwarded-User-Agent, which Hasura sets.
fn client_of(peer: Client, headers: &HeaderMap) -> Client {
    let user_agent = headers
        .get("x-forwarded-user-agent")
        .or_else(|| headers.get(header::USER_AGENT))
        .and_then(|v| v.to_str().ok());
    Client::new(peer.ip, user_agent).with_request_id(peer.request_id)
}

/// Proof that a browser behind Hasura, if any, is on a page allowed to call (see
/// [`origin::Rule::Relayed`]); refused in the actions' error shape.
struct SameSiteCaller;

impl FromRequestParts<App> for SameSiteCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Response> {
        origin::check(
            &app.config,
            origin::Rule::Relayed,
            &parts.method,
            &parts.headers,
        )
        .map(|()| Self)
        .map_err(action_error)
    }
}

async fn actions(
    State(app): State<App>,
    Arrival(arrived): Arrival,
    _caller: ActionsCaller,
    _same_site: SameSiteCaller,
    peer: Client,
    headers: HeaderMap,
    Payload(req): Payload<ActionRequest>,
) -> Response {
    let client = client_of(peer, &headers);
    run_action(&app, &client, &headers, req, arrived)
        .await
        .unwrap_or_else(action_error)
}

async fn run_action(
    app: &App,
    client: &Client,
    headers: &HeaderMap,
    req: ActionRequest,
    arrived: std::time::Instant,
) -> Result<Response, Error> {
    match req.action.name.as_str() {
        "signup" => {
            app.auth.check_sign_up_allowed()?;
            let c: Credentials = required_input(req.input)?;
            let request = SignUpRequest {
                email: c.email,
                password: c.password,
                redirect_to: c.redirect_to,
                ..Default::default()
            };
            Ok(match app.auth.sign_up(request, client).await? {
                SignedUp::Session(session) => session_output_with(app, session, Some(false)),
                SignedUp::ConfirmationSent(user) => Json(json!({
                    "user_id": user.id.to_string(),
                    "email": user.email,
                    "confirmation_sent": true,
                    "access_token": null, "token_type": null, "expires_in": null,
                    "expires_at": null, "refresh_token": null,
                }))
                .into_response(),
                SignedUp::Code(_) => {
                    return Err(Error::internal(anyhow::anyhow!("sign-up answered a code")))
                }
            })
        }
        "login" => {
            let c: Credentials = required_input(req.input)?;
            let session = app.auth.sign_in(&c.email, &c.password, client).await?;
            Ok(session_output(app, session))
        }
        "refreshToken" => {
            let r: RefreshInput = input(req.input)?;
            let (token, _) = cookie::refresh_token(&app.config, headers, r.refresh_token)?;
            let session = app.auth.refresh(token.expose(), client, arrived).await?;
            Ok(session_output(app, session))
        }
        "logout" => {
            let (user_id, session_id) = acting_user(app, &req.session_variables).await?;
            let l: LogoutInput = input(req.input)?;
            let scope = l.scope.unwrap_or_default();
            app.auth
                .logout(user_id, Some(session_id), scope, client)
                .await?;
            let mut response = Json(json!({"ok": true})).into_response();
            cookie::clear(&app.config, response.headers_mut());
            Ok(response)
        }
        "mySessions" => {
            let (user_id, session_id) = acting_user(app, &req.session_variables).await?;
            let sessions = app.auth.own_sessions(user_id, session_id).await?;
            Ok(Json(sessions).into_response())
        }
        "endSession" => {
            let (user_id, session_id) = acting_user(app, &req.session_variables).await?;
            let e: EndSessionInput = required_input(req.input)?;
            let id = Uuid::parse_str(&e.id).map_err(|_| Error::no_such_session())?;
            app.auth
                .end_own_session(user_id, id, session_id, client)
                .await?;
            Ok(Json(json!({"ok": true})).into_response())
        }
        "changePassword" => {
            let (user_id, session_id) = acting_user(app, &req.session_variables).await?;
            let c: ChangePasswordInput = required_input(req.input)?;
            let update = SelfUpdate {
                password: Some(c.password),
                current_password: c.current_password,
                ..Default::default()
            };
            app.auth
                .update_self(user_id, session_id, update, client)
                .await?;
            Ok(Json(json!({"ok": true})).into_response())
        }
        "requestPasswordRecovery" => {
            let r: EmailRequestInput = required_input(req.input)?;
            app.auth
                .request_recovery(&r.email, r.redirect_to.as_deref(), None, client)
                .await?;
            Ok(Json(json!({"ok": true})).into_response())
        }
        "requestSignInLink" => {
            let r: EmailRequestInput = required_input(req.input)?;
            let request = SignInLinkRequest {
                email: r.email,
                create_user: r.create_user.unwrap_or(true),
                redirect_to: r.redirect_to,
                ..Default::default()
            };
            app.auth.request_sign_in_link(request, client).await?;
            Ok(Json(json!({"ok": true})).into_response())
        }
        "verifyEmailToken" => {
            let v: VerifyInput = required_input(req.input)?;
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
            match app.auth.verify(presented, false, client).await? {
                VerifyOutcome::Session { session, .. } => Ok(session_output(app, *session)),
                _ => Err(Error::validation_failed(
                    "this token needs its other half confirmed first",
                )),
            }
        }
        other => Err(Error::not_found(format!("unknown action {other:?}"))),
    }
}
