//! The hosted pages under `/ui`, driven as a browser without JavaScript drives them: a client
//! with a cookie jar that reads each page and submits its forms. (The same pages in a real
//! Chromium: `browser.rs`.)

use reqwest::{header, redirect::Policy, Client, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::common::{
    self,
    oidc::{Browser, Oidc},
    smtp::Smtp,
    str_of, Served, PASSWORD,
};

/// A browser without JavaScript: keeps cookies, does not follow redirects by itself.
pub(crate) fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .user_agent("FormBrowser/1.0")
        .build()
        .unwrap()
}

pub(crate) struct Page {
    pub status: StatusCode,
    pub headers: header::HeaderMap,
    pub html: String,
}

pub(crate) async fn get(b: &Client, url: &str) -> Page {
    let r = b.get(url).send().await.unwrap();
    Page {
        status: r.status(),
        headers: r.headers().clone(),
        html: r.text().await.unwrap(),
    }
}

/// The value of the form's `csrf` field.
fn csrf(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap_or_else(|| panic!("a CSRF field in {html}"))
        .to_owned()
}

/// Posts `fields` (with the CSRF token of `page_html`) to `url` from this server's origin.
pub(crate) async fn submit(
    b: &Client,
    base: &str,
    url: &str,
    page_html: &str,
    fields: &[(&str, &str)],
) -> Page {
    let token = csrf(page_html);
    let mut form: Vec<(&str, &str)> = vec![("csrf", &token)];
    form.extend_from_slice(fields);
    let r = b
        .post(url)
        .header(header::ORIGIN, base)
        .form(&form)
        .send()
        .await
        .unwrap();
    Page {
        status: r.status(),
        headers: r.headers().clone(),
        html: r.text().await.unwrap(),
    }
}

pub(crate) fn location(p: &Page) -> &str {
    p.headers[header::LOCATION].to_str().unwrap()
}

