//! External sign-in against a real OpenID Connect provider (node-oidc-provider, started by
//! the tests): the browser flow over HTTP through the provider's own login form, PKCE and
//! implicit, ID tokens, linking rules, and every way the flow can be tampered with.

use std::collections::HashMap;

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::common::{
    self,
    oidc::{self, Browser, Oidc},
    str_of, TestApp, PASSWORD,
};

const SITE: &str = "https://app.example.com";
const CALLBACK: &str = "http://auth.test/callback";

pub(crate) async fn oidc_app(db: &PgPool, providers: &str, extra: &[&str]) -> TestApp {
    let mut args = vec![
        "--public-url",
        "http://auth.test",
        "--site-url",
        SITE,
        "--oidc-providers",
        providers,
    ];
    args.extend_from_slice(extra);
    common::app(db, &args).await
}

/// A sign-in started at `/authorize`: the provider URL and the browser's state cookie.
struct Started {
    provider_url: String,
    cookie: String,
}

async fn authorize(app: &TestApp, query: &str) -> Started {
    let res = get(app, &format!("/authorize?{query}"), None).await;
    assert_eq!(res.status, StatusCode::FOUND, "{res:?}");
    let cookie = res.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    Started {
        provider_url: res.headers[header::LOCATION].to_str().unwrap().to_owned(),
        cookie: cookie.split(';').next().unwrap().to_owned(),
    }
}

async fn get(app: &TestApp, uri: &str, cookie: Option<&str>) -> common::Response {
    let mut req = Request::get(uri);
    if let Some(cookie) = cookie {
        req = req.header(header::COOKIE, cookie);
    }
    app.request(req.body(Body::empty()).unwrap()).await
}

/// The provider sent the browser to `callback_url`: call it (with `cookie`); the redirect back
/// to the app.
async fn callback(app: &TestApp, callback_url: &str, cookie: Option<&str>) -> String {
    let path = callback_url.strip_prefix("http://auth.test").unwrap();
    let res = get(app, path, cookie).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{res:?}");
    res.headers[header::LOCATION].to_str().unwrap().to_owned()
}

/// The whole browser flow as `login`: where the app is sent in the end.
pub(crate) async fn sign_in(app: &TestApp, query: &str, login: &str) -> String {
    let started = authorize(app, query).await;
    let back = Browser::new()
        .sign_in(&started.provider_url, login, CALLBACK)
        .await;
    callback(app, &back, Some(&started.cookie)).await
}

/// The parameters after `sep` (`#` or `?`) of a redirect.
fn params(location: &str, sep: char) -> HashMap<String, String> {
    let tail = location.split_once(sep).map(|(_, t)| t).unwrap_or("");
    let tail = tail.split('#').next().unwrap();
    serde_urlencoded::from_str::<Vec<(String, String)>>(tail)
        .unwrap()
        .into_iter()
        .collect()
}

async fn user_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

async fn me(app: &TestApp, token: &str) -> Value {
    let res = app.call(Method::GET, "/user", Some(token), None).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    res.body
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("x", s)]).unwrap()[2..].to_owned()
}

/// A PKCE verifier and its S256 challenge.
fn pkce() -> (String, String) {
    use base64::Engine;
    use sha2::Digest;
    let verifier = "a-code-verifier-of-the-app-0123456789-abcdefghij".to_owned();
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&verifier));
    (verifier, challenge)
}

pub(crate) const WELCOME: &str =
    "provider=acme&redirect_to=https%3A%2F%2Fapp.example.com%2Fwelcome";

