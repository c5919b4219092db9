//! Hasura integration endpoints:
//!
//! - `POST /hasura/actions`: one handler for the `signup`, `login`, `refreshToken`, `logout`
//!   and `changePassword` actions (`shared/hasura.md` §3);
//! - `GET|POST /hasura/webhook`: Hasura's auth webhook (§2).

use std::collections::HashMap;

use axum::{
    extract::{FromRequestParts, State},
    http::{header, request::Parts, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::{cookie, AppState, Payload};
use crate::{
    auth::{
        claims,
        sessions::{Client, LogoutScope, SelfUpdate, Session},
    },
    error::Error,
    secret::Secret,
    store,
};

/// Header that carries `AUTH_HASURA_ACTIONS_SECRET` from Hasura to the actions handler.
pub const ACTIONS_SECRET_HEADER: &str = "x-auth-actions-secret";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/hasura/actions", post(actions))
        .route("/hasura/webhook", get(webhook_get).post(webhook_post))
}

// ---------------------------------------------------------------------------------------------
// Actions

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

/// Hasura's action error shape: 4xx `{message, extensions: {code}}`.
fn action_error(e: Error) -> Response {
    if e.status.is_server_error() {
        e.log_cause();
        return (
            e.status,
            Json(
                json!({"message": "internal error", "extensions": {"code": "unexpected_failure"}}),
            ),
        )
            .into_response();
    }
    (
        e.status,
        Json(json!({"message": e.message, "extensions": {"code": e.code}})),
    )
        .into_response()
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: Secret,
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
struct ChangePasswordInput {
    password: Secret,
    current_password: Option<Secret>,
}

fn input<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, Error> {
    serde_json::from_value(value)
        .map_err(|e| Error::validation("validation_failed", format!("invalid action input: {e}")))
}

/// The `AuthSession` output type of the generated metadata: exactly these fields.
fn session_output(state: &AppState, session: Session) -> Response {
    let extra = json!({"user_id": session.user.id.to_string(), "email": session.user.email});
    super::token::token_response(state, &session, extra)
}

/// The signed-in user of an action call, from Hasura's session variables. Hasura only
/// checked the token's signature, so the session must still be live and the user active.
async fn acting_user(
    state: &AppState,
    vars: &HashMap<String, String>,
) -> Result<(Uuid, Uuid), Error> {
    let get = |k: &str| {
        vars.iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    };
    let unauthorized =
        || Error::unauthorized("no_authorization", "This action needs a signed-in user");
    if get("x-hasura-role") == Some(state.config.hasura_unauthorized_role.as_str()) {
        return Err(unauthorized());
    }
    let user_id = get(claims::USER_ID)
        .and_then(|v| Uuid::parse_str(v).ok())
        .ok_or_else(unauthorized)?;
    let session_id = get(claims::SESSION_ID)
        .and_then(|v| Uuid::parse_str(v).ok())
        .ok_or_else(unauthorized)?;
    let user = store::sessions::find_user(&state.auth.pool, session_id, user_id)
        .await?
        .ok_or_else(|| Error::unauthorized("session_not_found", "The session has ended"))?;
    if !user.is_active(chrono::Utc::now()) {
        return Err(Error::unauthorized("user_banned", "User is disabled"));
    }
    Ok((user_id, session_id))
}

/// Proof that a request to the actions handler carries the shared secret; checked before the
/// body is read.
struct ActionsCaller;

impl FromRequestParts<AppState> for ActionsCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(expected) = &state.config.hasura_actions_secret else {
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
            _ => Err(action_error(Error::unauthorized(
                "unauthorized",
                "missing or wrong actions secret",
            ))),
        }
    }
}

