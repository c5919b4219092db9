//! Step-up for Hasura roles: roles that need a second factor (`AUTH_MFA_AAL2_ROLES`) are
//! allowed only at aal2, in JWT mode and in the webhook; `x-hasura-aal` reaches permissions.

use super::{authenticator, enroll, step_up};
use crate::{
    common::{self, hasura, str_of, PASSWORD, SECRET},
    hasura::webhook::webhook_get,
};
use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;

fn claims(token: &str) -> serde_json::Map<String, serde_json::Value> {
    hasura::check(token, &hasura::hmac(SECRET), &hasura::Expect::default())
}

#[sqlx::test(migrations = false)]
async fn roles_that_need_aal2_arrive_with_the_second_factor(db: PgPool) {
    let app = common::app(&db, &["--mfa-aal2-roles", "admin,auditor"]).await;
    app.signup("a@example.com").await;
    app.signup("b@example.com").await;
    sqlx::query("UPDATE users SET allowed_roles = '{user,admin}', default_role = 'admin' WHERE email = 'a@example.com'")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE users SET allowed_roles = '{auditor}', default_role = 'auditor' WHERE email = 'b@example.com'")
        .execute(&app.pool)
        .await
        .unwrap();

    // aal1: the gated role is not allowed, and a gated default gives way.
    let signed_in = app.sign_in("a@example.com", PASSWORD).await;
    let at1 = str_of(&signed_in.body, "access_token").to_owned();
    let c = claims(&at1);
    assert_eq!(c["x-hasura-allowed-roles"], json!(["user"]));
    assert_eq!(c["x-hasura-default-role"], "user");
    assert_eq!(c["x-hasura-aal"], "aal1");
    let bearer = format!("Bearer {at1}");
    let hook = webhook_get(
        &app,
        &[("authorization", &bearer), ("x-hasura-role", "admin")],
    )
    .await;
    assert_eq!(hook.status, StatusCode::UNAUTHORIZED, "{hook:?}");
    let hook = webhook_get(&app, &[("authorization", &bearer)]).await;
    assert_eq!(hook.body["X-Hasura-Role"], "user");
    assert_eq!(hook.body["x-hasura-aal"], "aal1");

    // A second factor brings the role in, in the token and in the webhook.
    let enrolled = enroll(&app, &at1, "").await;
    let totp = authenticator(&enrolled);
    let raised = step_up(&app, &at1, str_of(&enrolled.body, "id"), &totp, 0).await;
    assert_eq!(raised.status, StatusCode::OK, "{raised:?}");
    let at2 = str_of(&raised.body, "access_token").to_owned();
    let c = claims(&at2);
    assert_eq!(c["x-hasura-allowed-roles"], json!(["user", "admin"]));
    assert_eq!(c["x-hasura-default-role"], "admin");
    assert_eq!(c["x-hasura-aal"], "aal2");
    let bearer = format!("Bearer {at2}");
    let hook = webhook_get(
        &app,
        &[("authorization", &bearer), ("x-hasura-role", "admin")],
    )
    .await;
    assert_eq!(hook.status, StatusCode::OK, "{hook:?}");
    assert_eq!(hook.body["X-Hasura-Role"], "admin");
    assert_eq!(hook.body["x-hasura-aal"], "aal2");
    let refreshed = app.refresh(str_of(&raised.body, "refresh_token")).await;
    let c = claims(str_of(&refreshed.body, "access_token"));
    assert_eq!(
        c["x-hasura-allowed-roles"],
        json!(["user", "admin"]),
        "a refresh keeps them"
    );

    // A user whose only role needs aal2 is unauthenticated to Hasura until the factor.
    let only = app.sign_in("b@example.com", PASSWORD).await;
    let at = str_of(&only.body, "access_token");
    let c = claims(at);
    assert_eq!(c["x-hasura-allowed-roles"], json!(["anonymous"]));
    let hook = webhook_get(&app, &[("authorization", &format!("Bearer {at}"))]).await;
    assert_eq!(hook.body["X-Hasura-Role"], "anonymous");
}

#[test]
fn the_default_role_cannot_need_aal2() {
    let config = hasura_jwt_auth::config::Config::from_args([
        "--jwt-secret",
        SECRET,
        "--mfa-aal2-roles",
        "user",
    ])
    .unwrap();
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("AUTH_MFA_AAL2_ROLES"), "{err}");
}
