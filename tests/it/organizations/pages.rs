//! The account page's organizations, invitations and API keys, driven as a browser without
//! JavaScript drives them.

use axum::http::Method;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use super::{create, token_of};
use crate::{
    common::{self, str_of, PASSWORD},
    ui::{browser, get, location, sign_in, submit},
};

/// The full URL of the form whose button carries `marker`.
fn form_of(base: &str, html: &str, marker: &str) -> String {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"));
    let start = html[..at].rfind("action=\"").unwrap() + 8;
    let action = &html[start..start + html[start..].find('"').unwrap()];
    format!("{base}{}", action.replace("&#x2f;", "/"))
}

#[sqlx::test(migrations = false)]
async fn the_account_page_switches_organizations_accepts_invitations_and_makes_keys(db: PgPool) {
    let s = common::serve(&db, &[]).await;
    let ann = token_of(&s.app, "ann@example.com").await;
    token_of(&s.app, "bob@example.com").await;
    let acme = str_of(
        &create(&s.app, &ann, json!({"name": "Acme"})).await.body,
        "id",
    )
    .to_owned();
    let invite = json!({"email": "bob@example.com", "roles": ["org_member"]});
    let path = format!("/organizations/{acme}/invitations");
    let sent = s
        .app
        .call(Method::POST, &path, Some(&ann), Some(invite))
        .await;
    assert_eq!(sent.status.as_u16(), 201, "{sent:?}");

    super::invitations::prove_address(&s.app, "bob@example.com").await;
    let b = browser();
    let signed = sign_in(&s, &b, "", "bob@example.com", PASSWORD).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.html);
    let account_url = format!("{}/ui/account", s.url);
    let account = get(&b, &account_url).await;
    assert!(
        account.html.contains("not a member of any organization"),
        "{}",
        account.html
    );

    // The invitation: joined with a button.
    let join = form_of(&s.url, &account.html, "aria-label=\"Join Acme\"");
    let joined = submit(&b, &s.url, &join, &account.html, &[]).await;
    assert_eq!(
        location(&joined),
        format!("{account_url}?notice=invitation_accepted")
    );
    let account = get(&b, &account_url).await;
    assert!(
        account
            .html
            .contains("Acme <span class=\"meta\">(org_member)</span>"),
        "{}",
        account.html
    );
    assert!(!account.html.contains("aria-label=\"Join Acme\""));

    // Acting in it: this page session's token carries the organization from now on.
    let act = form_of(&s.url, &account.html, "aria-label=\"Act in Acme\"");
    let acted = submit(&b, &s.url, &act, &account.html, &[]).await;
    assert_eq!(
        location(&acted),
        format!("{account_url}?notice=organization_switched")
    );
    let account = get(&b, &account_url).await;
    assert!(
        account
            .html
            .contains("<strong class=\"badge\">Active here</strong>"),
        "{}",
        account.html
    );
    let none = submit(
        &b,
        &s.url,
        &format!("{}/ui/account/organizations/none", s.url),
        &account.html,
        &[],
    )
    .await;
    assert_eq!(none.status, StatusCode::SEE_OTHER);
    let account = get(&b, &account_url).await;
    assert!(!account.html.contains("Active here"));

    // An API key in the organization: its secret shown once, then it works through the webhook.
    let made = submit(
        &b,
        &s.url,
        &format!("{}/ui/account/api-keys", s.url),
        &account.html,
        &[
            ("name", "deploy"),
            ("organization_id", &acme),
            ("expires_in_days", "30"),
        ],
    )
    .await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.html);
    let key = made
        .html
        .split("<code class=\"api-key\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    assert!(key.starts_with("hja_"), "{key}");
    let hook = |key: String| {
        let app = &s.app;
        async move {
            let req = axum::http::Request::get("/hasura/webhook")
                .header("authorization", format!("Bearer {key}"))
                .body(axum::body::Body::empty())
                .unwrap();
            app.request(req).await
        }
    };
    let answer = hook(key.clone()).await;
    assert_eq!(answer.body["x-hasura-org-id"], acme.as_str(), "{answer:?}");
    let account = get(&b, &account_url).await;
    assert!(
        account
            .html
            .contains("deploy <span class=\"meta\">(user, org_member in Acme"),
        "{}",
        account.html
    );
    assert!(
        !account.html.contains(&key),
        "the secret is never shown again"
    );
    let revoke = form_of(&s.url, &account.html, "aria-label=\"Revoke deploy\"");
    let revoked = submit(&b, &s.url, &revoke, &account.html, &[]).await;
    assert_eq!(
        location(&revoked),
        format!("{account_url}?notice=api_key_revoked")
    );
    assert_eq!(hook(key).await.status.as_u16(), 401);
}