async fn actions(
    State(state): State<AppState>,
    _caller: ActionsCaller,
    headers: HeaderMap,
    Payload(req): Payload<ActionRequest>,
) -> Response {
    // Hasura forwards the client's User-Agent as X-Forwarded-User-Agent, and with
    // `forward_client_headers` the X-Forwarded-For a proxy in front of it set.
    let client = Client {
        ip: super::extract::forwarded_for(&state, &headers),
        user_agent: headers
            .get("x-forwarded-user-agent")
            .or_else(|| headers.get(header::USER_AGENT))
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(512).collect()),
    };
    let result = async {
        match req.action.name.as_str() {
            "signup" => {
                if state.config.disable_signup {
                    return Err(Error::forbidden(
                        "signup_disabled",
                        "Signups not allowed for this instance",
                    ));
                }
                let c: Credentials = input(req.input)?;
                state.sign_in_limiter.check(&client)?;
                Ok(session_output(
                    &state,
                    state
                        .auth
                        .sign_up(&c.email, &c.password, None, &client)
                        .await?,
                ))
            }
            "login" => {
                let c: Credentials = input(req.input)?;
                state.sign_in_limiter.check(&client)?;
                Ok(session_output(
                    &state,
                    state.auth.sign_in(&c.email, &c.password, &client).await?,
                ))
            }
            "refreshToken" => {
                let r: RefreshInput = if req.input.is_null() {
                    RefreshInput::default()
                } else {
                    input(req.input)?
                };
                let token = r
                    .refresh_token
                    .filter(|t| !t.expose().is_empty())
                    .or_else(|| cookie::read(&state.config, &headers).map(Secret::new))
                    .ok_or_else(|| Error::invalid_request("refresh_token is required"))?;
                Ok(session_output(
                    &state,
                    state.auth.refresh(token.expose(), &client).await?,
                ))
            }
            "logout" => {
                let (user_id, session_id) = acting_user(&state, &req.session_variables).await?;
                let l: LogoutInput = if req.input.is_null() {
                    LogoutInput::default()
                } else {
                    input(req.input)?
                };
                state
                    .auth
                    .logout(
                        user_id,
                        Some(session_id),
                        l.scope.unwrap_or_default(),
                        &client,
                    )
                    .await?;
                let mut response = Json(json!({"ok": true})).into_response();
                cookie::clear(&state.config, response.headers_mut());
                Ok(response)
            }
            "changePassword" => {
                let (user_id, session_id) = acting_user(&state, &req.session_variables).await?;
                let c: ChangePasswordInput = input(req.input)?;
                if c.current_password.is_some() {
                    state.sign_in_limiter.check(&client)?;
                }
                let update = SelfUpdate {
                    password: Some(c.password),
                    current_password: c.current_password,
                    data: None,
                };
                state
                    .auth
                    .update_self(user_id, session_id, update, &client)
                    .await?;
                Ok(Json(json!({"ok": true})).into_response())
            }
            other => Err(Error::not_found(format!("unknown action {other:?}"))),
        }
    }
    .await;
    result.unwrap_or_else(action_error)
}

// ---------------------------------------------------------------------------------------------
// Auth webhook

/// Webhook denial: 401, which Hasura reports as "Authentication hook unauthorized this request".
fn deny(message: &str) -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({"message": message}))).into_response()
}

fn header_of<'a>(headers: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Answers for the client headers Hasura passed on.
async fn webhook(state: &AppState, headers: &HashMap<String, String>) -> Response {
    let Some(authorization) = header_of(headers, "authorization") else {
        return Json(json!({"X-Hasura-Role": state.config.hasura_unauthorized_role}))
            .into_response();
    };
    let token = match authorization.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            token.trim()
        }
        _ => return deny("Malformed Authorization header"),
    };
    let who = match state.auth.authenticate(token).await {
        Ok(who) => who,
        Err(e) if e.status == StatusCode::UNAUTHORIZED => return deny(&e.message),
        Err(e) => return e.into_response(),
    };
    // Roles come from the user row just read, not from the token: a role taken away
    // stops working at once in webhook mode.
    let role = match header_of(headers, "x-hasura-role").filter(|r| !r.is_empty()) {
        Some(requested) if who.user.allowed_roles.iter().any(|r| r == requested) => requested,
        Some(_) => return deny("Your requested role is not in allowed roles"),
        None => who.user.default_role.as_str(),
    };
    let hasura = &who.token.hasura;
    let mut vars = Map::new();
    for (name, value) in hasura {
        if name == claims::ALLOWED_ROLES || name == claims::DEFAULT_ROLE {
            continue;
        }
        if let Value::String(s) = value {
            vars.insert(name.clone(), Value::String(s.clone()));
        }
    }
    vars.remove(claims::USER_ID);
    vars.insert("X-Hasura-User-Id".into(), json!(who.user.id.to_string()));
    vars.insert("X-Hasura-Role".into(), json!(role));
    // Hasura reads the expiry from the body (not from HTTP headers) to close WebSockets.
    if let Some(exp) = chrono::DateTime::from_timestamp(who.token.expires_at, 0) {
        vars.insert(
            "Expires".into(),
            json!(exp.format("%a, %d %b %Y %H:%M:%S GMT").to_string()),
        );
    }
    Json(Value::Object(vars)).into_response()
}

/// GET mode: the client's headers are this request's headers.
async fn webhook_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    // A header that is not UTF-8 is kept as an unusable value, so a garbled Authorization
    // header is denied rather than treated as absent (anonymous).
    let map: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or("\u{fffd}").to_owned(),
            )
        })
        .collect();
    webhook(&state, &map).await
}

#[derive(Deserialize)]
struct WebhookBody {
    #[serde(default)]
    headers: HashMap<String, String>,
}

/// POST mode: `{"headers": {...}, "request": {...}}`.
async fn webhook_post(
    State(state): State<AppState>,
    Payload(body): Payload<WebhookBody>,
) -> Response {
    webhook(&state, &body.headers).await
}
