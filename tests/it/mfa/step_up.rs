//! Once a user has a verified factor, the steps that could lock them out of their account or
//! keep an intruder in need an aal2 session, whatever the door.

use super::{authenticator, enroll, step_up};
use crate::{
    common::{self, hasura, jwt_payload, str_of, TestApp, PASSWORD, SECRET},
    hasura::webhook::webhook_get,
};
use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

/// A user with a verified factor: an aal2 session's access token, and an aal1 session's.
async fn user_with_factor(app: &TestApp) -> (String, String) {
    let signed_up = app.signup("a@example.com").await;
    let at = str_of(&signed_up.body, "access_token");
    let enrolled = enroll(app, at, "").await;
    let totp = authenticator(&enrolled);
    let raised = step_up(app, at, str_of(&enrolled.body, "id"), &totp, 0).await;
    let aal2 = str_of(&raised.body, "access_token").to_owned();
    let signed_in = app.sign_in("a@example.com", PASSWORD).await;
    (aal2, str_of(&signed_in.body, "access_token").to_owned())
}

fn refused(res: &common::Response) {
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    assert_eq!(res.body["error_code"], "insufficient_aal");
}

#[sqlx::test(migrations = false)]
async fn sensitive_steps_need_the_second_factor(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let (aal2, aal1) = user_with_factor(&app).await;
    let other_session = str_of(&jwt_payload(&aal2), "session_id").to_owned();

    let new_password = json!({"password": "another horse battery", "current_password": PASSWORD});
    refused(
        &app.call(
            Method::PUT,
            "/user",
            Some(&aal1),
            Some(new_password.clone()),
        )
        .await,
    );
    let new_email = json!({"email": "b@example.com", "current_password": PASSWORD});
    refused(
        &app.call(Method::PUT, "/user", Some(&aal1), Some(new_email))
            .await,
    );
    refused(
        &app.call(Method::POST, "/logout?scope=others", Some(&aal1), None)
            .await,
    );
    let other = format!("/sessions/{other_session}");
    refused(&app.call(Method::DELETE, &other, Some(&aal1), None).await);
    let link = "/user/identities/authorize?provider=acme&skip_http_redirect=true\
                &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=s256";
    refused(&app.call(Method::GET, link, Some(&aal1), None).await);
    refused(
        &app.call(
            Method::POST,
            "/factors",
            Some(&aal1),
            Some(json!({"factor_type": "totp"})),
        )
        .await,
    );
    // What changes nothing else is fine at aal1: metadata.
    let data = app
        .call(
            Method::PUT,
            "/user",
            Some(&aal1),
            Some(json!({"data": {"theme": "dark"}})),
        )
        .await;
    assert_eq!(data.status, StatusCode::OK, "{data:?}");
    // A global sign-out from aal1 ends that session only (auth-js forgets it whatever the
    // answer), and says why the others stay.
    refused(
        &app.call(Method::POST, "/logout?scope=global", Some(&aal1), None)
            .await,
    );
    let gone = app.call(Method::GET, "/user", Some(&aal1), None).await;
    assert_eq!(gone.body["error_code"], "session_not_found", "{gone:?}");

    // From the aal2 session, the same steps go through.
    let changed = app
        .call(Method::PUT, "/user", Some(&aal2), Some(new_password))
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    let ended = app
        .call(Method::POST, "/logout?scope=others", Some(&aal2), None)
        .await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT, "{ended:?}");
    let own = app
        .call(Method::POST, "/logout?scope=local", Some(&aal2), None)
        .await;
    assert_eq!(own.status, StatusCode::NO_CONTENT);
}

#[sqlx::test(migrations = false)]
async fn a_required_second_factor_comes_before_anything_else(db: PgPool) {
    let app = common::app(&db, &["--mfa-required", "admin"]).await;
    app.signup("plain@example.com").await;
    let signed_up = app.signup("a@example.com").await;
    sqlx::query("UPDATE users SET allowed_roles = '{user,admin}' WHERE email = 'a@example.com'")
        .execute(&app.pool)
        .await
        .unwrap();
    // Users without a required role are not concerned.
    let plain = app.sign_in("plain@example.com", PASSWORD).await;
    let sessions = app
        .call(
            Method::GET,
            "/sessions",
            Some(str_of(&plain.body, "access_token")),
            None,
        )
        .await;
    assert_eq!(sessions.status, StatusCode::OK);

    // A password sign-in: an aal1 session that can only take the MFA steps.
    let signed_in = app.sign_in("a@example.com", PASSWORD).await;
    let at = str_of(&signed_in.body, "access_token").to_owned();
    let c = hasura::check(&at, &hasura::hmac(SECRET), &hasura::Expect::default());
    assert_eq!(c["x-hasura-allowed-roles"], json!(["anonymous"]));
    let hook = webhook_get(&app, &[("authorization", &format!("Bearer {at}"))]).await;
    assert_eq!(hook.body["X-Hasura-Role"], "anonymous", "{hook:?}");
    refused(&app.call(Method::GET, "/sessions", Some(&at), None).await);
    let metadata = json!({"data": {"theme": "dark"}});
    refused(
        &app.call(Method::PUT, "/user", Some(&at), Some(metadata))
            .await,
    );
    let me = app.call(Method::GET, "/user", Some(&at), None).await;
    assert_eq!(
        me.status,
        StatusCode::OK,
        "reading the user (listFactors) is fine"
    );
    // The session from sign-up owed it too.
    let first = str_of(&signed_up.body, "access_token");
    refused(&app.call(Method::GET, "/sessions", Some(first), None).await);

    // Enrol and verify: the session is whole, with the user's roles.
    let enrolled = enroll(&app, &at, "").await;
    let totp = authenticator(&enrolled);
    let raised = step_up(&app, &at, str_of(&enrolled.body, "id"), &totp, 0).await;
    let aal2 = str_of(&raised.body, "access_token");
    let c = hasura::check(aal2, &hasura::hmac(SECRET), &hasura::Expect::default());
    assert_eq!(c["x-hasura-allowed-roles"], json!(["user", "admin"]));
    let sessions = app.call(Method::GET, "/sessions", Some(aal2), None).await;
    assert_eq!(sessions.status, StatusCode::OK, "{sessions:?}");
    // Signing out is always possible.
    let out = app
        .call(Method::POST, "/logout?scope=local", Some(&at), None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
}
