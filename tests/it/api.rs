//! The HTTP API: sign-up, sign-in, the user endpoints, keys, JWKS, metadata, health, settings
//! and bad input.

use crate::common;

use crate::common::{hasura, jwt_payload, str_of, PASSWORD, SECRET};
use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use hasura_jwt_auth::{
    auth::keys::{generate_private_key_pem, KeySet},
    config::{Config, JwtAlgorithm},
};
use serde_json::{json, Value};
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
        (json!({"password": PASSWORD}), "validation_failed"),
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

async fn app_with_keys(db: &PgPool, signing: &str, others: &[&str]) -> common::TestApp {
    let config = Config::from_args(["--jwks-max-age", "120"]).unwrap();
    let keys = KeySet::from_pems(signing, others).unwrap();
    common::app_with(db, config, keys).await
}

#[sqlx::test(migrations = false)]
async fn asymmetric_tokens_verify_with_the_published_jwks(db: PgPool) {
    for (alg, expected) in [
        (JwtAlgorithm::EdDsa, jsonwebtoken::Algorithm::EdDSA),
        (JwtAlgorithm::Es256, jsonwebtoken::Algorithm::ES256),
        (JwtAlgorithm::Rs256, jsonwebtoken::Algorithm::RS256),
    ] {
        sqlx::query("DROP SCHEMA IF EXISTS auth CASCADE")
            .execute(&db)
            .await
            .unwrap();
        let signing = generate_private_key_pem(alg).unwrap();
        let next = generate_private_key_pem(JwtAlgorithm::EdDsa).unwrap();
        let app = app_with_keys(&db, signing.expose(), &[next.expose()]).await;
        let jwks = app
            .call(Method::GET, "/.well-known/jwks.json", None, None)
            .await;
        assert_eq!(jwks.status, StatusCode::OK);
        assert_eq!(jwks.headers[header::CACHE_CONTROL], "public, max-age=120");
        let keys = jwks.body["keys"].as_array().unwrap();
        assert_eq!(
            keys.len(),
            2,
            "signing key and the additional key are both published"
        );
        for k in keys {
            assert!(
                k["kid"].is_string() && k["use"] == "sig" && k["alg"].is_string(),
                "{k}"
            );
            assert!(k.get("d").is_none(), "no private parts");
        }
        let s = app
            .signup(&format!("{}@example.com", alg.name().to_lowercase()))
            .await;
        let at = str_of(&s.body, "access_token");
        assert_eq!(hasura::alg_of(at), expected);
        let kid = jsonwebtoken::decode_header(at)
            .unwrap()
            .kid
            .expect("kid in header");
        assert_eq!(
            keys[0]["kid"],
            kid.as_str(),
            "the first published key signs"
        );
        hasura::check(
            at,
            &hasura::key_from_jwk(&keys[0]),
            &hasura::Expect::default(),
        );
        assert_eq!(
            app.call(Method::GET, "/user", Some(at), None).await.status,
            StatusCode::OK
        );
        // The kid is the key's own thumbprint: stable whoever loads it.
        let again = KeySet::from_pems(signing.expose(), &[]).unwrap();
        assert_eq!(again.signing().kid.as_deref(), Some(kid.as_str()));
    }
}

#[sqlx::test(migrations = false)]
async fn tokens_signed_by_an_additional_key_are_accepted(db: PgPool) {
    // Rotation: yesterday's signing key is now only published; its tokens stay valid.
    let old = generate_private_key_pem(JwtAlgorithm::Es256).unwrap();
    let new = generate_private_key_pem(JwtAlgorithm::Es256).unwrap();
    let before = app_with_keys(&db, old.expose(), &[]).await;
    let s = before.signup("ivy@example.com").await;
    let at = str_of(&s.body, "access_token").to_owned();
    let after = app_with_keys(&db, new.expose(), &[old.expose()]).await;
    assert_eq!(
        after
            .call(Method::GET, "/user", Some(&at), None)
            .await
            .status,
        StatusCode::OK
    );
}