/// Signs in through the sign-in page; the answer (a redirect on success).
pub(crate) async fn sign_in(
    s: &Served,
    b: &Client,
    query: &str,
    email: &str,
    password: &str,
) -> Page {
    let page = get(b, &format!("{}/ui/sign-in{query}", s.url)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let mut fields = vec![("email", email), ("password", password)];
    let carried: Vec<(String, String)> =
        url::form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
            .into_owned()
            .collect();
    for (k, v) in &carried {
        fields.push((k, v));
    }
    submit(
        b,
        &s.url,
        &format!("{}/ui/sign-in", s.url),
        &page.html,
        &fields,
    )
    .await
}

#[sqlx::test(migrations = false)]
async fn pages_render_accessible_forms_with_strict_headers(db: PgPool) {
    let s = common::serve(
        &db,
        &[
            "--ui-app-name",
            "Acme <Shop>",
            "--ui-accent-color",
            "#123abc",
        ],
    )
    .await;
    let b = browser();
    for path in ["sign-in", "sign-up", "forgot-password"] {
        let page = get(&b, &format!("{}/ui/{path}", s.url)).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.html);
        assert!(page.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let csp = page.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.starts_with("default-src 'none'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(
            !csp.contains("script-src") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(page.headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
        assert!(!page.html.contains("<script"), "{path}");
        assert!(!page.html.contains("style="), "no inline style in {path}");
        // Every input has its label; the app name is escaped.
        assert!(page.html.contains("<label for=\"email\">"), "{}", page.html);
        assert!(page.html.contains("id=\"email\""));
        assert!(page.html.contains("Acme &lt;Shop&gt;"), "{}", page.html);
        assert!(!page.html.contains("Acme <Shop>"));
        csrf(&page.html);
    }
    let css = get(&b, &format!("{}/ui/style.css", s.url)).await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    assert!(css.html.contains("--accent: #123abc"), "{}", css.html);
    // Signed out, the account page sends to sign-in.
    let account = get(&b, &format!("{}/ui/account", s.url)).await;
    assert_eq!(account.status, StatusCode::SEE_OTHER);
    assert!(location(&account).ends_with("/ui/sign-in"));
}

#[sqlx::test(migrations = false)]
async fn pages_can_be_turned_off_or_replaced(db: PgPool) {
    let s = common::serve(&db, &["--disable-ui"]).await;
    let page = get(&browser(), &format!("{}/ui/sign-in", s.url)).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sign_in.html"),
        "{% extends \"base.html\" %}{% block content %}<p>Custom sign-in for {{ app_name }}</p>{% endblock %}",
    )
    .unwrap();
    // A second server on the same database, with its own templates.
    let s = common::serve(&db, &["--ui-templates-dir", dir.path().to_str().unwrap()]).await;
    let page = get(&browser(), &format!("{}/ui/sign-in", s.url)).await;
    assert!(
        page.html.contains("<p>Custom sign-in for Your account</p>"),
        "{}",
        page.html
    );
    // The others stay built in.
    let page = get(&browser(), &format!("{}/ui/sign-up", s.url)).await;
    assert!(page.html.contains("<label for=\"password\">"));
    drop(s);
}

#[sqlx::test(migrations = false)]
async fn forms_refuse_other_origins_and_missing_tokens(db: PgPool) {
    let s = common::serve(&db, &[]).await;
    s.app.signup("alice@example.com").await;
    let b = browser();
    let page = get(&b, &format!("{}/ui/sign-in", s.url)).await;
    let url = format!("{}/ui/sign-in", s.url);
    let fields = [("email", "alice@example.com"), ("password", PASSWORD)];
    // No token.
    let r = b.post(&url).form(&fields).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    // A wrong token.
    let r = b
        .post(&url)
        .form(&[("csrf", "x".repeat(43).as_str()), fields[0], fields[1]])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The right token from another site's page.
    let token = csrf(&page.html);
    let r = b
        .post(&url)
        .header(header::ORIGIN, "https://evil.example")
        .form(&[("csrf", token.as_str()), fields[0], fields[1]])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // From the page itself: signed in.
    let ok = submit(&b, &s.url, &url, &page.html, &fields).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.html);
}

#[sqlx::test(migrations = false)]
async fn sign_in_errors_do_not_tell_who_has_an_account(db: PgPool) {
    let s = common::serve(&db, &[]).await;
    s.app.signup("alice@example.com").await;
    let b = browser();
    let known = sign_in(&s, &b, "", "alice@example.com", "wrong password").await;
    let unknown = sign_in(&s, &b, "", "nobody@example.com", "wrong password").await;
    assert_eq!(known.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.status, known.status);
    let strip = |html: &str| {
        html.replace("alice@example.com", "X")
            .replace("nobody@example.com", "X")
    };
    assert_eq!(strip(&known.html), strip(&unknown.html));
    assert!(known.html.contains("Wrong email address or password."));
    // The error is announced and the field keeps what was typed.
    assert!(known.html.contains("role=\"alert\""));
    assert!(known.html.contains("value=\"alice@example.com\""));

    let forgot = |email: &'static str| {
        let b = b.clone();
        let url = s.url.clone();
        async move {
            let page = get(&b, &format!("{url}/ui/forgot-password")).await;
            submit(
                &b,
                &url,
                &format!("{url}/ui/forgot-password"),
                &page.html,
                &[("email", email)],
            )
            .await
        }
    };
    let known = forgot("alice@example.com").await;
    let unknown = forgot("nobody@example.com").await;
    assert_eq!(known.status, StatusCode::OK, "{}", known.html);
    assert_eq!(strip(&known.html), strip(&unknown.html));
}

