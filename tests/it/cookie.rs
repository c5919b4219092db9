//! The refresh token in an HttpOnly cookie for browsers (cookie mode), CORS for the allowed
//! origins, and cross-site requests refused in cookie mode by the API and the actions alike.

use crate::common::{self, str_of, PASSWORD};
use crate::hasura::{
    action, action_with, anonymous, assert_action_error, user_vars, ACTIONS_SECRET,
};
use axum::{
    body::Body,
    http::{header, Method, Request, StatusCode},
};
use hasura_jwt_auth::config::Config;
use serde_json::{json, Value};
use sqlx::PgPool;

/// The refresh token of the cookie a response sets (in cookie mode the body has none).
fn cookie_token(res: &common::Response) -> String {
    let prefix = "__Host-hja_refresh_token=";
    let cookie = set_cookies(res)
        .into_iter()
        .find(|c| c.starts_with(prefix))
        .unwrap_or_else(|| panic!("no refresh-token cookie: {res:?}"));
    let value = &cookie[prefix.len()..cookie.find(';').unwrap()];
    assert!(!value.is_empty(), "{cookie}");
    value.to_owned()
}

fn set_cookies(res: &common::Response) -> Vec<String> {
    res.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[sqlx::test(migrations = false)]
async fn refresh_token_cookie_for_browsers(db: PgPool) {
    let app = common::app(
        &db,
        &[
            "--refresh-token-cookie",
            "--hasura-actions-secret",
            ACTIONS_SECRET,
        ],
    )
    .await;
    let s = app.signup("cookie@example.com").await;
    let cookies = set_cookies(&s);
    assert_eq!(cookies.len(), 1);
    // The token is in the HttpOnly cookie only: scripts of the page never see it.
    assert!(s.body.get("refresh_token").is_none(), "{:?}", s.body);
    let rt = cookie_token(&s);
    let c = &cookies[0];
    assert!(
        c.starts_with(&format!("__Host-hja_refresh_token={rt};")),
        "{c}"
    );
    for attr in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/;",
        "Max-Age=604800",
    ] {
        assert!(c.contains(attr), "{attr} missing in {c}");
    }
    assert!(!c.contains("Domain"), "__Host- cookies have no Domain: {c}");
    // A refresh with no body token uses the cookie and sets the rotated one.
    let req = Request::post("/token?grant_type=refresh_token")
        .header(
            header::COOKIE,
            format!("theme=dark; __Host-hja_refresh_token={rt}"),
        )
        .body(Body::empty())
        .unwrap();
    let res = app.request(req).await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert!(res.body.get("refresh_token").is_none());
    let new_rt = cookie_token(&res);
    assert_ne!(new_rt, rt);
    // Through the refreshToken action, with the cookie Hasura forwards.
    let res = action_with(
        &app,
        "refreshToken",
        json!({}),
        anonymous(),
        Some(ACTIONS_SECRET),
        Some(&format!("__Host-hja_refresh_token={new_rt}")),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
    assert!(res.body["refresh_token"].is_null(), "{:?}", res.body);
    let at = str_of(&res.body, "access_token").to_owned();
    let newest = cookie_token(&res);
    assert!(set_cookies(&res)[0].contains("HttpOnly"));
    // Sign-out clears it.
    let out = app.call(Method::POST, "/logout", Some(&at), None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let cleared = &set_cookies(&out)[0];
    assert!(
        cleared.starts_with("__Host-hja_refresh_token=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    // A dead cookie is cleared on refresh too.
    let req = Request::post("/token?grant_type=refresh_token")
        .header(header::COOKIE, format!("__Host-hja_refresh_token={newest}"))
        .body(Body::empty())
        .unwrap();
    let res = app.request(req).await;
    assert_eq!(res.body["error"], "invalid_grant");
    assert!(set_cookies(&res)[0].contains("Max-Age=0"));
    // A __Host- name needs Path=/ and no Domain: the settings say so at start.
    let e = Config::from_args([
        "--refresh-token-cookie",
        "--refresh-token-cookie-path",
        "/v1/graphql",
    ])
    .unwrap()
    .validate()
    .unwrap_err()
    .to_string();
    assert!(e.contains("__Host-"), "{e}");
    assert!(Config::from_args([
        "--refresh-token-cookie",
        "--refresh-token-cookie-name",
        "__Secure-hja_refresh_token",
        "--refresh-token-cookie-path",
        "/v1/graphql",
    ])
    .unwrap()
    .validate()
    .is_ok());
}

#[sqlx::test(migrations = false)]
async fn no_cookie_unless_enabled(db: PgPool) {
    let app = common::app(&db, &[]).await;
    let s = app.signup("plain@example.com").await;
    assert!(set_cookies(&s).is_empty());
    let req = Request::post("/token?grant_type=refresh_token")
        .header(
            header::COOKIE,
            format!("hja_refresh_token={}", str_of(&s.body, "refresh_token")),
        )
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.request(req).await.body["error"], "invalid_request");
}

#[sqlx::test(migrations = false)]
async fn cors_allows_configured_origins_with_credentials(db: PgPool) {
    let app = common::app(
        &db,
        &[
            "--cors-origins",
            "https://app.example.com,https://admin.example.com",
        ],
    )
    .await;
    let preflight = |origin: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/token?grant_type=refresh_token")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "content-type,authorization",
            )
            .body(Body::empty())
            .unwrap()
    };
    let ok = app.request(preflight("https://app.example.com")).await;
    assert_eq!(
        ok.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://app.example.com"
    );
    assert_eq!(ok.headers[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    let evil = app.request(preflight("https://evil.example.com")).await;
    assert!(!evil
        .headers
        .contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
    let res = app
        .request(
            Request::get("/health")
                .header(header::ORIGIN, "https://admin.example.com")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(
        res.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://admin.example.com"
    );
}

#[sqlx::test(migrations = false)]
async fn cookie_mode_refuses_cross_site_requests(db: PgPool) {
    let app = common::app(
        &db,
        &[
            "--refresh-token-cookie",
            "--public-url",
            "https://auth.example.com",
            "--cors-origins",
            "https://app.example.com",
        ],
    )
    .await;
    let signup =
        |origin: Option<&'static str>, fetch_site: Option<&'static str>, email: &'static str| {
            let mut req = Request::post("/signup").header(header::CONTENT_TYPE, "application/json");
            if let Some(o) = origin {
                req = req.header(header::ORIGIN, o);
            }
            if let Some(f) = fetch_site {
                req = req.header("sec-fetch-site", f);
            }
            req.body(Body::from(
                json!({"email": email, "password": PASSWORD}).to_string(),
            ))
            .unwrap()
        };
    let evil = app
        .request(signup(
            Some("https://evil.example"),
            Some("cross-site"),
            "a@example.com",
        ))
        .await;
    assert_eq!(
        (evil.status, evil.body["error_code"].as_str()),
        (StatusCode::FORBIDDEN, Some("cross_site_request"))
    );
    assert!(set_cookies(&evil).is_empty());
    let no_origin = app
        .request(signup(None, Some("cross-site"), "b@example.com"))
        .await;
    assert_eq!(no_origin.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.request(signup(
            Some("https://auth.example.com"),
            Some("same-origin"),
            "c@example.com"
        ))
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        app.request(signup(
            Some("https://app.example.com"),
            Some("same-site"),
            "d@example.com"
        ))
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        app.request(signup(None, None, "e@example.com"))
            .await
            .status,
        StatusCode::OK,
        "non-browser clients"
    );
    let form = Request::post("/token?grant_type=password")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, "https://evil.example")
        .body(Body::from("username=e%40example.com&password=x"))
        .unwrap();
    assert_eq!(
        app.request(form).await.status,
        StatusCode::FORBIDDEN,
        "login CSRF through a form post"
    );
}

#[sqlx::test(migrations = false)]
async fn every_session_response_sets_the_cookie_and_every_logout_clears_it(db: PgPool) {
    let app = common::app(
        &db,
        &[
            "--refresh-token-cookie",
            "--hasura-actions-secret",
            ACTIONS_SECRET,
        ],
    )
    .await;
    let has_token_cookie = |res: &common::Response| {
        let rt = cookie_token(res);
        set_cookies(res).iter().any(|c| {
            c.starts_with(&format!("__Host-hja_refresh_token={rt};")) && c.contains("HttpOnly")
        })
    };
    let s = action(
        &app,
        "signup",
        json!({"email": "ck@example.com", "password": PASSWORD}),
        anonymous(),
    )
    .await;
    assert!(has_token_cookie(&s), "signup action");
    let l = action(
        &app,
        "login",
        json!({"email": "ck@example.com", "password": PASSWORD}),
        anonymous(),
    )
    .await;
    assert!(has_token_cookie(&l), "login action");
    let p = app.sign_in("ck@example.com", PASSWORD).await;
    assert!(has_token_cookie(&p), "password grant");
    let out = action(
        &app,
        "logout",
        json!({"scope": "local"}),
        user_vars(str_of(&l.body, "access_token")),
    )
    .await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(
        set_cookies(&out)
            .iter()
            .any(|c| c.starts_with("__Host-hja_refresh_token=;") && c.contains("Max-Age=0")),
        "logout action clears it"
    );
}

#[sqlx::test(migrations = false)]
async fn cookie_actions_refuse_other_sites_as_the_api_does(db: PgPool) {
    let app = common::app(
        &db,
        &[
            "--refresh-token-cookie",
            "--hasura-actions-secret",
            ACTIONS_SECRET,
            "--public-url",
            "https://auth.example.com",
            "--cors-origins",
            "https://app.example.com",
        ],
    )
    .await;
    // As Hasura relays a browser's call: Origin becomes X-Forwarded-Origin, Sec-Fetch-Site
    // and the cookie pass on.
    let relayed =
        |name: &str, input: Value, origin: Option<&str>, site: &str, cookie: Option<&str>| {
            let body =
                json!({"action": {"name": name}, "input": input, "session_variables": anonymous()});
            let mut req = Request::post("/hasura/actions")
                .header(header::CONTENT_TYPE, "application/json")
                .header(
                    hasura_jwt_auth::hasura_config::ACTIONS_SECRET_HEADER,
                    ACTIONS_SECRET,
                )
                .header("sec-fetch-site", site);
            if let Some(o) = origin {
                req = req.header("x-forwarded-origin", o);
            }
            if let Some(c) = cookie {
                req = req.header(header::COOKIE, c);
            }
            req.body(Body::from(body.to_string())).unwrap()
        };
    let creds = json!({"email": "victim@example.com", "password": PASSWORD});
    let ok = app
        .request(relayed(
            "signup",
            creds.clone(),
            Some("https://app.example.com"),
            "same-site",
            None,
        ))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
    let cookie = format!("__Host-hja_refresh_token={}", cookie_token(&ok));

    // A hostile page cannot read a session with the victim's cookie ...
    for (origin, site) in [
        (Some("https://evil.example"), "cross-site"),
        (None, "cross-site"),
    ] {
        let res = app
            .request(relayed(
                "refreshToken",
                json!({}),
                origin,
                site,
                Some(&cookie),
            ))
            .await;
        assert_action_error(&res, StatusCode::FORBIDDEN, "cross_site_request");
        assert!(set_cookies(&res).is_empty());
        assert!(res.body.get("access_token").is_none());
    }
    // ... nor plant its own (login CSRF), nor sign up.
    for name in ["login", "signup"] {
        let input = json!({"email": "attacker@example.com", "password": PASSWORD});
        let res = app
            .request(relayed(
                name,
                input,
                Some("https://evil.example"),
                "cross-site",
                None,
            ))
            .await;
        assert_action_error(&res, StatusCode::FORBIDDEN, "cross_site_request");
        assert!(set_cookies(&res).is_empty(), "{name}");
    }
    // The app's own origin goes through.
    let res = app
        .request(relayed(
            "refreshToken",
            json!({}),
            Some("https://app.example.com"),
            "same-site",
            Some(&cookie),
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{res:?}");
}
