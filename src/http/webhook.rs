//! `GET|POST /hasura/webhook`: Hasura's auth webhook
//! (<https://hasura.io/docs/latest/auth/authentication/webhook/>). It answers 200 with the
//! session variables (strings, or typed for Hasura DDN, the role in `X-Hasura-Role`) or 401 to deny, and
//! puts the token's expiry in the body as `Expires`, where Hasura reads it.

use std::collections::HashMap;

use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{extract::parse_bearer, Payload};
use crate::{
    api::{SessionVariables, WebhookDenied},
    app::App,
    auth::{api_keys, claims},
    config::SessionValues,
    error::Kind,
};

pub fn router() -> Router<App> {
    Router::new().route("/hasura/webhook", get(webhook_get).post(webhook_post))
}

/// Webhook denial: 401, which Hasura reports as "Authentication hook unauthorized this request".
fn deny(message: &str) -> Response {
    (StatusCode::UNAUTHORIZED, Json(WebhookDenied { message })).into_response()
}

fn header_of<'a>(headers: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Answers for the client headers Hasura passed on, which `header` looks up by lowercase
/// name.
async fn webhook<'h>(app: &App, header: impl Fn(&str) -> Option<&'h str>) -> Response {
    let Some(authorization) = header("authorization") else {
        let role = &app.config.hasura.hasura_unauthorized_role;
        let vars = Map::from_iter([("X-Hasura-Role".to_owned(), json!(role))]);
        return Json(SessionVariables(vars)).into_response();
    };
    let Some(token) = parse_bearer(authorization) else {
        return deny("Malformed Authorization header");
    };
    if token.starts_with(api_keys::PREFIX) {
        return with_api_key(app, token, header("x-hasura-role")).await;
    }
    let who = match app.auth.authenticate_any(token).await {
        Ok(who) => who,
        Err(e) if e.kind == Kind::Unauthorized => return deny(&e.message),
        Err(e) => return e.into_response(),
    };
    // Roles come from the user row just read, not from the token: a role taken away
    // stops working at once in webhook mode. Roles that need a second factor wait for an
    // aal2 token. So does the organization the session acts in: a member removed from it
    // loses its roles and its id at once. An OAuth client's session gets only the roles
    // granted to the client.
    let org = who.user.org();
    let (default, allowed) = app.auth.live_roles(&who.user, who.token.aal);
    let role = match header("x-hasura-role").filter(|r| !r.is_empty()) {
        Some(requested) if allowed.contains(&requested) => requested,
        Some(_) => return deny("Your requested role is not in allowed roles"),
        None => default,
    };
    // The token's session variables: strings (Hasura v2 and older DDN projects take nothing
    // else), or as their JSON type where the engine reads them so (AUTH_DDN_COMPATIBILITY_DATE).
    let typed = app.config.hasura.session_values() == SessionValues::Json;
    let hasura = &who.token.hasura;
    let mut vars = Map::new();
    for (name, value) in hasura {
        if name == claims::ALLOWED_ROLES || name == claims::DEFAULT_ROLE {
            continue;
        }
        if value.is_string() || (typed && !value.is_null()) {
            vars.insert(name.clone(), value.clone());
        }
    }
    vars.remove(claims::USER_ID);
    vars.insert("X-Hasura-User-Id".into(), json!(who.user.id.to_string()));
    // A session acting in an organization: its id is the live one (none once the user is
    // no longer a member); other sessions keep what the token says (a custom claim).
    if org.id.is_some() {
        vars.remove(claims::ORG_ID);
    }
    let pending = app.auth.mfa_pending(&who.user, who.token.aal);
    if let Some((id, _)) = org.membership().filter(|_| !pending) {
        vars.insert("X-Hasura-Org-Id".into(), json!(id.to_string()));
    }
    vars.insert("X-Hasura-Role".into(), json!(role));
    // Hasura reads the expiry from the body (not from HTTP headers) to close WebSockets.
    insert_expiry(
        &mut vars,
        chrono::DateTime::from_timestamp(who.token.expires_at, 0),
    );
    Json(SessionVariables(vars)).into_response()
}

