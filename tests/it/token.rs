//! Sign-up and sign-in at `/signup` and `/token`: sessions Hasura accepts, the RFC 6749
//! shapes, stable error codes, one answer for every failed sign-in, addresses normalised.

use crate::common::{self, hasura, jwt_payload, str_of, PASSWORD, SECRET};
use axum::http::{header, Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn signup_returns_a_session_whose_token_hasura_accepts(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let res = app.post("/signup", json!({"email": "  Alice@Example.COM ", "password": PASSWORD, "data": {"name": "Alice"}})).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let body = &res.body;
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 900);
    let exp = body["expires_at"].as_i64().unwrap();
    assert!((exp - chrono::Utc::now().timestamp() - 900).abs() <= 2);
    assert_eq!(str_of(body, "refresh_token").len(), 76);
    assert_eq!(res.headers[header::CACHE_CONTROL], "no-store");
    let user = &body["user"];
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["user_metadata"]["name"], "Alice");
    assert_eq!(user["app_metadata"]["default_role"], "user");
    assert_eq!(user["app_metadata"]["allowed_roles"], json!(["user"]));
    assert!(!body.to_string().contains("argon2"), "no hash in responses");

    let token = str_of(body, "access_token");
    assert_eq!(hasura::alg_of(token), jsonwebtoken::Algorithm::HS256);
    let claims = hasura::check(token, &hasura::hmac(SECRET), &hasura::Expect::default());
    assert_eq!(claims["x-hasura-user-id"], user["id"]);
    assert_eq!(claims["x-hasura-default-role"], "user");
    assert_eq!(jwt_payload(token)["email"], "alice@example.com");

    // The hash is Argon2id with explicit OWASP parameters, in a table apart from `users`.
    let hash: String = sqlx::query_scalar("SELECT hash FROM user_passwords")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    let user_columns: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns WHERE table_schema = 'auth' AND table_name = 'users'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(user_columns.contains(&"email".to_owned()));
    assert!(!user_columns
        .iter()
        .any(|c| c.contains("hash") || c.contains("password") || c.contains("token")));
}

