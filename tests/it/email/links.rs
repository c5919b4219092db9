//! Links and codes: the page behind a link, confirmation, sign-in, recovery, PKCE, expiry,
//! allowed destinations, wrong codes, links made by administrators, and the Hasura actions.

use super::{clear_send_limits, follow, get, hidden, mail_app, outbox, params, SITE};
use crate::common::{self, smtp::Smtp, str_of, PASSWORD};
use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use serde_json::{json, Value};
use sqlx::PgPool;

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
