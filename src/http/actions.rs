//! `POST /hasura/actions`: one handler for the Hasura actions (their metadata comes from
//! `hasura metadata`): for anyone, `signup`, `login`, `refreshToken`,
//! `requestPasswordRecovery`, `requestSignInLink` and `verifyEmailToken`
//! ([`anonymous`]); for a signed-in user, `logout`, `mySessions`, `endSession` and
//! `changePassword` ([`signed_in`]); the second-factor steps, also for a session that still
//! owes its factor ([`mfa`]).
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
use serde::Deserialize;
use serde_json::Value;

use super::{error::status, extract::Arrival, origin, Payload};
use crate::{
    api::{ActionError, ActionErrorExtensions},
    app::App,
    client::Client,
    error::{Code, Error, Kind},
    hasura_config::ACTIONS_SECRET_HEADER,
};

mod anonymous;
mod mfa;
mod organizations;
mod signed_in;

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

/// What every action gets besides its input.
struct Call<'a> {
    app: &'a App,
    client: &'a Client,
    headers: &'a HeaderMap,
    arrived: std::time::Instant,
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
    let call = Call {
        app: &app,
        client: &client,
        headers: &headers,
        arrived,
    };
    run_action(&call, req).await.unwrap_or_else(action_error)
}

async fn run_action(call: &Call<'_>, req: ActionRequest) -> Result<Response, Error> {
    let name = req.action.name.as_str();
    if anonymous::ACTIONS.contains(&name) {
        return anonymous::run(call, name, req.input).await;
    }
    if signed_in::ACTIONS.contains(&name) {
        let who = signed_in::acting_user(call.app, &req.session_variables, false).await?;
        return signed_in::run(call, who, name, req.input).await;
    }
    if mfa::ACTIONS.contains(&name) {
        let who = signed_in::acting_user(call.app, &req.session_variables, true).await?;
        return mfa::run(call, who, name, req.input).await;
    }
    if organizations::ACTIONS.contains(&name) {
        let who = signed_in::acting_user(call.app, &req.session_variables, false).await?;
        return organizations::run(call, who, name, req.input).await;
    }
    Err(unknown(name))
}

fn unknown(name: &str) -> Error {
    Error::not_found(format!("unknown action {name:?}"))
}

/// The action's input as `T`; an action without arguments may send `null`.
fn optional_input<T: serde::de::DeserializeOwned + Default>(value: Value) -> Result<T, Error> {
    if value.is_null() {
        return Ok(T::default());
    }
    required_input(value)
}

fn required_input<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, Error> {
    serde_json::from_value(value)
        .map_err(|e| Error::validation_failed(format!("invalid action input: {e}")))
}

/// Hasura's action error shape: 4xx `{message, extensions: {code}}`; internals never leave.
fn action_error(e: Error) -> Response {
    let status = status(e.kind);
    if e.kind == Kind::Internal || e.kind == Kind::Unavailable {
        e.log_cause();
        let body = ActionError {
            message: "internal error",
            extensions: ActionErrorExtensions {
                code: Code::UnexpectedFailure,
                reasons: &[],
            },
        };
        return (status, Json(body)).into_response();
    }
    let body = ActionError {
        message: &e.message,
        extensions: ActionErrorExtensions {
            code: e.code,
            reasons: &e.reasons,
        },
    };
    (status, Json(body)).into_response()
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
