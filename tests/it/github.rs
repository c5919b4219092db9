//! The GitHub preset against a local stand-in of GitHub's OAuth and API shapes.

use axum::http::{header, Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::common::{
    self,
    github::{self, GitHub},
    oidc::Browser,
    TestApp,
};

async fn github_app(db: &PgPool, gh: &GitHub) -> TestApp {
    let api = format!("{}/api", gh.url);
    common::app(
        db,
        &[
            "--public-url",
            "http://auth.test",
            "--site-url",
            "https://app.example.com",
            "--github-client-id",
            github::CLIENT_ID,
            "--github-client-secret",
            github::CLIENT_SECRET,
            "--github-url",
            &gh.url,
            "--github-api-url",
            &api,
        ],
    )
    .await
}

/// `/authorize?provider=github`: the stand-in's URL and the state cookie.
async fn start(app: &TestApp) -> (String, String) {
    let res = app
        .call(Method::GET, "/authorize?provider=github", None, None)
        .await;
    assert_eq!(res.status, StatusCode::FOUND, "{res:?}");
    let url = res.headers[header::LOCATION].to_str().unwrap().to_owned();
    let cookie = res.headers[header::SET_COOKIE].to_str().unwrap();
    (url, cookie.split(';').next().unwrap().to_owned())
}

/// Through the stand-in and back to `/callback`: where the app is sent in the end.
async fn finish(app: &TestApp, url: &str, cookie: &str) -> String {
    let back = Browser::new()
        .sign_in(url, "octocat", "http://auth.test/callback")
        .await;
    let req = axum::http::Request::get(back.strip_prefix("http://auth.test").unwrap())
        .header(header::COOKIE, cookie)
        .body(axum::body::Body::empty())
        .unwrap();
    let res = app.request(req).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{res:?}");
    res.headers[header::LOCATION].to_str().unwrap().to_owned()
}

async fn sign_in(app: &TestApp) -> String {
    let (url, cookie) = start(app).await;
    finish(app, &url, &cookie).await
}

fn fragment(location: &str, key: &str) -> String {
    let tail = location.split_once('#').map(|(_, t)| t).unwrap_or("");
    serde_urlencoded::from_str::<Vec<(String, String)>>(tail)
        .unwrap()
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or_default()
}

#[sqlx::test(migrations = false)]
async fn github_sign_in_takes_the_verified_primary_address(db: PgPool) {
    let gh = GitHub::start(json!([
        {"email": "octo-unverified@example.com", "primary": false, "verified": false},
        {"email": "octo-old@example.com", "primary": false, "verified": true},
        {"email": "octocat@example.com", "primary": true, "verified": true},
    ]))
    .await;
    let app = github_app(&db, &gh).await;
    let location = sign_in(&app).await;
    assert!(
        location.starts_with("https://app.example.com#access_token="),
        "{location}"
    );
    let token = fragment(&location, "access_token");
    let res = app.call(Method::GET, "/user", Some(&token), None).await;
    let user = res.body;
    assert_eq!(user["email"], "octocat@example.com");
    assert!(!user["email_confirmed_at"].is_null());
    assert_eq!(user["app_metadata"]["provider"], "github");
    let identity = &user["identities"][0];
    assert_eq!(identity["provider"], "github");
    assert_eq!(identity["id"], "583231");
    assert_eq!(identity["identity_data"]["user_name"], "octocat");
    assert_eq!(identity["identity_data"]["email_verified"], true);

    let res = app.call(Method::GET, "/settings", None, None).await;
    assert_eq!(res.body["external"]["github"], true);
}

#[sqlx::test(migrations = false)]
async fn an_unverified_github_address_never_joins_an_account(db: PgPool) {
    let gh = GitHub::start(json!([
        {"email": "victim@example.com", "primary": true, "verified": false},
    ]))
    .await;
    let app = github_app(&db, &gh).await;
    assert_eq!(
        app.signup("victim@example.com").await.status,
        StatusCode::OK
    );
    let location = sign_in(&app).await;
    assert_eq!(
        fragment(&location, "error_code"),
        "email_exists",
        "{location}"
    );
    let identities: i64 = sqlx::query_scalar("SELECT count(*) FROM identities")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(identities, 0);
}

#[sqlx::test(migrations = false)]
async fn a_refused_github_code_creates_nothing(db: PgPool) {
    let gh = GitHub::start(json!([
        {"email": "octocat@example.com", "primary": true, "verified": true},
    ]))
    .await;
    let app = github_app(&db, &gh).await;
    // The stored verifier no longer matches the challenge GitHub saw.
    let (url, cookie) = start(&app).await;
    sqlx::query("UPDATE oauth_states SET pkce_verifier = repeat('v', 64)")
        .execute(&app.pool)
        .await
        .unwrap();
    let location = &finish(&app, &url, &cookie).await;
    assert_eq!(
        fragment(location, "error_code"),
        "provider_failed",
        "{location}"
    );
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(users, 0);
}
