//! Starting up: metadata and health answers, concurrent migrations, a custom schema, and clear
//! messages for invalid settings or an unreachable database.

use crate::common::{self, jwt_payload, str_of, SECRET};
use axum::http::{Method, StatusCode};
use hasura_jwt_auth::{auth::keys::KeySet, config::Config};
use serde_json::json;
use sqlx::PgPool;

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
    let consent = err(&["--jwt-secret", SECRET, "--oauth-server", "--disable-ui"]);
    assert!(
        consent.contains("AUTH_OAUTH_AUTHORIZATION_URL"),
        "{consent}"
    );
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
