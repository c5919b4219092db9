//! The refresh-token cookie (`AUTH_REFRESH_TOKEN_COOKIE`): HttpOnly, Secure, SameSite, limited
//! to the refresh path, as Hasura's own guidance for browsers recommends.

use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue};

use crate::{
    config::{Config, SameSite},
    error::{code, Error},
    secret::Secret,
};

fn attributes(config: &Config, max_age: u64) -> String {
    let same_site = match config.cookie.refresh_token_cookie_samesite {
        SameSite::Strict => "Strict",
        SameSite::Lax => "Lax",
        SameSite::None => "None",
    };
    let mut attrs = format!(
        "Path={}; Max-Age={max_age}; HttpOnly; Secure; SameSite={same_site}",
        config.cookie.refresh_token_cookie_path
    );
    if let Some(domain) = &config.cookie.refresh_token_cookie_domain {
        attrs.push_str(&format!("; Domain={domain}"));
    }
    attrs
}

/// How long the cookie lives: as long as the session could (idle timeout, else lifetime).
fn max_age(config: &Config) -> u64 {
    config
        .sessions
        .session_idle_timeout
        .0
        .or(config.sessions.session_max_lifetime.0)
        .unwrap_or(Duration::from_secs(400 * 86_400))
        .as_secs()
}

/// Adds `Set-Cookie` with the refresh token, when the cookie is enabled.
pub fn set(config: &Config, headers: &mut HeaderMap, token: &str) {
    if !config.cookie.refresh_token_cookie {
        return;
    }
    let value = format!(
        "{}={token}; {}",
        config.cookie.refresh_token_cookie_name,
        attributes(config, max_age(config))
    );
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.append(header::SET_COOKIE, v);
    }
}

/// Adds a `Set-Cookie` that deletes the refresh-token cookie, when the cookie is enabled.
pub fn clear(config: &Config, headers: &mut HeaderMap) {
    if !config.cookie.refresh_token_cookie {
        return;
    }
    let value = format!(
        "{}=; {}",
        config.cookie.refresh_token_cookie_name,
        attributes(config, 0)
    );
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.append(header::SET_COOKIE, v);
    }
}

/// The `name=value` pairs of the request's `Cookie` headers.
pub fn pairs(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
}

/// The refresh token from the request's cookies, when the cookie is enabled.
pub fn read(config: &Config, headers: &HeaderMap) -> Option<String> {
    if !config.cookie.refresh_token_cookie {
        return None;
    }
    pairs(headers)
        .find(|(name, _)| *name == config.cookie.refresh_token_cookie_name)
        .map(|(_, value)| value.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

/// Where a presented refresh token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    Body,
    Cookie,
}

/// The refresh token of a request: the one in the body if given (and not empty), else the
/// cookie's; 400 `invalid_request` when there is neither.
pub fn refresh_token(
    config: &Config,
    headers: &HeaderMap,
    from_body: Option<Secret>,
) -> Result<(Secret, TokenSource), Error> {
    match from_body.filter(|t| !t.expose().is_empty()) {
        Some(token) => Ok((token, TokenSource::Body)),
        None => read(config, headers)
            .map(|t| (Secret::new(t), TokenSource::Cookie))
            .ok_or_else(|| Error::invalid_request("refresh_token is required")),
    }
}

/// The origin (`scheme://host[:port]`) of a URL.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

/// With the cookie on, a browser on another site must neither plant a session cookie (login
/// CSRF) nor use one: requests whose `Origin` is neither this server's public origin nor in
/// `AUTH_CORS_ORIGINS`, or that the browser marks `Sec-Fetch-Site: cross-site` from an origin
/// not listed, are refused. Non-browser clients send neither header and are unaffected.
pub fn check_origin(config: &Config, headers: &HeaderMap) -> Result<(), Error> {
    check_browser_origin(config, headers.get(header::ORIGIN), headers)
}

/// For forms of this server's own pages (the email-link page): whatever the cookie setting,
/// a browser request must come from this server's origin, so that another site cannot submit
/// its own token and sign the visitor into its account (login CSRF).
pub fn check_same_origin(config: &Config, headers: &HeaderMap) -> Result<(), Error> {
    let public = config.public_url();
    let origin_ok = headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("null"))
        .is_none_or(|o| o == origin_of(&public));
    let site_ok = headers
        .get("sec-fetch-site")
        .is_none_or(|v| v.as_bytes() == b"same-origin" || v.as_bytes() == b"none");
    if origin_ok && site_ok {
        Ok(())
    } else {
        Err(Error::forbidden(
            code::CROSS_SITE_REQUEST,
            "Cross-site request refused",
        ))
    }
}

/// [`check_origin`] for a request relayed by Hasura (the actions handler): Hasura passes the
/// browser's `Origin` on as `X-Forwarded-Origin`, and `Sec-Fetch-Site` as it is.
pub fn check_forwarded_origin(config: &Config, headers: &HeaderMap) -> Result<(), Error> {
    let origin = headers
        .get("x-forwarded-origin")
        .or_else(|| headers.get(header::ORIGIN));
    check_browser_origin(config, origin, headers)
}

fn check_browser_origin(
    config: &Config,
    origin: Option<&HeaderValue>,
    headers: &HeaderMap,
) -> Result<(), Error> {
    if !config.cookie.refresh_token_cookie {
        return Ok(());
    }
    let public = config.public_url();
    let allowed =
        |o: &str| o == origin_of(&public) || config.server.cors_origins.iter().any(|c| c == o);
    let origin = origin.map(|v| v.to_str().unwrap_or("null"));
    let cross_site = headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site");
    let refused = match origin {
        Some(o) => !allowed(o),
        None => cross_site,
    };
    if refused {
        return Err(Error::forbidden(
            code::CROSS_SITE_REQUEST,
            "Cross-site request refused: add the site's origin to AUTH_CORS_ORIGINS",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::origin_of;

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("https://auth.example.com/base/"),
            "https://auth.example.com"
        );
        assert_eq!(origin_of("http://127.0.0.1:9999"), "http://127.0.0.1:9999");
    }
}
