//! Passkeys on the hosted pages, as a browser without JavaScript sees them: what the pages
//! offer and allow (the script, its CSP), the ceremonies' JSON doors, and renaming and
//! removing on the account page. (The ceremonies themselves, through the script and an
//! authenticator: `browser.rs`.)

use reqwest::{header, StatusCode};
use sqlx::PgPool;

use crate::{
    common::{self, Served, PASSWORD},
    ui::{browser, get, location, sign_in, submit},
};

/// Served on `localhost` (a relying party id must be a domain), passkeys on for it.
async fn served(db: &PgPool, origins: Option<&str>) -> Served {
    let (listener, url) = common::bind().await;
    let local = url.replace("127.0.0.1", "localhost");
    let origins = origins.map(str::to_owned).unwrap_or_else(|| local.clone());
    let args = [
        "--webauthn-rp-id",
        "localhost",
        "--webauthn-origins",
        &origins,
    ];
    common::serve_bound(listener, local.clone(), db, &args).await
}

fn csp(page: &crate::ui::Page) -> String {
    page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned()
}

#[sqlx::test(migrations = false)]
async fn the_sign_in_page_offers_a_passkey_with_its_one_script(db: PgPool) {
    let s = served(&db, None).await;
    let b = browser();
    let page = get(&b, &format!("{}/ui/sign-in", s.url)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let csp = csp(&page);
    let script = format!("script-src {}/ui/passkeys.js;", s.url);
    assert!(csp.contains(&script), "{csp}");
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("'self' 'unsafe"),
        "{csp}"
    );
    assert!(page.html.contains(r#"autocomplete="username webauthn""#));
    assert!(page.html.contains("Sign in with a passkey"));
    assert!(page.html.contains(r#"passkeys.js" defer></script>"#));
    // One script, and nothing inline.
    assert_eq!(page.html.matches("<script").count(), 1);
    let js = get(&b, &format!("{}/ui/passkeys.js", s.url)).await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    assert!(js.html.contains("navigator.credentials.get"));

    // The options: only with the form's token, then a discoverable ceremony for this RP.
    let url = format!("{}/ui/sign-in/passkey/options", s.url);
    let forged = b
        .post(&url)
        .header(header::ORIGIN, &s.url)
        .form(&[("csrf", "not-the-token")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = forged.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("form"), "{body}");
    let begun = submit(&b, &s.url, &url, &page.html, &[]).await;
    assert_eq!(begun.status, StatusCode::OK, "{}", begun.html);
    let begun: serde_json::Value = serde_json::from_str(&begun.html).unwrap();
    assert_eq!(begun["options"]["rpId"], "localhost");
    assert!(begun["options"]
        .get("allowCredentials")
        .is_none_or(|a| a.as_array().is_some_and(Vec::is_empty)));

    // A made-up answer: the sign-in page again, saying so; the ceremony is spent.
    let challenge_id = begun["challenge_id"].as_str().unwrap();
    let answer = [
        ("challenge_id", challenge_id),
        (
            "credential",
            r#"{"id":"x","rawId":"x","type":"public-key","response":{}}"#,
        ),
    ];
    let verify = format!("{}/ui/sign-in/passkey", s.url);
    let refused = submit(&b, &s.url, &verify, &page.html, &answer).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.html);
    assert!(refused.html.contains("That passkey could not be used"));
    assert!(refused.html.contains("Sign in with a passkey"));
    let garbled = submit(&b, &s.url, &verify, &page.html, &[("credential", "{")]).await;
    assert_eq!(garbled.status, StatusCode::BAD_REQUEST, "{}", garbled.html);
}

#[sqlx::test(migrations = false)]
async fn no_passkeys_on_pages_whose_origin_is_not_the_relying_partys(db: PgPool) {
    // Passkeys for the app only: the pages stay without script.
    let (listener, url) = common::bind().await;
    let local = url.replace("127.0.0.1", "localhost");
    let args = [
        "--webauthn-rp-id",
        "localhost",
        "--webauthn-origins",
        "http://localhost:3000",
    ];
    let s = common::serve_bound(listener, local, &db, &args).await;
    let b = browser();
    let page = get(&b, &format!("{}/ui/sign-in", s.url)).await;
    assert!(!csp(&page).contains("script-src"), "{}", csp(&page));
    assert!(!page.html.contains("<script"));
    assert!(!page.html.contains("webauthn"));
    let js = get(&b, &format!("{}/ui/passkeys.js", s.url)).await;
    assert_eq!(js.status, StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = false)]
async fn the_account_page_lists_renames_and_removes_passkeys(db: PgPool) {
    let s = served(&db, None).await;
    s.app.signup("pat@example.com").await;
    let b = browser();
    let signed = sign_in(&s, &b, "", "pat@example.com", PASSWORD).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.html);
    let account = format!("{}/ui/account", s.url);
    let page = get(&b, &account).await;
    assert!(page.html.contains("Add a passkey"), "{}", page.html);
    assert!(page.html.contains("passkey-unsupported"));

    // A stored passkey (the ceremony that makes one: `browser.rs`).
    let id: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO passkeys (id, user_id, credential_id, credential, friendly_name)
         SELECT gen_random_uuid(), id, '\\x0102'::bytea, '{}'::jsonb, 'Chrome on Linux' FROM users
         RETURNING id",
    )
    .fetch_one(&s.app.pool)
    .await
    .unwrap();
    let page = get(&b, &account).await;
    assert!(
        page.html.contains(r#"value="Chrome on Linux""#),
        "{}",
        page.html
    );
    assert!(page.html.contains("aria-label=\"Remove Chrome on Linux"));

    let rename = format!("{account}/passkeys/{id}/rename");
    let blank = submit(&b, &s.url, &rename, &page.html, &[("friendly_name", "  ")]).await;
    assert_eq!(blank.status, StatusCode::BAD_REQUEST, "{}", blank.html);
    assert!(blank.html.contains("give it a name of 1 to 100 characters"));
    let renamed = submit(
        &b,
        &s.url,
        &rename,
        &page.html,
        &[("friendly_name", "Work laptop")],
    )
    .await;
    assert_eq!(renamed.status, StatusCode::SEE_OTHER, "{}", renamed.html);
    assert!(location(&renamed).ends_with("notice=passkey_renamed"));
    let page = get(&b, location(&renamed)).await;
    assert!(page.html.contains(r#"value="Work laptop""#));
    assert!(
        page.html.contains("The passkey was renamed."),
        "{}",
        page.html
    );

    let remove = format!("{account}/passkeys/{id}/remove");
    let removed = submit(&b, &s.url, &remove, &page.html, &[]).await;
    assert!(location(&removed).ends_with("notice=passkey_removed"));
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM passkeys")
        .fetch_one(&s.app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE event = 'passkey_removed'")
            .fetch_one(&s.app.pool)
            .await
            .unwrap();
    assert_eq!(audited, 1);

    // Someone else's passkey is not found, whatever the page says.
    let other = format!("{account}/passkeys/{}/rename", uuid::Uuid::new_v4());
    let page = get(&b, &account).await;
    let missing = submit(&b, &s.url, &other, &page.html, &[("friendly_name", "Mine")]).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.html);

    // The registration options need the signed-in session.
    let options = format!("{account}/passkeys/options");
    let begun = submit(&b, &s.url, &options, &page.html, &[]).await;
    assert_eq!(begun.status, StatusCode::OK, "{}", begun.html);
    let begun: serde_json::Value = serde_json::from_str(&begun.html).unwrap();
    assert_eq!(begun["options"]["user"]["name"], "pat@example.com");
    let stranger = browser();
    let first = get(&stranger, &format!("{}/ui/sign-in", s.url)).await;
    let refused = submit(&stranger, &s.url, &options, &first.html, &[]).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{}", refused.html);
}
