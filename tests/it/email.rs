//! Accounts by email, end to end over a real SMTP server: every message is read as received
//! and its link or code used exactly as a user would.

use std::collections::HashMap;

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::common::{self, smtp::Smtp, str_of, TestApp, PASSWORD};

pub(crate) const SITE: &str = "https://app.example.com";

pub(crate) async fn mail_app(db: &PgPool, smtp: &Smtp, extra: &[&str]) -> TestApp {
    let port = smtp.port.to_string();
    let mut args = vec![
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        &port,
        "--smtp-tls",
        "none",
        "--site-url",
        SITE,
        "--public-url",
        "http://auth.test",
    ];
    args.extend_from_slice(extra);
    common::app(db, &args).await
}

/// The value of a hidden input of the verification page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("{name} in {html}"))
        + marker.len();
    let value = &html[at..at + html[at..].find('"').unwrap()];
    unescape(value)
}

/// Undoes HTML escaping of an attribute value (as a browser reads it).
fn unescape(value: &str) -> String {
    value
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Follows an email link like a browser: the page (which uses nothing), then its button.
/// Returns the `Location` the button's POST redirects to.
pub(crate) async fn follow(app: &TestApp, link: &str) -> String {
    let path = link
        .strip_prefix("http://auth.test")
        .expect("a link to this server");
    let page = app
        .request(Request::get(path).body(Body::empty()).unwrap())
        .await;
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    let html = page.body.as_str().unwrap().to_owned();
    assert!(page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    let form = serde_urlencoded::to_string([
        ("token", hidden(&html, "token")),
        ("type", hidden(&html, "type")),
        ("redirect_to", hidden(&html, "redirect_to")),
    ])
    .unwrap();
    let res = app.form("/verify", &form).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{res:?}");
    res.headers[header::LOCATION].to_str().unwrap().to_owned()
}

/// The page behind email links: built from its template (replaceable, and there with the
/// hosted pages turned off), escaping whatever the URL carries.
#[sqlx::test(migrations = false)]
async fn the_link_page_escapes_what_the_url_carries(db: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let app = common::app(&db, &["--disable-ui"]).await;
    let evil = "\"><script>alert(1)</script>";
    let query = serde_urlencoded::to_string([
        ("token", evil),
        ("type", "recovery"),
        ("redirect_to", "https://app.example.com/a?b=1&c='2'"),
    ])
    .unwrap();
    let page = get(&app, &format!("/verify?{query}")).await;
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    let html = page.body.as_str().unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("<button type=\"submit\">Continue to reset your password</button>"));
    assert_eq!(hidden(html, "token"), evil);
    assert_eq!(
        hidden(html, "redirect_to"),
        "https://app.example.com/a?b=1&c='2'"
    );
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");

    let page = get(&app, "/verify?type=signup").await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let html = page.body.as_str().unwrap();
    assert!(html.contains("<h1>This link is incomplete</h1>") && !html.contains("<form"));

    std::fs::write(
        dir.path().join("verify.html"),
        "<p>{{ app_name }}: {{ title }} {{ link.token }}</p>",
    )
    .unwrap();
    let dir_arg = dir.path().to_str().unwrap();
    let app = common::app(&db, &["--ui-templates-dir", dir_arg]).await;
    let page = get(&app, "/verify?type=signup&token=t1").await;
    assert_eq!(
        page.body.as_str().unwrap(),
        "<p>Your account: Confirm your email address t1</p>"
    );
}

async fn get(app: &TestApp, path: &str) -> common::Response {
    app.request(Request::get(path).body(Body::empty()).unwrap())
        .await
}

/// The parameters after `#` (or `?` when `query`) of a redirect.
pub(crate) fn params(location: &str, sep: char) -> HashMap<String, String> {
    let tail = location.split_once(sep).map(|(_, t)| t).unwrap_or("");
    serde_urlencoded::from_str::<Vec<(String, String)>>(tail)
        .unwrap()
        .into_iter()
        .collect()
}

async fn outbox(app: &TestApp) -> i64 {
    hasura_jwt_auth::store::outbox::pending(&app.pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = false)]
async fn sign_up_confirmation_by_link(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &["--email-confirmation-required"]).await;
    let res = app
        .post(
            "/signup?redirect_to=https%3A%2F%2Fapp.example.com%2Fwelcome",
            json!({"email": "new@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert!(res.body.get("access_token").is_none(), "no session yet");
    assert_eq!(res.body["email"], "new@example.com");
    assert!(res.body["email_confirmed_at"].is_null());
    let res = app.sign_in("new@example.com", PASSWORD).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["error_code"], "email_not_confirmed");

    let mail = smtp.wait("new@example.com", 1).await;
    assert_eq!(mail.subject, "Confirm your email address");
    assert!(mail.html.contains("Confirm your email address"));
    // Mail scanners fetch links: the page alone uses nothing.
    let link = mail.link();
    for _ in 0..3 {
        let page = app
            .request(
                Request::get(link.strip_prefix("http://auth.test").unwrap())
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(page.status, StatusCode::OK);
    }
    let location = follow(&app, &link).await;
    assert!(
        location.starts_with("https://app.example.com/welcome#"),
        "{location}"
    );
    let p = params(&location, '#');
    assert_eq!(p["type"], "signup");
    assert_eq!(p["token_type"], "bearer");
    let me = app
        .call(Method::GET, "/user", Some(&p["access_token"]), None)
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert!(me.body["email_confirmed_at"].is_string());
    assert_eq!(
        me.body["identities"][0]["identity_data"]["email_verified"],
        true
    );
    assert_eq!(
        app.refresh(&p["refresh_token"]).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.sign_in("new@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
    // Used once: the same link again is refused.
    let again = follow(&app, &link).await;
    let p = params(&again, '#');
    assert_eq!(p["error_code"], "otp_expired", "{again}");
    // Delivered messages leave nothing in the outbox (their bodies hold tokens).
    assert_eq!(outbox(&app).await, 0);
}

#[sqlx::test(migrations = false)]
async fn sign_up_with_a_taken_address_answers_the_same(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &["--email-confirmation-required"]).await;
    let body = json!({"email": "twice@example.com", "password": PASSWORD});
    let first = app.post("/signup", body.clone()).await;
    smtp.wait("twice@example.com", 1).await;
    // Past the per-address interval, the second sign-up of the (unconfirmed) address.
    sqlx::query("UPDATE email_send_limits SET last_sent_at = now() - interval '2 minutes'")
        .execute(&app.pool)
        .await
        .unwrap();
    let second = app.post("/signup", body).await;
    assert_eq!(second.status, StatusCode::OK, "{second:?}");
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&first.body), keys(&second.body), "same shape");
    assert_ne!(
        first.body["id"], second.body["id"],
        "nothing about the real account"
    );
    // The owner gets the confirmation again; the newest link is the one that works.
    let newest = smtp.wait("twice@example.com", 2).await;
    let old = smtp.to("twice@example.com")[0].clone();
    let p = params(&follow(&app, &old.link()).await, '#');
    assert_eq!(
        p["error_code"], "otp_expired",
        "a new token voids the old one"
    );
    let p = params(&follow(&app, &newest.link()).await, '#');
    assert!(p.contains_key("access_token"));
}

#[sqlx::test(migrations = false)]
async fn password_recovery_by_code_then_new_password(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &[]).await;
    let s = app.signup("forgot@example.com").await;
    let other_device = app.sign_in("forgot@example.com", PASSWORD).await;
    assert_eq!(other_device.status, StatusCode::OK);
    // Known and unknown addresses: the same answer.
    for email in ["forgot@example.com", "nobody@example.com"] {
        let res = app.post("/recover", json!({"email": email})).await;
        assert_eq!((res.status, res.body.clone()), (StatusCode::OK, json!({})));
    }
    let mail = smtp.wait("forgot@example.com", 1).await;
    assert_eq!(mail.subject, "Reset your password");
    // A wrong code, then the right one (auth-js verifyOtp with email and token).
    let wrong = app
        .post(
            "/verify",
            json!({"type": "recovery", "email": "forgot@example.com", "token": "000000"}),
        )
        .await;
    if mail.code() != "000000" {
        assert_eq!(wrong.status, StatusCode::FORBIDDEN);
        assert_eq!(wrong.body["error_code"], "otp_expired");
    }
    let res = app
        .post(
            "/verify",
            json!({"type": "recovery", "email": "Forgot@Example.com", "token": mail.code()}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let at = str_of(&res.body, "access_token").to_owned();
    // The recovery session sets a password without the old one, and ends the others.
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(&at),
            Some(json!({"password": "a brand new password"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(
        app.refresh(str_of(&other_device.body, "refresh_token"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.refresh(str_of(&s.body, "refresh_token")).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.sign_in("forgot@example.com", "a brand new password")
            .await
            .status,
        StatusCode::OK
    );
    // The code worked once.
    let res = app
        .post(
            "/verify",
            json!({"type": "recovery", "email": "forgot@example.com", "token": mail.code()}),
        )
        .await;
    assert_eq!(res.body["error_code"], "otp_expired");
    assert!(smtp.to("nobody@example.com").is_empty());
}

#[sqlx::test(migrations = false)]
async fn codes_are_void_after_a_few_wrong_tries(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &["--email-code-attempts", "3"]).await;
    app.signup("brute@example.com").await;
    app.post("/otp", json!({"email": "brute@example.com"}))
        .await;
    let code = smtp.wait("brute@example.com", 1).await.code();
    let wrong = if code == "111111" { "222222" } else { "111111" };
    for _ in 0..3 {
        let res = app
            .post(
                "/verify",
                json!({"type": "email", "email": "brute@example.com", "token": wrong}),
            )
            .await;
        assert_eq!(res.body["error_code"], "otp_expired");
    }
    let res = app
        .post(
            "/verify",
            json!({"type": "email", "email": "brute@example.com", "token": code}),
        )
        .await;
    assert_eq!(
        res.body["error_code"], "otp_expired",
        "void after 3 wrong tries"
    );
}

#[sqlx::test(migrations = false)]
async fn sign_in_links_and_codes(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &[]).await;
    // An unknown address without create_user: same answer, no message, no account.
    let res = app
        .post(
            "/otp",
            json!({"email": "ghost@example.com", "create_user": false}),
        )
        .await;
    assert_eq!((res.status, res.body.clone()), (StatusCode::OK, json!({})));
    // With create_user (the default), the account is created and confirmed by the link.
    let res = app
        .post(
            "/otp",
            json!({"email": "fresh@example.com", "data": {"plan": "free"}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let mail = smtp.wait("fresh@example.com", 1).await;
    assert_eq!(mail.subject, "Your sign-in link");
    // auth-js's verifyOtp({type, token_hash}) with the link's token.
    let token = params(&mail.link(), '?')["token"].clone();
    let res = app
        .post("/verify", json!({"type": "magiclink", "token_hash": token}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.body["user"]["user_metadata"]["plan"], "free");
    assert!(res.body["user"]["email_confirmed_at"].is_string());
    // A token of another kind is not accepted for this type.
    let res = app
        .post("/verify", json!({"type": "recovery", "token_hash": token}))
        .await;
    assert_eq!(res.body["error_code"], "otp_expired");
    assert!(smtp.to("ghost@example.com").is_empty());
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE email = 'ghost@example.com'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[sqlx::test(migrations = false)]
async fn expired_links_and_codes_are_refused(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &[]).await;
    app.signup("late@example.com").await;
    app.post("/recover", json!({"email": "late@example.com"}))
        .await;
    let mail = smtp.wait("late@example.com", 1).await;
    sqlx::query(
        "UPDATE one_time_tokens SET expires_at = now() - interval '1 second',
                code_expires_at = now() - interval '1 second'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let res = app
        .post(
            "/verify",
            json!({"type": "recovery", "email": "late@example.com", "token": mail.code()}),
        )
        .await;
    assert_eq!(res.body["error_code"], "otp_expired");
    let location = follow(&app, &mail.link()).await;
    assert!(location.starts_with(SITE), "{location}");
    assert_eq!(params(&location, '#')["error_code"], "otp_expired");
}

#[sqlx::test(migrations = false)]
async fn links_lead_only_to_allowed_places(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &["--redirect-urls", "http://localhost:3000/**"]).await;
    app.signup("a@example.com").await;
    app.signup("b@example.com").await;
    app.post(
        "/otp?redirect_to=https%3A%2F%2Fevil.example%2Fsteal",
        json!({"email": "a@example.com"}),
    )
    .await;
    app.post(
        "/otp?redirect_to=http%3A%2F%2Flocalhost%3A3000%2Fcallback",
        json!({"email": "b@example.com"}),
    )
    .await;
    let evil = follow(&app, &smtp.wait("a@example.com", 1).await.link()).await;
    assert!(evil.starts_with("https://app.example.com#"), "{evil}");
    let allowed = follow(&app, &smtp.wait("b@example.com", 1).await.link()).await;
    assert!(
        allowed.starts_with("http://localhost:3000/callback#"),
        "{allowed}"
    );
}

#[sqlx::test(migrations = false)]
async fn pkce_clients_get_a_code_to_exchange(db: PgPool) {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
    use sha2::{Digest, Sha256};
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &[]).await;
    app.signup("pkce@example.com").await;
    let verifier = "a-code-verifier-that-is-long-enough-0123456789abcdef";
    let challenge = B64.encode(Sha256::digest(verifier.as_bytes()));
    let res = app
        .post(
            "/recover",
            json!({"email": "pkce@example.com", "code_challenge": challenge,
                   "code_challenge_method": "s256"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let location = follow(&app, &smtp.wait("pkce@example.com", 1).await.link()).await;
    assert!(!location.contains("access_token"), "{location}");
    let code = params(&location, '?')["code"].clone();
    let exchange = |verifier: &str| {
        let body = json!({"auth_code": code, "code_verifier": verifier});
        app.post("/token?grant_type=pkce", body)
    };
    let wrong = exchange("another-verifier-that-is-also-long-enough-0123456789").await;
    assert_eq!(wrong.body["error_code"], "bad_code_verifier");
    // A code is spent by any exchange: the right verifier now comes too late.
    let late = exchange(verifier).await;
    assert_eq!(late.body["error_code"], "flow_state_not_found");

    // Again, with the right verifier first.
    sqlx::query("UPDATE email_send_limits SET last_sent_at = now() - interval '2 minutes'")
        .execute(&app.pool)
        .await
        .unwrap();
    app.post(
        "/recover",
        json!({"email": "pkce@example.com", "code_challenge": challenge,
               "code_challenge_method": "s256"}),
    )
    .await;
    let location = follow(&app, &smtp.wait("pkce@example.com", 2).await.link()).await;
    let code = params(&location, '?')["code"].clone();
    let res = app
        .post(
            "/token?grant_type=pkce",
            json!({"auth_code": code, "code_verifier": verifier}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.body["user"]["email"], "pkce@example.com");
}

pub(crate) async fn clear_send_limits(app: &TestApp) {
    sqlx::query("DELETE FROM email_send_limits")
        .execute(&app.pool)
        .await
        .unwrap();
}

#[sqlx::test(migrations = false)]
async fn email_change_needs_the_new_address_confirmed(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &["--secure-email-change=false"]).await;
    let s = app.signup("old@example.com").await;
    let at = str_of(&s.body, "access_token").to_owned();
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(&at),
            Some(json!({"email": "New@Example.com"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(
        res.body["email"], "old@example.com",
        "unchanged until confirmed"
    );
    assert_eq!(res.body["new_email"], "new@example.com");
    let mail = smtp.wait("new@example.com", 1).await;
    assert_eq!(mail.subject, "Confirm your new email address");
    assert!(mail.text.contains("old@example.com") && mail.text.contains("new@example.com"));
    assert!(smtp.to("old@example.com").is_empty(), "not secure mode");
    let p = params(&follow(&app, &mail.link()).await, '#');
    assert_eq!(p["type"], "email_change");
    // The old address is told, with no link or code in the message.
    let notice = smtp.wait("old@example.com", 1).await;
    assert_eq!(notice.subject, "Your email address was changed");
    assert!(notice
        .text
        .contains("from old@example.com to new@example.com"));
    assert!(!notice.text.contains("/verify?"));
    let me = app
        .call(Method::GET, "/user", Some(&p["access_token"]), None)
        .await;
    assert_eq!(me.body["email"], "new@example.com");
    assert!(me.body.get("new_email").is_none());
    assert_eq!(
        app.sign_in("new@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
    let changed: Value =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE event = 'email_changed'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        changed,
        json!({"from": "old@example.com", "to": "new@example.com"})
    );
    // An address someone has is refused.
    app.signup("taken@example.com").await;
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(&at),
            Some(json!({"email": "taken@example.com"})),
        )
        .await;
    assert_eq!(res.body["error_code"], "email_exists");
}

#[sqlx::test(migrations = false)]
async fn secure_email_change_needs_both_addresses(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &["--secure-email-change"]).await;
    let s = app.signup("current@example.com").await;
    let at = str_of(&s.body, "access_token").to_owned();
    app.call(
        Method::PUT,
        "/user",
        Some(&at),
        Some(json!({"email": "next@example.com"})),
    )
    .await;
    let to_new = smtp.wait("next@example.com", 1).await;
    let to_current = smtp.wait("current@example.com", 1).await;
    // The new address alone is not enough ...
    let first = follow(&app, &to_new.link()).await;
    assert!(first.contains("message="), "{first}");
    let me = app.call(Method::GET, "/user", Some(&at), None).await;
    assert_eq!(me.body["email"], "current@example.com");
    // ... the current one completes it (here by code, as verifyOtp sends it).
    let res = app
        .post(
            "/verify",
            json!({"type": "email_change", "email": "current@example.com", "token": to_current.code()}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.body["user"]["email"], "next@example.com");
}

#[sqlx::test(migrations = false)]
async fn messages_survive_an_smtp_outage(db: PgPool) {
    use crate::common::proxy::Proxy;
    let smtp = Smtp::start();
    let proxy = Proxy::start(("127.0.0.1".to_owned(), smtp.port)).await;
    let port = proxy.port.to_string();
    let app = common::app(
        &db,
        &[
            "--smtp-host",
            "127.0.0.1",
            "--smtp-port",
            &port,
            "--smtp-tls",
            "none",
            "--smtp-retry-interval",
            "1s",
            "--site-url",
            SITE,
            "--public-url",
            "http://auth.test",
        ],
    )
    .await;
    app.signup("patient@example.com").await;
    proxy.cut();
    let res = app
        .post("/recover", json!({"email": "patient@example.com"}))
        .await;
    assert_eq!(res.status, StatusCode::OK, "accepted while SMTP is down");
    // Tried and kept.
    let mut attempts = 0;
    for _ in 0..100 {
        attempts = sqlx::query_scalar::<_, i32>("SELECT coalesce(max(attempts), 0) FROM outbox")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        if attempts > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(attempts > 0, "a failed attempt was recorded");
    assert_eq!(outbox(&app).await, 1);
    assert!(smtp.to("patient@example.com").is_empty());
    // SMTP back: the retry delivers it, and nothing stays behind.
    proxy.restore();
    let mail = smtp.wait("patient@example.com", 1).await;
    assert_eq!(mail.subject, "Reset your password");
    for _ in 0..100 {
        if outbox(&app).await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(outbox(&app).await, 0);
}

#[sqlx::test(migrations = false)]
async fn a_queued_message_is_sent_by_the_next_instance(db: PgPool) {
    use hasura_jwt_auth::{app::App, auth::keys::KeySet, config::Config, store};
    let smtp = Smtp::start();
    let port = smtp.port.to_string();
    let args = [
        "--jwt-secret",
        common::SECRET,
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        &port,
        "--smtp-tls",
        "none",
    ];
    // An instance without a delivery worker, as one killed right after answering.
    let pool = store::connect_with(common::options(&db), "auth", 4)
        .await
        .unwrap();
    store::migrate(&pool, "auth").await.unwrap();
    let config = Config::from_args(args).unwrap();
    let keys = KeySet::load(&config.keys).unwrap();
    let first = App::from_parts(config, pool, keys).unwrap();
    let client = hasura_jwt_auth::client::Client::default();
    first
        .auth
        .request_sign_in_link(
            hasura_jwt_auth::auth::email::SignInLinkRequest {
                email: "queued@example.com".into(),
                create_user: true,
                ..Default::default()
            },
            &client,
        )
        .await
        .unwrap();
    drop(first);
    assert!(smtp.to("queued@example.com").is_empty());
    // Another instance starts: its worker delivers what the first one accepted.
    let _second = mail_app(&db, &smtp, &[]).await;
    let mail = smtp.wait("queued@example.com", 1).await;
    assert_eq!(mail.subject, "Your sign-in link");
}

#[sqlx::test(migrations = false)]
async fn sending_is_limited_per_recipient_and_per_client(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(
        &db,
        &smtp,
        &["--email-hourly-limit", "2", "--rate-limit-email", "5"],
    )
    .await;
    app.signup("flood@example.com").await;
    let recover = || app.post("/recover", json!({"email": "flood@example.com"}));
    assert_eq!(recover().await.status, StatusCode::OK);
    // Within a minute of the last message: refused, with when to retry.
    let res = recover().await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{res:?}");
    assert_eq!(res.body["error_code"], "over_email_send_rate_limit");
    let retry: u64 = res.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // The same for an address without an account: nothing to learn from it.
    assert_eq!(
        app.post("/recover", json!({"email": "none@example.com"}))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.post("/recover", json!({"email": "none@example.com"}))
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The hourly cap holds past the interval.
    sqlx::query("UPDATE email_send_limits SET last_sent_at = now() - interval '2 minutes'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(recover().await.status, StatusCode::OK);
    sqlx::query("UPDATE email_send_limits SET last_sent_at = now() - interval '2 minutes'")
        .execute(&app.pool)
        .await
        .unwrap();
    let res = recover().await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "over 2 an hour");
    assert_eq!(
        smtp.wait("flood@example.com", 2).await.subject,
        "Reset your password"
    );
    // Per client address (5 an hour here), whatever the recipients.
    clear_send_limits(&app).await;
    let from = |n: u32| {
        common::from_peer(
            [198, 51, 100, 20],
            Request::post("/recover")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({"email": format!("r{n}@example.com")}).to_string(),
                ))
                .unwrap(),
        )
    };
    for n in 0..5 {
        assert_eq!(app.request(from(n)).await.status, StatusCode::OK);
    }
    assert_eq!(
        app.request(from(5)).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[sqlx::test(migrations = false)]
async fn admins_generate_links_and_invite(db: PgPool) {
    const ADMIN: &str = "admin-secret-admin-secret-admin-secret";
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &["--admin-secret", ADMIN]).await;
    app.signup("member@example.com").await;
    let res = app
        .call(
            Method::POST,
            "/admin/generate_link",
            Some(ADMIN),
            Some(json!({"type": "recovery", "email": "member@example.com",
                        "redirect_to": "https://app.example.com/reset"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.body["email"], "member@example.com");
    assert_eq!(res.body["verification_type"], "recovery");
    assert_eq!(res.body["redirect_to"], "https://app.example.com/reset");
    assert_eq!(res.body["email_otp"].as_str().unwrap().len(), 6);
    assert!(smtp.all().is_empty(), "generate_link sends nothing");
    let link = str_of(&res.body, "action_link").to_owned();
    assert!(link.contains(str_of(&res.body, "hashed_token")));
    let location = follow(&app, &link).await;
    assert!(
        location.starts_with("https://app.example.com/reset#access_token="),
        "{location}"
    );
    // Without the admin secret: nothing.
    let res = app
        .post(
            "/admin/generate_link",
            json!({"type": "recovery", "email": "member@example.com"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);

    // An invitation: the account, the message, and accepting it signs in.
    let res = app
        .call(
            Method::POST,
            "/invite",
            Some(ADMIN),
            Some(json!({"email": "guest@example.com"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert!(res.body["invited_at"].is_string());
    let mail = smtp.wait("guest@example.com", 1).await;
    assert_eq!(mail.subject, "You have been invited");
    let p = params(&follow(&app, &mail.link()).await, '#');
    assert_eq!(p["type"], "invite");
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(&p["access_token"]),
            Some(json!({"password": "my own password"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(
        app.sign_in("guest@example.com", "my own password")
            .await
            .status,
        StatusCode::OK
    );
}

#[sqlx::test(migrations = false)]
async fn without_smtp_messages_go_to_the_log(db: PgPool) {
    let app = common::app(&db, &[]).await;
    app.signup("dev@example.com").await;
    let res = app
        .post("/recover", json!({"email": "dev@example.com"}))
        .await;
    assert_eq!(res.status, StatusCode::OK);
    // Written to the log (development) rather than kept waiting for an SMTP server.
    for _ in 0..100 {
        if outbox(&app).await == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the message stayed in the outbox");
}

#[sqlx::test(migrations = false)]
async fn hasura_actions_request_and_verify(db: PgPool) {
    const ACTIONS: &str = "actions-secret-for-tests-0123456789abcdef";
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &["--hasura-actions-secret", ACTIONS]).await;
    app.signup("graph@example.com").await;
    let call = |name: &str, input: Value| {
        let body = json!({"action": {"name": name}, "input": input,
                          "session_variables": {"x-hasura-role": "anonymous"}});
        Request::post("/hasura/actions")
            .header(header::CONTENT_TYPE, "application/json")
            .header(
                hasura_jwt_auth::hasura_config::ACTIONS_SECRET_HEADER,
                ACTIONS,
            )
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let res = app
        .request(call(
            "requestSignInLink",
            json!({"email": "graph@example.com"}),
        ))
        .await;
    assert_eq!(res.body, json!({"ok": true}), "{res:?}");
    let code = smtp.wait("graph@example.com", 1).await.code();
    let res = app
        .request(call(
            "verifyEmailToken",
            json!({"type": "email", "email": "graph@example.com", "token": code}),
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.body["email"], "graph@example.com");
    assert!(res.body["access_token"].is_string());
    // Used: the same code again is an action error.
    let res = app
        .request(call(
            "verifyEmailToken",
            json!({"type": "email", "email": "graph@example.com", "token": code}),
        ))
        .await;
    assert_eq!(res.body["extensions"]["code"], "otp_expired");
}

#[sqlx::test(migrations = false)]
async fn resend_sends_what_is_pending_and_nothing_else(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(
        &db,
        &smtp,
        &[
            "--email-confirmation-required",
            "--secure-email-change=false",
        ],
    )
    .await;
    app.post(
        "/signup",
        json!({"email": "pending@example.com", "password": PASSWORD}),
    )
    .await;
    smtp.wait("pending@example.com", 1).await;
    clear_send_limits(&app).await;
    for email in ["pending@example.com", "unknown@example.com"] {
        let res = app
            .post("/resend", json!({"type": "signup", "email": email}))
            .await;
        assert_eq!(
            (res.status, res.body.clone()),
            (StatusCode::OK, json!({})),
            "{email}"
        );
    }
    let again = smtp.wait("pending@example.com", 2).await;
    assert_eq!(again.subject, "Confirm your email address");
    assert!(smtp.to("unknown@example.com").is_empty());
    // Confirmed: nothing more to resend, same answer.
    follow(&app, &again.link()).await;
    clear_send_limits(&app).await;
    let res = app
        .post(
            "/resend",
            json!({"type": "signup", "email": "pending@example.com"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    // An email change waiting for its confirmation is resent to the new address.
    let at = str_of(
        &app.sign_in("pending@example.com", PASSWORD).await.body,
        "access_token",
    )
    .to_owned();
    app.call(
        Method::PUT,
        "/user",
        Some(&at),
        Some(json!({"email": "moved@example.com"})),
    )
    .await;
    smtp.wait("moved@example.com", 1).await;
    clear_send_limits(&app).await;
    let res = app
        .post(
            "/resend",
            json!({"type": "email_change", "email": "pending@example.com"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let resent = smtp.wait("moved@example.com", 2).await;
    assert_eq!(resent.subject, "Confirm your new email address");
    assert_eq!(
        smtp.to("pending@example.com").len(),
        2,
        "nothing more to the old address"
    );
    let res = app
        .post(
            "/resend",
            json!({"type": "recovery", "email": "pending@example.com"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrations = false)]
async fn a_secure_change_cannot_skip_the_current_address(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &["--secure-email-change"]).await;
    let s = app.signup("owner@example.com").await;
    // A thief with the owner's access token asks for their own address ...
    let at = str_of(&s.body, "access_token").to_owned();
    app.call(
        Method::PUT,
        "/user",
        Some(&at),
        Some(json!({"email": "thief@example.com"})),
    )
    .await;
    let to_thief = smtp.wait("thief@example.com", 1).await;
    smtp.wait("owner@example.com", 1).await;
    // ... burns the owner's code with wrong guesses ...
    for _ in 0..6 {
        app.post(
            "/verify",
            json!({"type": "email_change", "email": "owner@example.com", "token": "000001"}),
        )
        .await;
    }
    sqlx::query("DELETE FROM sign_in_attempts")
        .execute(&app.pool)
        .await
        .unwrap();
    // ... and confirms the new address: not enough, the owner has not confirmed.
    let location = follow(&app, &to_thief.link()).await;
    assert!(location.contains("message="), "{location}");
    let me = app.call(Method::GET, "/user", Some(&at), None).await;
    assert_eq!(me.body["email"], "owner@example.com");
}

#[sqlx::test(migrations = false)]
async fn a_pre_registered_address_loses_the_squatter_s_password(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &["--email-confirmation-required"]).await;
    // Someone registers the victim's address with their own password, never confirming it.
    app.post(
        "/signup",
        json!({"email": "victim@example.com", "password": "squatter password"}),
    )
    .await;
    smtp.wait("victim@example.com", 1).await;
    clear_send_limits(&app).await;
    // The owner later signs in with a link: the address is proven, the squatter's password
    // is gone with it.
    app.post("/otp", json!({"email": "victim@example.com"}))
        .await;
    let mail = smtp.wait("victim@example.com", 2).await;
    let p = params(&follow(&app, &mail.link()).await, '#');
    assert!(p.contains_key("access_token"), "{p:?}");
    let res = app.sign_in("victim@example.com", "squatter password").await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["error_code"], "invalid_credentials");
}

#[sqlx::test(migrations = false)]
async fn changing_the_address_voids_what_was_sent_to_the_old_one(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &["--secure-email-change=false"]).await;
    let s = app.signup("before@example.com").await;
    let at = str_of(&s.body, "access_token").to_owned();
    app.post("/recover", json!({"email": "before@example.com"}))
        .await;
    let recovery = smtp.wait("before@example.com", 1).await;
    app.call(
        Method::PUT,
        "/user",
        Some(&at),
        Some(json!({"email": "after@example.com"})),
    )
    .await;
    follow(&app, &smtp.wait("after@example.com", 1).await.link()).await;
    let res = app
        .post(
            "/verify",
            json!({"type": "recovery", "email": "before@example.com", "token": recovery.code()}),
        )
        .await;
    assert_eq!(res.body["error_code"], "otp_expired");
    let p = params(&follow(&app, &recovery.link()).await, '#');
    assert_eq!(p["error_code"], "otp_expired");
}

#[sqlx::test(migrations = false)]
async fn going_back_to_the_current_address_cancels_a_change(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &[]).await;
    let s = app.signup("stay@example.com").await;
    let at = str_of(&s.body, "access_token").to_owned();
    app.call(
        Method::PUT,
        "/user",
        Some(&at),
        Some(json!({"email": "go@example.com"})),
    )
    .await;
    let mail = smtp.wait("go@example.com", 1).await;
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(&at),
            Some(json!({"email": "stay@example.com"})),
        )
        .await;
    assert!(res.body.get("new_email").is_none(), "{res:?}");
    let p = params(&follow(&app, &mail.link()).await, '#');
    assert_eq!(p["error_code"], "otp_expired");
    let me = app.call(Method::GET, "/user", Some(&at), None).await;
    assert_eq!(me.body["email"], "stay@example.com");
}

#[sqlx::test(migrations = false)]
async fn another_site_cannot_submit_the_link_form(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &[]).await;
    app.signup("csrf@example.com").await;
    app.post("/recover", json!({"email": "csrf@example.com"}))
        .await;
    let link = smtp.wait("csrf@example.com", 1).await.link();
    let token = params(&link, '?')["token"].clone();
    let form =
        serde_urlencoded::to_string([("token", token.as_str()), ("type", "recovery")]).unwrap();
    let res = app
        .request(
            Request::post("/verify")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::ORIGIN, "https://evil.example")
                .header("sec-fetch-site", "cross-site")
                .body(Body::from(form))
                .unwrap(),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    // The token is still there for its owner.
    let p = params(&follow(&app, &link).await, '#');
    assert!(p.contains_key("access_token"));
}

#[sqlx::test(migrations = false)]
async fn smtp_with_starttls_and_authentication(db: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let smtp = Smtp::start_tls(dir.path(), "mailer", "mail password");
    let port = smtp.port.to_string();
    let ca = dir.path().join("cert.pem");
    let ca = ca.to_str().unwrap();
    let base = [
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        &port,
        "--smtp-tls",
        "starttls",
        "--smtp-ca-file",
        ca,
        "--smtp-user",
        "mailer",
        "--smtp-retry-interval",
        "1s",
    ];
    // Right credentials, the server's certificate trusted: delivered over TLS.
    let mut args = base.to_vec();
    args.extend(["--smtp-pass", "mail password"]);
    let app = common::app(&db, &args).await;
    app.signup("tls@example.com").await;
    app.post("/recover", json!({"email": "tls@example.com"}))
        .await;
    assert_eq!(
        smtp.wait("tls@example.com", 1).await.subject,
        "Reset your password"
    );

    // Wrong password: refused by the server, kept for a retry.
    let mut args = base.to_vec();
    args.extend(["--smtp-pass", "wrong password"]);
    let wrong = common::app(&db, &args).await;
    clear_send_limits(&wrong).await;
    wrong
        .post("/recover", json!({"email": "tls@example.com"}))
        .await;
    for _ in 0..100 {
        let error: Option<String> = sqlx::query_scalar("SELECT last_error FROM outbox")
            .fetch_optional(&wrong.pool)
            .await
            .unwrap()
            .flatten();
        if let Some(error) = error {
            assert!(!error.contains("wrong password"), "no secret in {error}");
            assert_eq!(smtp.to("tls@example.com").len(), 1);
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the failed attempt was not recorded");
}
