//! Tokens of providers: ID-token sign-in (signature, audience, issuer, nonce; native apps'
//! client ids), and provider tokens kept encrypted only when asked.

use super::{get, me, oidc_app, params, sign_in, user_count, SITE, WELCOME};
use crate::common::{
    oidc::{self, Oidc},
    str_of,
};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn id_token_sign_in_checks_signature_audience_issuer_and_nonce(db: PgPool) {
    let oidc = Oidc::start().await;
    let app = oidc_app(&db, &oidc.providers_setting("acme"), &[]).await;
    let token = oidc
        .id_token(oidc::CLIENT_ID, oidc::CLIENT_SECRET, "alice", "nonce-123")
        .await;
    let sign_in = |body: Value| app.post("/token?grant_type=id_token", body);

    let res = sign_in(json!({"provider": "acme", "id_token": token, "nonce": "other"})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    assert_eq!(res.body["error_code"], "bad_id_token");
    // One signature character changed (not the last, whose low bits may be padding).
    let at = token.len() - 10;
    let swapped = if &token[at..=at] == "A" { "B" } else { "A" };
    let forged = format!("{}{swapped}{}", &token[..at], &token[at + 1..]);
    let res = sign_in(json!({"provider": "acme", "id_token": forged, "nonce": "nonce-123"})).await;
    assert_eq!(res.body["error_code"], "bad_id_token", "{res:?}");

    let res = sign_in(json!({"provider": "acme", "id_token": token, "nonce": "nonce-123"})).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.body["user"]["email"], "alice@example.com");
    assert_eq!(res.body["user"]["identities"][0]["provider"], "acme");

    // Issued to another app: wrong audience.
    let theirs = oidc
        .id_token(
            oidc::OTHER_CLIENT_ID,
            oidc::OTHER_CLIENT_SECRET,
            "alice",
            "n",
        )
        .await;
    let res = sign_in(json!({"provider": "acme", "id_token": theirs, "nonce": "n"})).await;
    assert_eq!(res.body["error_code"], "bad_id_token", "{res:?}");

    // Issued by another provider (another issuer and keys) with our client id.
    let elsewhere = Oidc::start().await;
    let foreign = elsewhere
        .id_token(oidc::CLIENT_ID, oidc::CLIENT_SECRET, "alice", "n")
        .await;
    let res = sign_in(json!({"provider": "acme", "id_token": foreign, "nonce": "n"})).await;
    assert_eq!(res.body["error_code"], "bad_id_token", "{res:?}");

    // A token with a nonce needs it; apps that hand the provider SHA-256(nonce) in hex (as
    // Supabase's guides for Google and Apple say) send the raw nonce.
    let res = sign_in(json!({"provider": "acme", "id_token": token})).await;
    assert_eq!(res.body["error_code"], "bad_id_token", "{res:?}");
    let hashed = {
        use sha2::Digest;
        sha2::Sha256::digest(b"raw-nonce")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let token = oidc
        .id_token(oidc::CLIENT_ID, oidc::CLIENT_SECRET, "bob", &hashed)
        .await;
    let res = sign_in(json!({"provider": "acme", "id_token": token, "nonce": "raw-nonce"})).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.body["user"]["email"], "bob@example.com");

    let res = sign_in(json!({"provider": "acme"})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(user_count(&app).await, 2);
}

/// With AUTH_PROVIDER_TOKENS_KEY the provider's tokens are kept, encrypted, and the admin API
/// hands them out (working at the provider); without it nothing is stored.
#[sqlx::test(migrations = false)]
async fn provider_tokens_are_kept_encrypted_only_when_asked(db: PgPool) {
    let oidc = Oidc::start().await;
    let admin = "an-admin-secret-of-at-least-32-bytes-0123";
    let key = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode([42u8; 32])
    };
    let app = oidc_app(
        &db,
        &oidc.providers_setting("acme"),
        &["--provider-tokens-key", &key, "--admin-secret", admin],
    )
    .await;
    let location = sign_in(&app, WELCOME, "alice").await;
    let user = me(&app, &params(&location, '#')["access_token"]).await;
    let uri = format!("/admin/users/{}/provider_tokens", str_of(&user, "id"));
    let res = app.call(Method::GET, &uri, Some(admin), None).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let kept = &res.body["provider_tokens"][0];
    assert_eq!(kept["provider"], "acme");
    assert_eq!(kept["readable"], true);
    let access = str_of(kept, "provider_token").to_owned();
    // The real token: the provider's userinfo endpoint accepts it.
    let userinfo: Value = reqwest::Client::new()
        .get(format!("{}/me", oidc.issuer))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(userinfo["sub"], "alice", "{userinfo}");
    // Encrypted at rest.
    let sealed: Vec<u8> =
        sqlx::query_scalar("SELECT provider_tokens FROM identities WHERE provider_id = 'alice'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(!String::from_utf8_lossy(&sealed).contains(&access));
    let reads: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE event = 'provider_tokens_read'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(reads, 1);
    let res = app.call(Method::GET, &uri, Some("wrong"), None).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
}

#[sqlx::test(migrations = false)]
async fn provider_tokens_are_not_stored_by_default(db: PgPool) {
    let oidc = Oidc::start().await;
    let admin = "an-admin-secret-of-at-least-32-bytes-0123";
    let app = oidc_app(
        &db,
        &oidc.providers_setting("acme"),
        &["--admin-secret", admin],
    )
    .await;
    let location = sign_in(&app, WELCOME, "alice").await;
    assert!(location.contains("access_token="), "{location}");
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM identities WHERE provider_tokens IS NOT NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, 0);
    let user: String = sqlx::query_scalar("SELECT user_id::text FROM identities")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let uri = format!("/admin/users/{user}/provider_tokens");
    let res = app.call(Method::GET, &uri, Some(admin), None).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{res:?}");
}

/// Native apps have their own client ids at the provider: listed in `client_ids`, their ID
/// tokens are accepted; the presets show in `/settings`.
#[sqlx::test(migrations = false)]
async fn id_tokens_of_listed_native_apps_are_accepted(db: PgPool) {
    let oidc = Oidc::start().await;
    let providers = json!([{
        "name": "acme",
        "issuer": oidc.issuer,
        "client_id": oidc::CLIENT_ID,
        "client_secret": oidc::CLIENT_SECRET,
        "client_ids": [oidc::OTHER_CLIENT_ID],
    }]);
    let app = oidc_app(
        &db,
        &providers.to_string(),
        &[
            "--google-client-id",
            "g-id",
            "--google-client-secret",
            "g-secret",
            "--azure-client-id",
            "a-id",
            "--azure-client-secret",
            "a-secret",
            "--azure-tenant",
            "contoso",
        ],
    )
    .await;
    let token = oidc
        .id_token(
            oidc::OTHER_CLIENT_ID,
            oidc::OTHER_CLIENT_SECRET,
            "alice",
            "n",
        )
        .await;
    let res = app
        .post(
            "/token?grant_type=id_token",
            json!({"provider": "acme", "id_token": token, "nonce": "n"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.body["user"]["email"], "alice@example.com");

    let res = get(&app, "/settings", None).await;
    for name in ["acme", "google", "azure"] {
        assert_eq!(res.body["external"][name], true, "{name}: {res:?}");
    }
    // An app's redirect_to outside the allow-list falls back to the site URL.
    let location = sign_in(
        &app,
        "provider=acme&redirect_to=https%3A%2F%2Fevil.example%2Fsteal",
        "bob",
    )
    .await;
    assert!(
        location.starts_with(&format!("{SITE}#access_token=")),
        "{location}"
    );
}