#[sqlx::test(migrations = false)]
async fn browser_sign_in_creates_the_user_then_finds_it(db: PgPool) {
    let oidc = Oidc::start().await;
    let app = oidc_app(&db, &oidc.providers_setting("acme"), &[]).await;

    let started = authorize(&app, WELCOME).await;
    // The provider gets state, nonce and a PKCE challenge, and our callback.
    for name in ["state", "nonce", "code_challenge"] {
        assert!(
            oidc::query_param(&started.provider_url, name).is_some(),
            "{name}"
        );
    }
    assert_eq!(
        oidc::query_param(&started.provider_url, "redirect_uri").as_deref(),
        Some(CALLBACK)
    );
    let back = Browser::new()
        .sign_in(&started.provider_url, "alice", CALLBACK)
        .await;
    let location = callback(&app, &back, Some(&started.cookie)).await;
    assert!(
        location.starts_with("https://app.example.com/welcome#"),
        "{location}"
    );
    let fragment = params(&location, '#');
    assert_eq!(fragment["token_type"], "bearer");
    assert!(fragment.contains_key("refresh_token"));
    let user = me(&app, &fragment["access_token"]).await;
    assert_eq!(user["email"], "alice@example.com");
    assert!(
        !user["email_confirmed_at"].is_null(),
        "the provider verified it"
    );
    assert_eq!(user["app_metadata"]["provider"], "acme");
    assert_eq!(user["app_metadata"]["providers"], json!(["acme"]));
    let identities = user["identities"].as_array().unwrap();
    assert_eq!(identities.len(), 1, "{identities:?}");
    assert_eq!(identities[0]["provider"], "acme");
    assert_eq!(identities[0]["id"], "alice");
    assert_eq!(identities[0]["identity_data"]["email"], "alice@example.com");
    assert_eq!(identities[0]["identity_data"]["iss"], oidc.issuer.as_str());
    // The same roles as any new user.
    assert_eq!(user["app_metadata"]["default_role"], "user");

    // The callback is single-use.
    let again = callback(&app, &back, Some(&started.cookie)).await;
    assert!(again.contains("error_code=bad_oauth_state"), "{again}");

    // The refresh token works like any other.
    let res = app.refresh(&fragment["refresh_token"]).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");

    // Next time, the same user.
    let location = sign_in(&app, WELCOME, "alice").await;
    let again = me(&app, &params(&location, '#')["access_token"]).await;
    assert_eq!(again["id"], user["id"]);
    assert_eq!(user_count(&app).await, 1);
    let events: Vec<String> = sqlx::query_scalar("SELECT event FROM audit_log ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert!(events.contains(&"sign_up".to_owned()), "{events:?}");
    assert!(events.contains(&"sign_in".to_owned()), "{events:?}");
}

#[sqlx::test(migrations = false)]
async fn pkce_flow_gives_a_code_for_the_verifier(db: PgPool) {
    let oidc = Oidc::start().await;
    let app = oidc_app(&db, &oidc.providers_setting("acme"), &[]).await;
    let (verifier, challenge) = pkce();
    let query = format!("{WELCOME}&code_challenge={challenge}&code_challenge_method=s256");
    let location = sign_in(&app, &query, "bob").await;
    assert!(
        location.starts_with("https://app.example.com/welcome?code="),
        "{location}"
    );
    assert!(!location.contains("access_token"));
    let code = params(&location, '?')["code"].clone();

    let wrong = app
        .post(
            "/token?grant_type=pkce",
            json!({"auth_code": code, "code_verifier": "x".repeat(43)}),
        )
        .await;
    assert_eq!(wrong.body["error_code"], "bad_code_verifier", "{wrong:?}");

    // A fresh code, exchanged once.
    let location = sign_in(&app, &query, "bob").await;
    let code = params(&location, '?')["code"].clone();
    let body = json!({"auth_code": code, "code_verifier": verifier});
    let res = app.post("/token?grant_type=pkce", body.clone()).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.body["user"]["email"], "bob@example.com");
    let replay = app.post("/token?grant_type=pkce", body).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(replay.body["error_code"], "flow_state_not_found");
}

