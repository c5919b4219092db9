//! The refresh-token cookie (`AUTH_REFRESH_TOKEN_COOKIE`): HttpOnly, Secure, SameSite, limited
//! to the refresh path, as Hasura's own guidance for browsers recommends.

use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue};

use crate::{
    config::{Config, SameSite},
    error::{Error, Required},
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
            .required("refresh_token"),
    }
}
