//! What operators rely on: request ids (answers, log lines, audit entries) and the probes.

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use serde_json::json;
use sqlx::PgPool;

use crate::common::{self, from_peer, via_proxy, PASSWORD};

/// Log output collected in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn signup_request(email: &str, request_id: Option<&str>) -> Request<Body> {
    let mut req = Request::post("/signup").header(header::CONTENT_TYPE, "application/json");
    if let Some(id) = request_id {
        req = req.header("x-request-id", id);
    }
    req.body(Body::from(
        json!({"email": email, "password": PASSWORD}).to_string(),
    ))
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn every_request_has_an_id_in_its_answer_logs_and_audit_entries(db: PgPool) {
    let app = common::app(&db, &["--trusted-proxies", "127.0.0.1"]).await;
    let audit_id = |email: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT a.request_id FROM audit_log a JOIN users u ON u.id = a.user_id
                 WHERE u.email = $1 AND a.event = 'sign_up'",
            )
            .bind(email)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };

    // Through the proxy: its id is kept, answered and recorded.
    let res = app
        .request(via_proxy(signup_request(
            "a@example.com",
            Some("proxy-7f3a"),
        )))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.headers["x-request-id"], "proxy-7f3a");
    assert_eq!(
        audit_id("a@example.com").await.as_deref(),
        Some("proxy-7f3a")
    );

    // From a client: its header is ignored, ours is answered and recorded.
    let res = app
        .request(from_peer(
            [203, 0, 113, 9],
            signup_request("b@example.com", Some("chosen-by-client")),
        ))
        .await;
    let id = res.headers["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(id, "chosen-by-client");
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    assert_eq!(
        audit_id("b@example.com").await.as_deref(),
        Some(id.as_str())
    );

    // A proxy's id that could forge log lines is replaced.
    let res = app
        .request(via_proxy(signup_request("c@example.com", Some("x y"))))
        .await;
    assert_ne!(res.headers["x-request-id"], "x y");

    // Every log line of a request carries its id (the span's field). Tracing's callsite cache
    // is shared by the tests' threads: a callsite another thread met while nobody listened
    // can stay unlistened here for a moment, so a request whose lines went unheard is sent
    // again (twice at most).
    let mut heard = None;
    for attempt in 0..3 {
        let (status, log) = logged_sign_in(&app, &format!("trace-me-{attempt}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        if log.contains("started processing request") {
            heard = Some((attempt, log));
            break;
        }
    }
    let (attempt, log) = heard.expect("a request's log lines heard within three tries");
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("request{")).collect();
    for line in &lines {
        assert!(
            line.contains(&format!("request_id=trace-me-{attempt}")),
            "{line}"
        );
    }
    // …and never the password.
    assert!(!log.contains("wrong password"), "{log}");
}

/// A failing sign-in with request id `id`, and what was logged while it ran.
async fn logged_sign_in(app: &common::TestApp, id: &str) -> (StatusCode, String) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("debug")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    tracing::callsite::rebuild_interest_cache();
    let res = app
        .request(via_proxy(
            Request::post("/token?grant_type=password")
                .header(header::CONTENT_TYPE, "application/json")
                .header("x-request-id", id)
                .body(Body::from(
                    json!({"email": "a@example.com", "password": "wrong password"}).to_string(),
                ))
                .unwrap(),
        ))
        .await;
    drop(guard);
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    (res.status, log)
}

#[sqlx::test(migrations = false)]
async fn probes_tell_liveness_from_readiness(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let res = app.call(Method::GET, "/ready", None, None).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.body["status"], "ready");
    assert_eq!(res.body["migrations"]["pending"], json!([]));
    let known = hasura_jwt_auth::store::known_migrations();
    assert_eq!(res.body["migrations"]["applied"], json!(known.len()));

    // A migration missing: not ready, and which one is said.
    let last = *known.last().unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
        .bind(last)
        .execute(&app.pool)
        .await
        .unwrap();
    let res = app.call(Method::GET, "/ready", None, None).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{res:?}");
    assert_eq!(res.body["migrations"]["pending"], json!([last]));

    // The database gone: not ready, not healthy, but alive.
    app.pool.close().await;
    let res = app.call(Method::GET, "/ready", None, None).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.body["database"], "error");
    let res = app.call(Method::GET, "/health", None, None).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    let res = app.call(Method::GET, "/live", None, None).await;
    assert_eq!(res.status, StatusCode::OK);
}

/// The value of the first sample of `name` whose labels include all of `labels` (0 if none).
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .find(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next())
        .map(|v| v.parse().unwrap())
        .unwrap_or(0.0)
}

