//! The claims Hasura reads: every algorithm, namespace and format passes Hasura's rules, roles
//! of new users, custom claims from SQL at sign-in and at every refresh.

use crate::common::{self, hasura, jwt_payload, str_of, TestApp, PASSWORD, SECRET};
use axum::http::{Method, StatusCode};
use hasura_jwt_auth::{
    auth::keys::{generate_private_key_pem, KeySet},
    config::{Config, JwtAlgorithm},
    hasura_config::hasura_jwt_secret,
};
use serde_json::{json, Value};
use sqlx::PgPool;

/// Builds the key Hasura would build from the printed `HASURA_GRAPHQL_JWT_SECRET`.
async fn hasura_key(app: &TestApp, jwt_secret: &Value, token: &str) -> jsonwebtoken::DecodingKey {
    if jwt_secret.get("jwk_url").is_some() {
        let jwks = app
            .call(Method::GET, "/.well-known/jwks.json", None, None)
            .await
            .body;
        // Hasura tries every key; pick the one that verifies (here: by kid, for speed).
        let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
        let jwk = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid.as_str())
            .unwrap();
        return hasura::key_from_jwk(jwk);
    }
    let key = str_of(jwt_secret, "key");
    match str_of(jwt_secret, "type") {
        "HS256" | "HS384" | "HS512" => {
            let min = match str_of(jwt_secret, "type") {
                "HS256" => 32,
                "HS384" => 48,
                _ => 64,
            };
            assert!(
                key.len() >= min,
                "Hasura refuses HMAC keys shorter than {min} bytes"
            );
            jsonwebtoken::DecodingKey::from_secret(key.as_bytes())
        }
        "RS256" => jsonwebtoken::DecodingKey::from_rsa_pem(key.as_bytes()).unwrap(),
        "ES256" => jsonwebtoken::DecodingKey::from_ec_pem(key.as_bytes()).unwrap(),
        "Ed25519" => jsonwebtoken::DecodingKey::from_ed_pem(key.as_bytes()).unwrap(),
        other => panic!("type {other} is not one Hasura accepts"),
    }
}

#[sqlx::test(migrations = false)]
async fn every_algorithm_namespace_and_format_passes_hasuras_rules(db: PgPool) {
    let hs384 = "h".repeat(48);
    let hs512 = "h".repeat(64);
    let combos: Vec<(JwtAlgorithm, Option<&str>, bool)> = vec![
        (JwtAlgorithm::Hs256, None, false),
        (
            JwtAlgorithm::Hs384,
            Some("https://example.com/claims"),
            true,
        ),
        (JwtAlgorithm::Hs512, None, true),
        (JwtAlgorithm::Rs256, Some("hasura"), false),
        (JwtAlgorithm::Es256, None, true),
        (
            JwtAlgorithm::EdDsa,
            Some("https://example.com/claims"),
            false,
        ),
        (JwtAlgorithm::EdDsa, None, true),
    ];
    for (i, (alg, namespace, stringified)) in combos.into_iter().enumerate() {
        let mut args: Vec<String> = vec![
            "--jwt-audience".into(),
            "my-app".into(),
            "--public-url".into(),
            "http://auth:9999".into(),
        ];
        if let Some(ns) = namespace {
            args.extend(["--hasura-claims-namespace".into(), ns.into()]);
        }
        if stringified {
            args.extend(["--hasura-claims-format".into(), "stringified_json".into()]);
        }
        let keys = match alg {
            JwtAlgorithm::Hs256 => KeySet::from_hmac(alg, SECRET).unwrap(),
            JwtAlgorithm::Hs384 => KeySet::from_hmac(alg, &hs384).unwrap(),
            JwtAlgorithm::Hs512 => KeySet::from_hmac(alg, &hs512).unwrap(),
            _ => KeySet::from_pems(generate_private_key_pem(alg).unwrap().expose(), &[]).unwrap(),
        };
        let config = Config::from_args(&args).unwrap();
        let mode = if i % 2 == 0 {
            hasura_jwt_auth::hasura_config::SecretMode::Key
        } else {
            hasura_jwt_auth::hasura_config::SecretMode::JwkUrl
        };
        let jwt_secret: Value =
            serde_json::from_str(&hasura_jwt_secret(&config, &keys, Some(mode))).unwrap();
        let app = common::app_with(&db, config, keys).await;
        let s = app.signup(&format!("user{i}@example.com")).await;
        let at = str_of(&s.body, "access_token");
        let key = hasura_key(&app, &jwt_secret, at).await;
        let expect = hasura::Expect {
            issuer: str_of(&jwt_secret, "issuer"),
            namespace: jwt_secret["claims_namespace"]
                .as_str()
                .unwrap_or("https://hasura.io/jwt/claims"),
            stringified: jwt_secret["claims_format"] == "stringified_json",
            audience: jwt_secret["audience"].as_str(),
        };
        assert_eq!(
            expect.namespace,
            namespace.unwrap_or("https://hasura.io/jwt/claims"),
            "jwt-secret follows the namespace"
        );
        assert_eq!(
            expect.stringified, stringified,
            "jwt-secret follows the format"
        );
        let claims = hasura::check(at, &key, &expect);
        assert_eq!(claims["x-hasura-session-id"], jwt_payload(at)["sid"]);
        // The server reads its own tokens back in every format.
        assert_eq!(
            app.call(Method::GET, "/user", Some(at), None).await.status,
            StatusCode::OK,
            "{alg:?}"
        );
        app.pool.close().await;
    }
}

