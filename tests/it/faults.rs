//! Faults: the database going away and coming back.

use axum::http::{header, Method, StatusCode};
use hasura_jwt_auth::{app::App, auth::keys::KeySet, config::Config, store};
use sqlx::PgPool;

use crate::common::{self, proxy::Proxy, str_of, TestApp, SECRET};

/// The server with a pool of 4 connections to the database behind `proxy`.
async fn app_behind(proxy: &Proxy, db: &PgPool) -> TestApp {
    let config = Config::from_args(["--jwt-secret", SECRET]).unwrap();
    let keys = KeySet::load(&config.keys).unwrap();
    let pool = store::connect_with(
        common::options(db).host("127.0.0.1").port(proxy.port),
        "auth",
        4,
    )
    .await
    .unwrap();
    store::migrate(&pool, "auth").await.unwrap();
    let state = App::from_parts(config, pool.clone(), keys).unwrap();
    TestApp {
        router: hasura_jwt_auth::http::router(state.clone()).unwrap(),
        state,
        pool,
        background: Vec::new(),
    }
}

#[sqlx::test(migrations = false)]
async fn a_database_outage_fails_fast_and_recovers_by_itself(db: PgPool) {
    let proxy = Proxy::start((
        db.connect_options().get_host().to_owned(),
        db.connect_options().get_port(),
    ))
    .await;
    let app = app_behind(&proxy, &db).await;
    // Requests wait at most this long for a connection before their 503.
    assert!(app.pool.options().get_acquire_timeout() <= std::time::Duration::from_secs(1));
    let s = app.signup("outage@example.com").await;
    let at = str_of(&s.body, "access_token").to_owned();
    let rt = str_of(&s.body, "refresh_token").to_owned();

    proxy.cut();
    for (method, uri, bearer) in [
        (Method::GET, "/user", Some(at.as_str())),
        (Method::GET, "/health", None),
    ] {
        let res = app.call(method, uri, bearer, None).await;
        assert_eq!(
            res.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{uri}: {res:?}"
        );
        if uri == "/user" {
            assert_eq!(res.body["error_code"], "service_unavailable");
            assert_eq!(res.headers[header::RETRY_AFTER], "1");
            assert!(!res.body.to_string().contains("Connection"), "no internals");
        }
    }
    let res = app.refresh(&rt).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{res:?}");

    // Back: the same clients go on without anything restarted (a request or two may still
    // meet a connection that broke during the outage).
    proxy.restore();
    let mut last = None;
    for _ in 0..20 {
        let res = app.refresh(&rt).await;
        if res.status == StatusCode::OK {
            last = Some(res);
            break;
        }
        assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE, "{res:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let res = last.expect("refresh works again once the database is back");
    let me = app
        .call(
            Method::GET,
            "/user",
            Some(str_of(&res.body, "access_token")),
            None,
        )
        .await;
    assert_eq!(me.status, StatusCode::OK);
}

/// A database restart breaks every pooled connection. The refresh statements that meet one
/// are tried once more, on a connection that answers a ping, so the refreshes in flight at
/// that moment succeed instead of answering 503.
#[sqlx::test(migrations = false)]
async fn refreshes_that_meet_a_broken_connection_are_tried_again(db: PgPool) {
    let proxy = Proxy::start((
        db.connect_options().get_host().to_owned(),
        db.connect_options().get_port(),
    ))
    .await;
    let app = app_behind(&proxy, &db).await;
    let mut tokens = Vec::new();
    for i in 0..6 {
        let s = app.signup(&format!("restart{i}@example.com")).await;
        tokens.push(str_of(&s.body, "refresh_token").to_owned());
    }
    // Once the pool's connection is idle again (its check on the way back done), the
    // database "restarts": open connections break, new ones go through. The pool does not
    // check a connection idle for under a second, so the next statement meets the broken one.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(app.pool.num_idle() > 0);
    proxy.cut();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    proxy.restore();
    let answers = futures::future::join_all(tokens.iter().map(|rt| app.refresh(rt))).await;
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    }
}

/// Serves `app` on a loopback port; returns its address and a handle that stops it.
async fn serve(app: &TestApp) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(hasura_jwt_auth::http::serve_on(
        listener,
        app.state.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    (addr, stop)
}

/// A client that sends half a request's headers and then nothing (slowloris).
async fn slow_client(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    stream
}

/// Whether the server has closed `stream` (reads end), waiting at most `within`.
async fn closed_by_server(stream: &mut tokio::net::TcpStream, within: std::time::Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // A 408 or similar before the close: keep reading to the end.
            Ok(Ok(_)) => continue,
        }
    }
}

#[sqlx::test(migrations = false)]
async fn slow_clients_are_dropped_and_others_still_served(db: PgPool) {
    use std::time::Duration;
    let app = crate::common::app(&db, &["--http-header-timeout", "1s"]).await;
    let (addr, stop) = serve(&app).await;
    let mut slow = Vec::new();
    for _ in 0..500 {
        slow.push(slow_client(addr).await);
    }
    // The server still answers everyone else while they hang.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let res = client
        .get(format!("http://{addr}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // And drops every one of them after the header timeout (1 s here; generous bound).
    for stream in &mut slow {
        assert!(
            closed_by_server(stream, Duration::from_secs(10)).await,
            "a slow connection was kept open"
        );
    }
    // An idle keep-alive connection gets the same deadline for its next request.
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert!(closed_by_server(&mut idle, Duration::from_secs(10)).await);
    let _ = stop.send(());
}

#[sqlx::test(migrations = false)]
async fn connections_beyond_the_limit_wait_for_a_free_one(db: PgPool) {
    use std::time::Duration;
    let app = crate::common::app(
        &db,
        &["--http-header-timeout", "60s", "--max-connections", "3"],
    )
    .await;
    let (addr, stop) = serve(&app).await;
    let mut slow = Vec::new();
    for _ in 0..3 {
        slow.push(slow_client(addr).await);
    }
    // Give the server a moment to take all three.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let url = format!("http://{addr}/.well-known/jwks.json");
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    assert!(
        quick.get(&url).send().await.is_err(),
        "a fourth connection is not served while three are open"
    );
    drop(slow.pop());
    let patient = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let res = patient.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200, "served once a connection closed");
    let _ = stop.send(());
}
