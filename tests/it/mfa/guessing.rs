//! Guessing codes: wrong codes count towards the account's lockout, whatever the door.

use super::{authenticator, code, enroll, step_up};
use crate::common::{self, str_of, PASSWORD};
use axum::http::StatusCode;
use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn wrong_codes_lock_the_account(db: PgPool) {
    let app = common::app(&db, &["--account-lockout-threshold", "3"]).await;
    let signed_up = app.signup("a@example.com").await;
    let at = str_of(&signed_up.body, "access_token").to_owned();
    let enrolled = enroll(&app, &at, "").await;
    let totp = authenticator(&enrolled);
    let factor = str_of(&enrolled.body, "id").to_owned();
    let wrong = if code(&totp, 0) == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..3 {
        let id = super::challenge(&app, &at, &factor).await;
        let res = super::verify(&app, &at, &factor, &id, wrong).await;
        assert_eq!(res.body["error_code"], "mfa_verification_failed", "{res:?}");
    }
    // Locked: even the right code waits, and so does the password.
    let locked = step_up(&app, &at, &factor, &totp, 0).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{locked:?}");
    assert!(locked.headers.contains_key("retry-after"));
    let password = app.sign_in("a@example.com", PASSWORD).await;
    assert_eq!(
        password.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{password:?}"
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE event IN ('mfa_verification_failed', 'sign_in_locked')",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audited, 4);

    // Once the lock is over, the right code passes and clears the count.
    sqlx::query("UPDATE sign_in_attempts SET locked_until = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    let ok = step_up(&app, &at, &factor, &totp, 0).await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
}