#[sqlx::test(migrations = false)]
async fn new_users_get_the_configured_roles(db: PgPool) {
    let app = common::app(
        &db,
        &[
            "--default-role",
            "viewer",
            "--default-allowed-roles",
            "viewer,editor",
        ],
    )
    .await;
    let s = app.signup("roles@example.com").await;
    let claims = hasura::check(
        str_of(&s.body, "access_token"),
        &hasura::hmac(SECRET),
        &hasura::Expect::default(),
    );
    assert_eq!(claims["x-hasura-default-role"], "viewer");
    assert_eq!(
        claims["x-hasura-allowed-roles"],
        json!(["viewer", "editor"])
    );
    // The database refuses a default role outside the allowed roles.
    let err = sqlx::query("UPDATE users SET default_role = 'admin'")
        .execute(&app.pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("users_default_role_allowed"));
}

const CLAIMS_SQL: &str = "SELECT json_build_object('organization-id', org_id, 'Teams', teams, 'x-hasura-user-id', 'evil', 'note', null) \
     FROM public.members WHERE user_id = $1";

#[sqlx::test(migrations = false)]
async fn custom_claims_come_from_sql_at_sign_in_and_every_refresh(db: PgPool) {
    let app = common::app(&db, &["--custom-claims-sql", CLAIMS_SQL]).await;
    sqlx::query("CREATE TABLE public.members (user_id uuid PRIMARY KEY, org_id int NOT NULL, teams text[] NOT NULL)")
        .execute(&app.pool)
        .await
        .unwrap();
    hasura_jwt_auth::store::claims::check_custom_claims_sql(&app.pool, CLAIMS_SQL)
        .await
        .expect("valid claims SQL");
    // No row for the user yet: no custom claims, sign-up still works.
    let s = app.signup("org@example.com").await;
    let user_id = str_of(&s.body["user"], "id").to_owned();
    let claims = hasura::check(
        str_of(&s.body, "access_token"),
        &hasura::hmac(SECRET),
        &hasura::Expect::default(),
    );
    assert!(!claims.contains_key("x-hasura-organization-id"));
    sqlx::query("INSERT INTO public.members VALUES ($1::uuid, 42, '{red,\"blue team\"}')")
        .bind(&user_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let signed_in = app.sign_in("org@example.com", PASSWORD).await;
    let claims = hasura::check(
        str_of(&signed_in.body, "access_token"),
        &hasura::hmac(SECRET),
        &hasura::Expect::default(),
    );
    assert_eq!(claims["x-hasura-organization-id"], "42");
    assert_eq!(claims["x-hasura-teams"], r#"{red,"blue team"}"#);
    assert_eq!(
        claims["x-hasura-user-id"],
        user_id.as_str(),
        "built-in claims cannot be overridden"
    );
    assert!(!claims.contains_key("x-hasura-note"));
    sqlx::query("UPDATE public.members SET org_id = 7")
        .execute(&app.pool)
        .await
        .unwrap();
    let refreshed = app.refresh(str_of(&signed_in.body, "refresh_token")).await;
    let claims = hasura::check(
        str_of(&refreshed.body, "access_token"),
        &hasura::hmac(SECRET),
        &hasura::Expect::default(),
    );
    assert_eq!(
        claims["x-hasura-organization-id"], "7",
        "re-evaluated at refresh"
    );

    // A failing query fails sign-in and refresh with a generic error, and mints nothing.
    let rt = str_of(&refreshed.body, "refresh_token").to_owned();
    sqlx::query("ALTER TABLE public.members RENAME COLUMN org_id TO organization")
        .execute(&app.pool)
        .await
        .unwrap();
    let before = app.session_count(&user_id).await;
    let res = app.sign_in("org@example.com", PASSWORD).await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(res.body["error_code"], "unexpected_failure");
    assert!(
        !res.body.to_string().contains("org_id"),
        "no SQL details to the client"
    );
    assert_eq!(
        app.session_count(&user_id).await,
        before,
        "no session without its claims"
    );
    let res = app.refresh(&rt).await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        hasura_jwt_auth::store::claims::check_custom_claims_sql(&app.pool, CLAIMS_SQL)
            .await
            .is_err()
    );
    sqlx::query("ALTER TABLE public.members RENAME COLUMN organization TO org_id")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        app.refresh(&rt).await.status,
        StatusCode::OK,
        "the failed refresh rotated nothing"
    );
}

#[sqlx::test(migrations = false)]
async fn claims_sql_is_checked_at_startup(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let err = hasura_jwt_auth::store::claims::check_custom_claims_sql(&app.pool, "SELEC nonsense")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("AUTH_CUSTOM_CLAIMS_SQL"), "{err}");
    // A query that ignores the user id would fail at every sign-in once prepared: refused.
    let err = hasura_jwt_auth::store::claims::check_custom_claims_sql(
        &app.pool,
        "SELECT json_build_object('org-id', 42)",
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("$1"), "{err}");
    let err = hasura_jwt_auth::store::claims::check_custom_claims_sql(
        &app.pool,
        "SELECT 1, 2 WHERE $1::uuid IS NOT NULL",
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("one column"), "{err}");
    let err = hasura_jwt_auth::store::claims::check_custom_claims_sql(
        &app.pool,
        "SELECT 1 WHERE $1::uuid IS NOT NULL",
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("json"), "{err}");
}
