//! Limits on sign-in attempts: per client address (from a trusted proxy, over TCP, per IPv6
//! /64) and per account across instances.

use crate::common::{self, str_of, PASSWORD};
use axum::{
    body::Body,
    http::{header, Request, StatusCode},
};
use serde_json::{json, Value};
use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn client_address_comes_from_the_proxy_when_trusted(db: PgPool) {
    let app = common::app(&db, &["--trusted-proxies", "127.0.0.1,10.0.0.0/8"]).await;
    let signup = |email: &str, forwarded: &[&str]| {
        let mut req = Request::post("/signup").header(header::CONTENT_TYPE, "application/json");
        for line in forwarded {
            req = req.header("x-forwarded-for", *line);
        }
        req.body(Body::from(
            json!({"email": email, "password": PASSWORD}).to_string(),
        ))
        .unwrap()
    };
    let ip_of = |email: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT s.ip FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = $1",
            )
            .bind(email)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let ok = |res: common::Response| assert_eq!(res.status, StatusCode::OK, "{res:?}");
    // Through the proxy: the entry it appended, not the client's claim on the left.
    ok(app
        .request(common::via_proxy(signup(
            "a@example.com",
            &["6.6.6.6, 203.0.113.7"],
        )))
        .await);
    assert_eq!(ip_of("a@example.com").await.as_deref(), Some("203.0.113.7"));
    // Through two proxies: the rightmost entry that is not a proxy; the last header line.
    ok(app
        .request(common::via_proxy(signup(
            "b@example.com",
            &["1.1.1.1", "6.6.6.6, 203.0.113.8, 10.1.2.3"],
        )))
        .await);
    assert_eq!(ip_of("b@example.com").await.as_deref(), Some("203.0.113.8"));
    // An unreadable header falls back to the peer, never to "no address".
    ok(app
        .request(common::via_proxy(signup("c@example.com", &["garbage"])))
        .await);
    assert_eq!(ip_of("c@example.com").await.as_deref(), Some("127.0.0.1"));
    // Not from a proxy: the header is the client's word, the peer address counts.
    ok(app
        .request(common::from_peer(
            [198, 51, 100, 9],
            signup("d@example.com", &["203.0.113.9"]),
        ))
        .await);
    assert_eq!(
        ip_of("d@example.com").await.as_deref(),
        Some("198.51.100.9")
    );
    // The old all-trusting setting is refused with a pointer to the new one.
    let e = hasura_jwt_auth::config::Config::from_args(["--trust-forwarded-for"])
        .unwrap()
        .validate()
        .unwrap_err()
        .to_string();
    assert!(e.contains("AUTH_TRUSTED_PROXIES"), "{e}");
}

