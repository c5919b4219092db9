//! The second-factor steps as Hasura actions, also for a session that still owes its factor.

use super::code;
use crate::{
    common::{self, jwt_payload, str_of, PASSWORD},
    hasura::{action, anonymous, ACTIONS_SECRET},
};
use axum::http::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use totp_rs::Totp;

/// The session variables Hasura derives from `token` (JWT mode: its claims, the default role).
fn vars_of(token: &str) -> Value {
    let mut claims = jwt_payload(token)["https://hasura.io/jwt/claims"].clone();
    let role = claims["x-hasura-default-role"].clone();
    let map = claims.as_object_mut().unwrap();
    map.remove("x-hasura-allowed-roles");
    map.remove("x-hasura-default-role");
    map.insert("x-hasura-role".into(), role);
    claims
}

#[sqlx::test(migrations = false)]
async fn mfa_steps_as_actions(db: PgPool) {
    let app = common::app(
        &db,
        &[
            "--hasura-actions-secret",
            ACTIONS_SECRET,
            "--mfa-required",
            "all",
        ],
    )
    .await;
    let signed_up = app.signup("a@example.com").await;
    let pending = vars_of(str_of(&signed_up.body, "access_token"));
    assert_eq!(
        pending["x-hasura-role"], "anonymous",
        "the session owes its factor"
    );
    let refused = action(&app, "mySessions", Value::Null, pending.clone()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    assert_eq!(refused.body["extensions"]["code"], "insufficient_aal");
    let nobody = action(&app, "enrollFactor", Value::Null, anonymous()).await;
    assert_eq!(
        nobody.body["extensions"]["code"], "no_authorization",
        "{nobody:?}"
    );

    let enrolled = action(
        &app,
        "enrollFactor",
        json!({"friendly_name": "phone"}),
        pending.clone(),
    )
    .await;
    assert_eq!(enrolled.status, StatusCode::OK, "{enrolled:?}");
    assert!(str_of(&enrolled.body, "qr_code").contains("<svg"));
    let totp = Totp::from_url(str_of(&enrolled.body, "uri")).unwrap();
    let factor = str_of(&enrolled.body, "id").to_owned();
    let listed = action(&app, "myFactors", Value::Null, pending.clone()).await;
    assert_eq!(listed.body[0]["status"], "unverified", "{listed:?}");

    let made = action(
        &app,
        "challengeFactor",
        json!({"factor_id": factor}),
        pending.clone(),
    )
    .await;
    let challenge = str_of(&made.body, "id").to_owned();
    let wrong = json!({"factor_id": factor, "challenge_id": challenge, "code": "12345"});
    let wrong = action(&app, "verifyFactor", wrong, pending.clone()).await;
    assert_eq!(
        wrong.body["extensions"]["code"], "mfa_verification_failed",
        "{wrong:?}"
    );
    let right = json!({"factor_id": factor, "challenge_id": challenge, "code": code(&totp, 0)});
    let raised = action(&app, "verifyFactor", right, pending.clone()).await;
    assert_eq!(raised.status, StatusCode::OK, "{raised:?}");
    let aal2 = vars_of(str_of(&raised.body, "access_token"));
    assert_eq!(aal2["x-hasura-aal"], "aal2");
    assert_eq!(aal2["x-hasura-role"], "user");
    let sessions = action(&app, "mySessions", Value::Null, aal2.clone()).await;
    assert_eq!(sessions.status, StatusCode::OK, "{sessions:?}");

    let codes = action(&app, "generateRecoveryCodes", Value::Null, aal2.clone()).await;
    let first = codes.body["recovery_codes"][0].clone();
    assert!(first.is_string(), "{codes:?}");
    let again = app.sign_in("a@example.com", PASSWORD).await;
    let pending = vars_of(str_of(&again.body, "access_token"));
    let recovered = action(&app, "verifyRecoveryCode", json!({"code": first}), pending).await;
    assert_eq!(recovered.status, StatusCode::OK, "{recovered:?}");
    assert_eq!(
        jwt_payload(str_of(&recovered.body, "access_token"))["aal"],
        "aal2"
    );

    let removed = action(&app, "unenrollFactor", json!({"factor_id": factor}), aal2).await;
    assert_eq!(removed.body["id"], factor.as_str(), "{removed:?}");
}
