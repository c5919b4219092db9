//! Recovery codes: for a user who lost the device of their factor.

use super::{authenticator, enroll, step_up};
use crate::common::{self, jwt_payload, str_of, PASSWORD};
use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn recovery_codes_stand_in_for_the_factor_once_each(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let signed_up = app.signup("a@example.com").await;
    let at = str_of(&signed_up.body, "access_token").to_owned();
    let none = app
        .call(Method::POST, "/factors/recovery_codes", Some(&at), None)
        .await;
    assert_eq!(none.body["error_code"], "insufficient_aal", "{none:?}");

    let enrolled = enroll(&app, &at, "").await;
    let totp = authenticator(&enrolled);
    let factor = str_of(&enrolled.body, "id").to_owned();
    let raised = step_up(&app, &at, &factor, &totp, 0).await;
    let aal2 = str_of(&raised.body, "access_token").to_owned();
    let made = app
        .call(Method::POST, "/factors/recovery_codes", Some(&aal2), None)
        .await;
    assert_eq!(made.status, StatusCode::OK, "{made:?}");
    let codes: Vec<String> = serde_json::from_value(made.body["recovery_codes"].clone()).unwrap();
    assert_eq!(codes.len(), 10);
    assert!(
        codes
            .iter()
            .all(|c| c.len() == 19 && c.matches('-').count() == 3),
        "{codes:?}"
    );
    let left = app
        .call(Method::GET, "/factors/recovery_codes", Some(&aal2), None)
        .await;
    assert_eq!(left.body["remaining"], 10);
    let dump: String = sqlx::query_scalar(
        "SELECT string_agg(encode(code_hash, 'escape'), ' ') FROM mfa_recovery_codes",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(
        codes.iter().all(|c| !dump.contains(c.as_str())),
        "only hashes are stored"
    );

    // A new device, the password, and a recovery code (typed loosely).
    let lost = app.sign_in("a@example.com", PASSWORD).await;
    let aal1 = str_of(&lost.body, "access_token").to_owned();
    let typed = codes[3].to_uppercase().replace('-', " ");
    let used = app
        .call(
            Method::POST,
            "/factors/recovery_codes/verify",
            Some(&aal1),
            Some(json!({"code": typed})),
        )
        .await;
    assert_eq!(used.status, StatusCode::OK, "{used:?}");
    let payload = jwt_payload(str_of(&used.body, "access_token"));
    assert_eq!(payload["aal"], "aal2");
    assert_eq!(payload["amr"][0]["method"], "recovery_code");
    let recovered = str_of(&used.body, "access_token").to_owned();
    let left = app
        .call(
            Method::GET,
            "/factors/recovery_codes",
            Some(&recovered),
            None,
        )
        .await;
    assert_eq!(left.body["remaining"], 9);
    let audited: serde_json::Value = sqlx::query_scalar(
        "SELECT detail FROM audit_log WHERE event = 'mfa_verified' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited["method"], "recovery_code");
    assert_eq!(audited["recovery_codes_left"], 9);

    // Once only.
    let again = app.sign_in("a@example.com", PASSWORD).await;
    let aal1 = str_of(&again.body, "access_token").to_owned();
    let reused = app
        .call(
            Method::POST,
            "/factors/recovery_codes/verify",
            Some(&aal1),
            Some(json!({"code": codes[3]})),
        )
        .await;
    assert_eq!(
        reused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{reused:?}"
    );
    assert_eq!(reused.body["msg"], "Invalid recovery code entered");

    // A new set replaces the old one.
    let renewed = app
        .call(
            Method::POST,
            "/factors/recovery_codes",
            Some(&recovered),
            None,
        )
        .await;
    assert_eq!(renewed.status, StatusCode::OK);
    let old = app
        .call(
            Method::POST,
            "/factors/recovery_codes/verify",
            Some(&aal1),
            Some(json!({"code": codes[0]})),
        )
        .await;
    assert_eq!(old.body["error_code"], "mfa_verification_failed");

    // Without a verified factor, no codes.
    let removed = app
        .call(
            Method::DELETE,
            &format!("/factors/{factor}"),
            Some(&recovered),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{removed:?}");
    let left = app
        .call(
            Method::GET,
            "/factors/recovery_codes",
            Some(&recovered),
            None,
        )
        .await;
    assert_eq!(left.body["remaining"], 0);
}
