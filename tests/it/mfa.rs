//! Multi-factor authentication: TOTP factors in Supabase Auth's dialect, the assurance level
//! of sessions in tokens and in Hasura, and the rules around them.

mod actions;
mod assurance;
mod auth_js;
mod factors;
mod guessing;
mod hasura;
mod pages;
mod recovery;
mod step_up;

use crate::common::{str_of, Response, TestApp};
use axum::http::{Method, StatusCode};
use serde_json::json;
use totp_rs::Totp;

/// Enrols a TOTP factor; the answer.
pub async fn enroll(app: &TestApp, token: &str, name: &str) -> Response {
    app.call(
        Method::POST,
        "/factors",
        Some(token),
        Some(json!({"factor_type": "totp", "friendly_name": name})),
    )
    .await
}

/// The authenticator app's view of an enrolment answer: the TOTP its URI describes.
pub fn authenticator(enrolled: &Response) -> Totp {
    assert_eq!(enrolled.status, StatusCode::OK, "{enrolled:?}");
    Totp::from_url(str_of(&enrolled.body["totp"], "uri")).expect("an otpauth URI")
}

/// A challenge of `factor`; its id.
pub async fn challenge(app: &TestApp, token: &str, factor: &str) -> String {
    let res = app
        .call(
            Method::POST,
            &format!("/factors/{factor}/challenge"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    str_of(&res.body, "id").to_owned()
}

pub async fn verify(
    app: &TestApp,
    token: &str,
    factor: &str,
    challenge: &str,
    code: &str,
) -> Response {
    app.call(
        Method::POST,
        &format!("/factors/{factor}/verify"),
        Some(token),
        Some(json!({"challenge_id": challenge, "code": code})),
    )
    .await
}

/// The code of `totp` `steps` steps from now.
pub fn code(totp: &Totp, steps: i64) -> String {
    let now = chrono::Utc::now().timestamp() + steps * 30;
    totp.generate(now as u64).to_string()
}

/// Challenges `factor` and answers with the code `steps` steps from now.
pub async fn step_up(
    app: &TestApp,
    token: &str,
    factor: &str,
    totp: &Totp,
    steps: i64,
) -> Response {
    let id = challenge(app, token, factor).await;
    verify(app, token, factor, &id, &code(totp, steps)).await
}
