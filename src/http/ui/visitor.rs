//! Who is signed in to the hosted pages, and the forms' CSRF token.
//!
//! The pages keep their own session in two HttpOnly cookies, separate from any app's: the
//! access token (used until it expires) and the refresh token (rotated when the access token
//! has expired, like any client's). On an `https` public URL the cookies are `Secure` and
//! carry the `__Host-` prefix, so no other host can plant them. `SameSite=Lax`: a link from
//! the app to the account page arrives signed in; forms are protected by the CSRF token and
//! the same-origin check, not by the cookie's SameSite.
//!
//! CSRF: a random value in a cookie, repeated in a hidden field of every form (double
//! submit); a POST whose field does not equal its cookie is refused, and so is one that the
//! browser marks as coming from another origin.

use std::time::{Duration, Instant};

use axum::{
    http::{header, HeaderMap, HeaderValue},
    response::Response,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use rand::RngCore;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::{
    auth::{assurance::Aal, authenticate::Caller, Session},
    client::Client,
    config::Config,
    error::{Code, Error, Kind, Result},
    http::cookie,
    http::ui::Ui,
    store::users::User,
};

const ACCESS: &str = "hja_ui_access";
const REFRESH: &str = "hja_ui_refresh";
const CSRF: &str = "hja_ui_csrf";

fn secure(config: &Config) -> bool {
    config.public_url().starts_with("https://")
}

fn name(config: &Config, base: &str) -> String {
    if secure(config) {
        format!("__Host-{base}")
    } else {
        base.to_owned()
    }
}

fn set(config: &Config, headers: &mut HeaderMap, base: &str, value: &str, max_age: u64) {
    let secure = if secure(config) { "; Secure" } else { "" };
    let cookie = format!(
        "{}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
        name(config, base)
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        headers.append(header::SET_COOKIE, v);
    }
}

fn read(config: &Config, headers: &HeaderMap, base: &str) -> Option<String> {
    let wanted = name(config, base);
    cookie::pairs(headers)
        .find(|(n, _)| *n == wanted)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty())
}

/// The signed-in visitor of the pages.
pub struct Visitor {
    pub user: User,
    pub session_id: Uuid,
    /// The session's assurance level (as its access token says).
    pub aal: Aal,
    /// Tokens renewed while recognising the visitor: their cookies go on the response.
    renewed: Option<Session>,
}

impl Visitor {
    /// The visitor and their session, as the account steps take them.
    pub fn caller(&self) -> Caller<'_> {
        Caller {
            user: &self.user,
            session_id: self.session_id,
        }
    }

    /// Whether the visitor's session must take its second factor before anything else: at
    /// aal1, with a verified factor or a second factor required (`AUTH_MFA_REQUIRED`).
    pub fn owes_second_factor(&self, app: &Ui) -> bool {
        self.aal < Aal::Aal2
            && (self.user.has_verified_factor() || app.auth.mfa_pending(&self.user, self.aal))
    }

    /// Puts renewed tokens (if any) on `response`.
    pub fn keep(&self, config: &Config, response: &mut Response) {
        if let Some(session) = &self.renewed {
            set_session(config, response.headers_mut(), session);
        }
    }
}

/// The visitor of this request, if signed in to the pages: the access token if still good,
/// else a refresh with the refresh token. A failing database is an error; a session that
/// ended is `None`.
pub async fn current(
    app: &Ui,
    headers: &HeaderMap,
    client: &Client,
    arrived: Instant,
) -> Result<Option<Visitor>> {
    let passes = |e: &Error| matches!(e.kind, Kind::Internal | Kind::Unavailable);
    // An access token that no longer works (expired, most often) falls back to the refresh
    // token; a failing database does not.
    if let Some(access) = read(&app.config, headers, ACCESS) {
        match app.auth.authenticate(&access).await {
            Ok(who) => {
                return Ok(Some(Visitor {
                    aal: who.token.aal,
                    user: crate::auth::LiveUser::into_user(who.user),
                    session_id: who.token.session_id,
                    renewed: None,
                }))
            }
            Err(e) if passes(&e) => return Err(e),
            Err(_) => {}
        }
    }
    let Some(refresh) = read(&app.config, headers, REFRESH) else {
        return Ok(None);
    };
    match app.auth.refresh(&refresh, client, arrived).await {
        Ok(session) => Ok(Some(Visitor {
            user: session.user.clone(),
            session_id: session.session_id,
            aal: session.aal,
            renewed: Some(session),
        })),
        // The session is over (unknown, expired, revoked, user banned): signed out.
        Err(e)
            if matches!(
                e.kind,
                Kind::InvalidGrant | Kind::Unauthorized | Kind::Forbidden
            ) =>
        {
            Ok(None)
        }
        // Anything else (a refresh race lost three times, the database): not a sign-out.
        Err(e) => Err(e),
    }
}