#[sqlx::test(migrations = false)]
async fn metrics_count_real_traffic(db: PgPool) {
    let app = common::app(
        &db,
        &[
            "--rate-limit-sign-in",
            "3",
            "--refresh-token-reuse-interval",
            "0s",
            "--db-max-connections",
            "7",
        ],
    )
    .await;
    let handle = hasura_jwt_auth::metrics::install().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    let _server = common::Background(tokio::spawn({
        let state = app.state.clone();
        async move {
            hasura_jwt_auth::http::metrics::serve(listener, state, handle, std::future::pending())
                .await
                .unwrap();
        }
    }));
    let scrape = || {
        let url = url.clone();
        async move {
            let r = reqwest::get(&url).await.unwrap();
            assert_eq!(r.status(), 200);
            r.text().await.unwrap()
        }
    };
    let before = scrape().await;

    // Traffic: a sign-up, a good and a bad sign-in, a rate-limited one, a refresh, a theft.
    let s = app.signup("m@example.com").await;
    let from = |body: serde_json::Value| {
        from_peer(
            [198, 51, 100, 7],
            Request::post("/token?grant_type=password")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
    };
    let good = json!({"email": "m@example.com", "password": PASSWORD});
    let bad = json!({"email": "m@example.com", "password": "not the password"});
    assert_eq!(app.request(from(good.clone())).await.status, StatusCode::OK);
    assert_eq!(app.request(from(bad)).await.status, StatusCode::BAD_REQUEST);
    app.request(from(good.clone())).await;
    assert_eq!(
        app.request(from(good)).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    let old = common::str_of(&s.body, "refresh_token").to_owned();
    assert_eq!(app.refresh(&old).await.status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(app.refresh(&old).await.status, StatusCode::BAD_REQUEST);

    let after = scrape().await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        sample(&after, name, labels) - sample(&before, name, labels)
    };
    assert!(
        moved("auth_sign_ins_total", &[("outcome", "success")]) >= 2.0,
        "{after}"
    );
    assert!(moved("auth_sign_ins_total", &[("outcome", "invalid_credentials")]) >= 1.0);
    assert!(moved("auth_rate_limited_total", &[("limit", "sign_in")]) >= 1.0);
    assert!(moved("auth_refreshes_total", &[("outcome", "rotated")]) >= 1.0);
    assert!(moved("auth_refreshes_total", &[("outcome", "reuse_detected")]) >= 1.0);
    let token_ok = [("route", "/token"), ("method", "POST"), ("status", "200")];
    assert!(moved("http_requests_total", &token_ok) >= 3.0, "{after}");
    assert!(
        moved(
            "http_requests_total",
            &[("route", "/token"), ("status", "429")]
        ) >= 1.0
    );
    assert!(
        moved(
            "http_request_duration_seconds_count",
            &[("route", "/signup")]
        ) >= 1.0
    );
    // Hashing: every password check waited in the queue (briefly) and ran.
    assert!(
        moved("auth_password_hash_wait_seconds_count", &[]) >= 3.0,
        "{after}"
    );
    assert!(moved("auth_password_hash_seconds_count", &[]) >= 3.0);
    assert!(after.contains("auth_password_hash_queue_depth"), "{after}");
    // Read at the scrape: this server's pool and sessions.
    assert_eq!(sample(&after, "db_pool_max_connections", &[]), 7.0);
    for state in ["idle", "in_use"] {
        assert!(
            after.contains(&format!("db_pool_connections{{state=\"{state}\"}}")),
            "{after}"
        );
    }
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(sample(&after, "auth_sessions", &[]), sessions as f64);
    // Help texts are there, and no concrete path (ids) becomes a label.
    assert!(after.contains("# HELP auth_refreshes_total"));
    assert!(!after.contains("route=\"/sessions/0"));
}

#[sqlx::test(migrations = false)]
async fn the_sign_in_limit_holds_across_instances(db: PgPool) {
    // Two instances on one database, as behind a load balancer.
    let a = common::app(&db, &["--rate-limit-sign-in", "4"]).await;
    let b = common::app(&db, &["--rate-limit-sign-in", "4"]).await;
    a.signup("lim@example.com").await;
    let attempt = |peer: [u8; 4]| {
        from_peer(
            peer,
            Request::post("/token?grant_type=password")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    json!({"email": "lim@example.com", "password": "not it"}).to_string(),
                ))
                .unwrap(),
        )
    };
    let client = [203, 0, 113, 50];
    // The burst of 4, spread over both instances…
    for app in [&a, &b, &a, &b] {
        assert_eq!(
            app.request(attempt(client)).await.status,
            StatusCode::BAD_REQUEST
        );
    }
    // …is used up on both: a fifth attempt is refused wherever it lands.
    for app in [&a, &b] {
        let res = app.request(attempt(client)).await;
        assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{res:?}");
        let wait: u64 = res.headers[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=15).contains(&wait), "{wait}");
    }
    // Another address has its own allowance.
    assert_eq!(
        b.request(attempt([203, 0, 113, 51])).await.status,
        StatusCode::BAD_REQUEST
    );
    // Housekeeping forgets nothing that is still limited.
    hasura_jwt_auth::housekeeping::run_once(&a.state.auth).await;
    assert_eq!(
        a.request(attempt(client)).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[sqlx::test(migrations = false)]
async fn sigterm_stops_accepting_finishes_requests_in_flight_and_exits_0(db: PgPool) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = format!(
        "postgres://postgres@{}:{}/{}",
        db.connect_options().get_host(),
        db.connect_options().get_port(),
        db.connect_options().get_database().unwrap()
    );
    let port = common::oidc::free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_hasura-jwt-auth"))
        .arg("serve")
        .env("AUTH_DATABASE_URL", &url)
        .env("AUTH_LISTEN", &addr)
        .env("AUTH_JWT_SECRET", common::SECRET)
        .env("AUTH_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let live = format!("http://{addr}/live");
    let mut up = false;
    for _ in 0..100 {
        if reqwest::get(&live).await.is_ok_and(|r| r.status() == 200) {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "the server did not start");

    // A request in flight: its headers and half its body sent.
    let body = json!({"email": "nobody@example.com", "password": "whatever"}).to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /token?grant_type=password HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&body.as_bytes()[..10]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // No longer accepting.
    assert!(
        tokio::net::TcpStream::connect(&addr).await.is_err(),
        "still accepting after SIGTERM"
    );
    // The request in flight is answered.
    conn.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("invalid_credentials") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), conn.read(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        assert!(
            n > 0,
            "closed without an answer: {}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 400"));
    drop(conn);
    // And the process exits cleanly.
    let mut exited = None;
    for _ in 0..100 {
        if let Some(status) = server.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let status = exited.unwrap_or_else(|| {
        let _ = server.kill();
        panic!("still running 10 s after SIGTERM")
    });
    assert_eq!(status.code(), Some(0));
}
