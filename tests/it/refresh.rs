//! Refresh tokens and sessions: rotation, reuse convergence, theft detection, lifetimes,
//! re-reading the user, sign-out and revocation.

use crate::common::{self, hasura, jwt_payload, str_of, TestApp, PASSWORD, SECRET};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

fn tokens(res: &common::Response) -> (String, String) {
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    (
        str_of(&res.body, "access_token").to_owned(),
        str_of(&res.body, "refresh_token").to_owned(),
    )
}

fn sid(access_token: &str) -> String {
    jwt_payload(access_token)["sid"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Moves the session's clock back: as if its last rotation (and everything else) happened
/// `secs` seconds ago.
async fn age_session(app: &TestApp, session_id: &str, secs: i64) {
    sqlx::query(
        "UPDATE sessions SET rotated_at = rotated_at - make_interval(secs => $2),
                prev_rotated_at = prev_rotated_at - make_interval(secs => $2),
                refreshed_at = refreshed_at - make_interval(secs => $2),
                created_at = created_at - make_interval(secs => $2)
         WHERE id = $1::uuid",
    )
    .bind(session_id)
    .bind(secs as f64)
    .execute(&app.pool)
    .await
    .unwrap();
}

async fn audit_events(app: &TestApp, event: &str) -> Vec<Value> {
    sqlx::query_scalar(
        "SELECT jsonb_build_object('user_id', user_id, 'session_id', session_id, 'ip', ip, 'user_agent', user_agent,
                                   'created_at', created_at, 'detail', detail)
         FROM audit_log WHERE event = $1 ORDER BY id",
    )
    .bind(event)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn refresh_rotates_and_keeps_the_session(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let (at0, rt0) = tokens(&app.signup("a@example.com").await);
    let (at1, rt1) = tokens(&app.refresh(&rt0).await);
    assert_ne!(rt0, rt1, "rotated");
    assert_eq!(sid(&at0), sid(&at1), "same session");
    hasura::check(&at1, &hasura::hmac(SECRET), &hasura::Expect::default());
    let (_, rt2) = tokens(&app.refresh(&rt1).await);
    assert_ne!(rt1, rt2);
    // RFC 6749 §6 form body works too.
    let res = app
        .form(
            "/token",
            &format!("grant_type=refresh_token&refresh_token={rt2}"),
        )
        .await;
    let (at3, rt3) = tokens(&res);
    assert_eq!(sid(&at3), sid(&at0));
    // The database never holds a token, only a hash of the current one.
    let dump: String = sqlx::query_scalar("SELECT string_agg(s::text, ' ') FROM sessions s")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    for rt in [&rt0, &rt1, &rt2, &rt3] {
        assert!(!dump.contains(rt.as_str()));
    }
    let counter: i64 = sqlx::query_scalar("SELECT token_counter FROM sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(counter, 3);
}

#[sqlx::test(migrations = false)]
async fn concurrent_refreshes_with_one_token_converge(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let s = app.signup("tabs@example.com").await;
    let (at0, rt0) = tokens(&s);
    let user_id = str_of(&s.body["user"], "id").to_owned();
    let results = futures::future::join_all((0..24).map(|_| app.refresh(&rt0))).await;
    let mut new_tokens = std::collections::HashSet::new();
    for res in &results {
        let (at, rt) = tokens(res);
        assert_eq!(sid(&at), sid(&at0));
        new_tokens.insert(rt);
    }
    assert_eq!(
        new_tokens.len(),
        1,
        "every racer holds the same new refresh token"
    );
    assert_eq!(app.session_count(&user_id).await, 1, "no fork");
    let counter: i64 = sqlx::query_scalar("SELECT token_counter FROM sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(counter, 1, "rotated exactly once");
    let winner = new_tokens.into_iter().next().unwrap();
    let (_, next) = tokens(&app.refresh(&winner).await);
    assert_ne!(next, winner);
    assert!(
        audit_events(&app, "refresh_token_reuse").await.is_empty(),
        "nobody signed out"
    );
}

#[sqlx::test(migrations = false)]
async fn concurrent_refreshes_across_instances_converge(db: PgPool) {
    // Two server instances (two pools, two apps) sharing one database.
    let a = common::app(&db, &[]).await;
    let b = common::app(&db, &[]).await;
    let (_, rt0) = tokens(&a.signup("multi@example.com").await);
    let racers = (0..10).map(|i| {
        if i % 2 == 0 {
            a.refresh(&rt0)
        } else {
            b.refresh(&rt0)
        }
    });
    let results = futures::future::join_all(racers).await;
    let distinct: std::collections::HashSet<String> = results.iter().map(|r| tokens(r).1).collect();
    assert_eq!(distinct.len(), 1);
}

#[sqlx::test(migrations = false)]
async fn retry_after_a_lost_response_converges(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let (_, rt0) = tokens(&app.signup("flaky@example.com").await);
    let (_, lost) = tokens(&app.refresh(&rt0).await); // response never reached the client
    let (_, retried) = tokens(&app.refresh(&rt0).await);
    assert_eq!(
        lost, retried,
        "the retry gets the token the lost response carried"
    );
    let (_, rt2) = tokens(&app.refresh(&retried).await);
    // A tab that rotated twice quickly: the original token is two behind, still in the interval.
    let (_, again) = tokens(&app.refresh(&rt0).await);
    assert_eq!(again, rt2);
}

#[sqlx::test(migrations = false)]
async fn replay_after_the_interval_revokes_the_session(db: PgPool) {
    let app = common::app(
        &db,
        &[
            "--refresh-token-reuse-interval",
            "10s",
            "--trusted-proxies",
            "127.0.0.1",
        ],
    )
    .await;
    let s = app.signup("theft@example.com").await;
    let (at0, rt0) = tokens(&s);
    let user_id = str_of(&s.body["user"], "id").to_owned();
    let (at1, rt1) = tokens(&app.refresh(&rt0).await);
    age_session(&app, &sid(&at0), 11).await;
    let req = axum::http::Request::post("/token?grant_type=refresh_token")
        .header("content-type", "application/json")
        .header("user-agent", "thief/1.0")
        .header("x-forwarded-for", "203.0.113.66")
        .body(axum::body::Body::from(
            json!({"refresh_token": rt0}).to_string(),
        ))
        .unwrap();
    let res = app.request(common::via_proxy(req)).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.body["error"], "invalid_grant");
    assert_eq!(res.body["error_code"], "refresh_token_already_used");
    // The whole session is gone: the newest refresh token and the access token too.
    assert_eq!(app.refresh(&rt1).await.body["error"], "invalid_grant");
    assert_eq!(app.session_count(&user_id).await, 0);
    assert_eq!(
        app.call(Method::GET, "/user", Some(&at1), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    // Recorded durably, with time, session, user and client.
    let events = audit_events(&app, "refresh_token_reuse").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["session_id"], sid(&at0).as_str());
    assert_eq!(events[0]["user_id"], user_id.as_str());
    assert_eq!(events[0]["user_agent"], "thief/1.0");
    assert_eq!(events[0]["ip"], "203.0.113.66");
    assert!(events[0]["created_at"].is_string());
    assert_eq!(events[0]["detail"]["rotations_behind"], 1);
    assert!(!events[0].to_string().contains(&rt0));
}

#[sqlx::test(migrations = false)]
async fn forged_and_malformed_tokens_are_invalid_grant_and_revoke_nothing(db: PgPool) {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
    let app = common::app(&db, &[]).await;
    let s = app.signup("victim@example.com").await;
    let (_, rt0) = tokens(&s);
    let user_id = str_of(&s.body["user"], "id").to_owned();
    let mut raw = B64.decode(&rt0).unwrap();
    // Same session id and counter, made-up secret; same session, old counter, made-up secret.
    raw[40] ^= 1;
    let forged = B64.encode(&raw);
    let (_, _rt1) = tokens(&app.refresh(&rt0).await);
    let mut older = raw.clone();
    older[17..25].copy_from_slice(&0u64.to_be_bytes());
    let forged_old = B64.encode(&older);
    let mut future = B64.decode(&rt0).unwrap();
    future[17..25].copy_from_slice(&99u64.to_be_bytes());
    let cases = [
        "".to_owned(),
        "garbage".to_owned(),
        rt0[..40].to_owned(),
        format!("{rt0}x"),
        "!".repeat(76),
        forged,
        forged_old,
        B64.encode(&future),
        B64.encode([1u8; 57]),
    ];
    for bad in &cases {
        let res = app.refresh(bad).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{bad}: {res:?}");
        let expected = if bad.is_empty() {
            "invalid_request"
        } else {
            "invalid_grant"
        };
        assert_eq!(res.body["error"], expected, "{bad}");
    }
    assert_eq!(
        app.session_count(&user_id).await,
        1,
        "no forged input revoked the session"
    );
    assert!(audit_events(&app, "refresh_token_reuse").await.is_empty());
}

#[sqlx::test(migrations = false)]
async fn idle_and_absolute_lifetimes(db: PgPool) {
    let app = common::app(
        &db,
        &[
            "--session-idle-timeout",
            "1h",
            "--session-max-lifetime",
            "1d",
        ],
    )
    .await;
    // Idle: unused for longer than the idle timeout.
    let (at, rt) = tokens(&app.signup("idle@example.com").await);
    age_session(&app, &sid(&at), 3601).await;
    let res = app.refresh(&rt).await;
    assert_eq!(
        (res.body["error"].as_str(), res.body["error_code"].as_str()),
        (Some("invalid_grant"), Some("session_expired"))
    );
    // Absolute: refreshed all along, but older than the maximum lifetime.
    let (at, mut rt) = tokens(&app.signup("old@example.com").await);
    for _ in 0..3 {
        sqlx::query(
            "UPDATE sessions SET created_at = created_at - interval '8 hours' WHERE id = $1::uuid",
        )
        .bind(sid(&at))
        .execute(&app.pool)
        .await
        .unwrap();
        let res = app.refresh(&rt).await;
        if res.status != StatusCode::OK {
            assert_eq!(res.body["error_code"], "session_expired");
            return;
        }
        rt = tokens(&res).1;
    }
    let res = app.refresh(&rt).await;
    assert_eq!(
        res.body["error_code"], "session_expired",
        "32 hours old > 1 day: {res:?}"
    );
}

#[sqlx::test(migrations = false)]
async fn lifetimes_can_be_turned_off(db: PgPool) {
    let app = common::app(
        &db,
        &[
            "--session-idle-timeout",
            "off",
            "--session-max-lifetime",
            "off",
        ],
    )
    .await;
    let (at, rt) = tokens(&app.signup("forever@example.com").await);
    age_session(&app, &sid(&at), 400 * 86400).await;
    tokens(&app.refresh(&rt).await);
}

#[sqlx::test(migrations = false)]
async fn disabled_or_deleted_users_get_no_tokens(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let s = app.signup("gone@example.com").await;
    let (_, rt) = tokens(&s);
    let user_id = str_of(&s.body["user"], "id").to_owned();
    let (_, _other) = tokens(&app.sign_in("gone@example.com", PASSWORD).await);
    sqlx::query("UPDATE users SET enabled = false WHERE id = $1::uuid")
        .bind(&user_id)
        .execute(&app.pool)
        .await
        .unwrap();
    let res = app.refresh(&rt).await;
    assert_eq!(
        (res.body["error"].as_str(), res.body["error_code"].as_str()),
        (Some("invalid_grant"), Some("user_banned"))
    );
    assert_eq!(
        app.session_count(&user_id).await,
        0,
        "all the user's sessions are revoked"
    );

    let s = app.signup("banned@example.com").await;
    let (_, rt) = tokens(&s);
    sqlx::query("UPDATE users SET banned_until = now() + interval '1 day' WHERE email = 'banned@example.com'").execute(&app.pool).await.unwrap();
    assert_eq!(app.refresh(&rt).await.body["error_code"], "user_banned");

    let s = app.signup("deleted@example.com").await;
    let (at, rt) = tokens(&s);
    sqlx::query("DELETE FROM users WHERE email = 'deleted@example.com'")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(app.refresh(&rt).await.body["error"], "invalid_grant");
    assert_eq!(
        app.call(Method::GET, "/user", Some(&at), None).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[sqlx::test(migrations = false)]
async fn role_changes_show_up_in_the_next_access_token(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let (_, rt) = tokens(&app.signup("promoted@example.com").await);
    sqlx::query("UPDATE users SET allowed_roles = '{user,editor}', default_role = 'editor' WHERE email = 'promoted@example.com'")
        .execute(&app.pool)
        .await
        .unwrap();
    let (at, _) = tokens(&app.refresh(&rt).await);
    let claims = hasura::check(&at, &hasura::hmac(SECRET), &hasura::Expect::default());
    assert_eq!(claims["x-hasura-default-role"], "editor");
    assert_eq!(claims["x-hasura-allowed-roles"], json!(["user", "editor"]));
}

#[sqlx::test(migrations = false)]
async fn logout_scopes(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let s = app.signup("multi-device@example.com").await;
    let user_id = str_of(&s.body["user"], "id").to_owned();
    let sign_in = || app.sign_in("multi-device@example.com", PASSWORD);
    let (a_at, a_rt) = tokens(&s);
    let (b_at, b_rt) = tokens(&sign_in().await);
    let (c_at, c_rt) = tokens(&sign_in().await);

    // local: only this session.
    let res = app
        .call(Method::POST, "/logout?scope=local", Some(&a_at), None)
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(app.refresh(&a_rt).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.call(Method::GET, "/user", Some(&a_at), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED,
        "revoked before exp"
    );
    assert_eq!(app.session_count(&user_id).await, 2);

    // others: every session but this one.
    let res = app
        .call(Method::POST, "/logout?scope=others", Some(&b_at), None)
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(app.refresh(&c_rt).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.call(Method::GET, "/user", Some(&c_at), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let (b_at, _b_rt) = tokens(&app.refresh(&b_rt).await);

    // global (the default): all of them.
    let (_, d_rt) = tokens(&sign_in().await);
    let res = app.call(Method::POST, "/logout", Some(&b_at), None).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(app.refresh(&d_rt).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.session_count(&user_id).await, 0);
    assert_eq!(audit_events(&app, "logout").await.len(), 3);
}

#[sqlx::test(migrations = false)]
async fn rfc7009_revoke(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let s = app.signup("revoke@example.com").await;
    let user_id = str_of(&s.body["user"], "id").to_owned();
    let (_, rt) = tokens(&s);
    let (keep_at, keep_rt) = tokens(&app.sign_in("revoke@example.com", PASSWORD).await);
    // Unknown and malformed tokens: 200 as the RFC says, nothing revoked.
    // A forged token naming this session (same id and counter, made-up secret) revokes nothing.
    let forged = {
        use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
        let mut raw = B64.decode(&rt).unwrap();
        raw[40] ^= 1;
        B64.encode(raw)
    };
    for unknown in ["nope", &"A".repeat(76), &forged] {
        let res = app.form("/revoke", &format!("token={unknown}")).await;
        assert_eq!(res.status, StatusCode::OK);
    }
    assert_eq!(app.session_count(&user_id).await, 2);
    let res = app
        .form(
            "/revoke",
            &format!("token={rt}&token_type_hint=refresh_token"),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(app.refresh(&rt).await.body["error"], "invalid_grant");
    assert_eq!(app.session_count(&user_id).await, 1);
    // JSON body and an access token work too.
    let res = app.post("/revoke", json!({"token": keep_at})).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(app.refresh(&keep_rt).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.session_count(&user_id).await, 0);
    let res = app.post("/revoke", json!({})).await;
    assert_eq!(
        (res.status, res.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
}

#[sqlx::test(migrations = false)]
async fn password_change_keeps_only_the_current_session(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let s = app.signup("pw@example.com").await;
    let user_id = str_of(&s.body["user"], "id").to_owned();
    let (cur_at, cur_rt) = tokens(&s);
    let (other_at, other_rt) = tokens(&app.sign_in("pw@example.com", PASSWORD).await);
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(&cur_at),
            Some(json!({"password": "brand new password"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(app.session_count(&user_id).await, 1);
    assert_eq!(app.refresh(&other_rt).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.call(Method::GET, "/user", Some(&other_at), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    tokens(&app.refresh(&cur_rt).await);
    assert_eq!(
        app.call(Method::GET, "/user", Some(&cur_at), None)
            .await
            .status,
        StatusCode::OK
    );
}

#[sqlx::test(migrations = false)]
async fn expired_sessions_are_pruned(db: PgPool) {
    let app = common::app(&db, &["--session-idle-timeout", "1h"]).await;
    let (at, _) = tokens(&app.signup("prune@example.com").await);
    tokens(&app.signup("fresh@example.com").await);
    age_session(&app, &sid(&at), 7200).await;
    let n = hasura_jwt_auth::store::sessions::prune_expired(&app.pool, Some(3600.0), None)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

/// Sets the rotation times of a session to `secs_ago` seconds before now.
async fn set_rotations(app: &TestApp, session_id: &str, rotated_secs_ago: f64, prev_secs_ago: f64) {
    sqlx::query(
        "UPDATE sessions SET rotated_at = now() - make_interval(secs => $2),
                prev_rotated_at = now() - make_interval(secs => $3) WHERE id = $1::uuid",
    )
    .bind(session_id)
    .bind(rotated_secs_ago)
    .bind(prev_secs_ago)
    .execute(&app.pool)
    .await
    .unwrap();
}

#[sqlx::test(migrations = false)]
async fn reuse_interval_boundaries(db: PgPool) {
    let app = common::app(&db, &["--refresh-token-reuse-interval", "10s"]).await;
    // One rotation behind, 9 s after it was superseded: converges.
    let (at, rt0) = tokens(&app.signup("edge1@example.com").await);
    let (_, rt1) = tokens(&app.refresh(&rt0).await);
    set_rotations(&app, &sid(&at), 9.0, 3600.0).await;
    assert_eq!(tokens(&app.refresh(&rt0).await).1, rt1);
    // ... and at 11 s it is theft.
    set_rotations(&app, &sid(&at), 11.0, 3600.0).await;
    assert_eq!(
        app.refresh(&rt0).await.body["error_code"],
        "refresh_token_already_used"
    );

    // Two rotations behind: judged by when *it* was superseded (the previous rotation), not
    // by the latest one.
    let (at, rt0) = tokens(&app.signup("edge2@example.com").await);
    let (_, rt1) = tokens(&app.refresh(&rt0).await);
    let (_, rt2) = tokens(&app.refresh(&rt1).await);
    set_rotations(&app, &sid(&at), 1.0, 60.0).await;
    let res = app.refresh(&rt0).await;
    assert_eq!(
        res.body["error_code"], "refresh_token_already_used",
        "rt0 was superseded 60 s ago: {res:?}"
    );
    assert_eq!(
        app.refresh(&rt2).await.status,
        StatusCode::BAD_REQUEST,
        "session revoked"
    );

    // Three or more rotations behind: always theft, even right after the latest rotation.
    let (at, rt0) = tokens(&app.signup("edge3@example.com").await);
    let mut rt = rt0.clone();
    for _ in 0..3 {
        rt = tokens(&app.refresh(&rt).await).1;
    }
    set_rotations(&app, &sid(&at), 0.0, 0.0).await;
    assert_eq!(
        app.refresh(&rt0).await.body["error_code"],
        "refresh_token_already_used"
    );
}

#[sqlx::test(migrations = false)]
async fn current_counter_with_a_wrong_secret_is_unknown(db: PgPool) {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
    let app = common::app(&db, &[]).await;
    let (at, rt0) = tokens(&app.signup("cur@example.com").await);
    let (_, rt1) = tokens(&app.refresh(&rt0).await);
    let mut raw = B64.decode(&rt1).unwrap();
    raw[50] ^= 0x80; // same session, same (current) counter, one secret bit flipped
    let res = app.refresh(&B64.encode(&raw)).await;
    assert_eq!(res.body["error_code"], "refresh_token_not_found");
    assert_eq!(app.session_count(str_of(&jwt_payload(&at), "sub")).await, 1);
    tokens(&app.refresh(&rt1).await);
}

#[sqlx::test(migrations = false)]
async fn a_stale_compare_and_set_rotates_nothing(db: PgPool) {
    use hasura_jwt_auth::{client::Client, store::sessions};
    let app = common::app(&db, &[]).await;
    let (at, rt0) = tokens(&app.signup("cas@example.com").await);
    let sid: uuid::Uuid = sid(&at).parse().unwrap();
    tokens(&app.refresh(&rt0).await);
    // A request that read counter 0 before the rotation above loses its compare-and-set.
    assert!(
        !sessions::rotate(&app.pool, sid, 0, &[0u8; 32], &Client::default())
            .await
            .unwrap()
    );
    assert!(!sessions::touch(&app.pool, sid, 0).await.unwrap());
    let counter: i64 = sqlx::query_scalar("SELECT token_counter FROM sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(counter, 1);
    assert!(sessions::touch(&app.pool, sid, 1).await.unwrap());
}

#[sqlx::test(migrations = false)]
async fn password_change_needs_the_current_password_on_older_sessions(db: PgPool) {
    let app = common::app(&db, &["--reauthentication-window", "10m"]).await;
    let (at, _) = tokens(&app.signup("reauth@example.com").await);
    sqlx::query("UPDATE sessions SET created_at = now() - interval '11 minutes'")
        .execute(&app.pool)
        .await
        .unwrap();
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(&at),
            Some(json!({"password": "stolen token pw"})),
        )
        .await;
    assert_eq!(
        (res.status, res.body["error_code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("reauthentication_needed"))
    );
    assert_eq!(
        app.sign_in("reauth@example.com", PASSWORD).await.status,
        StatusCode::OK,
        "unchanged"
    );
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(&at),
            Some(json!({"password": "legit new pw", "current_password": PASSWORD})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    // Metadata alone needs no reauthentication.
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(&at),
            Some(json!({"data": {"a": 1}})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    // A failing part leaves nothing half-done: NUL in data, valid new password.
    let res = app
        .call(Method::PUT, "/user", Some(&at), Some(json!({"password": "half done pw", "current_password": "legit new pw", "data": {"x": "a\u{0}b"}})))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.sign_in("reauth@example.com", "legit new pw")
            .await
            .status,
        StatusCode::OK
    );
}

#[sqlx::test(migrations = false)]
async fn old_tokens_are_theft_up_to_the_chain_limit_and_refused_beyond(db: PgPool) {
    use hasura_jwt_auth::auth::refresh::token::MAX_CHAIN;
    let app = common::app(&db, &[]).await;
    let (at, rt0) = tokens(&app.signup("long@example.com").await);
    let mut rts = vec![rt0];
    for _ in 0..MAX_CHAIN + 2 {
        let next = tokens(&app.refresh(rts.last().unwrap()).await).1;
        rts.push(next);
    }
    // More than MAX_CHAIN rotations back: not walked (a made-up token costs no more), so
    // refused like a forged one; the session lives on.
    let res = app.refresh(&rts[0]).await;
    assert_eq!(res.body["error_code"], "refresh_token_not_found", "{res:?}");
    assert_eq!(app.session_count(str_of(&jwt_payload(&at), "sub")).await, 1);
    // Exactly MAX_CHAIN back: recognised by walking the chain, so theft.
    let res = app.refresh(&rts[2]).await;
    assert_eq!(
        res.body["error_code"], "refresh_token_already_used",
        "{res:?}"
    );
    assert_eq!(app.session_count(str_of(&jwt_payload(&at), "sub")).await, 0);
}

#[sqlx::test(migrations = false)]
async fn the_reuse_interval_counts_to_the_request_s_arrival(db: PgPool) {
    use hasura_jwt_auth::client::Client;
    use std::time::{Duration, Instant};
    let app = common::app(&db, &["--refresh-token-reuse-interval", "10s"]).await;
    let (at0, rt0) = tokens(&app.signup("stall@example.com").await);
    let (_, rt1) = tokens(&app.refresh(&rt0).await);
    // Superseded 11 s ago by the database's clock, but the retry arrived 3 s ago and waited
    // (for a database connection, say): at arrival it was 8 s, inside the interval.
    age_session(&app, &sid(&at0), 11).await;
    let arrived = Instant::now() - Duration::from_secs(3);
    let session = app
        .state
        .auth
        .refresh(&rt0, &Client::default(), arrived)
        .await
        .expect("converges: judged at arrival");
    assert_eq!(session.refresh_token.expose(), rt1, "the current token");
    assert!(audit_events(&app, "refresh_token_reuse").await.is_empty());
    // Judged now instead, the same retry is a theft.
    let err = app
        .state
        .auth
        .refresh(&rt0, &Client::default(), Instant::now())
        .await
        .err()
        .expect("theft");
    assert_eq!(err.code.as_str(), "refresh_token_already_used");
}
