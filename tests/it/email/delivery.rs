//! Delivery: messages survive an SMTP outage and a restart, sending is limited per recipient
//! and per client, resending sends only what is pending, no SMTP means the log, STARTTLS with
//! authentication.

use super::{clear_send_limits, follow, mail_app, outbox, SITE};
use crate::common::{self, smtp::Smtp, str_of, PASSWORD};
use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use serde_json::json;
use sqlx::PgPool;

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
