//! `GET /sessions` and `DELETE /sessions/{id}`: a user's own sessions.

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use serde_json::json;
use sqlx::PgPool;

use crate::common::{self, str_of, TestApp, PASSWORD};

/// Signs `email` in from a browser with `user_agent`: (access token, refresh token).
async fn sign_in_from(app: &TestApp, email: &str, user_agent: &str) -> (String, String) {
    let req = Request::post("/token?grant_type=password")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::USER_AGENT, user_agent)
        .body(Body::from(
            json!({"email": email, "password": PASSWORD}).to_string(),
        ))
        .unwrap();
    let res = app.request(req).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    (
        str_of(&res.body, "access_token").to_owned(),
        str_of(&res.body, "refresh_token").to_owned(),
    )
}

#[sqlx::test(migrations = false)]
async fn users_list_and_end_their_own_sessions(db: PgPool) {
    let app = common::app(&db, &[]).await;
    app.signup("alice@example.com").await;
    app.signup("bob@example.com").await;
    let (laptop, _) = sign_in_from(&app, "alice@example.com", "Laptop/1.0").await;
    let (_, phone_refresh) = sign_in_from(&app, "alice@example.com", "Phone/2.0").await;
    let (bob, _) = sign_in_from(&app, "bob@example.com", "Bob/1.0").await;

    let res = app
        .call(Method::GET, "/sessions", Some(&laptop), None)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let sessions = res.body["sessions"].as_array().unwrap().clone();
    // The sign-up's session, the laptop's, the phone's; bob's are not there.
    assert_eq!(sessions.len(), 3, "{sessions:?}");
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["user_agent"], "Laptop/1.0");
    let phone = sessions
        .iter()
        .find(|s| s["user_agent"] == "Phone/2.0")
        .unwrap();
    for key in ["id", "created_at", "refreshed_at", "ip"] {
        assert!(phone.get(key).is_some(), "{key} in {phone}");
    }
    let phone_uri = format!("/sessions/{}", str_of(phone, "id"));

    // Someone else's session is "not found" (not `session_not_found`, which would tell
    // the client that its own session is over), and stays.
    let res = app.call(Method::DELETE, &phone_uri, Some(&bob), None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{res:?}");
    assert_eq!(res.body["error_code"], "no_such_session");
    assert_eq!(app.refresh(&phone_refresh).await.status, StatusCode::OK);

    // Signing the phone out from the laptop: its refresh token is dead at once.
    let res = app
        .call(Method::DELETE, &phone_uri, Some(&laptop), None)
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{res:?}");
    let res = app
        .post(
            "/token?grant_type=refresh_token",
            json!({"refresh_token": phone_refresh}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    let res = app
        .call(Method::GET, "/sessions", Some(&laptop), None)
        .await;
    assert_eq!(res.body["sessions"].as_array().unwrap().len(), 2);
    let res = app
        .call(Method::DELETE, &phone_uri, Some(&laptop), None)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = app
        .call(Method::DELETE, "/sessions/not-a-uuid", Some(&laptop), None)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    let res = app.call(Method::GET, "/sessions", None, None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    let logouts: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE event = 'logout' AND detail->>'scope' = 'session'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(logouts, 1);
}

#[sqlx::test(migrations = false)]
async fn idle_sessions_are_not_listed(db: PgPool) {
    let app = common::app(&db, &["--session-idle-timeout", "1h"]).await;
    app.signup("alice@example.com").await;
    let (token, _) = sign_in_from(&app, "alice@example.com", "Laptop/1.0").await;
    // The sign-up's session has been idle for two hours: over.
    sqlx::query(
        "UPDATE sessions SET refreshed_at = now() - interval '2 hours',
                             created_at = now() - interval '2 hours'
          WHERE user_agent IS DISTINCT FROM 'Laptop/1.0'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let res = app.call(Method::GET, "/sessions", Some(&token), None).await;
    let sessions = res.body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    assert_eq!(sessions[0]["current"], true);
}

/// The same as Hasura actions: `mySessions` and `endSession`.
#[sqlx::test(migrations = false)]
async fn sessions_as_hasura_actions(db: PgPool) {
    use crate::hasura::{action, assert_action_error, user_vars, ACTIONS_SECRET};
    let app = common::app(&db, &["--hasura-actions-secret", ACTIONS_SECRET]).await;
    app.signup("alice@example.com").await;
    let (laptop, _) = sign_in_from(&app, "alice@example.com", "Laptop/1.0").await;
    let (phone, _) = sign_in_from(&app, "alice@example.com", "Phone/2.0").await;

    let res = action(
        &app,
        "mySessions",
        serde_json::Value::Null,
        user_vars(&laptop),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let sessions = res.body.as_array().unwrap();
    assert_eq!(sessions.len(), 3, "{sessions:?}");
    let phone_id = sessions
        .iter()
        .find(|s| s["user_agent"] == "Phone/2.0")
        .map(|s| str_of(s, "id").to_owned())
        .unwrap();
    let res = action(
        &app,
        "endSession",
        json!({"id": phone_id}),
        user_vars(&laptop),
    )
    .await;
    assert_eq!(res.body, json!({"ok": true}), "{res:?}");
    let res = app.call(Method::GET, "/user", Some(&phone), None).await;
    assert_eq!(
        res.status,
        StatusCode::UNAUTHORIZED,
        "the phone is signed out"
    );
    assert_action_error(
        &action(
            &app,
            "endSession",
            json!({"id": phone_id}),
            user_vars(&laptop),
        )
        .await,
        StatusCode::NOT_FOUND,
        "no_such_session",
    );
}
