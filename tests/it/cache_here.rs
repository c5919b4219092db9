//! Changes made through an instance are seen there at once, without waiting for the
//! database's notification (other instances hear them within milliseconds: see `cache`): a
//! client that reads right after its own write gets what it wrote.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::{
    cache::{instance, primed, seen, wait_until, ADMIN},
    common::{self, str_of},
};
use std::time::Duration;

/// A sign-out takes effect on the instance that made it at once, without waiting for the
/// database's notification.
#[sqlx::test(migrations = false)]
async fn a_sign_out_is_seen_at_once_where_it_was_made(db: PgPool) {
    let a = instance(&db).await;
    a.signup("now@example.com").await;
    let token_of = |r: common::Response| str_of(&r.body, "access_token").to_owned();
    let first = token_of(a.sign_in("now@example.com", common::PASSWORD).await);
    let second = token_of(a.sign_in("now@example.com", common::PASSWORD).await);
    primed(&a, &first).await;
    primed(&a, &second).await;

    // DELETE /sessions/{id}: the second session ends the first one.
    let sid = common::jwt_payload(&first)["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = a
        .call(
            Method::DELETE,
            &format!("/sessions/{sid}"),
            Some(&second),
            None,
        )
        .await;
    assert!(res.status.is_success(), "{res:?}");
    assert_eq!(seen(&a, &first).await, (StatusCode::UNAUTHORIZED, None));

    // POST /logout.
    let res = a.call(Method::POST, "/logout", Some(&second), None).await;
    assert!(res.status.is_success(), "{res:?}");
    assert_eq!(seen(&a, &second).await, (StatusCode::UNAUTHORIZED, None));
}

/// The listener holds a connection for good, from a pool of its own: every connection of
/// the request pool stays available to requests.
/// A change to a user made through an instance is seen there at once, without waiting for
/// the database's notification: a client that reads right after its own write (auth-js's
/// `updateUser` then `getUser`) gets what it wrote, and an admin's disable holds at once.
#[sqlx::test(migrations = false)]
async fn user_changes_are_seen_at_once_where_they_were_made(db: PgPool) {
    let a = instance(&db).await;
    let s = a.signup("own@example.com").await;
    let token = str_of(&s.body, "access_token").to_owned();
    let id = str_of(&s.body["user"], "id").to_owned();
    for round in 0..3 {
        primed(&a, &token).await;
        let data = json!({"data": {"round": round}});
        let res = a.call(Method::PUT, "/user", Some(&token), Some(data)).await;
        assert_eq!(res.status, StatusCode::OK, "{res:?}");
        let res = a.call(Method::GET, "/user", Some(&token), None).await;
        assert_eq!(res.body["user_metadata"]["round"], round, "round {round}");
    }

    primed(&a, &token).await;
    let roles =
        json!({"app_metadata": {"default_role": "editor", "allowed_roles": ["user", "editor"]}});
    let path = format!("/admin/users/{id}");
    let admin_put = |body| a.call(Method::PUT, &path, Some(ADMIN), Some(body));
    assert_eq!(admin_put(roles).await.status, StatusCode::OK);
    assert_eq!(
        seen(&a, &token).await,
        (StatusCode::OK, Some("editor".into()))
    );

    primed(&a, &token).await;
    assert_eq!(
        admin_put(json!({"disabled": true})).await.status,
        StatusCode::OK
    );
    assert_eq!(seen(&a, &token).await, (StatusCode::UNAUTHORIZED, None));
}

/// `GET /user` answers from the reading of the user that the cache holds, its body made
/// once; a change to the user (made on another instance) is a new reading with a new body.
#[sqlx::test(migrations = false)]
async fn the_user_answer_follows_changes(db: PgPool) {
    let a = instance(&db).await;
    let b = instance(&db).await;
    let s = a.signup("view@example.com").await;
    let token = str_of(&s.body, "access_token").to_owned();
    primed(&a, &token).await;
    let first = a.call(Method::GET, "/user", Some(&token), None).await;
    let again = a.call(Method::GET, "/user", Some(&token), None).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body, again.body);
    assert_eq!(first.body["email"], "view@example.com");
    // Kept: asked again, the reading does not make it afresh.
    let who = a.state.auth.authenticate(&token).await.unwrap();
    let kept = who.user.api_body(|_| Err::<Vec<u8>, ()>(()));
    assert!(kept.is_ok(), "the body is kept");

    let res = b
        .call(
            Method::PUT,
            "/user",
            Some(&token),
            Some(json!({"data": {"plan": "pro"}})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    let took = wait_until("the new metadata", || async {
        let res = a.call(Method::GET, "/user", Some(&token), None).await;
        res.body["user_metadata"]["plan"] == "pro"
    })
    .await;
    assert!(took < Duration::from_secs(1), "{took:?}");
}

/// Opening a session changes its user (the last sign-in): the user's other sessions on this
/// instance show it at once. An admin's revocation of the sessions holds at once too.
#[sqlx::test(migrations = false)]
async fn sign_ins_and_revocations_are_seen_at_once(db: PgPool) {
    let a = instance(&db).await;
    let s = a.signup("again@example.com").await;
    let token = str_of(&s.body, "access_token").to_owned();
    let id = str_of(&s.body["user"], "id").to_owned();
    primed(&a, &token).await;
    let before = a.call(Method::GET, "/user", Some(&token), None).await;
    let again = a.sign_in("again@example.com", common::PASSWORD).await;
    assert_eq!(again.status, StatusCode::OK, "{again:?}");
    let after = a.call(Method::GET, "/user", Some(&token), None).await;
    assert_ne!(
        before.body["last_sign_in_at"], after.body["last_sign_in_at"],
        "the new sign-in shows at once"
    );
    assert_eq!(
        after.body["last_sign_in_at"],
        again.body["user"]["last_sign_in_at"]
    );

    primed(&a, &token).await;
    let res = a
        .call(
            Method::DELETE,
            &format!("/admin/users/{id}/sessions"),
            Some(ADMIN),
            None,
        )
        .await;
    assert!(res.status.is_success(), "{res:?}");
    assert_eq!(seen(&a, &token).await, (StatusCode::UNAUTHORIZED, None));
}
