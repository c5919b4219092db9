//! External sign-in against a real OpenID Connect provider (node-oidc-provider, started by
//! the tests): the browser flow over HTTP through the provider's own login form, PKCE and
//! implicit, and every way the flow can be tampered with; linking rules (`linking`) and
//! the tokens of providers (`tokens`) beside it. Here, the helpers they share.

mod linking;
mod tokens;

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
    TestApp,
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
pub(crate) fn params(location: &str, sep: char) -> HashMap<String, String> {
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
