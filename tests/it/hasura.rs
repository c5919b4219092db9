//! Hasura integration: the claims Hasura reads (`claims`), the actions handler and its
//! metadata (`actions`), the auth webhook (`webhook`); here, the helpers that call actions as
//! Hasura does.

mod actions;
mod claims;
pub(crate) mod webhook;

use crate::common::{self, jwt_payload, TestApp};
use axum::{
    body::Body,
    http::{header, Request, StatusCode},
};
use serde_json::{json, Value};

pub(crate) const ACTIONS_SECRET: &str = "actions-secret-for-tests-0123456789abcdef";

// --- Actions -----------------------------------------------------------------------------------

pub(crate) async fn action(
    app: &TestApp,
    name: &str,
    input: Value,
    session_variables: Value,
) -> common::Response {
    action_with(
        app,
        name,
        input,
        session_variables,
        Some(ACTIONS_SECRET),
        None,
    )
    .await
}

pub(crate) async fn action_with(
    app: &TestApp,
    name: &str,
    input: Value,
    session_variables: Value,
    secret: Option<&str>,
    cookie: Option<&str>,
) -> common::Response {
    // The payload Hasura sends (https://hasura.io/docs/latest/actions/action-handlers/).
    let body = json!({
        "action": {"name": name},
        "input": input,
        "session_variables": session_variables,
        "request_query": format!("mutation {{ {name} {{ __typename }} }}"),
    });
    let mut req = Request::post("/hasura/actions")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-forwarded-user-agent", "test-browser");
    if let Some(secret) = secret {
        req = req.header(
            hasura_jwt_auth::hasura_config::ACTIONS_SECRET_HEADER,
            secret,
        );
    }
    if let Some(cookie) = cookie {
        req = req.header(header::COOKIE, cookie);
    }
    app.request(req.body(Body::from(body.to_string())).unwrap())
        .await
}

pub(crate) fn anonymous() -> Value {
    json!({"x-hasura-role": "anonymous"})
}

pub(crate) fn user_vars(access_token: &str) -> Value {
    // What Hasura derives from the token's claims: lowercase keys, string values.
    let p = jwt_payload(access_token);
    let c = &p["https://hasura.io/jwt/claims"];
    json!({"x-hasura-role": "user", "x-hasura-user-id": c["x-hasura-user-id"], "x-hasura-session-id": c["x-hasura-session-id"]})
}

pub(crate) fn assert_action_error(res: &common::Response, status: StatusCode, code: &str) {
    assert_eq!(res.status, status, "{res:?}");
    assert!(res.body["message"].is_string(), "{res:?}");
    assert_eq!(res.body["extensions"]["code"], code, "{res:?}");
    assert_eq!(
        res.body.as_object().unwrap().len(),
        2,
        "only message and extensions: {res:?}"
    );
}

// --- Webhook -----------------------------------------------------------------------------------

// --- Cookie mode and CORS -------------------------------------------------------------------------
