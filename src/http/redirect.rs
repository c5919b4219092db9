//! Redirects back to the app after a browser flow (email links, external sign-in): the session
//! in the fragment (implicit flow), `?code=` (PKCE flow), or the error, as auth-js reads them.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};

use super::cookie;
use crate::{
    app::App,
    auth::{email::url_encode, Session},
    error::{Error, Kind},
    secret::Secret,
};

/// `303 See Other` to `location`, never cached.
pub fn see_other(location: &str) -> Response {
    to(StatusCode::SEE_OTHER, location)
}

/// A redirect (`status`) to `location`, never cached.
pub fn to(status: StatusCode, location: &str) -> Response {
    let mut response = status.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// To `redirect_to#access_token=…&expires_at=…&expires_in=…&token_type=bearer[&extra…]` with
/// the refresh token in the fragment, or in its cookie when that is enabled.
pub fn with_session(
    app: &App,
    session: &Session,
    redirect_to: &str,
    extra: &[(&str, &str)],
) -> Response {
    if is_own_page(app, redirect_to) {
        // The hosted pages keep the session in their own cookies: nothing in the URL.
        let mut response = see_other(redirect_to);
        super::ui::visitor::set_session(&app.config, response.headers_mut(), session);
        return response;
    }
    let mut fragment = format!(
        "access_token={}&expires_at={}&expires_in={}&token_type=bearer",
        session.access.token, session.access.expires_at, session.access.expires_in,
    );
    for (key, value) in extra {
        fragment.push_str(&format!("&{key}={}", url_encode(value)));
    }
    if !app.config.cookie.refresh_token_cookie {
        fragment.push_str(&format!(
            "&refresh_token={}",
            session.refresh_token.expose()
        ));
    }
    let mut response = see_other(&format!("{redirect_to}#{fragment}"));
    cookie::set(
        &app.config,
        response.headers_mut(),
        session.refresh_token.expose(),
    );
    response
}

/// Whether `url` is one of the hosted pages (when they are on).
fn is_own_page(app: &App, url: &str) -> bool {
    let (Ok(public), Ok(url)) = (
        url::Url::parse(&app.config.public_url()),
        url::Url::parse(url),
    ) else {
        return false;
    };
    let pages = format!("{}/ui/", public.path().trim_end_matches('/'));
    !app.config.ui.disable_ui && url.origin() == public.origin() && url.path().starts_with(&pages)
}

/// To `redirect_to?code=…` (PKCE: the client exchanges the code with its verifier).
pub fn with_code(redirect_to: &str, code: &Secret) -> Response {
    let sep = if redirect_to.contains('?') { '&' } else { '?' };
    see_other(&format!(
        "{redirect_to}{sep}code={}",
        url_encode(code.expose())
    ))
}

/// To `target#error=…&error_code=…&error_description=…`.
pub fn with_error(target: &str, e: &Error) -> Response {
    let error = match e.kind {
        Kind::Internal => "server_error",
        Kind::Unavailable => "temporarily_unavailable",
        _ => "access_denied",
    };
    see_other(&format!(
        "{target}#error={error}&error_code={}&error_description={}",
        e.code,
        url_encode(&e.message)
    ))
}