#[sqlx::test(migrations = false)]
async fn signup_rejects_bad_input_with_stable_codes(db: PgPool) {
    let app = common::app(&db, &[]).await;
    app.signup("bob@example.com").await;
    let cases = [
        (
            json!({"email": "BOB@example.com", "password": PASSWORD}),
            "user_already_exists",
        ),
        (
            json!({"email": "not-an-email", "password": PASSWORD}),
            "email_address_invalid",
        ),
        (
            json!({"email": "a@b", "password": PASSWORD}),
            "email_address_invalid",
        ),
        (
            json!({"email": "x y@example.com", "password": PASSWORD}),
            "email_address_invalid",
        ),
        (
            json!({"email": "carol@example.com", "password": "1234567"}),
            "weak_password",
        ),
        (
            json!({"email": "carol@example.com", "password": "x".repeat(257)}),
            "validation_failed",
        ),
        (json!({"email": "carol@example.com"}), "validation_failed"),
        // No address: an anonymous sign-up, off by default (as in Supabase Auth).
        (json!({"password": PASSWORD}), "anonymous_provider_disabled"),
        (
            json!({"email": "carol@example.com", "password": PASSWORD, "data": [1]}),
            "validation_failed",
        ),
    ];
    for (body, code) in cases {
        let res = app.post("/signup", body.clone()).await;
        // A missing or malformed field is 400; a well-formed value a rule refuses is 422.
        let status = match code {
            "validation_failed" => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        assert_eq!(res.status, status, "{body} → {res:?}");
        assert_eq!(res.body["error_code"], code, "{body} → {res:?}");
        assert!(res.body["msg"].is_string());
    }
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[sqlx::test(migrations = false)]
async fn signup_can_be_disabled(db: PgPool) {
    let app = common::app(&db, &["--disable-signup"]).await;
    let res = app
        .post(
            "/signup",
            json!({"email": "a@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(res.body["error_code"], "signup_disabled");
    // The same answer whatever was sent.
    let res = app.post("/signup", json!({})).await;
    assert_eq!(res.body["error_code"], "signup_disabled", "{res:?}");
}

#[sqlx::test(migrations = false)]
async fn password_grant_accepts_json_and_rfc6749_forms(db: PgPool) {
    let app = common::app(&db, &[]).await;
    app.signup("dan@example.com").await;
    let json_res = app.sign_in("DAN@example.com", PASSWORD).await;
    assert_eq!(json_res.status, StatusCode::OK, "{json_res:?}");
    assert_eq!(json_res.body["user"]["email"], "dan@example.com");
    assert!(json_res.body["user"]["last_sign_in_at"].is_string());

    let pw = PASSWORD.replace(' ', "+");
    let form_body = app
        .form(
            "/token",
            &format!("grant_type=password&username=dan%40example.com&password={pw}"),
        )
        .await;
    assert_eq!(form_body.status, StatusCode::OK, "{form_body:?}");
    let form_query = app
        .form(
            "/token?grant_type=password",
            &format!("username=dan%40example.com&password={pw}"),
        )
        .await;
    assert_eq!(form_query.status, StatusCode::OK, "{form_query:?}");
    for res in [&json_res, &form_body, &form_query] {
        hasura::check(
            str_of(&res.body, "access_token"),
            &hasura::hmac(SECRET),
            &hasura::Expect::default(),
        );
    }
    // Each sign-in is its own session.
    let sids: std::collections::HashSet<String> = [&json_res, &form_body, &form_query]
        .iter()
        .map(|r| {
            jwt_payload(str_of(&r.body, "access_token"))["sid"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(sids.len(), 3);
}

#[sqlx::test(migrations = false)]
async fn failed_sign_ins_are_indistinguishable(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let user = app.signup("eve@example.com").await;
    app.signup("frank@example.com").await;
    sqlx::query("UPDATE users SET enabled = false WHERE email = 'frank@example.com'")
        .execute(&app.pool)
        .await
        .unwrap();
    let wrong = app.sign_in("eve@example.com", "wrong password!").await;
    let unknown = app.sign_in("nobody@example.com", PASSWORD).await;
    let disabled = app.sign_in("frank@example.com", PASSWORD).await;
    for res in [&wrong, &unknown, &disabled] {
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        assert_eq!(res.body, wrong.body);
    }
    assert_eq!(wrong.body["error"], "invalid_grant");
    assert!(wrong.body["error_description"].is_string());
    // Failures are audited, with the reason kept out of the response.
    let reasons: Vec<String> = sqlx::query_scalar(
        "SELECT detail->>'reason' FROM audit_log WHERE event = 'sign_in_failed' ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(reasons, ["wrong_password", "unknown_email", "disabled"]);
    let _ = user;
}

#[sqlx::test(migrations = false)]
async fn token_endpoint_errors_follow_rfc6749(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let res = app
        .post("/token?grant_type=client_credentials", json!({}))
        .await;
    assert_eq!(
        (res.status, res.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
    let res = app
        .form("/token", "grant_type=authorization_code&code=x")
        .await;
    assert_eq!(res.body["error"], "unsupported_grant_type");
    let res = app
        .post("/token", json!({"email": "a@example.com", "password": "x"}))
        .await;
    assert_eq!(
        (res.status, res.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let res = app
        .post(
            "/token?grant_type=password",
            json!({"email": "a@example.com"}),
        )
        .await;
    assert_eq!(res.body["error"], "invalid_request");
    let res = app.post("/token?grant_type=refresh_token", json!({})).await;
    assert_eq!(res.body["error"], "invalid_request");
}

#[sqlx::test(migrations = false)]
async fn addresses_are_checked_and_normalised_everywhere(db: PgPool) {
    const ADMIN: &str = "admin-secret-admin-secret-admin-secret";
    let app = common::app(&db, &["--admin-secret", ADMIN]).await;
    for bad in [
        "xx:;x@x.x",
        "ali\u{200B}ce@example.com",
        "ev\u{202E}il@example.com",
    ] {
        let res = app
            .post("/signup", json!({"email": bad, "password": PASSWORD}))
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
        assert_eq!(res.body["error_code"], "email_address_invalid", "{bad:?}");
        let res = app
            .call(
                Method::POST,
                "/admin/users",
                Some(ADMIN),
                Some(json!({"email": bad})),
            )
            .await;
        assert_eq!(
            res.body["error_code"], "email_address_invalid",
            "admin {bad:?}"
        );
    }
    // One account whatever the spelling: NFC, case, Unicode or Punycode domain.
    let s = app.signup("Jose\u{301}@B\u{fc}cher.DE").await;
    assert_eq!(s.body["user"]["email"], "jos\u{e9}@b\u{fc}cher.de");
    let res = app.sign_in("jos\u{e9}@xn--bcher-kva.de", PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let res = app
        .post(
            "/signup",
            json!({"email": "JOS\u{c9}@xn--bcher-kva.de", "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.body["error_code"], "user_already_exists", "{res:?}");
}
