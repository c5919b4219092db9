//! Which web pages may make a browser send a state-changing request here: the one rule against
//! cross-site request forgery (a page of another site signing the visitor in as someone else,
//! or using the refresh cookie), checked by [`check`] and applied by extractors
//! ([`ApiOrigin`], [`PageOrigin`], the actions handler's own) and by the hosted pages'
//! middleware.
//!
//! Browsers say where a request comes from (`Origin`, `Sec-Fetch-Site`); other clients send
//! neither and pass. By [`Rule`]:
//!
//! - [`Rule::Api`]: with the refresh-token cookie on, a browser request must come from this
//!   server's public origin or an `AUTH_CORS_ORIGINS` origin. Without the cookie, a page of
//!   another site gains nothing the API does not give it anyway.
//! - [`Rule::Relayed`]: the same, for requests Hasura relays (the actions handler), where the
//!   browser's origin arrives as `X-Forwarded-Origin`.
//! - [`Rule::Pages`]: a form posted to this server's own pages (the hosted pages, the email
//!   link's page) must come from this server's origin, whatever the cookie setting: their
//!   forms are the only ones meant to post here. Other bodies follow [`Rule::Api`].
//!
//! Whether a body is a form is decided from its parsed media type, as the body extractor
//! decides it (`extract::media_type`).

use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts, HeaderMap, HeaderValue, Method},
};

use super::extract::{media_type, FORM};
use crate::{
    app::App,
    config::Config,
    error::{Code, Error},
};

/// Which pages may send a route group's requests (see the module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Api,
    Relayed,
    Pages,
}

/// The origin (`scheme://host[:port]`) of a URL.
pub fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

fn refused(message: &'static str) -> Error {
    Error::new(Code::CrossSiteRequest, message)
}

/// Whether a request with `headers` may do what it asks under `rule`; 403
/// `cross_site_request` otherwise. Safe methods (GET, HEAD, OPTIONS) always may.
pub fn check(
    config: &Config,
    rule: Rule,
    method: &Method,
    headers: &HeaderMap,
) -> Result<(), Error> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let site = headers.get("sec-fetch-site").map(HeaderValue::as_bytes);
    let public = config.public_url();
    let own = origin_of(&public);
    if rule == Rule::Pages && media_type(headers) == FORM {
        let origin_ok = headers
            .get(header::ORIGIN)
            .is_none_or(|o| o.to_str().is_ok_and(|o| o == own));
        let site_ok = site.is_none_or(|s| s == b"same-origin" || s == b"none");
        return match origin_ok && site_ok {
            true => Ok(()),
            false => Err(refused("Cross-site request refused")),
        };
    }
    if !config.cookie.refresh_token_cookie {
        return Ok(());
    }
    let origin = match rule {
        Rule::Relayed => headers
            .get("x-forwarded-origin")
            .or_else(|| headers.get(header::ORIGIN)),
        Rule::Api | Rule::Pages => headers.get(header::ORIGIN),
    };
    let allowed = match origin.map(|v| v.to_str().unwrap_or("null")) {
        Some(o) => o == own || config.server.cors_origins.iter().any(|c| c == o),
        None => site != Some(b"cross-site"),
    };
    if allowed {
        Ok(())
    } else {
        Err(refused(
            "Cross-site request refused: add the site's origin to AUTH_CORS_ORIGINS",
        ))
    }
}

/// Extractor: the request passes [`Rule::Api`]. Every state-changing handler of the browser
/// API takes it (a test sends every documented route a cross-site request to make sure).
/// An extractor rather than a layer: it costs nothing where it is not used, and nothing more
/// than the check where it is.
pub struct ApiOrigin;

impl FromRequestParts<App> for ApiOrigin {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Error> {
        check(&app.config, Rule::Api, &parts.method, &parts.headers).map(|()| Self)
    }
}

/// Extractor: the request passes [`Rule::Pages`] (the email link's page).
pub struct PageOrigin;

impl FromRequestParts<App> for PageOrigin {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Error> {
        check(&app.config, Rule::Pages, &parts.method, &parts.headers).map(|()| Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &[&str]) -> Config {
        let mut args = vec![
            "--jwt-secret",
            "0123456789abcdef0123456789abcdef",
            "--public-url",
            "https://auth.example.com/base/",
            "--cors-origins",
            "https://app.example.com",
        ];
        args.extend_from_slice(extra);
        Config::from_args(args).unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("https://auth.example.com/base/"),
            "https://auth.example.com"
        );
        assert_eq!(origin_of("http://127.0.0.1:9999"), "http://127.0.0.1:9999");
    }

    #[test]
    fn forms_to_the_pages_come_from_this_origin_whatever_their_case() {
        let c = config(&[]);
        let post = Method::POST;
        for content_type in [
            "application/x-www-form-urlencoded",
            "Application/X-WWW-Form-Urlencoded; charset=utf-8",
        ] {
            let evil = headers(&[
                ("content-type", content_type),
                ("origin", "https://evil.example"),
            ]);
            assert!(
                check(&c, Rule::Pages, &post, &evil).is_err(),
                "{content_type}"
            );
            let own = headers(&[
                ("content-type", content_type),
                ("origin", "https://auth.example.com"),
            ]);
            assert!(check(&c, Rule::Pages, &post, &own).is_ok());
        }
        let cross = headers(&[
            ("content-type", "application/x-www-form-urlencoded"),
            ("sec-fetch-site", "cross-site"),
        ]);
        assert!(check(&c, Rule::Pages, &post, &cross).is_err());
        // Reading is never refused; JSON without the cookie is the API's business.
        assert!(check(&c, Rule::Pages, &Method::GET, &cross).is_ok());
        let json = headers(&[
            ("content-type", "application/json"),
            ("origin", "https://evil.example"),
        ]);
        assert!(check(&c, Rule::Pages, &post, &json).is_ok());
    }

    #[test]
    fn with_the_cookie_only_listed_origins_may_call() {
        let c = config(&["--refresh-token-cookie"]);
        let post = Method::POST;
        let from = |origin: &'static str| {
            headers(&[("content-type", "application/json"), ("origin", origin)])
        };
        assert!(check(&c, Rule::Api, &post, &from("https://app.example.com")).is_ok());
        assert!(check(&c, Rule::Api, &post, &from("https://auth.example.com")).is_ok());
        assert!(check(&c, Rule::Api, &post, &from("https://evil.example")).is_err());
        assert!(check(&c, Rule::Pages, &post, &from("https://evil.example")).is_err());
        assert!(
            check(&c, Rule::Api, &post, &headers(&[])).is_ok(),
            "no browser"
        );
        let relayed = headers(&[("x-forwarded-origin", "https://evil.example")]);
        assert!(check(&c, Rule::Relayed, &post, &relayed).is_err());
        assert!(check(&c, Rule::Api, &post, &relayed).is_ok());
    }
}
