//! `GET /user` and `PUT /user`: a live access token, password and metadata changes, metadata
//! merged key by key and bounded, sign-outs.

use crate::common::{self, jwt_payload, str_of, PASSWORD, SECRET};
use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn get_user_needs_a_valid_live_access_token(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let s = app.signup("gina@example.com").await;
    let at = str_of(&s.body, "access_token");
    let me = app.call(Method::GET, "/user", Some(at), None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], "gina@example.com");
    assert_eq!(me.body["id"], s.body["user"]["id"]);
    assert!(!me.body.to_string().contains("$argon2"));

    // Missing, malformed, forged, expired: 401 JSON with WWW-Authenticate.
    let no = app.call(Method::GET, "/user", None, None).await;
    assert_eq!(no.status, StatusCode::UNAUTHORIZED);
    assert_eq!(no.body["error_code"], "no_authorization");
    assert!(no.headers.contains_key(header::WWW_AUTHENTICATE));
    let basic = app
        .request(
            Request::get("/user")
                .header(header::AUTHORIZATION, "Basic dXNlcjpwYXNz")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
    for bad in ["garbage", "a.b.c", &at[..at.len() - 3]] {
        let res = app.call(Method::GET, "/user", Some(bad), None).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{bad}");
        assert_eq!(res.body["error_code"], "bad_jwt");
    }
    let mut claims = jwt_payload(at);
    claims["exp"] = json!(chrono::Utc::now().timestamp() - 60);
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let res = app.call(Method::GET, "/user", Some(&expired), None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(res.body["msg"].as_str().unwrap().contains("expired"));
    claims["exp"] = json!(chrono::Utc::now().timestamp() + 60);
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"another-secret-another-secret-another"),
    )
    .unwrap();
    assert_eq!(
        app.call(Method::GET, "/user", Some(&forged), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("https://evil.example");
    let wrong_iss = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &wrong_iss,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        app.call(Method::GET, "/user", Some(&wrong_iss), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[sqlx::test(migrations = false)]
async fn put_user_changes_password_and_metadata(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let s = app.signup("hank@example.com").await;
    let at = str_of(&s.body, "access_token");
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(at),
            Some(json!({"password": "short"})),
        )
        .await;
    assert_eq!(
        (res.status, res.body["error_code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("weak_password"))
    );
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(at),
            Some(json!({"password": "new password 1", "current_password": "wrong"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(at),
            Some(json!({"password": "new password 1", "data": {"theme": "dark"}})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.body["user_metadata"]["theme"], "dark");
    assert_eq!(
        app.sign_in("hank@example.com", PASSWORD).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.sign_in("hank@example.com", "new password 1")
            .await
            .status,
        StatusCode::OK
    );
    let res = app
        .call(Method::PUT, "/user", Some(at), Some(json!({})))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = app
        .call(
            Method::PUT,
            "/user",
            None,
            Some(json!({"password": "new password 2"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = false)]
async fn user_metadata_merges_the_same_way_for_users_and_admins(db: PgPool) {
    const ADMIN: &str = "admin-secret-admin-secret-admin-secret";
    let app = common::app(&db, &["--admin-secret", ADMIN]).await;
    let s = app.signup("merge@example.com").await;
    let at = str_of(&s.body, "access_token");
    let id = str_of(&s.body["user"], "id").to_owned();
    let patch = json!({"keep": 1, "gone": 2, "nested": {"a": 1}});
    let res = app
        .call(Method::PUT, "/user", Some(at), Some(json!({"data": patch})))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    // Top-level null removes a key; a nested object is stored whole, nulls inside it included.
    let patch = json!({"gone": null, "nested": {"a": null, "b": 2}});
    let by_user = app
        .call(Method::PUT, "/user", Some(at), Some(json!({"data": patch})))
        .await;
    assert_eq!(by_user.status, StatusCode::OK, "{by_user:?}");
    let expected = json!({"keep": 1, "nested": {"a": null, "b": 2}});
    assert_eq!(by_user.body["user_metadata"], expected);
    let by_admin = app
        .call(
            Method::PUT,
            &format!("/admin/users/{id}"),
            Some(ADMIN),
            Some(json!({"user_metadata": {"keep": null, "x": {"y": null}}})),
        )
        .await;
    assert_eq!(by_admin.status, StatusCode::OK, "{by_admin:?}");
    assert_eq!(
        by_admin.body["user_metadata"],
        json!({"nested": {"a": null, "b": 2}, "x": {"y": null}})
    );
}

#[sqlx::test(migrations = false)]
async fn metadata_cannot_grow_patch_by_patch(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let s = app.signup("grow@example.com").await;
    let at = str_of(&s.body, "access_token");
    let nine_kib = "x".repeat(9 * 1024);
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(at),
            Some(json!({"data": {"a": nine_kib}})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(at),
            Some(json!({"data": {"b": nine_kib}})),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    assert_eq!(res.body["error_code"], "validation_failed");
    let me = app.call(Method::GET, "/user", Some(at), None).await;
    assert!(
        me.body["user_metadata"]["b"].is_null(),
        "nothing was written"
    );
}

#[sqlx::test(migrations = false)]
async fn repeated_sign_outs_that_end_nothing_are_not_audited(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let s = app.signup("quiet@example.com").await;
    let at = str_of(&s.body, "access_token");
    let other = app.sign_in("quiet@example.com", PASSWORD).await;
    assert_eq!(other.status, StatusCode::OK);
    for _ in 0..20 {
        let res = app
            .call(Method::POST, "/logout?scope=others", Some(at), None)
            .await;
        assert_eq!(res.status, StatusCode::NO_CONTENT);
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE event = 'logout'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 1, "only the sign-out that ended a session");
}
