//! Signing keys and access tokens: every algorithm verifies with the published JWKS, added
//! keys are accepted, the development key is kept, and tokens are refused as Hasura refuses
//! them.

use crate::common::{self, hasura, jwt_payload, str_of, SECRET};
use axum::http::{header, Method, StatusCode};
use hasura_jwt_auth::{
    auth::keys::{generate_private_key_pem, KeySet},
    config::{Config, JwtAlgorithm},
};
use serde_json::{json, Value};
use sqlx::PgPool;

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
        aal: hasura_jwt_auth::auth::assurance::Aal::Aal1,
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
        .issue(
            &claims,
            "u@example.com",
            false,
            uuid::Uuid::new_v4(),
            &hasura_jwt_auth::auth::assurance::Assurance::one_factor("password", 0),
        )
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