#[sqlx::test(migrations = false)]
async fn metadata_and_health(db: PgPool) {
    let app = common::app(&db, &["--public-url", "https://auth.example.com/"]).await;
    let res = app
        .call(
            Method::GET,
            "/.well-known/oauth-authorization-server",
            None,
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["issuer"], "https://auth.example.com");
    assert_eq!(res.body["token_endpoint"], "https://auth.example.com/token");
    assert_eq!(
        res.body["jwks_uri"],
        "https://auth.example.com/.well-known/jwks.json"
    );
    assert_eq!(
        res.body["grant_types_supported"],
        json!(["password", "refresh_token"])
    );
    let s = app.signup("jay@example.com").await;
    assert_eq!(
        jwt_payload(str_of(&s.body, "access_token"))["iss"],
        "https://auth.example.com"
    );
    // HMAC keys are never published.
    let jwks = app
        .call(Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    assert_eq!(jwks.body, json!({"keys": []}));

    let res = app.call(Method::GET, "/health", None, None).await;
    assert_eq!(res.status, StatusCode::OK);
    app.pool.close().await;
    let res = app.call(Method::GET, "/health", None, None).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[sqlx::test(migrations = false)]
async fn concurrent_migrations_are_safe(db: PgPool) {
    let pools: Vec<PgPool> = futures::future::join_all(
        (0..4).map(|_| hasura_jwt_auth::store::connect_with(common::options(&db), "auth", 2)),
    )
    .await
    .into_iter()
    .map(Result::unwrap)
    .collect();
    let results = futures::future::join_all(
        pools
            .iter()
            .map(|p| hasura_jwt_auth::store::migrate(p, "auth")),
    )
    .await;
    for r in results {
        r.expect("every instance migrates cleanly");
    }
    // Every embedded migration is recorded exactly once, successfully, in order.
    let known = hasura_jwt_auth::store::known_migrations();
    assert!(!known.is_empty());
    let rows: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM auth._sqlx_migrations ORDER BY version")
            .fetch_all(&pools[0])
            .await
            .unwrap();
    assert_eq!(
        rows,
        known.iter().map(|v| (*v, true)).collect::<Vec<_>>(),
        "each migration applied once"
    );
    assert_eq!(
        hasura_jwt_auth::store::applied_migrations(&pools[0])
            .await
            .unwrap(),
        known
    );
}

#[sqlx::test(migrations = false)]
async fn custom_schema_name(db: PgPool) {
    let app = common::app(&db, &["--db-schema", "identity"]).await;
    app.signup("kim@example.com").await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM identity.users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn invalid_settings_stop_startup_with_a_clear_message() {
    let err = |args: &[&str]| {
        let config = Config::from_args(args.iter().copied()).unwrap();
        let e = KeySet::load(&config.keys)
            .and_then(|_| config.validate())
            .unwrap_err();
        format!("{e:#}")
    };
    let short = err(&["--jwt-secret", "too-short"]);
    assert!(
        short.contains("AUTH_JWT_SECRET") && short.contains("32"),
        "{short}"
    );
    let hs512 = err(&["--jwt-secret", SECRET, "--jwt-algorithm", "HS512"]);
    assert!(hs512.contains("64"), "{hs512}");
    let missing = err(&["--jwt-private-key-file", "/nonexistent/key.pem"]);
    assert!(
        missing.contains("/nonexistent/key.pem") && missing.contains("AUTH_JWT_PRIVATE_KEY_FILE"),
        "{missing}"
    );
    let mismatch = err(&["--jwt-secret", SECRET, "--jwt-algorithm", "RS256"]);
    assert!(mismatch.contains("AUTH_JWT_ALGORITHM"), "{mismatch}");
    let actions = err(&["--jwt-secret", SECRET, "--hasura-actions-secret", ""]);
    assert!(actions.contains("AUTH_HASURA_ACTIONS_SECRET"), "{actions}");
    let roles = err(&["--jwt-secret", SECRET, "--default-role", "admin"]);
    assert!(roles.contains("AUTH_DEFAULT_ROLE"), "{roles}");
    let idle = err(&["--jwt-secret", SECRET, "--session-idle-timeout", "10000y"]);
    assert!(idle.contains("AUTH_SESSION_IDLE_TIMEOUT"), "{idle}");
    assert!(Config::from_args(["--access-token-ttl", "soon"])
        .unwrap_err()
        .to_string()
        .contains("15m"));
    assert!(Config::from_args(["--jwt-algorithm", "none"]).is_err());
    // The secret never shows in Debug output.
    let config = Config::from_args(["--jwt-secret", SECRET]).unwrap();
    assert!(!format!("{config:?}").contains(SECRET));
}

#[tokio::test]
async fn unreachable_database_is_reported_with_its_address() {
    let config =
        Config::from_args(["--database-url", "postgres://postgres@127.0.0.1:1/nowhere"]).unwrap();
    let err = hasura_jwt_auth::store::connect(&config.db)
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("127.0.0.1:1") && msg.contains("AUTH_DATABASE_URL"),
        "{msg}"
    );
    assert!(
        !msg.contains("postgres://"),
        "the URL (which may hold a password) is not echoed"
    );
}

#[test]
fn development_key_is_created_once_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let args = ["--data-dir", data_dir.to_str().unwrap()];
    let first = KeySet::load(&Config::from_args(args).unwrap().keys).unwrap();
    assert!(first.development);
    assert_eq!(first.signing().alg, JwtAlgorithm::EdDsa);
    let second = KeySet::load(&Config::from_args(args).unwrap().keys).unwrap();
    assert_eq!(first.signing().kid, second.signing().kid);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(data_dir.join("dev-signing-key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "private key readable by its owner only");
}

#[test]
fn hasura_jwt_secret_matches_the_configuration() {
    use hasura_jwt_auth::hasura_config::{hasura_jwt_secret, SecretMode};
    let config = Config::from_args([
        "--jwt-secret",
        SECRET,
        "--jwt-issuer",
        "my-auth",
        "--jwt-audience",
        "my-app",
    ])
    .unwrap();
    let keys = KeySet::load(&config.keys).unwrap();
    let v: Value = serde_json::from_str(&hasura_jwt_secret(&config, &keys, None)).unwrap();
    assert_eq!(
        v,
        json!({"type": "HS256", "key": SECRET, "issuer": "my-auth", "audience": "my-app"})
    );

    let pem = generate_private_key_pem(JwtAlgorithm::EdDsa).unwrap();
    let keys = KeySet::from_pems(pem.expose(), &[]).unwrap();
    let config = Config::from_args(["--public-url", "http://auth:9999"]).unwrap();
    let v: Value =
        serde_json::from_str(&hasura_jwt_secret(&config, &keys, Some(SecretMode::Key))).unwrap();
    assert_eq!(v["type"], "Ed25519");
    assert!(v["key"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PUBLIC KEY-----"));
    // Hasura can verify a token with exactly that PEM.
    let claims = hasura_jwt_auth::auth::claims::HasuraClaims {
        user_id: "u1".into(),
        default_role: "user".into(),
        allowed_roles: vec!["user".into()],
        custom: Default::default(),
    };
    let tokens = hasura_jwt_auth::auth::tokens::AccessTokens {
        keys: std::sync::Arc::new(keys),
        issuer: "http://auth:9999".into(),
        audience: None,
        ttl: std::time::Duration::from_secs(60),
        namespace: "https://hasura.io/jwt/claims".into(),
        format: hasura_jwt_auth::config::ClaimsFormat::Json,
        verified: Default::default(),
    };
    let at = tokens
        .issue(&claims, "u@example.com", uuid::Uuid::new_v4())
        .unwrap()
        .token;
    let key =
        jsonwebtoken::DecodingKey::from_ed_pem(v["key"].as_str().unwrap().as_bytes()).unwrap();
    hasura::check(
        &at,
        &key,
        &hasura::Expect {
            issuer: "http://auth:9999",
            ..Default::default()
        },
    );
    let v: Value = serde_json::from_str(&hasura_jwt_secret(&config, &tokens.keys, None)).unwrap();
    assert_eq!(v["jwk_url"], "http://auth:9999/.well-known/jwks.json");
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
async fn client_address_comes_from_the_proxy_when_trusted(db: PgPool) {
    let app = common::app(&db, &["--trusted-proxies", "127.0.0.1,10.0.0.0/8"]).await;
    let signup = |email: &str, forwarded: &[&str]| {
        let mut req = Request::post("/signup").header(header::CONTENT_TYPE, "application/json");
        for line in forwarded {
            req = req.header("x-forwarded-for", *line);
        }
        req.body(Body::from(
            json!({"email": email, "password": PASSWORD}).to_string(),
        ))
        .unwrap()
    };
    let ip_of = |email: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT s.ip FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = $1",
            )
            .bind(email)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let ok = |res: common::Response| assert_eq!(res.status, StatusCode::OK, "{res:?}");
    // Through the proxy: the entry it appended, not the client's claim on the left.
    ok(app
        .request(common::via_proxy(signup(
            "a@example.com",
            &["6.6.6.6, 203.0.113.7"],
        )))
        .await);
    assert_eq!(ip_of("a@example.com").await.as_deref(), Some("203.0.113.7"));
    // Through two proxies: the rightmost entry that is not a proxy; the last header line.
    ok(app
        .request(common::via_proxy(signup(
            "b@example.com",
            &["1.1.1.1", "6.6.6.6, 203.0.113.8, 10.1.2.3"],
        )))
        .await);
    assert_eq!(ip_of("b@example.com").await.as_deref(), Some("203.0.113.8"));
    // An unreadable header falls back to the peer, never to "no address".
    ok(app
        .request(common::via_proxy(signup("c@example.com", &["garbage"])))
        .await);
    assert_eq!(ip_of("c@example.com").await.as_deref(), Some("127.0.0.1"));
    // Not from a proxy: the header is the client's word, the peer address counts.
    ok(app
        .request(common::from_peer(
            [198, 51, 100, 9],
            signup("d@example.com", &["203.0.113.9"]),
        ))
        .await);
    assert_eq!(
        ip_of("d@example.com").await.as_deref(),
        Some("198.51.100.9")
    );
    // The old all-trusting setting is refused with a pointer to the new one.
    let e = hasura_jwt_auth::config::Config::from_args(["--trust-forwarded-for"])
        .unwrap()
        .validate()
        .unwrap_err()
        .to_string();
    assert!(e.contains("AUTH_TRUSTED_PROXIES"), "{e}");
}

#[sqlx::test(migrations = false)]
async fn sign_in_attempts_are_rate_limited_per_address(db: PgPool) {
    let app = common::app(
        &db,
        &[
            "--trusted-proxies",
            "127.0.0.1",
            "--rate-limit-sign-in",
            "3",
        ],
    )
    .await;
    let from = |ip: &str, uri: &str, body: Value| {
        common::via_proxy(
            Request::post(uri)
                .header(header::CONTENT_TYPE, "application/json")
                .header("x-forwarded-for", ip)
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
    };
    let creds = json!({"email": "guess@example.com", "password": "guess number 1"});
    let signup = app
        .request(from(
            "198.51.100.1",
            "/signup",
            json!({"email": "guess@example.com", "password": PASSWORD}),
        ))
        .await;
    assert_eq!(signup.status, StatusCode::OK);
    for _ in 0..2 {
        let res = app
            .request(from(
                "198.51.100.1",
                "/token?grant_type=password",
                creds.clone(),
            ))
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    }
    let res = app
        .request(from(
            "198.51.100.1",
            "/token?grant_type=password",
            creds.clone(),
        ))
        .await;
    assert_eq!(
        (res.status, res.body["error_code"].as_str()),
        (
            StatusCode::TOO_MANY_REQUESTS,
            Some("over_request_rate_limit")
        )
    );
    let retry: u64 = res.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    // Even the right password waits: the limit counts attempts, not failures.
    let right = app
        .request(from(
            "198.51.100.1",
            "/token?grant_type=password",
            json!({"email": "guess@example.com", "password": PASSWORD}),
        ))
        .await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
    // Other addresses and refreshes are unaffected.
    let other = app
        .request(from(
            "198.51.100.2",
            "/token?grant_type=password",
            json!({"email": "guess@example.com", "password": PASSWORD}),
        ))
        .await;
    assert_eq!(other.status, StatusCode::OK);
    let rt = str_of(&signup.body, "refresh_token");
    let refresh = app
        .request(from(
            "198.51.100.1",
            "/token?grant_type=refresh_token",
            json!({"refresh_token": rt}),
        ))
        .await;
    assert_eq!(refresh.status, StatusCode::OK);

    let unlimited = common::app(
        &db,
        &[
            "--trusted-proxies",
            "127.0.0.1",
            "--rate-limit-sign-in",
            "0",
        ],
    )
    .await;
    for _ in 0..5 {
        let res = unlimited
            .request(from(
                "198.51.100.3",
                "/token?grant_type=password",
                creds.clone(),
            ))
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
    }
}

#[sqlx::test(migrations = false)]
async fn over_tcp_the_peer_address_is_recorded_and_rate_limited(db: PgPool) {
    let app = common::app(&db, &["--rate-limit-sign-in", "2"]).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(hasura_jwt_auth::http::serve_on(
        listener,
        app.state.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{base}/signup"))
        .json(&json!({"email": "tcp@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let ip: Option<String> = sqlx::query_scalar("SELECT ip FROM sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(ip.as_deref(), Some("127.0.0.1"));
    let wrong = json!({"email": "tcp@example.com", "password": "wrong password"});
    let res = client
        .post(format!("{base}/token?grant_type=password"))
        .json(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = client
        .post(format!("{base}/token?grant_type=password"))
        .json(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        429,
        "the signup and one sign-in used the allowance of 2"
    );
    assert!(res.headers().contains_key("retry-after"));
    let _ = stop.send(());
    server.await.unwrap().unwrap();
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

/// Signs `header` and `payload` with the test HMAC secret, exactly as given.
fn sign_raw(header: &Value, payload: &Value) -> String {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
    use hmac::{Hmac, Mac};
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(payload.to_string())
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", B64.encode(mac.finalize().into_bytes()))
}

#[sqlx::test(migrations = false)]
async fn tokens_are_refused_as_hasura_refuses_them(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let s = app.signup("rules@example.com").await;
    let at = str_of(&s.body, "access_token");
    let payload = jwt_payload(at);
    // Supabase clients read `role` and `aud`; with no audience configured it is theirs.
    assert_eq!(payload["role"], "authenticated");
    assert_eq!(payload["aud"], "authenticated");
    let header = json!({"alg": "HS256", "typ": "JWT"});
    let now = chrono::Utc::now().timestamp();
    let check = |token: String, why: &'static str| {
        let app = &app;
        async move {
            let res = app.call(Method::GET, "/user", Some(&token), None).await;
            assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{why}: {res:?}");
            assert_eq!(res.body["error_code"], "bad_jwt", "{why}");
            let hook = app
                .call(Method::GET, "/hasura/webhook", Some(&token), None)
                .await;
            assert_eq!(hook.status, StatusCode::UNAUTHORIZED, "{why} (webhook)");
            res.body["msg"].as_str().unwrap().to_owned()
        }
    };
    // The same payload re-signed is fine: the checks below are what make the difference.
    let same = sign_raw(&header, &payload);
    let ok = app.call(Method::GET, "/user", Some(&same), None).await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");

    let mut p = payload.clone();
    p["nbf"] = json!(now + 600);
    let msg = check(sign_raw(&header, &p), "nbf in the future").await;
    assert!(msg.contains("not valid yet"), "{msg}");
    let mut p = payload.clone();
    p["iat"] = json!(now + 600);
    let msg = check(sign_raw(&header, &p), "iat in the future").await;
    assert!(msg.contains("used before issued"), "{msg}");
    // A few seconds of clock skew between instances is tolerated.
    let mut p = payload.clone();
    p["iat"] = json!(now + 2);
    p["nbf"] = json!(now + 2);
    let skewed = sign_raw(&header, &p);
    let res = app.call(Method::GET, "/user", Some(&skewed), None).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    // RFC 7515 §4.1.11: an unknown critical extension must be refused.
    let crit = json!({"alg": "HS256", "typ": "JWT", "crit": ["x-ext"], "x-ext": 1});
    check(sign_raw(&crit, &payload), "crit").await;
    // A bad signature is worded as Supabase Auth words it.
    let msg = check(format!("{}x", &same[..same.len() - 1]), "signature").await;
    assert!(
        msg.starts_with("invalid JWT: unable to parse or verify signature, "),
        "{msg}"
    );
}

#[sqlx::test(migrations = false)]
async fn a_configured_audience_must_be_present(db: PgPool) {
    let app = common::app(&db, &["--jwt-audience", "my-app"]).await;
    let s = app.signup("aud@example.com").await;
    let at = str_of(&s.body, "access_token");
    let payload = jwt_payload(at);
    assert_eq!(payload["aud"], "my-app");
    let header = json!({"alg": "HS256", "typ": "JWT"});
    let mut p = payload.clone();
    p.as_object_mut().unwrap().remove("aud");
    let res = app
        .call(Method::GET, "/user", Some(&sign_raw(&header, &p)), None)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "no aud: {res:?}");
    p["aud"] = json!("other-app");
    let res = app
        .call(Method::GET, "/user", Some(&sign_raw(&header, &p)), None)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "wrong aud: {res:?}");
    let res = app.call(Method::GET, "/user", Some(at), None).await;
    assert_eq!(res.status, StatusCode::OK);
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

#[sqlx::test(migrations = false)]
async fn password_guessing_is_limited_per_account_across_instances(db: PgPool) {
    use std::sync::atomic::Ordering;
    // Two instances on one database; requests carry no client address, as if each came from
    // a different one, so only the per-account limit can stop them.
    let a = common::app(&db, &[]).await;
    let b = common::app(&db, &[]).await;
    a.signup("victim@example.com").await;
    let checks =
        |app: &common::TestApp| app.state.auth.hasher.stats().queued.load(Ordering::Relaxed);
    let before = checks(&a) + checks(&b);
    let mut refused = 0;
    for i in 0..60 {
        let app = if i % 2 == 0 { &a } else { &b };
        let res = app
            .sign_in("victim@example.com", &format!("guess {i}"))
            .await;
        match res.status {
            StatusCode::BAD_REQUEST => {}
            StatusCode::TOO_MANY_REQUESTS => {
                refused += 1;
                assert_eq!(res.body["error_code"], "over_request_rate_limit");
                assert!(res.headers.contains_key(header::RETRY_AFTER));
            }
            other => panic!("{other}: {res:?}"),
        }
    }
    let hashed = checks(&a) + checks(&b) - before;
    assert!(refused >= 50, "refused {refused} of 60");
    assert!(hashed <= 10, "{hashed} password checks for 60 guesses");
    // While locked, even the right password is refused (and costs no hashing).
    let res = a.sign_in("victim@example.com", PASSWORD).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{res:?}");
    // An address that belongs to nobody behaves the same: nothing tells them apart.
    for i in 0..8 {
        a.sign_in("nobody@example.com", &format!("guess {i}")).await;
    }
    let res = b.sign_in("nobody@example.com", "guess").await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{res:?}");
    // Audited, with the user when there is one.
    let locked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE event = 'sign_in_locked' AND user_id IS NOT NULL",
    )
    .fetch_one(&a.pool)
    .await
    .unwrap();
    assert!(locked >= 1);
    // When the lock has passed, the right password works and clears the count.
    sqlx::query("UPDATE sign_in_attempts SET locked_until = now() - interval '1 second'")
        .execute(&a.pool)
        .await
        .unwrap();
    let res = b.sign_in("victim@example.com", PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM sign_in_attempts")
        .fetch_one(&a.pool)
        .await
        .unwrap();
    assert_eq!(left, 1, "only nobody@'s count is left");
}

#[sqlx::test(migrations = false)]
async fn ipv6_clients_share_an_allowance_per_64(db: PgPool) {
    let app = common::app(&db, &["--rate-limit-sign-in", "2"]).await;
    let attempt = |ip: std::net::Ipv6Addr| {
        common::from_peer(
            ip,
            Request::post("/token?grant_type=password")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({"email": "v6@example.com", "password": "wrong guess"}).to_string(),
                ))
                .unwrap(),
        )
    };
    let ip = |last: u16| std::net::Ipv6Addr::new(0x2001, 0xdb8, 7, 7, 0, 0, 0, last);
    for last in [1, 2] {
        assert_eq!(
            app.request(attempt(ip(last))).await.status,
            StatusCode::BAD_REQUEST
        );
    }
    // A third address of the same /64 is over the shared allowance ...
    let res = app.request(attempt(ip(3))).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{res:?}");
    // ... another /64 is not.
    let other = std::net::Ipv6Addr::new(0x2001, 0xdb8, 7, 8, 0, 0, 0, 1);
    assert_eq!(
        app.request(attempt(other)).await.status,
        StatusCode::BAD_REQUEST
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