#[sqlx::test(migrations = false)]
async fn sign_in_attempts_are_rate_limited_per_address(db: PgPool) {
    let app = common::app(
        &db,
        &[
            "--trusted-proxies",
            "127.0.0.1",
            "--rate-limit-sign-in",
            "3",
        ],
    )
    .await;
    let from = |ip: &str, uri: &str, body: Value| {
        common::via_proxy(
            Request::post(uri)
                .header(header::CONTENT_TYPE, "application/json")
                .header("x-forwarded-for", ip)
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
    };
    let creds = json!({"email": "guess@example.com", "password": "guess number 1"});
    let signup = app
        .request(from(
            "198.51.100.1",
            "/signup",
            json!({"email": "guess@example.com", "password": PASSWORD}),
        ))
        .await;
    assert_eq!(signup.status, StatusCode::OK);
    for _ in 0..2 {
        let res = app
            .request(from(
                "198.51.100.1",
                "/token?grant_type=password",
                creds.clone(),
            ))
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    }
    let res = app
        .request(from(
            "198.51.100.1",
            "/token?grant_type=password",
            creds.clone(),
        ))
        .await;
    assert_eq!(
        (res.status, res.body["error_code"].as_str()),
        (
            StatusCode::TOO_MANY_REQUESTS,
            Some("over_request_rate_limit")
        )
    );
    let retry: u64 = res.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    // Even the right password waits: the limit counts attempts, not failures.
    let right = app
        .request(from(
            "198.51.100.1",
            "/token?grant_type=password",
            json!({"email": "guess@example.com", "password": PASSWORD}),
        ))
        .await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
    // Other addresses and refreshes are unaffected.
    let other = app
        .request(from(
            "198.51.100.2",
            "/token?grant_type=password",
            json!({"email": "guess@example.com", "password": PASSWORD}),
        ))
        .await;
    assert_eq!(other.status, StatusCode::OK);
    let rt = str_of(&signup.body, "refresh_token");
    let refresh = app
        .request(from(
            "198.51.100.1",
            "/token?grant_type=refresh_token",
            json!({"refresh_token": rt}),
        ))
        .await;
    assert_eq!(refresh.status, StatusCode::OK);

    let unlimited = common::app(
        &db,
        &[
            "--trusted-proxies",
            "127.0.0.1",
            "--rate-limit-sign-in",
            "0",
        ],
    )
    .await;
    for _ in 0..5 {
        let res = unlimited
            .request(from(
                "198.51.100.3",
                "/token?grant_type=password",
                creds.clone(),
            ))
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
    }
}

#[sqlx::test(migrations = false)]
async fn over_tcp_the_peer_address_is_recorded_and_rate_limited(db: PgPool) {
    let app = common::app(&db, &["--rate-limit-sign-in", "2"]).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(hasura_jwt_auth::http::serve_on(
        listener,
        app.state.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{base}/signup"))
        .json(&json!({"email": "tcp@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let ip: Option<String> = sqlx::query_scalar("SELECT ip FROM sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(ip.as_deref(), Some("127.0.0.1"));
    let wrong = json!({"email": "tcp@example.com", "password": "wrong password"});
    let res = client
        .post(format!("{base}/token?grant_type=password"))
        .json(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = client
        .post(format!("{base}/token?grant_type=password"))
        .json(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        429,
        "the signup and one sign-in used the allowance of 2"
    );
    assert!(res.headers().contains_key("retry-after"));
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[sqlx::test(migrations = false)]
async fn password_guessing_is_limited_per_account_across_instances(db: PgPool) {
    use std::sync::atomic::Ordering;
    // Two instances on one database; requests carry no client address, as if each came from
    // a different one, so only the per-account limit can stop them.
    let a = common::app(&db, &[]).await;
    let b = common::app(&db, &[]).await;
    a.signup("victim@example.com").await;
    let checks =
        |app: &common::TestApp| app.state.auth.hasher.stats().queued.load(Ordering::Relaxed);
    let before = checks(&a) + checks(&b);
    let mut refused = 0;
    for i in 0..60 {
        let app = if i % 2 == 0 { &a } else { &b };
        let res = app
            .sign_in("victim@example.com", &format!("guess {i}"))
            .await;
        match res.status {
            StatusCode::BAD_REQUEST => {}
            StatusCode::TOO_MANY_REQUESTS => {
                refused += 1;
                assert_eq!(res.body["error_code"], "over_request_rate_limit");
                assert!(res.headers.contains_key(header::RETRY_AFTER));
            }
            other => panic!("{other}: {res:?}"),
        }
    }
    let hashed = checks(&a) + checks(&b) - before;
    assert!(refused >= 50, "refused {refused} of 60");
    assert!(hashed <= 10, "{hashed} password checks for 60 guesses");
    // While locked, even the right password is refused (and costs no hashing).
    let res = a.sign_in("victim@example.com", PASSWORD).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{res:?}");
    // An address that belongs to nobody behaves the same: nothing tells them apart.
    for i in 0..8 {
        a.sign_in("nobody@example.com", &format!("guess {i}")).await;
    }
    let res = b.sign_in("nobody@example.com", "guess").await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{res:?}");
    // Audited, with the user when there is one.
    let locked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE event = 'sign_in_locked' AND user_id IS NOT NULL",
    )
    .fetch_one(&a.pool)
    .await
    .unwrap();
    assert!(locked >= 1);
    // When the lock has passed, the right password works and clears the count.
    sqlx::query("UPDATE sign_in_attempts SET locked_until = now() - interval '1 second'")
        .execute(&a.pool)
        .await
        .unwrap();
    let res = b.sign_in("victim@example.com", PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM sign_in_attempts")
        .fetch_one(&a.pool)
        .await
        .unwrap();
    assert_eq!(left, 1, "only nobody@'s count is left");
}

#[sqlx::test(migrations = false)]
async fn ipv6_clients_share_an_allowance_per_64(db: PgPool) {
    let app = common::app(&db, &["--rate-limit-sign-in", "2"]).await;
    let attempt = |ip: std::net::Ipv6Addr| {
        common::from_peer(
            ip,
            Request::post("/token?grant_type=password")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({"email": "v6@example.com", "password": "wrong guess"}).to_string(),
                ))
                .unwrap(),
        )
    };
    let ip = |last: u16| std::net::Ipv6Addr::new(0x2001, 0xdb8, 7, 7, 0, 0, 0, last);
    for last in [1, 2] {
        assert_eq!(
            app.request(attempt(ip(last))).await.status,
            StatusCode::BAD_REQUEST
        );
    }
    // A third address of the same /64 is over the shared allowance ...
    let res = app.request(attempt(ip(3))).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{res:?}");
    // ... another /64 is not.
    let other = std::net::Ipv6Addr::new(0x2001, 0xdb8, 7, 8, 0, 0, 0, 1);
    assert_eq!(
        app.request(attempt(other)).await.status,
        StatusCode::BAD_REQUEST
    );
}
