//! The guards of the email flows, through every door: reauthentication for an email change
//! and the notice to the old address; code guesses counted per client, per address and
//! towards the lockout, with no new attempts per new code; limits shared by instances; forms
//! and JSON from other sites refused in cookie mode.

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::{
    common::{self, from_peer, smtp::Smtp, str_of, TestApp, PASSWORD},
    email::{clear_send_limits, follow, mail_app, params},
};

const ACTIONS: &str = "actions-secret-for-tests-0123456789abcdef";

/// A call of Hasura action `name` from client address `ip`.
fn action(name: &str, input: Value, ip: [u8; 4]) -> Request<Body> {
    let body = json!({"action": {"name": name}, "input": input,
                      "session_variables": {"x-hasura-role": "anonymous"}});
    let req = Request::post("/hasura/actions")
        .header(header::CONTENT_TYPE, "application/json")
        .header(
            hasura_jwt_auth::hasura_config::ACTIONS_SECRET_HEADER,
            ACTIONS,
        )
        .body(Body::from(body.to_string()))
        .unwrap();
    from_peer(ip, req)
}

/// `POST /verify` with a code, from client address `ip`.
fn verify_code(email: &str, code: &str, ip: [u8; 4]) -> Request<Body> {
    let body = json!({"type": "email", "email": email, "token": code});
    let req = Request::post("/verify")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    from_peer(ip, req)
}

/// A code that is not `code`.
fn wrong(code: &str) -> &'static str {
    if code == "111111" {
        "222222"
    } else {
        "111111"
    }
}

/// Signs `email` up and has a sign-in code sent; the code.
async fn code_for(app: &TestApp, smtp: &Smtp, email: &str, nth: usize) -> String {
    if nth == 1 {
        app.signup(email).await;
    }
    clear_send_limits(app).await;
    let res = app.post("/otp", json!({"email": email})).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    smtp.wait(email, nth).await.code()
}

#[sqlx::test(migrations = false)]
async fn an_email_change_needs_reauthentication_and_tells_the_old_address(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &["--reauthentication-window", "10m"]).await;
    let s = app.signup("owner@example.com").await;
    let at = str_of(&s.body, "access_token").to_owned();
    // A stolen access token of a session signed in a while ago ...
    sqlx::query("UPDATE sessions SET created_at = now() - interval '11 minutes'")
        .execute(&app.pool)
        .await
        .unwrap();
    let change = |body: Value| app.call(Method::PUT, "/user", Some(&at), Some(body));
    let res = change(json!({"email": "thief@example.com"})).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    assert_eq!(res.body["error_code"], "reauthentication_needed");
    let res = change(json!({"email": "thief@example.com", "current_password": "guess"})).await;
    assert_eq!(res.body["error_code"], "invalid_credentials", "{res:?}");
    assert!(smtp.to("thief@example.com").is_empty(), "nothing was sent");
    // ... while the owner, who knows the password, may. Both addresses must confirm (secure
    // email change is the default).
    let res = change(json!({"email": "next@example.com", "current_password": PASSWORD})).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.body["new_email"], "next@example.com");
    let to_new = smtp.wait("next@example.com", 1).await;
    let to_current = smtp.wait("owner@example.com", 1).await;
    let location = follow(&app, &to_new.link()).await;
    assert!(location.contains("message="), "{location}");
    let me = app.call(Method::GET, "/user", Some(&at), None).await;
    assert_eq!(me.body["email"], "owner@example.com", "not yet");
    let p = params(&follow(&app, &to_current.link()).await, '#');
    assert!(p.contains_key("access_token"), "{p:?}");
    let notice = smtp.wait("owner@example.com", 2).await;
    assert_eq!(notice.subject, "Your email address was changed");
    assert!(
        notice.text.contains("to next@example.com"),
        "{}",
        notice.text
    );
}

