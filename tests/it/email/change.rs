//! Changing the email address: the new address confirmed (and the current one too in secure
//! mode), what was sent to the old address voided, a change cancelled by going back.

use super::{follow, mail_app, params};
use crate::common::{smtp::Smtp, str_of, PASSWORD};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn email_change_needs_the_new_address_confirmed(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &["--secure-email-change=false"]).await;
    let s = app.signup("old@example.com").await;
    let at = str_of(&s.body, "access_token").to_owned();
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(&at),
            Some(json!({"email": "New@Example.com"})),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(
        res.body["email"], "old@example.com",
        "unchanged until confirmed"
    );
    assert_eq!(res.body["new_email"], "new@example.com");
    let mail = smtp.wait("new@example.com", 1).await;
    assert_eq!(mail.subject, "Confirm your new email address");
    assert!(mail.text.contains("old@example.com") && mail.text.contains("new@example.com"));
    assert!(smtp.to("old@example.com").is_empty(), "not secure mode");
    let p = params(&follow(&app, &mail.link()).await, '#');
    assert_eq!(p["type"], "email_change");
    // The old address is told, with no link or code in the message.
    let notice = smtp.wait("old@example.com", 1).await;
    assert_eq!(notice.subject, "Your email address was changed");
    assert!(notice
        .text
        .contains("from old@example.com to new@example.com"));
    assert!(!notice.text.contains("/verify?"));
    let me = app
        .call(Method::GET, "/user", Some(&p["access_token"]), None)
        .await;
    assert_eq!(me.body["email"], "new@example.com");
    assert!(me.body.get("new_email").is_none());
    assert_eq!(
        app.sign_in("new@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
    let changed: Value =
        sqlx::query_scalar("SELECT detail FROM audit_log WHERE event = 'email_changed'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        changed,
        json!({"from": "old@example.com", "to": "new@example.com"})
    );
    // An address someone has is refused.
    app.signup("taken@example.com").await;
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(&at),
            Some(json!({"email": "taken@example.com"})),
        )
        .await;
    assert_eq!(res.body["error_code"], "email_exists");
}

#[sqlx::test(migrations = false)]
async fn secure_email_change_needs_both_addresses(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &["--secure-email-change"]).await;
    let s = app.signup("current@example.com").await;
    let at = str_of(&s.body, "access_token").to_owned();
    app.call(
        Method::PUT,
        "/user",
        Some(&at),
        Some(json!({"email": "next@example.com"})),
    )
    .await;
    let to_new = smtp.wait("next@example.com", 1).await;
    let to_current = smtp.wait("current@example.com", 1).await;
    // The new address alone is not enough ...
    let first = follow(&app, &to_new.link()).await;
    assert!(first.contains("message="), "{first}");
    let me = app.call(Method::GET, "/user", Some(&at), None).await;
    assert_eq!(me.body["email"], "current@example.com");
    // ... the current one completes it (here by code, as verifyOtp sends it).
    let res = app
        .post(
            "/verify",
            json!({"type": "email_change", "email": "current@example.com", "token": to_current.code()}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.body["user"]["email"], "next@example.com");
}

#[sqlx::test(migrations = false)]
async fn a_secure_change_cannot_skip_the_current_address(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &["--secure-email-change"]).await;
    let s = app.signup("owner@example.com").await;
    // A thief with the owner's access token asks for their own address ...
    let at = str_of(&s.body, "access_token").to_owned();
    app.call(
        Method::PUT,
        "/user",
        Some(&at),
        Some(json!({"email": "thief@example.com"})),
    )
    .await;
    let to_thief = smtp.wait("thief@example.com", 1).await;
    smtp.wait("owner@example.com", 1).await;
    // ... burns the owner's code with wrong guesses ...
    for _ in 0..6 {
        app.post(
            "/verify",
            json!({"type": "email_change", "email": "owner@example.com", "token": "000001"}),
        )
        .await;
    }
    sqlx::query("DELETE FROM sign_in_attempts")
        .execute(&app.pool)
        .await
        .unwrap();
    // ... and confirms the new address: not enough, the owner has not confirmed.
    let location = follow(&app, &to_thief.link()).await;
    assert!(location.contains("message="), "{location}");
    let me = app.call(Method::GET, "/user", Some(&at), None).await;
    assert_eq!(me.body["email"], "owner@example.com");
}

#[sqlx::test(migrations = false)]
async fn changing_the_address_voids_what_was_sent_to_the_old_one(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &["--secure-email-change=false"]).await;
    let s = app.signup("before@example.com").await;
    let at = str_of(&s.body, "access_token").to_owned();
    app.post("/recover", json!({"email": "before@example.com"}))
        .await;
    let recovery = smtp.wait("before@example.com", 1).await;
    app.call(
        Method::PUT,
        "/user",
        Some(&at),
        Some(json!({"email": "after@example.com"})),
    )
    .await;
    follow(&app, &smtp.wait("after@example.com", 1).await.link()).await;
    let res = app
        .post(
            "/verify",
            json!({"type": "recovery", "email": "before@example.com", "token": recovery.code()}),
        )
        .await;
    assert_eq!(res.body["error_code"], "otp_expired");
    let p = params(&follow(&app, &recovery.link()).await, '#');
    assert_eq!(p["error_code"], "otp_expired");
}

#[sqlx::test(migrations = false)]
async fn going_back_to_the_current_address_cancels_a_change(db: PgPool) {
    let smtp = Smtp::start();
    let app = mail_app(&db, &smtp, &[]).await;
    let s = app.signup("stay@example.com").await;
    let at = str_of(&s.body, "access_token").to_owned();
    app.call(
        Method::PUT,
        "/user",
        Some(&at),
        Some(json!({"email": "go@example.com"})),
    )
    .await;
    let mail = smtp.wait("go@example.com", 1).await;
    let res = app
        .call(
            Method::PUT,
            "/user",
            Some(&at),
            Some(json!({"email": "stay@example.com"})),
        )
        .await;
    assert!(res.body.get("new_email").is_none(), "{res:?}");
    let p = params(&follow(&app, &mail.link()).await, '#');
    assert_eq!(p["error_code"], "otp_expired");
    let me = app.call(Method::GET, "/user", Some(&at), None).await;
    assert_eq!(me.body["email"], "stay@example.com");
}
