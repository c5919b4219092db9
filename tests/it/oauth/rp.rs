//! A certified relying party against the provider: panva's `openid-client` (tests/node,
//! `oauth-rp.mjs`) runs discovery, the authorization code flow with PKCE through the hosted
//! sign-in and consent pages in Chromium, the code exchange with ID token validation,
//! userinfo, refresh and revocation; then consent remembered, and revoked from the account
//! page, which ends the client's access.

use std::process::Command;

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

use super::ADMIN;
use crate::common::{self, str_of};

/// A loopback redirect URI on a port free now (the script serves it).
fn redirect_uri() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}/callback", listener.local_addr().unwrap())
}

async fn run(scenario: &str, settings: Value) -> Value {
    let mut command = Command::new("node");
    command
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node"))
        .arg("oauth-rp.mjs")
        .arg(scenario)
        .arg(settings.to_string());
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{scenario}: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("JSON observations")
}

/// The whole flow for a confidential client (`client_secret_basic`) or a public one (PKCE
/// alone).
async fn whole_flow(db: PgPool, public: bool) {
    common::oidc::install();
    let served = common::serve_ed25519(&db, &["--admin-secret", ADMIN, "--oauth-server"]).await;
    let app = &served.app;
    let email = "rp@example.com";
    let user = app.signup(email).await;
    let user_id = str_of(&user.body["user"], "id").to_owned();
    let redirect = redirect_uri();
    let mut body = json!({"client_name": "Relying party", "redirect_uris": [redirect]});
    if public {
        body["client_type"] = json!("public");
    }
    let res = app
        .call(
            Method::POST,
            "/admin/oauth/clients",
            Some(ADMIN),
            Some(body),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{res:?}");
    let client_id = str_of(&res.body, "client_id").to_owned();
    let settings = json!({
        "issuer": served.url, "clientId": client_id, "clientSecret": res.body["client_secret"],
        "redirectUri": redirect, "email": email, "password": common::PASSWORD,
    });
    let seen = run("flow", settings).await;

    assert_eq!(seen["sub"], user_id.as_str(), "{seen}");
    assert_eq!(seen["idToken"]["aud"], client_id.as_str());
    assert_eq!(seen["idToken"]["email"], email);
    assert_eq!(seen["userinfo"]["email"], email);
    assert_eq!(seen["access"]["client_id"], client_id.as_str());
    assert_eq!(
        seen["access"]["scope"],
        "openid email profile offline_access"
    );
    let hasura = &seen["access"]["https://hasura.io/jwt/claims"];
    assert_eq!(hasura["x-hasura-client-id"], client_id.as_str());
    assert_eq!(hasura["x-hasura-allowed-roles"], json!(["user"]));
    assert_eq!(seen["refreshed"]["sub"], user_id.as_str());
    assert!(
        seen["revokedRefreshError"]
            .as_str()
            .unwrap()
            .contains("invalid_grant"),
        "{seen}"
    );
    assert_eq!(seen["consentShownSecondTime"], false);
    let after = &seen["afterAccountRevoke"];
    assert!(
        after["refreshError"]
            .as_str()
            .unwrap()
            .contains("invalid_grant"),
        "{seen}"
    );
    assert!(
        after["userinfoError"].as_str().unwrap().contains("401"),
        "{seen}"
    );
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sessions WHERE oauth_client_id IS NOT NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        left, 0,
        "revoking from the account page ended the client's sessions"
    );
}

#[sqlx::test(migrations = false)]
async fn openid_client_runs_the_code_flow_as_a_confidential_client(db: PgPool) {
    whole_flow(db, false).await;
}

#[sqlx::test(migrations = false)]
async fn openid_client_runs_the_code_flow_as_a_public_client(db: PgPool) {
    whole_flow(db, true).await;
}

#[sqlx::test(migrations = false)]
async fn a_denied_request_goes_back_to_the_client_with_access_denied(db: PgPool) {
    common::oidc::install();
    let served = common::serve_ed25519(&db, &["--admin-secret", ADMIN, "--oauth-server"]).await;
    let app = &served.app;
    app.signup("deny@example.com").await;
    let redirect = redirect_uri();
    let body = json!({"client_name": "Relying party", "redirect_uris": [redirect]});
    let res = app
        .call(
            Method::POST,
            "/admin/oauth/clients",
            Some(ADMIN),
            Some(body),
        )
        .await;
    let settings = json!({
        "issuer": served.url, "clientId": res.body["client_id"], "clientSecret": res.body["client_secret"],
        "redirectUri": redirect, "email": "deny@example.com", "password": common::PASSWORD,
    });
    let seen = run("deny", settings).await;
    assert_eq!(seen["error"], "access_denied", "{seen}");
    assert_eq!(seen["iss"], served.url.as_str());
}