/// Sets the cookies of the pages' session.
pub fn set_session(config: &Config, headers: &mut HeaderMap, session: &Session) {
    let lifetime = config
        .sessions
        .session_idle_timeout
        .0
        .or(config.sessions.session_max_lifetime.0)
        .unwrap_or(Duration::from_secs(400 * 86_400));
    set(
        config,
        headers,
        ACCESS,
        &session.access.token,
        session.access.expires_in,
    );
    set(
        config,
        headers,
        REFRESH,
        session.refresh_token.expose(),
        lifetime.as_secs(),
    );
}

/// Deletes the cookies of the pages' session.
pub fn clear_session(config: &Config, headers: &mut HeaderMap) {
    set(config, headers, ACCESS, "", 0);
    set(config, headers, REFRESH, "", 0);
}

/// The CSRF value of this browser, and whether it is new (its cookie must then be set).
pub fn csrf_token(config: &Config, headers: &HeaderMap) -> (String, bool) {
    match read(config, headers, CSRF).filter(|v| v.len() == 43) {
        Some(value) => (value, false),
        None => {
            let mut bytes = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            (B64.encode(bytes), true)
        }
    }
}

/// Sets the CSRF cookie (for the browser's lifetime).
pub fn set_csrf(config: &Config, headers: &mut HeaderMap, value: &str) {
    let secure = if secure(config) { "; Secure" } else { "" };
    let cookie = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax{secure}",
        name(config, CSRF)
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        headers.append(header::SET_COOKIE, v);
    }
}

/// A form POST must come from this server's pages: same origin (the pages' layer checks it,
/// see `http::origin`), and its `csrf` field equal to the CSRF cookie. 403
/// `cross_site_request` otherwise.
pub fn check_form(config: &Config, headers: &HeaderMap, field: Option<&str>) -> Result<()> {
    let cookie = read(config, headers, CSRF);
    let matches = match (cookie, field) {
        (Some(c), Some(f)) => bool::from(c.as_bytes().ct_eq(f.as_bytes())),
        _ => false,
    };
    if matches {
        Ok(())
    } else {
        Err(Error::new(Code::CrossSiteRequest,
            "This form has expired or did not come from this site. Go back, reload the page and try again.",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(public_url: &str) -> Config {
        Config::from_args(["--jwt-secret", &"s".repeat(32), "--public-url", public_url]).unwrap()
    }

    fn cookies(headers: &HeaderMap) -> Vec<&str> {
        headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    #[test]
    fn https_cookies_are_secure_and_host_prefixed() {
        let c = config("https://auth.example.com");
        let mut h = HeaderMap::new();
        set(&c, &mut h, ACCESS, "a", 60);
        set_csrf(&c, &mut h, "t");
        assert_eq!(
            cookies(&h),
            [
                "__Host-hja_ui_access=a; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure",
                "__Host-hja_ui_csrf=t; Path=/; HttpOnly; SameSite=Lax; Secure",
            ]
        );
        // A cookie without the prefix (planted by a sibling host over http) is not read.
        let mut req = HeaderMap::new();
        req.insert(header::COOKIE, HeaderValue::from_static("hja_ui_csrf=t"));
        assert!(check_form(&c, &req, Some("t")).is_err());
        req.insert(
            header::COOKIE,
            HeaderValue::from_static("__Host-hja_ui_csrf=t"),
        );
        assert!(check_form(&c, &req, Some("t")).is_ok());
        assert!(check_form(&c, &req, Some("u")).is_err());
        assert!(check_form(&c, &req, None).is_err());
    }

    #[test]
    fn http_cookies_have_no_prefix() {
        let c = config("http://127.0.0.1:9999");
        let mut h = HeaderMap::new();
        set(&c, &mut h, REFRESH, "r", 5);
        assert_eq!(
            cookies(&h),
            ["hja_ui_refresh=r; Path=/; Max-Age=5; HttpOnly; SameSite=Lax"]
        );
    }
}
