//! Anonymous visitors on the hosted pages: "Continue without an account", then "Save your
//! account" on the account page, proven by the link sent to the address.

use reqwest::StatusCode;
use sqlx::PgPool;

use crate::{
    common::{self, jwt_payload, smtp::Smtp, Served},
    email::params,
    ui::{browser, follow_email_link, get, location, submit},
};

async fn served(db: &PgPool, smtp: &Smtp, extra: &[&str]) -> Served {
    let port = smtp.port.to_string();
    let mut args = vec![
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        &port,
        "--smtp-tls",
        "none",
        "--email-min-interval",
        "0s",
        "--site-url",
        "https://app.example.com",
    ];
    args.extend_from_slice(extra);
    common::serve(db, &args).await
}

#[sqlx::test(migrations = false)]
async fn a_visitor_continues_without_an_account_then_saves_it(db: PgPool) {
    let smtp = Smtp::start();
    let off = served(&db, &smtp, &[]).await;
    let page = get(&browser(), &format!("{}/ui/sign-in", off.url)).await;
    assert!(!page.html.contains("Continue without an account"));

    let s = served(&db, &smtp, &["--anonymous-users"]).await;
    let b = browser();
    let sign_in = format!("{}/ui/sign-in", s.url);
    let page = get(&b, &sign_in).await;
    assert!(
        page.html.contains("Continue without an account"),
        "{}",
        page.html
    );
    let guest = submit(&b, &s.url, &format!("{}/ui/guest", s.url), &page.html, &[]).await;
    assert_eq!(guest.status, StatusCode::SEE_OTHER, "{}", guest.html);
    let account = format!("{}/ui/account", s.url);
    assert_eq!(location(&guest), account);
    let page = get(&b, &account).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("Save your account"), "{}", page.html);
    assert!(!page.html.contains("Change your password"));
    assert!(!page.html.contains("Add an authenticator app"));
    let id: String = sqlx::query_scalar("SELECT id::text FROM users WHERE is_anonymous")
        .fetch_one(&s.app.pool)
        .await
        .unwrap();

    // Both fields are needed; then the link goes to the address.
    let save = format!("{}/ui/account/save", s.url);
    let blank = submit(
        &b,
        &s.url,
        &save,
        &page.html,
        &[("email", "sam@example.com")],
    )
    .await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST, "{}", blank.html);
    assert!(blank.html.contains("Choose a password."));
    let fields = [
        ("email", "sam@example.com"),
        ("password", "a brand new password"),
    ];
    let sent = submit(&b, &s.url, &save, &page.html, &fields).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.html);
    assert!(
        sent.html.contains("We sent a link to sam@example.com"),
        "{}",
        sent.html
    );
    assert!(get(&b, &account).await.html.contains("We sent a link to"));

    let link = smtp.wait("sam@example.com", 1).await.link();
    let landing = follow_email_link(&b, &s, &link).await;
    assert_eq!(landing, format!("{account}?notice=account_saved"));
    let page = get(&b, &landing).await;
    assert!(page.html.contains("Your account is saved"), "{}", page.html);
    assert!(page
        .html
        .contains("Signed in as <strong>sam@example.com</strong>"));
    let row: (String, bool, String) = sqlx::query_as(
        "SELECT id::text, is_anonymous, default_role FROM users WHERE email = 'sam@example.com'",
    )
    .fetch_one(&s.app.pool)
    .await
    .unwrap();
    assert_eq!(row, (id, false, "user".to_owned()));
    let signed = s
        .app
        .sign_in("sam@example.com", "a brand new password")
        .await;
    assert_eq!(signed.status, axum::http::StatusCode::OK, "{signed:?}");
}

#[sqlx::test(migrations = false)]
async fn an_app_gets_a_session_of_its_own_for_the_visitor(db: PgPool) {
    let smtp = Smtp::start();
    let s = served(&db, &smtp, &["--anonymous-users"]).await;
    let b = browser();
    let query = "?redirect_to=https%3A%2F%2Fapp.example.com%2Fback";
    let page = get(&b, &format!("{}/ui/sign-in{query}", s.url)).await;
    let fields = [("redirect_to", "https://app.example.com/back")];
    let guest = submit(
        &b,
        &s.url,
        &format!("{}/ui/guest", s.url),
        &page.html,
        &fields,
    )
    .await;
    assert_eq!(guest.status, StatusCode::SEE_OTHER, "{}", guest.html);
    let to = location(&guest);
    assert!(to.starts_with("https://app.example.com/back#"), "{to}");
    let claims = jwt_payload(&params(to, '#')["access_token"]);
    assert_eq!(claims["is_anonymous"], true);
    assert_eq!(claims["amr"][0]["method"], "anonymous");
    // The pages keep a session of the same user (to save the account there later): two.
    let sessions: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.is_anonymous",
    )
    .fetch_one(&s.app.pool)
    .await
    .unwrap();
    assert_eq!(sessions, 2);
    assert!(get(&b, &format!("{}/ui/account", s.url))
        .await
        .html
        .contains("Save your account"));
}