#[sqlx::test(migrations = false)]
async fn account_page_lists_and_ends_sessions_and_changes_the_password(db: PgPool) {
    let s = common::serve(&db, &[]).await;
    s.app.signup("alice@example.com").await;
    let phone = s.app.sign_in("alice@example.com", PASSWORD).await;
    let b = browser();
    let signed = sign_in(&s, &b, "", "alice@example.com", PASSWORD).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.html);
    assert_eq!(location(&signed), format!("{}/ui/account", s.url));
    let cookies: Vec<_> = signed
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cookies.iter().any(|c| c.starts_with("hja_ui_refresh=")
            && c.contains("HttpOnly")
            && c.contains("SameSite=Lax")),
        "{cookies:?}"
    );
    // Nothing of the session in the URL.
    assert!(!location(&signed).contains("token"));

    let account = get(&b, &format!("{}/ui/account", s.url)).await;
    assert_eq!(account.status, StatusCode::OK, "{}", account.html);
    assert!(account.html.contains("alice@example.com"));
    assert!(
        account
            .html
            .contains("FormBrowser&#x2f;1.0</span> <strong class=\"badge\">This device</strong>"),
        "{}",
        account.html
    );
    // The sign-up's session and the API sign-in: two others, each with its button.
    assert_eq!(
        account.html.matches("/end\">").count(),
        2,
        "{}",
        account.html
    );

    // End the API sign-in's session.
    let phone_session = common::jwt_payload(str_of(&phone.body, "access_token"))["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let end = submit(
        &b,
        &s.url,
        &format!("{}/ui/account/sessions/{phone_session}/end", s.url),
        &account.html,
        &[],
    )
    .await;
    assert_eq!(end.status, StatusCode::SEE_OTHER, "{}", end.html);
    let r = s.app.refresh(str_of(&phone.body, "refresh_token")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{r:?}");
    let account = get(&b, &format!("{}/ui/account?notice=session_ended", s.url)).await;
    assert!(account.html.contains("That device was signed out."));
    assert_eq!(account.html.matches("/end\">").count(), 1);

    // Another user's session id changes nothing.
    s.app.signup("bob@example.com").await;
    let bob = s.app.sign_in("bob@example.com", PASSWORD).await;
    let bob_session = common::jwt_payload(str_of(&bob.body, "access_token"))["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    submit(
        &b,
        &s.url,
        &format!("{}/ui/account/sessions/{bob_session}/end", s.url),
        &account.html,
        &[],
    )
    .await;
    assert_eq!(
        s.app
            .refresh(str_of(&bob.body, "refresh_token"))
            .await
            .status,
        StatusCode::OK
    );

    // Everywhere else.
    let others = submit(
        &b,
        &s.url,
        &format!("{}/ui/account/sign-out-others", s.url),
        &account.html,
        &[],
    )
    .await;
    assert_eq!(others.status, StatusCode::SEE_OTHER);
    let account = get(&b, &format!("{}/ui/account", s.url)).await;
    assert_eq!(
        account.html.matches("/end\">").count(),
        0,
        "{}",
        account.html
    );

    // A wrong current password changes nothing; the right one does.
    let url = format!("{}/ui/account/password", s.url);
    let wrong = submit(
        &b,
        &s.url,
        &url,
        &account.html,
        &[
            ("current_password", "nope nope nope"),
            ("password", "a new good password"),
        ],
    )
    .await;
    assert_ne!(wrong.status, StatusCode::SEE_OTHER, "{}", wrong.html);
    assert!(
        wrong.html.contains("The password was not changed."),
        "{}",
        wrong.html
    );
    let right = submit(
        &b,
        &s.url,
        &url,
        &account.html,
        &[
            ("current_password", PASSWORD),
            ("password", "a new good password"),
        ],
    )
    .await;
    assert_eq!(right.status, StatusCode::SEE_OTHER, "{}", right.html);
    assert_eq!(
        s.app
            .sign_in("alice@example.com", "a new good password")
            .await
            .status,
        StatusCode::OK
    );

    // Signing out ends this session and forgets it.
    let account = get(&b, &format!("{}/ui/account", s.url)).await;
    let out = submit(
        &b,
        &s.url,
        &format!("{}/ui/sign-out", s.url),
        &account.html,
        &[],
    )
    .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let after = get(&b, &format!("{}/ui/account", s.url)).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
}

