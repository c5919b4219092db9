//! The Hasura auth webhook, in GET and POST modes.

use crate::common::{self, jwt_payload, str_of, TestApp, PASSWORD, SECRET};
use axum::{
    body::Body,
    http::{Method, Request, StatusCode},
};
use serde_json::{json, Value};
use sqlx::PgPool;

pub(crate) async fn webhook_get(app: &TestApp, headers: &[(&str, &str)]) -> common::Response {
    let mut req = Request::get("/hasura/webhook");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    app.request(req.body(Body::empty()).unwrap()).await
}

#[sqlx::test(migrations = false)]
async fn auth_webhook_get_and_post_modes(db: PgPool) {
    let app = common::app(
        &db,
        &[
            "--custom-claims-sql",
            "SELECT json_build_object('org', 'acme') WHERE $1::uuid IS NOT NULL",
        ],
    )
    .await;
    let s = app.signup("hook@example.com").await;
    let user_id = str_of(&s.body["user"], "id").to_owned();
    sqlx::query("UPDATE users SET allowed_roles = '{user,editor}'")
        .execute(&app.pool)
        .await
        .unwrap();
    let (at, _) = {
        let r = app.sign_in("hook@example.com", PASSWORD).await;
        (str_of(&r.body, "access_token").to_owned(), ())
    };
    let bearer = format!("Bearer {at}");

    let res = webhook_get(&app, &[("authorization", &bearer), ("user-agent", "x")]).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let vars = res.body.as_object().unwrap();
    assert_eq!(vars["X-Hasura-User-Id"], user_id.as_str());
    assert_eq!(vars["X-Hasura-Role"], "user");
    assert_eq!(vars["x-hasura-org"], "acme");
    assert!(
        vars.values().all(Value::is_string),
        "all values are strings: {vars:?}"
    );
    let exp = jwt_payload(&at)["exp"].as_i64().unwrap();
    let expires = chrono::DateTime::from_timestamp(exp, 0)
        .unwrap()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    assert_eq!(vars["Expires"], expires.as_str());
    assert!(!vars.contains_key("x-hasura-allowed-roles"));

    let res = webhook_get(
        &app,
        &[("authorization", &bearer), ("x-hasura-role", "editor")],
    )
    .await;
    assert_eq!(res.body["X-Hasura-Role"], "editor");
    let res = webhook_get(
        &app,
        &[("authorization", &bearer), ("x-hasura-role", "admin")],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    // A header sent twice is ambiguous: denied, whichever value comes first.
    for twice in [
        vec![
            ("authorization", bearer.as_str()),
            ("x-hasura-role", "editor"),
            ("x-hasura-role", "admin"),
        ],
        vec![
            ("authorization", bearer.as_str()),
            ("authorization", "Bearer x"),
        ],
    ] {
        let res = webhook_get(&app, &twice).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{twice:?}: {res:?}");
    }

    // POST mode: {headers, request}.
    let body = json!({"headers": {"Authorization": bearer, "X-Hasura-Role": "editor"}, "request": {"query": "{ todos { id } }", "variables": {}, "operationName": null}});
    let res = app.post("/hasura/webhook", body).await;
    assert_eq!(
        (res.status, res.body["X-Hasura-Role"].as_str()),
        (StatusCode::OK, Some("editor"))
    );
    let res = app
        .post(
            "/hasura/webhook",
            json!({"headers": {}, "request": {"query": "{ x }"}}),
        )
        .await;
    assert_eq!(res.body, json!({"X-Hasura-Role": "anonymous"}));

    // No token: the unauthorized role. Bad tokens: 401.
    assert_eq!(
        webhook_get(&app, &[]).await.body,
        json!({"X-Hasura-Role": "anonymous"})
    );
    assert_eq!(
        webhook_get(&app, &[("authorization", "Bearer nonsense")])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        webhook_get(&app, &[("authorization", "Basic abc")])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let mut claims = jwt_payload(&at);
    claims["exp"] = json!(chrono::Utc::now().timestamp() - 5);
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        webhook_get(&app, &[("authorization", &format!("Bearer {expired}"))])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    // A garbled (non-UTF-8) Authorization header is denied, not treated as anonymous.
    let garbled = Request::get("/hasura/webhook")
        .header(
            "authorization",
            axum::http::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        )
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.request(garbled).await.status, StatusCode::UNAUTHORIZED);

    // Roles are read from the user row: a role taken away stops working before the token expires.
    sqlx::query("UPDATE users SET allowed_roles = '{user}'")
        .execute(&app.pool)
        .await
        .unwrap();
    let res = webhook_get(
        &app,
        &[("authorization", &bearer), ("x-hasura-role", "editor")],
    )
    .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);

    // Sign-out and disabling take effect at once in webhook mode.
    sqlx::query("UPDATE users SET enabled = false")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        webhook_get(&app, &[("authorization", &bearer)])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    sqlx::query("UPDATE users SET enabled = true")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        webhook_get(&app, &[("authorization", &bearer)])
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.call(Method::POST, "/logout", Some(&at), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        webhook_get(&app, &[("authorization", &bearer)])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}