fn insert_expiry(vars: &mut Map<String, Value>, at: Option<chrono::DateTime<chrono::Utc>>) {
    if let Some(exp) = at {
        vars.insert(
            "Expires".into(),
            json!(exp.format("%a, %d %b %Y %H:%M:%S GMT").to_string()),
        );
    }
}

/// The answer for an API key: its user, the key's roles that the user still has (in the
/// key's organization as the membership is now), the custom claims, the organization and the
/// key's id; the key's expiry as `Expires`. Revoked, rotated away or expired: 401.
async fn with_api_key(app: &App, token: &str, requested: Option<&str>) -> Response {
    let live = match app.auth.authenticate_key(token).await {
        Ok(live) => live,
        Err(e) if e.kind == Kind::Unauthorized => return deny(&e.message),
        Err(e) => return e.into_response(),
    };
    let claims = match app.auth.key_claims(&live) {
        Ok(claims) => claims,
        Err(e) => return deny(&e.message),
    };
    let role = match requested.filter(|r| !r.is_empty()) {
        Some(r) if claims.allowed_roles.iter().any(|a| a == r) => r.to_owned(),
        Some(_) => return deny("Your requested role is not in allowed roles"),
        None => claims.default_role.clone(),
    };
    let typed = app.config.hasura.session_values() == SessionValues::Json;
    let mut vars = Map::new();
    for (name, value) in claims.custom {
        if value.is_string() || (typed && !value.is_null()) {
            vars.insert(name, value);
        }
    }
    vars.insert("X-Hasura-User-Id".into(), json!(claims.user_id));
    vars.insert(claims::AAL.into(), json!(claims.aal.as_str()));
    vars.insert("X-Hasura-Role".into(), json!(role));
    insert_expiry(&mut vars, live.key().and_then(|k| k.expires_at));
    Json(SessionVariables(vars)).into_response()
}

/// GET mode: the client's headers are this request's headers.
/// Hasura's authentication webhook, GET mode.
#[utoipa::path(get, path = "/hasura/webhook", tag = "hasura", security(("access_token" = []), ()),
    params(("x-hasura-role" = Option<String>, Header, description = "A role the user is allowed")),
    responses(
        (status = 200, body = crate::api::SessionVariables),
        (status = 401, body = crate::api::WebhookDenied),
    ))]
async fn webhook_get(State(app): State<App>, headers: HeaderMap) -> Response {
    // A header that is not visible ASCII, or that is sent twice (which one would count?),
    // reads as an unusable value: a garbled Authorization header is denied rather than
    // treated as absent (anonymous).
    webhook(&app, |name| {
        let mut values = headers.get_all(name).iter();
        match (values.next(), values.next()) {
            (Some(v), None) => Some(v.to_str().unwrap_or("\u{fffd}")),
            (Some(_), Some(_)) => Some("\u{fffd}"),
            (None, _) => None,
        }
    })
    .await
}

#[derive(Deserialize)]
struct WebhookBody {
    #[serde(default)]
    headers: HashMap<String, String>,
}

/// POST mode: `{"headers": {...}, "request": {...}}`.
/// Hasura's authentication webhook, POST mode.
#[utoipa::path(post, path = "/hasura/webhook", tag = "hasura",
    request_body(content = Object, description = "`{headers: {…}, request: {…}}` (the client's headers)"),
    responses(
        (status = 200, body = crate::api::SessionVariables),
        (status = 401, body = crate::api::WebhookDenied),
    ))]
async fn webhook_post(State(app): State<App>, Payload(body): Payload<WebhookBody>) -> Response {
    webhook(&app, |name| header_of(&body.headers, name)).await
}