#[sqlx::test(migrations = false)]
async fn wrong_codes_count_towards_the_lockout_through_every_door(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(
        &db,
        &smtp,
        &[
            "--account-lockout-threshold",
            "3",
            "--hasura-actions-secret",
            ACTIONS,
        ],
    )
    .await;
    let code = code_for(&app, &smtp, "locked@example.com", 1).await;
    for ip in [[10, 0, 0, 1], [10, 0, 0, 2]] {
        let res = app
            .request(verify_code("locked@example.com", wrong(&code), ip))
            .await;
        assert_eq!(res.body["error_code"], "otp_expired", "{res:?}");
    }
    let input = json!({"type": "email", "email": "locked@example.com", "token": wrong(&code)});
    let res = app
        .request(action("verifyEmailToken", input, [10, 0, 0, 3]))
        .await;
    assert_eq!(res.body["extensions"]["code"], "otp_expired", "{res:?}");
    // Three wrong codes from three addresses: the account is locked, for passwords too.
    let res = app.sign_in("locked@example.com", PASSWORD).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{res:?}");
    let res = app
        .request(verify_code("locked@example.com", &code, [10, 0, 0, 4]))
        .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{res:?}");
}

#[sqlx::test(migrations = false)]
async fn a_new_code_brings_no_new_attempts(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(
        &db,
        &smtp,
        &[
            "--email-code-attempts",
            "3",
            "--account-lockout-threshold",
            "0",
        ],
    )
    .await;
    let first = code_for(&app, &smtp, "brute@example.com", 1).await;
    for _ in 0..3 {
        app.request(verify_code(
            "brute@example.com",
            wrong(&first),
            [10, 0, 0, 1],
        ))
        .await;
    }
    // A new code, asked for by the guesser: no fresh tries with it.
    let second = code_for(&app, &smtp, "brute@example.com", 2).await;
    let res = app
        .request(verify_code("brute@example.com", &second, [10, 0, 0, 1]))
        .await;
    assert_eq!(res.body["error_code"], "otp_expired", "{res:?}");
    // The link of the new message still works for the owner.
    let link = smtp.to("brute@example.com")[1].link();
    let p = params(&follow(&app, &link).await, '#');
    assert!(p.contains_key("access_token"), "{p:?}");
}

#[sqlx::test(migrations = false)]
async fn code_guesses_are_bounded_per_address_whoever_guesses(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(
        &db,
        &smtp,
        &[
            "--email-code-guesses-per-hour",
            "4",
            "--account-lockout-threshold",
            "0",
            "--email-code-attempts",
            "20",
            "--hasura-actions-secret",
            ACTIONS,
        ],
    )
    .await;
    let code = code_for(&app, &smtp, "target@example.com", 1).await;
    for i in 1..=2u8 {
        app.request(verify_code(
            "target@example.com",
            wrong(&code),
            [10, 0, 1, i],
        ))
        .await;
        let input = json!({"type": "email", "email": "target@example.com", "token": wrong(&code)});
        app.request(action("verifyEmailToken", input, [10, 0, 2, i]))
            .await;
    }
    // Four guesses from four client addresses: the fifth is refused, even the right code.
    let res = app
        .request(verify_code("target@example.com", &code, [10, 0, 3, 1]))
        .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{res:?}");
    assert!(res.headers.contains_key(header::RETRY_AFTER));
    // Other addresses are not affected.
    let other = code_for(&app, &smtp, "other@example.com", 1).await;
    let res = app
        .request(verify_code("other@example.com", &other, [10, 0, 3, 1]))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
}

#[sqlx::test(migrations = false)]
async fn the_code_action_is_limited_per_client(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(
        &db,
        &smtp,
        &[
            "--rate-limit-sign-in",
            "2",
            "--hasura-actions-secret",
            ACTIONS,
        ],
    )
    .await;
    let input = json!({"type": "email", "email": "x@example.com", "token": "123456"});
    for _ in 0..2 {
        let res = app
            .request(action("verifyEmailToken", input.clone(), [10, 0, 0, 9]))
            .await;
        assert_eq!(res.body["extensions"]["code"], "otp_expired", "{res:?}");
    }
    let res = app
        .request(action("verifyEmailToken", input.clone(), [10, 0, 0, 9]))
        .await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{res:?}");
    assert_eq!(res.body["extensions"]["code"], "over_request_rate_limit");
    // Another client is not affected.
    let res = app
        .request(action("verifyEmailToken", input, [10, 0, 0, 10]))
        .await;
    assert_eq!(res.body["extensions"]["code"], "otp_expired", "{res:?}");
}

