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
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

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
async fn every_request_has_an_id_in_its_answer_logs_and_audit_entries(
    _: PgPoolOptions,
    opts: PgConnectOptions,
) {
    let app = common::app(opts, &["--trusted-proxies", "127.0.0.1"]).await;
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

    // Every log line of a request carries its id (the span's field).
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("debug")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let res = app
        .request(via_proxy(
            Request::post("/token?grant_type=password")
                .header(header::CONTENT_TYPE, "application/json")
                .header("x-request-id", "trace-me-1")
                .body(Body::from(
                    json!({"email": "a@example.com", "password": "wrong password"}).to_string(),
                ))
                .unwrap(),
        ))
        .await;
    drop(guard);
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("request{")).collect();
    assert!(lines.len() >= 2, "{log}");
    for line in &lines {
        assert!(line.contains("request_id=trace-me-1"), "{line}");
    }
    // …and never the password.
    assert!(!log.contains("wrong password"), "{log}");
}

#[sqlx::test(migrations = false)]
async fn probes_tell_liveness_from_readiness(_: PgPoolOptions, opts: PgConnectOptions) {
    let app = common::app(opts, &[]).await;
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
