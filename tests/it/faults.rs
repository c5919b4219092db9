//! Faults: the database going away and coming back.

use axum::http::{header, Method, StatusCode};
use hasura_jwt_auth::{app::App, auth::keys::KeySet, config::Config, store};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::common::{proxy::Proxy, str_of, TestApp, SECRET};

#[sqlx::test(migrations = false)]
async fn a_database_outage_fails_fast_and_recovers_by_itself(
    _: PgPoolOptions,
    opts: PgConnectOptions,
) {
    let proxy = Proxy::start((opts.get_host().to_owned(), opts.get_port())).await;
    let config = Config::from_args(["--jwt-secret", SECRET]).unwrap();
    let keys = KeySet::load(&config.keys).unwrap();
    let pool = store::connect_with(opts.clone().host("127.0.0.1").port(proxy.port), "auth", 4)
        .await
        .unwrap();
    store::migrate(&pool, "auth").await.unwrap();
    // Requests wait at most this long for a connection before their 503.
    assert!(pool.options().get_acquire_timeout() <= std::time::Duration::from_secs(1));
    let state = App::from_parts(config, pool.clone(), keys).unwrap();
    let app = TestApp {
        router: hasura_jwt_auth::http::router(state.clone()),
        state,
        pool,
    };
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