/// Two instances on one database enforce one email-request limit.
#[sqlx::test(migrations = false)]
async fn the_email_request_limit_is_shared_by_instances(db: PgPool) {
    let smtp = Smtp::start();
    let one = mail_app(&db, &smtp, &["--rate-limit-email", "2"]).await;
    let two = mail_app(&db, &smtp, &["--rate-limit-email", "2"]).await;
    let recover = |email: &str| {
        let body = json!({"email": email});
        from_peer(
            [10, 0, 0, 7],
            Request::post("/recover")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
    };
    assert_eq!(
        one.request(recover("a@example.com")).await.status,
        StatusCode::OK
    );
    assert_eq!(
        two.request(recover("b@example.com")).await.status,
        StatusCode::OK
    );
    let res = one.request(recover("c@example.com")).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{res:?}");
    let res = two.request(recover("d@example.com")).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{res:?}");
}

/// In cookie mode, neither a form (whatever the case of its media type) nor JSON from another
/// site can verify a token: either would plant the refresh cookie of the site's own account
/// (login CSRF). Through Hasura the same holds for `verifyEmailToken`.
#[sqlx::test(migrations = false)]
async fn verification_refuses_other_sites_in_cookie_mode(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(
        &db,
        &smtp,
        &[
            "--refresh-token-cookie",
            "--cors-origins",
            "https://app.example.com",
            "--hasura-actions-secret",
            ACTIONS,
        ],
    )
    .await;
    app.signup("csrf@example.com").await;
    app.post("/otp", json!({"email": "csrf@example.com"})).await;
    let mail = smtp.wait("csrf@example.com", 1).await;
    let token = params(&mail.link(), '?')["token"].clone();
    let post = |content_type: &str, body: String, origin: &str| {
        Request::post("/verify")
            .header(header::CONTENT_TYPE, content_type)
            .header(header::ORIGIN, origin)
            .body(Body::from(body))
            .unwrap()
    };
    let form =
        serde_urlencoded::to_string([("token", token.as_str()), ("type", "magiclink")]).unwrap();
    let json = json!({"type": "magiclink", "token_hash": token}).to_string();
    for req in [
        post(
            "Application/X-WWW-Form-Urlencoded",
            form.clone(),
            "https://evil.example",
        ),
        post(
            "application/x-www-form-urlencoded; charset=UTF-8",
            form,
            "https://evil.example",
        ),
        post("application/json", json.clone(), "https://evil.example"),
    ] {
        let res = app.request(req).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
        assert_eq!(res.body["error_code"], "cross_site_request");
        assert!(!res.headers.contains_key(header::SET_COOKIE));
    }
    let mut relayed = action(
        "verifyEmailToken",
        json!({"type": "magiclink", "token_hash": token}),
        [10, 0, 0, 1],
    );
    relayed.headers_mut().insert(
        "x-forwarded-origin",
        header::HeaderValue::from_static("https://evil.example"),
    );
    let res = app.request(relayed).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{res:?}");
    assert_eq!(res.body["extensions"]["code"], "cross_site_request");
    // The app's own origin may: the token was not used by the refused attempts.
    let res = app
        .request(post("application/json", json, "https://app.example.com"))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert!(res.headers.contains_key(header::SET_COOKIE));
    let _ = common::jwt_payload(str_of(&res.body, "access_token"));
}

/// The answer to a request for a message does the same work whether or not the address has
/// an account: it stores the request, which a worker carries out afterwards.
#[sqlx::test(migrations = false)]
async fn requests_for_messages_are_answered_before_the_work(db: PgPool) {
    let smtp = Smtp::start();
    let mut app = mail_app(&db, &smtp, &[]).await;
    app.signup("known@example.com").await;
    app.background.clear(); // no worker: see what the requests alone did
    let count = |table: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(&format!("SELECT count(*) FROM {table}"))
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    for (i, email) in ["known@example.com", "unknown@example.com"]
        .into_iter()
        .enumerate()
    {
        for path in ["/recover", "/otp"] {
            let body = match path {
                "/otp" => json!({"email": email, "create_user": false}),
                _ => json!({"email": email}),
            };
            let res = app.post(path, body).await;
            assert_eq!((res.status, res.body.clone()), (StatusCode::OK, json!({})));
            clear_send_limits(&app).await;
        }
        assert_eq!(count("email_requests").await, 2 * (i as i64 + 1));
        assert_eq!(
            count("one_time_tokens").await,
            0,
            "no work on the request path"
        );
        assert_eq!(count("outbox").await, 0);
    }
    // The worker writes to the account that exists, and to nobody else.
    let done = app.state.auth.carry_out_email_requests().await.unwrap();
    assert_eq!(done, 4);
    assert_eq!(count("email_requests").await, 0);
    assert_eq!(
        count("one_time_tokens").await,
        2,
        "a recovery and a sign-in link"
    );
    let recipients: Vec<String> = sqlx::query_scalar("SELECT recipient FROM outbox")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(recipients, ["known@example.com", "known@example.com"]);
}

/// The password policy answers in Supabase Auth's shape, through the API and the actions.
#[sqlx::test(migrations = false)]
async fn weak_passwords_are_refused_with_their_reasons(db: PgPool) {
    let app = common::app(
        &db,
        &[
            "--password-min-length",
            "12",
            "--password-required-characters",
            "abcdefghijklmnopqrstuvwxyz:0123456789",
            "--hasura-actions-secret",
            ACTIONS,
        ],
    )
    .await;
    for (password, reasons) in [
        ("short", json!(["length", "characters"])),
        ("long enough without digits", json!(["characters"])),
        ("2short", json!(["length"])),
    ] {
        let res = app
            .post(
                "/signup",
                json!({"email": "weak@example.com", "password": password}),
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{res:?}");
        assert_eq!(res.body["error_code"], "weak_password");
        assert_eq!(res.body["weak_password"]["reasons"], reasons, "{password}");
        assert!(res.body["weak_password"]["message"].is_string());
    }
    let input = json!({"email": "weak@example.com", "password": "short"});
    let res = app.request(action("signup", input, [10, 0, 0, 1])).await;
    assert_eq!(res.body["extensions"]["code"], "weak_password", "{res:?}");
    assert_eq!(
        res.body["extensions"]["reasons"],
        json!(["length", "characters"])
    );
    let res = app
        .post(
            "/signup",
            json!({"email": "strong@example.com", "password": "twelve chars 1"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    // The same rule for a new password.
    let at = str_of(&res.body, "access_token");
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(at),
            Some(json!({"password": "no digits at all"})),
        )
        .await;
    assert_eq!(
        res.body["weak_password"]["reasons"],
        json!(["characters"]),
        "{res:?}"
    );
}

/// In cookie mode every state-changing route a browser may call refuses a page of another
/// site before doing anything, whatever it is (so that no handler can forget the rule). The
/// routes come from the OpenAPI document; admin routes (the admin secret) and Hasura's
/// (server to server; the actions check the relayed origin themselves) are not the browser's.
#[sqlx::test(migrations = false)]
async fn every_browser_route_refuses_other_sites_in_cookie_mode(db: PgPool) {
    let app = common::app(
        &db,
        &[
            "--refresh-token-cookie",
            "--cors-origins",
            "https://app.example.com",
        ],
    )
    .await;
    let doc = app
        .call(Method::GET, "/openapi.json", None, None)
        .await
        .body;
    let mut refused = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if path.starts_with("/admin") || path.starts_with("/hasura") || path == "/invite" {
            continue;
        }
        // The OAuth provider's client endpoints take no cookie (the client's credentials or
        // a bearer token, in headers or the body) and are called by other sites' apps.
        if ["/oauth/token", "/oauth/revoke", "/oauth/userinfo"].contains(&path.as_str()) {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            let method: Method = method.to_uppercase().parse().unwrap();
            if matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
                continue;
            }
            let uri = path.replace("{id}", "00000000-0000-4000-8000-000000000000");
            for (content_type, body) in [
                ("application/json", "{}"),
                ("application/x-www-form-urlencoded", "a=b"),
            ] {
                let req = Request::builder()
                    .method(method.clone())
                    .uri(&uri)
                    .header(header::CONTENT_TYPE, content_type)
                    .header(header::ORIGIN, "https://evil.example")
                    .body(Body::from(body))
                    .unwrap();
                let res = app.request(req).await;
                assert_eq!(
                    res.status,
                    StatusCode::FORBIDDEN,
                    "{method} {uri} {content_type}: {res:?}"
                );
                assert_eq!(res.body["error_code"], "cross_site_request");
            }
            refused.push(format!("{method} {path}"));
        }
    }
    assert!(refused.len() >= 11, "{refused:?}");
}

/// Code guesses never wait for a second connection while holding one: on a pool of two, many
/// at once all get their answer (none a 503 for want of a connection).
#[sqlx::test(migrations = false)]
async fn code_guesses_cannot_starve_the_pool(db: PgPool) {
    use hasura_jwt_auth::{app::App, auth::keys::KeySet, config::Config, store};
    let config = Config::from_args([
        "--jwt-secret",
        common::SECRET,
        "--account-lockout-threshold",
        "1000",
        "--rate-limit-sign-in",
        "1000",
        "--email-code-guesses-per-hour",
        "1000",
    ])
    .unwrap();
    let keys = KeySet::load(&config.keys).unwrap();
    let pool = store::connect_with(common::options(&db), "auth", 2)
        .await
        .unwrap();
    store::migrate(&pool, "auth").await.unwrap();
    let state = App::from_parts(config, pool, keys).unwrap();
    let router = hasura_jwt_auth::http::router(state).unwrap();
    let guesses = (0..12).map(|i| {
        let router = router.clone();
        async move {
            use tower::ServiceExt;
            let email = format!("guess{i}@example.com");
            let res = router
                .oneshot(verify_code(&email, "123456", [10, 0, 0, 1]))
                .await
                .unwrap();
            res.status()
        }
    });
    let statuses = futures::future::join_all(guesses).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::FORBIDDEN),
        "{statuses:?}"
    );
}