#[sqlx::test(migrations = false)]
async fn a_verified_address_joins_its_account_an_unverified_one_never(db: PgPool) {
    let oidc = Oidc::start().await;
    let app = oidc_app(&db, &oidc.providers_setting("acme"), &[]).await;
    let alice = app.signup("alice@example.com").await;
    assert_eq!(alice.status, StatusCode::OK, "{alice:?}");
    let victim = app.signup("victim@example.com").await;
    assert_eq!(victim.status, StatusCode::OK, "{victim:?}");

    // alice's address is verified at the provider: her identity joins her account. It is
    // the first proof of the address (the sign-up proved nothing), so the password chosen at
    // sign-up goes: whoever signed up might not have been alice.
    let location = sign_in(&app, WELCOME, "alice").await;
    let user = me(&app, &params(&location, '#')["access_token"]).await;
    assert_eq!(user["id"], alice.body["user"]["id"]);
    assert_eq!(user["app_metadata"]["providers"], json!(["email", "acme"]));
    assert_eq!(user["identities"].as_array().unwrap().len(), 2);
    assert_eq!(
        user["identities"][0]["identity_data"]["email_verified"],
        true
    );
    assert_eq!(
        app.sign_in("alice@example.com", PASSWORD).await.status,
        StatusCode::BAD_REQUEST
    );
    // A proven address keeps what is set up after the proof.
    let at = params(&location, '#')["access_token"].clone();
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(&at),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let location = sign_in(&app, WELCOME, "alice").await;
    assert!(location.contains("access_token="), "{location}");
    assert_eq!(
        app.sign_in("alice@example.com", PASSWORD).await.status,
        StatusCode::OK
    );

    // mallory claims victim@example.com without having verified it: refused, nothing linked
    // or created.
    let location = sign_in(&app, WELCOME, "mallory").await;
    assert!(
        location.starts_with("https://app.example.com/welcome#error="),
        "{location}"
    );
    assert_eq!(params(&location, '#')["error_code"], "email_exists");
    let linked: i64 =
        sqlx::query_scalar("SELECT count(*) FROM identities WHERE provider_id = 'mallory'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(linked, 0);
    assert_eq!(user_count(&app).await, 2);
    let res = app.sign_in("victim@example.com", PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "the victim keeps their account");
}

#[sqlx::test(migrations = false)]
async fn state_is_bound_to_the_browser_single_use_and_short_lived(db: PgPool) {
    let oidc = Oidc::start().await;
    let app = oidc_app(&db, &oidc.providers_setting("acme"), &[]).await;
    let bad_state = |location: &str| {
        assert!(
            location.contains("error_code=bad_oauth_state"),
            "{location}"
        );
    };

    // Another browser (no cookie, or its own) cannot finish this one's sign-in.
    let started = authorize(&app, WELCOME).await;
    let back = Browser::new()
        .sign_in(&started.provider_url, "alice", CALLBACK)
        .await;
    bad_state(&callback(&app, &back, None).await);
    let started = authorize(&app, WELCOME).await;
    let other = authorize(&app, WELCOME).await;
    let back = Browser::new()
        .sign_in(&started.provider_url, "alice", CALLBACK)
        .await;
    bad_state(&callback(&app, &back, Some(&other.cookie)).await);
    // …and the attempt used the state up.
    bad_state(&callback(&app, &back, Some(&started.cookie)).await);

    // Two sign-ins at once in one browser (two tabs): each keeps its own cookie.
    let first = authorize(&app, WELCOME).await;
    let second = authorize(&app, WELCOME).await;
    assert_ne!(
        first.cookie.split('=').next(),
        second.cookie.split('=').next()
    );
    let back = Browser::new()
        .sign_in(&first.provider_url, "alice", CALLBACK)
        .await;
    let both = format!("{}; {}", first.cookie, second.cookie);
    let location = callback(&app, &back, Some(&both)).await;
    assert!(location.contains("access_token="), "{location}");
    sqlx::query("DELETE FROM users")
        .execute(&app.pool)
        .await
        .unwrap();

    // A state that was never issued.
    let started = authorize(&app, WELCOME).await;
    let back = Browser::new()
        .sign_in(&started.provider_url, "alice", CALLBACK)
        .await;
    let state = oidc::query_param(&back, "state").unwrap();
    let forged = back.replace(&state, "forged-state-0123456789");
    bad_state(&callback(&app, &forged, Some(&started.cookie)).await);

    // An expired one.
    sqlx::query("UPDATE oauth_states SET expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    let location = callback(&app, &back, Some(&started.cookie)).await;
    assert!(
        location.starts_with("https://app.example.com/welcome#"),
        "{location}"
    );
    bad_state(&location);
    assert_eq!(user_count(&app).await, 0);
}

#[sqlx::test(migrations = false)]
async fn tampered_nonce_verifier_or_replayed_code_are_refused(db: PgPool) {
    let oidc = Oidc::start().await;
    let app = oidc_app(&db, &oidc.providers_setting("acme"), &[]).await;
    let refused = |location: &str| {
        let p = params(location, '#');
        assert_eq!(p["error_code"], "provider_failed", "{location}");
        assert_eq!(p["error"], "access_denied", "{location}");
    };

    // The ID token's nonce is not the one this sign-in sent.
    let started = authorize(&app, WELCOME).await;
    let back = Browser::new()
        .sign_in(&started.provider_url, "alice", CALLBACK)
        .await;
    sqlx::query("UPDATE oauth_states SET nonce = 'another-nonce'")
        .execute(&app.pool)
        .await
        .unwrap();
    refused(&callback(&app, &back, Some(&started.cookie)).await);

    // The PKCE verifier does not match what the provider saw: it refuses the code.
    let started = authorize(&app, WELCOME).await;
    let back = Browser::new()
        .sign_in(&started.provider_url, "alice", CALLBACK)
        .await;
    sqlx::query("UPDATE oauth_states SET pkce_verifier = repeat('v', 64)")
        .execute(&app.pool)
        .await
        .unwrap();
    refused(&callback(&app, &back, Some(&started.cookie)).await);

    // A code used once does not work again, even with a fresh state of the same browser.
    let started = authorize(&app, WELCOME).await;
    let back = Browser::new()
        .sign_in(&started.provider_url, "bob", CALLBACK)
        .await;
    let first = callback(&app, &back, Some(&started.cookie)).await;
    assert!(first.contains("access_token="), "{first}");
    let fresh = authorize(&app, WELCOME).await;
    let fresh_state = oidc::query_param(&fresh.provider_url, "state").unwrap();
    let old_state = oidc::query_param(&back, "state").unwrap();
    let replayed = back.replace(&old_state, &fresh_state);
    refused(&callback(&app, &replayed, Some(&fresh.cookie)).await);
    assert_eq!(
        user_count(&app).await,
        1,
        "only bob's first sign-in created a user"
    );

    // RFC 9207: an answer naming another issuer is refused before the code goes anywhere.
    let started = authorize(&app, WELCOME).await;
    let back = Browser::new()
        .sign_in(&started.provider_url, "alice", CALLBACK)
        .await;
    let iss = oidc::query_param(&back, "iss").expect("the provider names itself");
    assert_eq!(iss, oidc.issuer);
    let mixed = back.replace(
        &format!("iss={}", urlencode(&iss)),
        &format!("iss={}", urlencode("https://evil.example")),
    );
    assert_ne!(mixed, back);
    let location = callback(&app, &mixed, Some(&started.cookie)).await;
    assert_eq!(
        params(&location, '#')["error_code"],
        "bad_oauth_state",
        "{location}"
    );

    // The user cancels at the provider: the app hears why.
    let started = authorize(&app, WELCOME).await;
    let back = Browser::new()
        .sign_in(&started.provider_url, "abort", CALLBACK)
        .await;
    let location = callback(&app, &back, Some(&started.cookie)).await;
    assert!(
        location.starts_with("https://app.example.com/welcome#error="),
        "{location}"
    );
    assert!(
        params(&location, '#')["error_description"].contains("access_denied (End-User aborted"),
        "{location}"
    );

    let failures: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE event = 'external_sign_in_failed'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(failures, 4);
}

#[sqlx::test(migrations = false)]
async fn a_provider_that_is_down_is_a_clear_error(db: PgPool) {
    let down = json!([{
        "name": "acme",
        "issuer": format!("http://127.0.0.1:{}", oidc::free_port()),
        "client_id": "x",
        "client_secret": "y",
    }]);
    let app = oidc_app(&db, &down.to_string(), &[]).await;
    let res = get(&app, &format!("/authorize?{WELCOME}"), None).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{res:?}");
    assert_eq!(res.body["error_code"], "provider_unavailable");
    assert!(
        !res.body.to_string().contains("127.0.0.1"),
        "no internals: {res:?}"
    );
    let states: i64 = sqlx::query_scalar("SELECT count(*) FROM oauth_states")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(states, 0);

    // A well-formed ID token cannot be checked either: the provider's keys are out of reach.
    let id_token = {
        use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
        let header = B64.encode(json!({"alg": "RS256", "kid": "k"}).to_string());
        let claims = json!({"iss": down[0]["issuer"], "sub": "a", "aud": "x",
                            "exp": 4_000_000_000u64, "iat": 1_700_000_000u64});
        format!(
            "{header}.{}.{}",
            B64.encode(claims.to_string()),
            B64.encode("sig")
        )
    };
    let res = app
        .post(
            "/token?grant_type=id_token",
            json!({"provider": "acme", "id_token": id_token}),
        )
        .await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{res:?}");
    assert_eq!(res.body["error_code"], "provider_unavailable");
    assert_eq!(user_count(&app).await, 0);

    let res = get(&app, "/authorize?provider=nope", None).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    let res = get(&app, "/authorize", None).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
}

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

#[sqlx::test(migrations = false)]
async fn a_signed_in_user_links_and_unlinks_providers(db: PgPool) {
    let oidc = Oidc::start().await;
    let app = oidc_app(&db, &oidc.providers_setting("acme"), &[]).await;
    let res = app.signup("carol@example.com").await;
    let token = str_of(&res.body, "access_token").to_owned();

    // Linking needs the PKCE flow.
    let link_uri = format!("/user/identities/authorize?{WELCOME}&skip_http_redirect=true");
    let res = app.call(Method::GET, &link_uri, Some(&token), None).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    let (verifier, challenge) = pkce();
    let link_uri = format!("{link_uri}&code_challenge={challenge}&code_challenge_method=s256");
    let identity_count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM identities")
            .fetch_one(&app.pool)
            .await
            .unwrap()
    };

    // auth-js's linkIdentity: the URL as JSON, then the browser goes there. Completed in
    // someone else's browser (a link URL sent to a victim), it links nothing: the link
    // happens only at the exchange, with the verifier of the app that asked.
    let res = app.call(Method::GET, &link_uri, Some(&token), None).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let back = Browser::new()
        .sign_in(str_of(&res.body, "url"), "bob", CALLBACK)
        .await;
    let location = callback(&app, &back, None).await;
    let code = params(&location, '?')["code"].clone();
    assert_eq!(identity_count().await, 0);
    let res = app
        .post(
            "/token?grant_type=pkce",
            json!({"auth_code": code, "code_verifier": "w".repeat(43)}),
        )
        .await;
    assert_eq!(res.body["error_code"], "bad_code_verifier", "{res:?}");
    assert_eq!(identity_count().await, 0);

    // The app that asked exchanges the code: linked, and a session of the same user.
    let res = app.call(Method::GET, &link_uri, Some(&token), None).await;
    let back = Browser::new()
        .sign_in(str_of(&res.body, "url"), "bob", CALLBACK)
        .await;
    let location = callback(&app, &back, None).await;
    let code = params(&location, '?')["code"].clone();
    let res = app
        .post(
            "/token?grant_type=pkce",
            json!({"auth_code": code, "code_verifier": verifier}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let user = me(&app, &token).await;
    assert_eq!(res.body["user"]["id"], user["id"]);
    assert_eq!(
        user["email"], "carol@example.com",
        "linking keeps the user's address"
    );
    let identities = user["identities"].as_array().unwrap().clone();
    assert_eq!(identities.len(), 2, "{identities:?}");
    let acme = identities.iter().find(|i| i["provider"] == "acme").unwrap();

    // bob's identity now signs carol in.
    let location = sign_in(&app, WELCOME, "bob").await;
    let signed = me(&app, &params(&location, '#')["access_token"]).await;
    assert_eq!(signed["id"], user["id"]);

    // Another user cannot take it.
    let dave = app.signup("dave@example.com").await;
    let dave_token = str_of(&dave.body, "access_token").to_owned();
    let res = app
        .call(Method::GET, &link_uri, Some(&dave_token), None)
        .await;
    let back = Browser::new()
        .sign_in(str_of(&res.body, "url"), "bob", CALLBACK)
        .await;
    let location = callback(&app, &back, None).await;
    assert_eq!(
        params(&location, '#')["error_code"],
        "identity_already_exists",
        "{location}"
    );

    let uri = format!("/user/identities/{}", str_of(acme, "identity_id"));
    let res = app.call(Method::DELETE, &uri, Some(&token), None).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(
        me(&app, &token).await["identities"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let res = app.call(Method::DELETE, &uri, Some(&token), None).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{res:?}");

    // A user whose only way in is the provider cannot unlink it.
    let location = sign_in(&app, WELCOME, "erin").await;
    let erin_token = params(&location, '#')["access_token"].clone();
    let erin = me(&app, &erin_token).await;
    assert_eq!(erin["identities"].as_array().unwrap().len(), 1, "{erin}");
    let uri = format!(
        "/user/identities/{}",
        str_of(&erin["identities"][0], "identity_id")
    );
    let res = app
        .call(Method::DELETE, &uri, Some(&erin_token), None)
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{res:?}");
    assert_eq!(res.body["error_code"], "single_identity_not_deletable");
    // Once erin sets a password, she has the email identity too and may unlink.
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(&erin_token),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(
        res.body["app_metadata"]["providers"],
        json!(["email", "acme"])
    );
    let res = app
        .call(Method::DELETE, &uri, Some(&erin_token), None)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let events: Vec<String> =
        sqlx::query_scalar("SELECT event FROM audit_log WHERE event LIKE 'identity_%' ORDER BY id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        events,
        ["identity_linked", "identity_unlinked", "identity_unlinked"]
    );
    // An unlinking names the provider and the session that did it.
    let (session, detail): (Option<uuid::Uuid>, Value) = sqlx::query_as(
        "SELECT session_id, detail FROM audit_log WHERE event = 'identity_unlinked'
         ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let sid = common::jwt_payload(&erin_token)["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(session.map(|s| s.to_string()), Some(sid));
    assert_eq!(detail["provider"], "acme");
}

#[sqlx::test(migrations = false)]
async fn settings_list_the_enabled_providers(db: PgPool) {
    let oidc = Oidc::start().await;
    let app = oidc_app(&db, &oidc.providers_setting("acme"), &["--disable-signup"]).await;
    let res = get(&app, "/settings", None).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["external"]["acme"], true);
    assert_eq!(res.body["external"]["email"], true);
    assert_eq!(res.body["external"]["github"], false);
    assert_eq!(res.body["disable_signup"], true);
    // Sign-up is off: a new external user is refused too.
    let location = sign_in(&app, WELCOME, "alice").await;
    assert_eq!(
        params(&location, '#')["error_code"],
        "signup_disabled",
        "{location}"
    );
    assert_eq!(user_count(&app).await, 0);
}

/// The recipe of docs/providers.md: a provider's `groups` claim becomes a Hasura role (a
/// trigger on identities) and a session variable (the custom claims SQL).
#[sqlx::test(migrations = false)]
async fn provider_groups_become_hasura_roles_and_claims(db: PgPool) {
    let oidc = Oidc::start().await;
    let claims_sql = "SELECT jsonb_build_object('groups', coalesce(
        (SELECT identity_data->'custom_claims'->'groups' FROM auth.identities
          WHERE user_id = $1 AND provider = 'acme'), '[]'::jsonb))";
    let app = oidc_app(
        &db,
        &oidc.providers_setting("acme"),
        &["--custom-claims-sql", claims_sql],
    )
    .await;
    sqlx::raw_sql(
        "CREATE FUNCTION public.roles_from_groups() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF NEW.identity_data->'custom_claims'->'groups' ? 'editors' THEN
             UPDATE auth.users SET allowed_roles = ARRAY['user', 'editor'], default_role = 'editor'
              WHERE id = NEW.user_id;
           END IF;
           RETURN NEW;
         END $$;
         CREATE TRIGGER roles_from_groups AFTER INSERT OR UPDATE OF identity_data
           ON auth.identities FOR EACH ROW EXECUTE FUNCTION public.roles_from_groups();",
    )
    .execute(&app.pool)
    .await
    .unwrap();

    let location = sign_in(&app, WELCOME, "bob").await;
    let token = params(&location, '#')["access_token"].clone();
    let claims = common::jwt_payload(&token)["https://hasura.io/jwt/claims"].clone();
    assert_eq!(claims["x-hasura-default-role"], "editor", "{claims}");
    assert_eq!(claims["x-hasura-allowed-roles"], json!(["user", "editor"]));
    assert_eq!(claims["x-hasura-groups"], "{editors}");
    let user = me(&app, &token).await;
    assert_eq!(
        user["identities"][0]["identity_data"]["custom_claims"]["groups"],
        json!(["editors"])
    );

    // alice is in no group: the defaults.
    let location = sign_in(&app, WELCOME, "alice").await;
    let token = params(&location, '#')["access_token"].clone();
    let claims = common::jwt_payload(&token)["https://hasura.io/jwt/claims"].clone();
    assert_eq!(claims["x-hasura-default-role"], "user", "{claims}");
    assert_eq!(claims["x-hasura-groups"], "{}");
}

/// Pre-account takeover: someone signs up first with the victim's address through a provider
/// that did not verify it. When the owner proves the address, that identity goes.
#[sqlx::test(migrations = false)]
async fn an_unverified_identity_goes_when_the_owner_proves_the_address(db: PgPool) {
    let oidc = Oidc::start().await;
    let app = oidc_app(&db, &oidc.providers_setting("acme"), &[]).await;
    let location = sign_in(&app, WELCOME, "mallory").await;
    let squatter = me(&app, &params(&location, '#')["access_token"]).await;
    assert_eq!(squatter["email"], "victim@example.com");
    assert!(squatter["email_confirmed_at"].is_null());

    // The owner signs in with a provider account that verified the address ("victim" has
    // victim@example.com, verified): it takes over the unconfirmed account, without
    // mallory's identity or sessions.
    let location = sign_in(&app, WELCOME, "victim").await;
    let owner = me(&app, &params(&location, '#')["access_token"]).await;
    assert_eq!(owner["id"], squatter["id"]);
    assert!(!owner["email_confirmed_at"].is_null());
    let subjects: Vec<&str> = owner["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["victim"]);
    assert_eq!(app.session_count(str_of(&owner, "id")).await, 1);
    // mallory is now refused.
    let location = sign_in(&app, WELCOME, "mallory").await;
    assert_eq!(
        params(&location, '#')["error_code"],
        "email_exists",
        "{location}"
    );
}

#[sqlx::test(migrations = false)]
async fn an_unverified_address_opens_no_account_when_confirmation_is_required(db: PgPool) {
    let oidc = Oidc::start().await;
    let app = oidc_app(
        &db,
        &oidc.providers_setting("acme"),
        &["--email-confirmation-required"],
    )
    .await;
    let location = sign_in(&app, WELCOME, "mallory").await;
    assert_eq!(
        params(&location, '#')["error_code"],
        "provider_email_needs_verification",
        "{location}"
    );
    assert_eq!(user_count(&app).await, 0);
    // A verified address opens one at once.
    let location = sign_in(&app, WELCOME, "alice").await;
    assert!(location.contains("access_token="), "{location}");
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
