//! The one-statement refresh. An instance that knows a session's token salt (it opened the
//! session, or refreshed it before) rotates a current token with one `UPDATE` that never reads
//! the salt from the database; any other instance reads the session first and remembers the
//! salt. Every refresh rule (reuse, theft, lifetimes, disabled users) is tested in
//! `refresh.rs`, where sign-up warms the salt, so those tests go through this path first.
//!
//! To tell the paths apart, these tests overwrite the salt stored in the database: a rotation
//! that used the remembered salt yields the token derived with the real one, a rotation that
//! read the session yields the token derived with the overwritten one.

use axum::http::StatusCode;
use hasura_jwt_auth::auth::refresh::token::RefreshToken;
use sqlx::PgPool;

use crate::common::{self, str_of, TestApp};

fn refresh_token(res: &common::Response) -> String {
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    str_of(&res.body, "refresh_token").to_owned()
}

/// The session's stored salt, then overwritten with another one.
async fn swap_salt(app: &TestApp, token: &str) -> (Vec<u8>, Vec<u8>) {
    let id = RefreshToken::parse(token).unwrap().session_id;
    let real: Vec<u8> = sqlx::query_scalar("SELECT token_salt FROM sessions WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let other = vec![0x5a; 32];
    sqlx::query("UPDATE sessions SET token_salt = $2 WHERE id = $1")
        .bind(id)
        .bind(&other)
        .execute(&app.pool)
        .await
        .unwrap();
    (real, other)
}

fn next(token: &str, salt: &[u8]) -> String {
    RefreshToken::parse(token).unwrap().next(salt).encode()
}

#[sqlx::test(migrations = false)]
async fn the_instance_that_knows_the_salt_rotates_without_reading_it(db: PgPool) {
    let a = common::app(&db, &[]).await;
    let b = common::app(&db, &[]).await;
    let rt0 = refresh_token(&a.signup("one@example.com").await);
    let (real, other) = swap_salt(&a, &rt0).await;

    // A opened the session: one statement, with the salt it remembers.
    let hits = a.state.auth.salt_cache.hits();
    let rt1 = refresh_token(&a.refresh(&rt0).await);
    assert_eq!(rt1, next(&rt0, &real), "rotated with the remembered salt");
    assert_eq!(a.state.auth.salt_cache.hits(), hits + 1);

    // B has never seen it: it reads the session (and so the stored salt), and remembers it.
    assert!(b.state.auth.salt_cache.is_empty());
    let rt2 = refresh_token(&b.refresh(&rt1).await);
    assert_eq!(rt2, next(&rt1, &other), "rotated with the salt read");
    assert_eq!(b.state.auth.salt_cache.hits(), 0);
    let rt3 = refresh_token(&b.refresh(&rt2).await);
    assert_eq!(rt3, next(&rt2, &other));
    assert_eq!(
        b.state.auth.salt_cache.hits(),
        1,
        "the second one needs no read"
    );
}

#[sqlx::test(migrations = false)]
async fn a_token_that_is_not_current_takes_the_reading_path(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let rt0 = refresh_token(&app.signup("two@example.com").await);
    let rt1 = refresh_token(&app.refresh(&rt0).await);
    // rt0 is superseded: the one statement rotates nothing, the session is read and the
    // presenter converges on the current token, which was not rotated again.
    assert_eq!(refresh_token(&app.refresh(&rt0).await), rt1);
    let counter: i64 = sqlx::query_scalar("SELECT token_counter FROM sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(counter, 1);
    // A made-up secret with the current counter rotates nothing either.
    let mut forged = rt1.clone().into_bytes();
    let last = forged.len() - 10;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let res = app.refresh(std::str::from_utf8(&forged).unwrap()).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{res:?}");
    refresh_token(&app.refresh(&rt1).await); // and revoked nothing
}

#[sqlx::test(migrations = false)]
async fn size_zero_turns_the_salts_off(db: PgPool) {
    let app = common::app(&db, &["--session-cache-size", "0"]).await;
    let rt0 = refresh_token(&app.signup("three@example.com").await);
    let (_, other) = swap_salt(&app, &rt0).await;
    let rt1 = refresh_token(&app.refresh(&rt0).await);
    assert_eq!(rt1, next(&rt0, &other), "read the session");
    assert!(app.state.auth.salt_cache.is_empty());
}

#[sqlx::test(migrations = false)]
async fn a_failing_custom_claims_query_rotates_nothing(db: PgPool) {
    // Custom claims that fail (division by zero) for users flagged in their metadata.
    let sql = "SELECT json_build_object('x-hasura-org-id', \
               (1 / CASE WHEN user_metadata->>'fail' = 'yes' THEN 0 ELSE 1 END)::text) \
               FROM users WHERE id = $1";
    let app = common::app(&db, &["--custom-claims-sql", sql]).await;
    let rt0 = refresh_token(&app.signup("four@example.com").await);
    let flag = |value: &'static str| {
        sqlx::query("UPDATE users SET user_metadata = jsonb_build_object('fail', $1::text)")
            .bind(value)
            .execute(&app.pool)
    };
    flag("yes").await.unwrap();
    let hits = app.state.auth.salt_cache.hits();
    let res = app.refresh(&rt0).await;
    assert_eq!(res.status, StatusCode::INTERNAL_SERVER_ERROR, "{res:?}");
    assert_eq!(
        app.state.auth.salt_cache.hits(),
        hits + 1,
        "the one-statement path"
    );
    let counter: i64 = sqlx::query_scalar("SELECT token_counter FROM sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(counter, 0, "the presented token is still the current one");
    flag("no").await.unwrap();
    let res = app.refresh(&rt0).await;
    let rt1 = refresh_token(&res);
    assert_ne!(rt1, rt0);
    assert_eq!(
        common::jwt_payload(str_of(&res.body, "access_token"))["https://hasura.io/jwt/claims"]
            ["x-hasura-org-id"],
        "1"
    );
}
