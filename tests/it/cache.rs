//! Session liveness from memory, with changes seen by every instance: two servers on one
//! database, each with its session cache and listener. A sign-out, a disable and a role change
//! made through one are seen by the other's webhook and `GET /user` within a second; a lost
//! notification connection empties the cache, which fills again once the listener is back.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::common::{self, str_of, TestApp};

pub(crate) const ADMIN: &str = "admin-secret-admin-secret-admin-secret";

pub(crate) async fn instance(db: &PgPool) -> TestApp {
    let mut app = common::app(db, &["--admin-secret", ADMIN]).await;
    app.listen();
    wait_until("the listener connects", || async {
        app.state.auth.session_cache.is_healthy()
    })
    .await;
    app
}

pub(crate) async fn wait_until<F, Fut>(what: &str, check: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{what}: not within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    start.elapsed()
}

/// The user's status at `/user` and the role the webhook gives, on `app`.
pub(crate) async fn seen(app: &TestApp, token: &str) -> (StatusCode, Option<String>) {
    let user = app
        .call(Method::GET, "/user", Some(token), None)
        .await
        .status;
    let hook = app
        .call(Method::GET, "/hasura/webhook", Some(token), None)
        .await;
    let role = (hook.status == StatusCode::OK).then(|| {
        hook.body["X-Hasura-Role"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    });
    (user, role)
}

#[sqlx::test(migrations = false)]
async fn changes_on_one_instance_are_seen_by_the_other_within_a_second(db: PgPool) {
    let a = instance(&db).await;
    let b = instance(&db).await;
    let s = a.signup("cache@example.com").await;
    let token = str_of(&s.body, "access_token").to_owned();
    let id = str_of(&s.body["user"], "id").to_owned();

    // B answers from memory once it has checked the session.
    assert_eq!(
        seen(&b, &token).await,
        (StatusCode::OK, Some("user".into()))
    );
    primed(&b, &token).await;

    // A role change through A's admin API.
    let roles =
        json!({"app_metadata": {"default_role": "editor", "allowed_roles": ["user", "editor"]}});
    let res = a
        .call(
            Method::PUT,
            &format!("/admin/users/{id}"),
            Some(ADMIN),
            Some(roles),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let took = wait_until("the role change", || async {
        seen(&b, &token).await.1.as_deref() == Some("editor")
    })
    .await;
    assert!(took < Duration::from_secs(1), "{took:?}");

    // A disable through A.
    let res = a
        .call(
            Method::PUT,
            &format!("/admin/users/{id}"),
            Some(ADMIN),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let took = wait_until("the disable", || async {
        seen(&b, &token).await == (StatusCode::UNAUTHORIZED, None)
    })
    .await;
    assert!(took < Duration::from_secs(1), "{took:?}");
    a.call(
        Method::PUT,
        &format!("/admin/users/{id}"),
        Some(ADMIN),
        Some(json!({"disabled": false})),
    )
    .await;

    // A sign-out on A (a new session; the disable ended the old ones).
    let s = a.sign_in("cache@example.com", common::PASSWORD).await;
    let token = str_of(&s.body, "access_token").to_owned();
    primed(&b, &token).await;
    let res = a
        .call(Method::POST, "/logout?scope=local", Some(&token), None)
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let took = wait_until("the sign-out", || async {
        seen(&b, &token).await == (StatusCode::UNAUTHORIZED, None)
    })
    .await;
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[sqlx::test(migrations = false)]
async fn a_lost_listener_empties_the_cache_and_reconnects(db: PgPool) {
    let a = instance(&db).await;
    let s = a.signup("lost@example.com").await;
    let token = str_of(&s.body, "access_token").to_owned();
    primed(&a, &token).await;

    // Cut the listener's connection from the database's side.
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
    )
    .execute(&a.pool)
    .await
    .unwrap();
    // The cache is emptied (what it held may have changed unheard) and the listener comes
    // back by itself…
    wait_until("the cache is emptied", || async {
        a.state.auth.session_cache.is_empty()
    })
    .await;
    wait_until("the listener reconnects", || async {
        a.state.auth.session_cache.is_healthy()
    })
    .await;
    // …and changes are heard again.
    primed(&a, &token).await;
    sqlx::query("DELETE FROM sessions")
        .execute(&a.pool)
        .await
        .unwrap();
    let took = wait_until("the sign-out", || async {
        seen(&a, &token).await == (StatusCode::UNAUTHORIZED, None)
    })
    .await;
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[sqlx::test(migrations = false)]
async fn changes_made_in_sql_are_heard_too(db: PgPool) {
    let a = instance(&db).await;
    let s = a.signup("sql@example.com").await;
    let token = str_of(&s.body, "access_token").to_owned();
    // A ban written by hand (the sessions stay): the user row's trigger is enough.
    primed(&a, &token).await;
    sqlx::query("UPDATE users SET banned_until = now() + interval '1 hour'")
        .execute(&a.pool)
        .await
        .unwrap();
    let took = wait_until("the ban", || async {
        seen(&a, &token).await == (StatusCode::UNAUTHORIZED, None)
    })
    .await;
    assert!(took < Duration::from_secs(1), "{took:?}");
    sqlx::query("UPDATE users SET banned_until = NULL")
        .execute(&a.pool)
        .await
        .unwrap();
    wait_until("the unban", || async {
        seen(&a, &token).await.0 == StatusCode::OK
    })
    .await;
    // TRUNCATE fires no row trigger: its statement trigger empties every cache.
    primed(&a, &token).await;
    sqlx::query("TRUNCATE sessions")
        .execute(&a.pool)
        .await
        .unwrap();
    let took = wait_until("the truncation", || async {
        seen(&a, &token).await == (StatusCode::UNAUTHORIZED, None)
    })
    .await;
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[sqlx::test(migrations = false)]
async fn the_listener_takes_no_request_connection(db: PgPool) {
    let a = instance(&db).await;
    let max = a.pool.options().get_max_connections() as usize;
    // Open all but one beforehand, so that what follows is fast.
    let warm = futures::future::join_all((1..max).map(|_| a.pool.acquire())).await;
    drop(warm);
    // Every one of them, well before a listener starved of its pings (1 s of silence) would
    // hand a borrowed connection back.
    let all = tokio::time::timeout(
        Duration::from_millis(800),
        futures::future::join_all((0..max).map(|_| a.pool.acquire())),
    )
    .await
    .expect("all request connections within 800 ms");
    assert!(all.iter().all(Result::is_ok));
}

/// Checks `token` on `app` until the answers come from the cache (a notification still on its
/// way, such as the sign-in's own, may drop the first entry).
pub(crate) async fn primed(app: &TestApp, token: &str) {
    wait_until("served from the cache", || async {
        let hits = app.state.auth.session_cache.hits();
        assert_eq!(seen(app, token).await.0, StatusCode::OK);
        app.state.auth.session_cache.hits() >= hits + 2
    })
    .await;
}

/// A token verified once is answered from memory, but never past its `exp`, and never for a
/// text that differs from it.
#[tokio::test]
async fn verified_tokens_are_remembered_until_they_expire() {
    use hasura_jwt_auth::{
        auth::{
            claims::HasuraClaims,
            keys::KeySet,
            tokens::{AccessTokens, VerifyError},
        },
        config::Config,
    };
    let config = Config::from_args([
        "--jwt-secret",
        common::SECRET,
        "--access-token-ttl",
        "1",
        "--session-cache-size",
        "10",
    ])
    .unwrap();
    let tokens = AccessTokens::new(
        &config,
        std::sync::Arc::new(KeySet::load(&config.keys).unwrap()),
    );
    let claims = HasuraClaims {
        user_id: uuid::Uuid::new_v4().to_string(),
        default_role: "user".into(),
        allowed_roles: vec!["user".into()],
        aal: hasura_jwt_auth::auth::assurance::Aal::Aal1,
        custom: Default::default(),
    };
    let token = tokens
        .issue(
            &claims,
            "v@example.com",
            false,
            uuid::Uuid::new_v4(),
            &hasura_jwt_auth::auth::assurance::Assurance::one_factor("password", 0),
        )
        .unwrap()
        .token;
    let first = tokens.verify(&token).unwrap();
    assert_eq!(tokens.verified.len(), 1);
    let again = tokens.verify(&token).unwrap();
    assert!(std::sync::Arc::ptr_eq(&first, &again), "from memory");
    // One character of the signature changed: verified afresh, and refused.
    let mut forged = token.clone().into_bytes();
    let i = forged.len() - 5;
    forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    assert_eq!(
        tokens.verify(&forged).unwrap_err(),
        VerifyError::InvalidSignature
    );
    // Past `exp` (whole seconds), what was remembered is refused like any expired token.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(tokens.verify(&token).unwrap_err(), VerifyError::Expired);
}
