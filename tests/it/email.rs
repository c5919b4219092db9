//! Accounts by email, end to end over a real SMTP server: every message is read as received
//! and its link or code used exactly as a user would. Links and codes (`links`), address
//! changes (`change`), delivery (`delivery`); here, the helpers they share.

mod change;
mod delivery;
mod links;

use std::collections::HashMap;

use axum::{
    body::Body,
    http::{header, Request, StatusCode},
};
use sqlx::PgPool;

use crate::common::{self, smtp::Smtp, TestApp};

pub(crate) const SITE: &str = "https://app.example.com";

pub(crate) async fn mail_app(db: &PgPool, smtp: &Smtp, extra: &[&str]) -> TestApp {
    let port = smtp.port.to_string();
    let mut args = vec![
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        &port,
        "--smtp-tls",
        "none",
        "--site-url",
        SITE,
        "--public-url",
        "http://auth.test",
    ];
    args.extend_from_slice(extra);
    common::app(db, &args).await
}

/// The value of a hidden input of the verification page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("{name} in {html}"))
        + marker.len();
    let value = &html[at..at + html[at..].find('"').unwrap()];
    unescape(value)
}

/// Undoes HTML escaping of an attribute value (as a browser reads it).
fn unescape(value: &str) -> String {
    value
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Follows an email link like a browser: the page (which uses nothing), then its button.
/// Returns the `Location` the button's POST redirects to.
pub(crate) async fn follow(app: &TestApp, link: &str) -> String {
    let path = link
        .strip_prefix("http://auth.test")
        .expect("a link to this server");
    let page = app
        .request(Request::get(path).body(Body::empty()).unwrap())
        .await;
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    let html = page.body.as_str().unwrap().to_owned();
    assert!(page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    let form = serde_urlencoded::to_string([
        ("token", hidden(&html, "token")),
        ("type", hidden(&html, "type")),
        ("redirect_to", hidden(&html, "redirect_to")),
    ])
    .unwrap();
    let res = app.form("/verify", &form).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{res:?}");
    res.headers[header::LOCATION].to_str().unwrap().to_owned()
}

async fn get(app: &TestApp, path: &str) -> common::Response {
    app.request(Request::get(path).body(Body::empty()).unwrap())
        .await
}

/// The parameters after `#` (or `?` when `query`) of a redirect.
pub(crate) fn params(location: &str, sep: char) -> HashMap<String, String> {
    let tail = location.split_once(sep).map(|(_, t)| t).unwrap_or("");
    serde_urlencoded::from_str::<Vec<(String, String)>>(tail)
        .unwrap()
        .into_iter()
        .collect()
}

async fn outbox(app: &TestApp) -> i64 {
    hasura_jwt_auth::store::outbox::pending(&app.pool)
        .await
        .unwrap()
}

pub(crate) async fn clear_send_limits(app: &TestApp) {
    sqlx::query("DELETE FROM email_send_limits")
        .execute(&app.pool)
        .await
        .unwrap();
}
