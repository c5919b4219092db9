//! Bad input gets a JSON error with the right status, never a panic or a 500: bodies that do
//! not parse, NUL characters, the framework's own rejections.

use crate::common::{self, PASSWORD};
use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn bad_requests_get_json_errors_not_panics(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let raw = |ct: &str, body: Vec<u8>| {
        Request::post("/signup")
            .header(header::CONTENT_TYPE, ct)
            .body(Body::from(body))
            .unwrap()
    };
    let res = app
        .request(raw("application/json", b"{not json".to_vec()))
        .await;
    assert_eq!(
        (res.status, res.body["error_code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_json"))
    );
    let res = app.request(raw("text/plain", b"hello".to_vec())).await;
    assert_eq!(res.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(res.body.is_object());
    let res = app
        .request(
            Request::post("/token?grant_type=password")
                .body(Body::from("x"))
                .unwrap(),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = format!(
        r#"{{"email":"a@example.com","password":"{}"}}"#,
        "x".repeat(100_000)
    );
    let res = app
        .request(raw("application/json", huge.into_bytes()))
        .await;
    assert_eq!(
        (res.status, res.body["error_code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("request_too_large"))
    );
    let res = app
        .request(raw(
            "application/json",
            br#"{"email": 5, "password": []}"#.to_vec(),
        ))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = app.call(Method::GET, "/nope", None, None).await;
    assert_eq!(
        (res.status, res.body["error_code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let res = app.call(Method::DELETE, "/token", None, None).await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
    let res = app
        .call(Method::POST, "/logout?scope=everything", None, None)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = false)]
async fn nul_characters_are_refused_not_500(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let res = app
        .post(
            "/signup",
            json!({"email": "nul@example.com", "password": PASSWORD, "data": {"k": "a\u{0}"}}),
        )
        .await;
    assert_eq!(
        (res.status, res.body["error_code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("validation_failed"))
    );
    let res = app
        .post(
            "/signup",
            json!({"email": "nul\u{0}@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    let res = app.sign_in("nul\u{0}@example.com", PASSWORD).await;
    assert_eq!(
        (res.status, res.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let res = app
        .post(
            "/token?grant_type=password",
            json!({"email": "x@example.com", "password": "a\u{0}b"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrations = false)]
async fn framework_rejections_are_json_errors_too(db: PgPool) {
    const ADMIN: &str = "admin-secret-admin-secret-admin-secret";
    let app = common::app(&db, &["--admin-secret", ADMIN]).await;
    // A path parameter that is not UTF-8 never reaches a handler.
    let res = app
        .call(Method::GET, "/admin/users/%ff", Some(ADMIN), None)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    assert!(res.body.is_object(), "{res:?}");
    assert_eq!(res.body["code"], 400);
    assert_eq!(res.body["error_code"], "validation_failed");
    assert!(res.body["msg"].is_string());
    let res = app
        .call(
            Method::GET,
            "/admin/users/%ff/sessions/%fe",
            Some(ADMIN),
            None,
        )
        .await;
    assert!(res.body.is_object(), "{res:?}");
    assert!(res.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
}