#[sqlx::test(migrations = false)]
async fn sign_in_page_sends_apps_their_session(db: PgPool) {
    let s = common::serve(&db, &["--site-url", "http://app.test"]).await;
    s.app.signup("alice@example.com").await;

    // Implicit: the session in the fragment.
    let b = browser();
    let r = sign_in(
        &s,
        &b,
        "?redirect_to=http%3A%2F%2Fapp.test%2Fhome",
        "alice@example.com",
        PASSWORD,
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.html);
    let to = location(&r);
    assert!(to.starts_with("http://app.test/home#access_token="), "{to}");
    assert!(to.contains("&refresh_token="), "{to}");

    // PKCE: a code, exchanged with the verifier.
    let verifier = "a".repeat(50);
    let challenge = {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()))
    };
    let query = format!("?redirect_to=http%3A%2F%2Fapp.test%2Fcb&code_challenge={challenge}&code_challenge_method=s256");
    let page = get(&b, &format!("{}/ui/sign-in{query}", s.url)).await;
    assert!(page
        .html
        .contains(&format!("name=\"code_challenge\" value=\"{challenge}\"")));
    assert!(
        page.html
            .contains("sign-up?redirect_to=http%3A%2F%2Fapp.test%2Fcb&amp;code_challenge="),
        "{}",
        page.html
    );
    let r = sign_in(&s, &b, &query, "alice@example.com", PASSWORD).await;
    let to = location(&r);
    assert!(to.starts_with("http://app.test/cb?code="), "{to}");
    let code = common::oidc::query_param(to, "code").unwrap();
    let res = s
        .app
        .post(
            "/token?grant_type=pkce",
            json!({"auth_code": code, "code_verifier": verifier}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.body["user"]["email"], "alice@example.com");

    // Sign-up from a PKCE app (no confirmation required): a code as well.
    let page = get(&b, &format!("{}/ui/sign-up{query}", s.url)).await;
    let r = submit(
        &b,
        &s.url,
        &format!("{}/ui/sign-up", s.url),
        &page.html,
        &[
            ("email", "newbie@example.com"),
            ("password", PASSWORD),
            ("redirect_to", "http://app.test/cb"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "s256"),
        ],
    )
    .await;
    let to = location(&r);
    assert!(to.starts_with("http://app.test/cb?code="), "{to}");
    let code = common::oidc::query_param(to, "code").unwrap();
    let res = s
        .app
        .post(
            "/token?grant_type=pkce",
            json!({"auth_code": code, "code_verifier": verifier}),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert_eq!(res.body["user"]["email"], "newbie@example.com");

    // Not an allowed redirect: the account page instead, never the other site.
    let r = sign_in(
        &s,
        &browser(),
        "?redirect_to=https%3A%2F%2Fevil.example%2F",
        "alice@example.com",
        PASSWORD,
    )
    .await;
    assert_eq!(location(&r), format!("{}/ui/account", s.url));
}

#[sqlx::test(migrations = false)]
async fn password_reset_and_confirmation_through_the_pages(db: PgPool) {
    let smtp = Smtp::start();
    let port = smtp.port.to_string();
    let s = common::serve(
        &db,
        &[
            "--smtp-host",
            "127.0.0.1",
            "--smtp-port",
            &port,
            "--smtp-tls",
            "none",
            "--email-confirmation-required",
            "--email-min-interval",
            "0s",
        ],
    )
    .await;
    let b = browser();

    // Sign up: a message, then the link confirms and lands signed in.
    let page = get(&b, &format!("{}/ui/sign-up", s.url)).await;
    let r = submit(
        &b,
        &s.url,
        &format!("{}/ui/sign-up", s.url),
        &page.html,
        &[("email", "carol@example.com"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.html);
    assert!(r.html.contains("Check your email"));
    let link = smtp.wait("carol@example.com", 1).await.link();
    let landing = follow_email_link(&b, &s, &link).await;
    assert_eq!(landing, format!("{}/ui/confirmed", s.url));
    assert!(get(&b, &landing)
        .await
        .html
        .contains("Your email address is confirmed"));
    assert_eq!(
        get(&b, &format!("{}/ui/account", s.url)).await.status,
        StatusCode::OK
    );

    // Forgot password, in a browser that is not signed in.
    let b = browser();
    let page = get(&b, &format!("{}/ui/forgot-password", s.url)).await;
    let r = submit(
        &b,
        &s.url,
        &format!("{}/ui/forgot-password", s.url),
        &page.html,
        &[("email", "carol@example.com")],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.html);
    let link = smtp.wait("carol@example.com", 2).await.link();
    let landing = follow_email_link(&b, &s, &link).await;
    assert_eq!(landing, format!("{}/ui/reset-password", s.url));
    let page = get(&b, &landing).await;
    assert!(page.html.contains("carol@example.com"), "{}", page.html);
    let weak = submit(&b, &s.url, &landing, &page.html, &[("password", "short")]).await;
    assert_eq!(
        weak.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        weak.html
    );
    let r = submit(
        &b,
        &s.url,
        &landing,
        &page.html,
        &[("password", "a brand new password")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.html);
    assert!(location(&r).ends_with("/ui/account?notice=password_changed"));
    assert!(get(&b, location(&r))
        .await
        .html
        .contains("Your password was changed."));
    assert_eq!(
        s.app
            .sign_in("carol@example.com", "a brand new password")
            .await
            .status,
        StatusCode::OK
    );
    assert_ne!(
        s.app.sign_in("carol@example.com", PASSWORD).await.status,
        StatusCode::OK
    );
}

/// Opens an email link (the page with its button) and presses the button: where it leads.
pub(crate) async fn follow_email_link(b: &Client, s: &Served, link: &str) -> String {
    let page = get(b, link).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    let field = |name: &str| {
        page.html
            .split(&format!("name=\"{name}\" value=\""))
            .nth(1)
            .and_then(|t| t.split('"').next())
            .unwrap()
            .replace("&amp;", "&")
            .replace("&#x2f;", "/")
            .replace("&#x2F;", "/")
    };
    let form = [
        ("token", field("token")),
        ("type", field("type")),
        ("redirect_to", field("redirect_to")),
    ];
    let r = b
        .post(format!("{}/verify", s.url))
        .header(header::ORIGIN, &s.url)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    r.headers()[header::LOCATION].to_str().unwrap().to_owned()
}

#[sqlx::test(migrations = false)]
async fn provider_buttons_sign_in_through_the_provider(db: PgPool) {
    let (listener, url) = common::bind().await;
    let oidc = Oidc::start_for(&format!("{url}/callback")).await;
    let s = common::serve_bound(
        listener,
        url,
        &db,
        &[
            "--site-url",
            "http://app.test",
            "--oidc-providers",
            &oidc.providers_setting("acme"),
        ],
    )
    .await;
    let browser = Browser::new();
    let page = get(&browser.http, &format!("{}/ui/sign-in", s.url)).await;
    assert!(
        page.html.contains(">Continue with Acme</a>"),
        "{}",
        page.html
    );
    let href = provider_href(&page.html);
    let account = format!("{}/ui/account", s.url);
    assert_eq!(
        common::oidc::query_param(&href, "redirect_to").as_deref(),
        Some(account.as_str())
    );
    // Through the provider and back: on the account page, signed in by the provider.
    let back = browser
        .sign_in(&href, "alice", &format!("{}/callback", s.url))
        .await;
    let landed = browser.http.get(&back).send().await.unwrap();
    assert_eq!(landed.status(), StatusCode::SEE_OTHER);
    assert_eq!(landed.headers()[header::LOCATION], account.as_str());
    let page = get(&browser.http, &account).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("alice@example.com"), "{}", page.html);

    // From an app's sign-in link, the button carries the app's redirect and challenge
    // (with the method the password form would use: plain when none is given).
    let page = get(
        &browser.http,
        &format!(
            "{}/ui/sign-in?redirect_to=http%3A%2F%2Fapp.test%2F&code_challenge={}",
            s.url,
            "c".repeat(43)
        ),
    )
    .await;
    let href = provider_href(&page.html);
    let param = |name| common::oidc::query_param(&href, name);
    assert_eq!(param("redirect_to").as_deref(), Some("http://app.test/"));
    assert_eq!(param("code_challenge"), Some("c".repeat(43)));
    assert_eq!(param("code_challenge_method").as_deref(), Some("plain"));
}

/// The first provider button's link.
fn provider_href(html: &str) -> String {
    html.split("class=\"button secondary\" href=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap_or_else(|| panic!("a provider button in {html}"))
        .replace("&amp;", "&")
        .replace("&#x2f;", "/")
}

#[sqlx::test(migrations = false)]
async fn pages_renew_their_session_with_the_refresh_cookie(db: PgPool) {
    let s = common::serve(&db, &[]).await;
    s.app.signup("gus@example.com").await;
    let b = browser();
    let signed = sign_in(&s, &b, "", "gus@example.com", PASSWORD).await;
    let set_cookie = |headers: &header::HeaderMap, name: &str| -> Option<String> {
        headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix(&format!("{name}=")))
            .map(|c| c.split(';').next().unwrap().to_owned())
    };
    let refresh = set_cookie(&signed.headers, "hja_ui_refresh").unwrap();
    // The form token is the CSRF cookie's value (double submit).
    let csrf_cookie = Some(csrf(&get(&b, &format!("{}/ui/sign-in", s.url)).await.html));
    let plain = Client::builder().redirect(Policy::none()).build().unwrap();
    // Only the refresh cookie (the access token's cookie has expired): the page renews both.
    let with_refresh = |token: &str| {
        let mut cookie = format!("hja_ui_refresh={token}");
        if let Some(c) = &csrf_cookie {
            cookie.push_str(&format!("; hja_ui_csrf={c}"));
        }
        cookie
    };
    let r = plain
        .get(format!("{}/ui/account", s.url))
        .header(header::COOKIE, with_refresh(&refresh))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let renewed = set_cookie(r.headers(), "hja_ui_refresh").unwrap();
    assert_ne!(renewed, refresh);
    assert!(set_cookie(r.headers(), "hja_ui_access").is_some());
    // A second tab with the old cookie, at once: converges on the same session.
    let r = plain
        .get(format!("{}/ui/account", s.url))
        .header(header::COOKIE, with_refresh(&refresh))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // An answer that is an error page still carries the renewed cookies.
    let r = plain
        .post(format!("{}/ui/account/password", s.url))
        .header(header::COOKIE, with_refresh(&renewed))
        .header(header::ORIGIN, &s.url)
        .form(&[
            ("csrf", csrf_cookie.clone().unwrap_or_default().as_str()),
            ("current_password", ""),
            ("password", "whatever whatever"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let newest =
        set_cookie(r.headers(), "hja_ui_refresh").expect("renewed cookie on the error page");
    let html = r.text().await.unwrap();
    assert!(html.contains("Enter your current password."), "{html}");
    let r = plain
        .get(format!("{}/ui/account", s.url))
        .header(header::COOKIE, with_refresh(&newest))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let thefts: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE event = 'refresh_token_reuse'")
            .fetch_one(&s.app.pool)
            .await
            .unwrap();
    assert_eq!(thefts, 0);
    // A token that is not the session's: signed out, cookies cleared.
    let r = plain
        .get(format!("{}/ui/account", s.url))
        .header(header::COOKIE, "hja_ui_refresh=not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        set_cookie(r.headers(), "hja_ui_refresh").as_deref(),
        Some("")
    );
}
