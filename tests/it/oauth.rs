//! This server as an OAuth 2.1 provider: clients registered by administrators (auth-js's own
//! `admin.oauth` scenarios, unmodified client), and the feature switch.

use std::process::Command;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::common;

mod provider;
mod rp;

const ADMIN: &str = "admin-secret-admin-secret-admin-secret";

#[sqlx::test(migrations = false)]
async fn auth_js_oauth_admin_scenarios_pass(db: PgPool) {
    let served = common::serve(&db, &["--oauth-server", "--admin-secret", ADMIN]).await;
    let mut command = Command::new("node");
    command
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node"))
        .arg("auth-js-oauth-admin.mjs")
        .arg(&served.url)
        .arg(ADMIN);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Value = serde_json::from_str(stdout.trim()).expect("JSON from the scenarios");
    let results = results.as_object().unwrap();
    let failed: Vec<String> = results
        .iter()
        .filter(|(_, r)| r["pass"] != true)
        .map(|(name, r)| format!("{name}: {}", r["detail"].as_str().unwrap_or_default()))
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
    assert_eq!(results.len(), 8);
}

#[sqlx::test(migrations = false)]
async fn clients_are_checked_and_the_feature_is_off_by_default(db: PgPool) {
    let off = common::app(&db, &["--admin-secret", ADMIN]).await;
    let res = off
        .call(Method::GET, "/admin/oauth/clients", Some(ADMIN), None)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(res.body["error_code"], "feature_disabled");

    let app = common::app(&db, &["--admin-secret", ADMIN, "--oauth-server"]).await;
    let create = |body: Value| {
        app.call(
            Method::POST,
            "/admin/oauth/clients",
            Some(ADMIN),
            Some(body),
        )
    };
    for bad in [
        json!({"redirect_uris": ["http://evil.example/cb"]}),
        json!({"redirect_uris": ["https://a.example/cb#frag"]}),
        json!({"redirect_uris": ["https://a.example/cb"], "client_type": "public",
               "token_endpoint_auth_method": "client_secret_basic"}),
        json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["password"]}),
    ] {
        let res = create(bad.clone()).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}: {res:?}");
        assert_eq!(res.body["error_code"], "validation_failed");
    }
    let public =
        create(json!({"redirect_uris": ["https://a.example/cb"], "client_type": "public"})).await;
    assert_eq!(public.status, StatusCode::CREATED, "{public:?}");
    assert!(
        public.body.get("client_secret").is_none(),
        "a public client has no secret"
    );
    assert_eq!(public.body["token_endpoint_auth_method"], "none");
    let id = public.body["client_id"].as_str().unwrap();
    let path = format!("/admin/oauth/clients/{id}/regenerate_secret");
    let res = app.call(Method::POST, &path, Some(ADMIN), None).await;
    assert_eq!(res.body["error_code"], "validation_failed", "{res:?}");
    let res = app
        .call(
            Method::PUT,
            &format!("/admin/oauth/clients/{id}"),
            Some(ADMIN),
            Some(json!({})),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = app
        .call(
            Method::GET,
            "/admin/oauth/clients/not-a-uuid",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    // The secret is stored only as its hash.
    let confidential = create(json!({"redirect_uris": ["https://a.example/cb"]})).await;
    let secret = confidential.body["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(secret.len(), 43);
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT secret_hash FROM oauth_clients WHERE secret_hash IS NOT NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored.len(), 32);
    assert!(!String::from_utf8_lossy(&stored).contains(&secret));
}

#[sqlx::test(migrations = false)]
async fn applications_register_themselves_only_when_allowed_and_within_the_limit(db: PgPool) {
    let body = json!({"client_name": "MCP client", "redirect_uris": ["http://127.0.0.1:3333/callback"],
                      "token_endpoint_auth_method": "none", "response_types": ["code"],
                      "scope": "openid"});
    let closed = common::app(&db, &["--oauth-server"]).await;
    let res = closed.post("/oauth/clients/register", body.clone()).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    assert_eq!(
        res.body["error_code"],
        "oauth_dynamic_client_registration_disabled"
    );

    let args = [
        "--oauth-server",
        "--oauth-dynamic-registration",
        "--rate-limit-oauth-registration",
        "2",
        "--admin-secret",
        ADMIN,
        "--trusted-proxies",
        "127.0.0.1",
    ];
    let app = common::app(&db, &args).await;
    // From one client address, through a trusted proxy.
    let register = |body: Value| {
        let req = axum::http::Request::post("/oauth/clients/register")
            .header("content-type", "application/json")
            .header("x-forwarded-for", "192.0.2.7")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        app.request(common::via_proxy(req))
    };
    let made = register(body.clone()).await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    assert_eq!(made.body["registration_type"], "dynamic");
    assert_eq!(made.body["client_type"], "public");
    assert!(made.body["client_id_issued_at"].is_i64());
    assert!(made.body.get("client_secret").is_none());
    // A confidential one gets its secret, which does not expire.
    let confidential = json!({"redirect_uris": ["https://app.example/cb"]});
    let res = register(confidential).await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    assert_eq!(res.body["client_secret_expires_at"], 0);
    assert_eq!(res.body["client_secret"].as_str().unwrap().len(), 43);
    // The administrators see both; the third registration from one address is too many.
    let listed = app
        .call(Method::GET, "/admin/oauth/clients", Some(ADMIN), None)
        .await;
    assert_eq!(listed.body["clients"].as_array().unwrap().len(), 2);
    let res = register(body).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{res:?}");
    let bad = register(json!({"redirect_uris": []})).await;
    assert_eq!(
        bad.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the limit counts first"
    );
}