/// Wrong codes counted against an expired token do not follow the next one.
#[sqlx::test(migrations = false)]
async fn attempts_start_again_once_the_earlier_token_expired(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(
        &db,
        &smtp,
        &[
            "--email-code-attempts",
            "3",
            "--account-lockout-threshold",
            "0",
        ],
    )
    .await;
    let first = code_for(&app, &smtp, "again@example.com", 1).await;
    for _ in 0..3 {
        app.request(verify_code(
            "again@example.com",
            wrong(&first),
            [10, 0, 0, 1],
        ))
        .await;
    }
    sqlx::query(
        "UPDATE one_time_tokens SET expires_at = now() - interval '1 second',
                code_expires_at = now() - interval '1 second'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let second = code_for(&app, &smtp, "again@example.com", 2).await;
    let res = app
        .request(verify_code("again@example.com", &second, [10, 0, 0, 1]))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
}

/// A sign-up refused for its password does not use up the address's allowance of messages.
#[sqlx::test(migrations = false)]
async fn a_refused_password_sends_nothing_and_counts_nothing(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &["--email-confirmation-required"]).await;
    let res = app
        .post(
            "/signup",
            json!({"email": "retry@example.com", "password": "short"}),
        )
        .await;
    assert_eq!(res.body["error_code"], "weak_password", "{res:?}");
    let res = app
        .post(
            "/signup",
            json!({"email": "retry@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    smtp.wait("retry@example.com", 1).await;
}
