//! Two-step verification on the hosted pages, without JavaScript (the same in Chromium:
//! `browser.rs`): the app's redirect happens only at aal2, with a session or PKCE code of its
//! own.

use super::{authenticator, code, enroll, step_up};
use crate::{
    common::{self, jwt_payload, oidc::query_param, str_of, PASSWORD},
    ui::{browser, get, location, sign_in, submit},
};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

fn pkce() -> (String, String) {
    use base64::Engine;
    use sha2::Digest;
    let verifier = "v".repeat(50);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

#[sqlx::test(migrations = false)]
async fn a_pkce_app_gets_its_code_only_after_the_second_factor(db: PgPool) {
    let s = common::serve(&db, &["--site-url", "http://app.test"]).await;
    let signed_up = s.app.signup("a@example.com").await;
    let at = str_of(&signed_up.body, "access_token");
    let enrolled = enroll(&s.app, at, "").await;
    let totp = authenticator(&enrolled);
    let raised = step_up(&s.app, at, str_of(&enrolled.body, "id"), &totp, 0).await;
    assert_eq!(raised.status, axum::http::StatusCode::OK);

    let (verifier, challenge) = pkce();
    let query = format!("?redirect_to=http%3A%2F%2Fapp.test%2Fcb&code_challenge={challenge}&code_challenge_method=s256");
    let b = browser();
    let r = sign_in(&s, &b, &query, "a@example.com", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.html);
    let second = location(&r).to_owned();
    assert!(
        second.starts_with(&format!("{}/ui/second-factor?redirect_to=", s.url)),
        "{second}"
    );
    // The account page waits for the code too.
    let account = get(&b, &format!("{}/ui/account", s.url)).await;
    assert_eq!(account.status, StatusCode::SEE_OTHER);
    assert!(location(&account).ends_with("/ui/second-factor"));

    let page = get(&b, &second).await;
    assert!(page.html.contains("6-digit code"), "{}", page.html);
    assert!(page
        .html
        .contains(&format!("name=\"code_challenge\" value=\"{challenge}\"")));
    let url = format!("{}/ui/second-factor", s.url);
    let carry = [
        ("redirect_to", "http://app.test/cb"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "s256"),
    ];
    let mut fields = vec![("code", "000000")];
    fields.extend_from_slice(&carry);
    let wrong = submit(&b, &s.url, &url, &page.html, &fields).await;
    assert_eq!(
        wrong.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        wrong.html
    );
    assert!(wrong.html.contains("That code is not right"));
    let right = code(&totp, 1);
    fields[0] = ("code", right.as_str());
    let r = submit(&b, &s.url, &url, &wrong.html, &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.html);
    let to = location(&r);
    assert!(to.starts_with("http://app.test/cb?code="), "{to}");
    let exchanged = s
        .app
        .post(
            "/token?grant_type=pkce",
            json!({"auth_code": query_param(to, "code").unwrap(), "code_verifier": verifier}),
        )
        .await;
    let payload = jwt_payload(str_of(&exchanged.body, "access_token"));
    assert_eq!(payload["aal"], "aal2", "{payload}");
    let methods: Vec<_> = payload["amr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["method"].clone())
        .collect();
    assert_eq!(methods, ["totp", "password"]);

    // The pages' own session is at aal2 too: the account page lists the app and removes it.
    let account = get(&b, &format!("{}/ui/account", s.url)).await;
    assert_eq!(account.status, StatusCode::OK, "{}", account.html);
    let remove = account
        .html
        .split("action=\"")
        .map(|a| a.split('"').next().unwrap().replace("&#x2f;", "/"))
        .find(|a| a.ends_with("/remove"))
        .expect("a remove button");
    let removed = submit(
        &b,
        &s.url,
        &format!("{}{remove}", s.url.trim_end_matches('/')),
        &account.html,
        &[],
    )
    .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.html);
    assert!(location(&removed).ends_with("notice=factor_removed"));
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM mfa_factors")
        .fetch_one(&s.app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[sqlx::test(migrations = false)]
async fn a_required_factor_is_set_up_before_the_app(db: PgPool) {
    let s = common::serve(
        &db,
        &["--site-url", "http://app.test", "--mfa-required", "all"],
    )
    .await;
    s.app.signup("a@example.com").await;
    let b = browser();
    let query = "?redirect_to=http%3A%2F%2Fapp.test%2Fhome";
    let r = sign_in(&s, &b, query, "a@example.com", PASSWORD).await;
    let page = get(&b, location(&r)).await;
    assert!(
        page.html.contains("Set up an authenticator app"),
        "{}",
        page.html
    );
    let carry = ("redirect_to", "http://app.test/home");
    let setup = submit(
        &b,
        &s.url,
        &format!("{}/ui/second-factor/setup", s.url),
        &page.html,
        &[carry],
    )
    .await;
    assert_eq!(setup.status, StatusCode::OK, "{}", setup.html);
    assert!(
        setup.html.contains("<img src=\"data:image"),
        "the QR code as an image"
    );
    let secret = setup
        .html
        .split("id=\"totp-secret\" class=\"secret\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    let factor = setup
        .html
        .split("name=\"factor_id\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let totp =
        totp_rs::Totp::from_url(format!("otpauth://totp/x:a?secret={secret}&issuer=x")).unwrap();
    let right = code(&totp, 0);
    let fields = [("code", right.as_str()), ("factor_id", factor), carry];
    let r = submit(
        &b,
        &s.url,
        &format!("{}/ui/second-factor", s.url),
        &setup.html,
        &fields,
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.html);
    let to = location(&r);
    assert!(to.starts_with("http://app.test/home#access_token="), "{to}");
    let token = to
        .split("access_token=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let payload = jwt_payload(token);
    assert_eq!(payload["aal"], "aal2");
    assert_eq!(
        payload["https://hasura.io/jwt/claims"]["x-hasura-default-role"],
        "user"
    );
    // The pages' own session is through too.
    let account = get(&b, &format!("{}/ui/account", s.url)).await;
    assert_eq!(account.status, StatusCode::OK, "{}", account.html);
}

/// An OAuth client's request waits for the second factor too: sign-in, then the second step,
/// then the consent page, each carrying the request; the client's session is at aal2.
#[sqlx::test(migrations = false)]
async fn an_oauth_request_goes_through_the_second_factor_to_consent(db: PgPool) {
    let admin = "admin-secret-admin-secret-admin-secret";
    let s = common::serve(&db, &["--oauth-server", "--admin-secret", admin]).await;
    let signed_up = s.app.signup("o@example.com").await;
    let at = str_of(&signed_up.body, "access_token");
    let enrolled = enroll(&s.app, at, "").await;
    let totp = authenticator(&enrolled);
    step_up(&s.app, at, str_of(&enrolled.body, "id"), &totp, 0).await;
    let redirect = "https://app.example/callback";
    let body = json!({"client_name": "App", "redirect_uris": [redirect], "client_type": "public"});
    let made = s
        .app
        .call(
            axum::http::Method::POST,
            "/admin/oauth/clients",
            Some(admin),
            Some(body),
        )
        .await;
    let client_id = str_of(&made.body, "client_id").to_owned();
    let (verifier, challenge) = pkce();

    let b = browser();
    let authorize = format!(
        "{}/oauth/authorize?response_type=code&client_id={client_id}&code_challenge={challenge}&code_challenge_method=S256&state=s1",
        s.url
    );
    let consent = location(&get(&b, &authorize).await).to_owned();
    let id = query_param(&consent, "authorization_id").unwrap();
    let to_sign_in = get(&b, &consent).await;
    assert!(location(&to_sign_in).ends_with(&format!("/ui/sign-in?authorization_id={id}")));
    let query = format!("?authorization_id={id}");
    let r = sign_in(&s, &b, &query, "o@example.com", PASSWORD).await;
    let second = location(&r).to_owned();
    assert!(
        second.ends_with(&format!("/ui/second-factor?authorization_id={id}")),
        "{second}"
    );
    // Straight to the consent page, the request still waits for the second step.
    let early = get(&b, &consent).await;
    assert_eq!(location(&early), second);
    let page = get(&b, &second).await;
    let right = code(&totp, 1);
    let fields = [("code", right.as_str()), ("authorization_id", id.as_str())];
    let url = format!("{}/ui/second-factor", s.url);
    let r = submit(&b, &s.url, &url, &page.html, &fields).await;
    assert_eq!(location(&r), consent);
    let page = get(&b, &consent).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("id=\"oauth-approve\""), "{}", page.html);
    let url = format!("{}/ui/oauth/consent", s.url);
    let fields = [("authorization_id", id.as_str()), ("action", "approve")];
    let r = submit(&b, &s.url, &url, &page.html, &fields).await;
    let back = location(&r).to_owned();
    assert!(back.starts_with(&format!("{redirect}?code=")), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some("s1"));

    let form = format!(
        "grant_type=authorization_code&code={}&code_verifier={verifier}&client_id={client_id}",
        query_param(&back, "code").unwrap()
    );
    let tokens = s.app.form("/oauth/token", &form).await;
    assert_eq!(tokens.status, axum::http::StatusCode::OK, "{tokens:?}");
    assert_eq!(
        jwt_payload(str_of(&tokens.body, "access_token"))["aal"],
        "aal2"
    );
}
