//! Extractors whose rejections are our JSON errors.

use std::net::{IpAddr, SocketAddr};

use axum::{
    body::Bytes,
    extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request},
    http::{header, request::Parts, HeaderMap, StatusCode},
};
use serde::de::DeserializeOwned;

use crate::{
    app::App,
    auth::Authenticated,
    client::Client,
    error::{Code, Error},
};

/// The media type of an HTML form body.
pub const FORM: &str = "application/x-www-form-urlencoded";

/// The media type of the request's body, as parsed (RFC 9110 §8.3.1: without parameters,
/// case-insensitive, so lowercased); empty without a `Content-Type`. Every decision on the
/// kind of body is made on this value.
pub fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// A request body as JSON or as an HTML form (`application/x-www-form-urlencoded`, which
/// RFC 6749 and RFC 7009 clients send).
pub struct Payload<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Payload<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let content_type = media_type(req.headers());
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::new(Code::RequestTooLarge, "Request body is too large")
            } else {
                Error::new(Code::BadJson, "Could not read the request body")
            }
        })?;
        let value = if bytes.is_empty() && content_type.is_empty() {
            // No body at all (a cookie-based refresh, say): every field absent.
            serde_json::from_slice(b"{}")
                .map_err(|e| Error::validation_failed(format!("A request body is required: {e}")))?
        } else if content_type == "application/json" || content_type.ends_with("+json") {
            serde_json::from_slice(&bytes).map_err(|e| {
                Error::new(
                    Code::BadJson,
                    format!("Could not parse request body as JSON: {e}"),
                )
            })?
        } else if content_type == FORM {
            serde_urlencoded::from_bytes(&bytes).map_err(|e| {
                Error::new(Code::BadJson, format!("Could not parse the form body: {e}"))
            })?
        } else {
            return Err(Error::new(
                Code::UnsupportedMediaType,
                "Content-Type must be application/json or application/x-www-form-urlencoded",
            ));
        };
        Ok(Self(value))
    }
}

/// The client address of a request from `peer`. From a trusted proxy
/// (`AUTH_TRUSTED_PROXIES`), it is the rightmost `X-Forwarded-For` entry (of the last such
/// header) that is not itself a trusted proxy: entries further left are the client's own
/// word. Otherwise, or when that header holds nothing usable, it is the peer address.
pub fn client_address(app: &App, headers: &HeaderMap, peer: Option<IpAddr>) -> Option<IpAddr> {
    let peer = peer?;
    let server = &app.config.server;
    if !server.is_trusted_proxy(peer) {
        return Some(peer);
    }
    let Some(forwarded) = headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .and_then(|v| v.to_str().ok())
    else {
        return Some(peer);
    };
    let mut last_proxy = peer;
    for entry in forwarded.rsplit(',') {
        match entry.trim().parse::<IpAddr>() {
            Ok(ip) if server.is_trusted_proxy(ip) => last_proxy = ip,
            Ok(ip) => return Some(ip),
            Err(_) => return Some(last_proxy),
        }
    }
    Some(last_proxy)
}

impl<S> FromRequestParts<S> for Client
where
    S: Send + Sync,
    App: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = &App::from_ref(state);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let ip = client_address(app, &parts.headers, peer).map(|ip| ip.to_canonical().to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        let request_id = parts
            .extensions
            .get::<super::request_id::RequestId>()
            .map(|id| id.0.clone());
        Ok(Client::new(ip, user_agent).with_request_id(request_id))
    }
}

/// The `redirect_to` query parameter (auth-js sends `emailRedirectTo`/`redirectTo` so); other
/// parameters are left to their handlers.
#[derive(Debug, Clone, Default)]
pub struct RedirectTo(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for RedirectTo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let value = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .unwrap_or_default()
            .into_iter()
            .find(|(k, _)| k == "redirect_to")
            .map(|(_, v)| v)
            .filter(|v| !v.is_empty());
        Ok(Self(value))
    }
}

/// 400 for a query string that does not parse into what the handler takes.
pub fn bad_query(rejection: axum::extract::rejection::QueryRejection) -> Error {
    Error::validation_failed(format!("invalid query string: {}", rejection.body_text()))
}

/// When the request reached the server (recorded by the outermost middleware).
#[derive(Debug, Clone, Copy)]
pub struct Arrival(pub std::time::Instant);

/// Middleware: records the request's [`Arrival`].
pub async fn record_arrival(
    mut request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    request
        .extensions_mut()
        .insert(Arrival(std::time::Instant::now()));
    next.run(request).await
}

impl<S: Send + Sync> FromRequestParts<S> for Arrival {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Arrival>()
            .copied()
            .unwrap_or(Arrival(std::time::Instant::now())))
    }
}

/// The token of an `Authorization: Bearer <token>` value (RFC 6750 §2.1: the scheme is
/// case-insensitive, the token one word). `None` for anything else.
pub fn parse_bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' '))
        .then_some(token)
}

/// The bearer token of the request's `Authorization` header; 401 when missing or malformed.
pub fn bearer(headers: &HeaderMap) -> Result<&str, Error> {
    let value = headers.get(header::AUTHORIZATION).ok_or_else(|| {
        Error::new(
            Code::NoAuthorization,
            "This endpoint requires a Bearer token",
        )
    })?;
    value
        .to_str()
        .ok()
        .and_then(parse_bearer)
        .ok_or_else(|| Error::new(Code::BadJwt, "Authorization header must be: Bearer <token>"))
}

/// The caller's live session, which must not owe a second factor (`AUTH_MFA_REQUIRED`:
/// 403 `insufficient_aal` until it is verified).
impl FromRequestParts<App> for Authenticated {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Error> {
        let MfaCaller(who) = MfaCaller::from_request_parts(parts, app).await?;
        app.auth.require_no_pending_mfa(&who)?;
        Ok(who)
    }
}

/// The caller's live session, also one that still owes its second factor: for the steps
/// such a session may take (the MFA steps, reading the user, signing out).
pub struct MfaCaller(pub Authenticated);

impl FromRequestParts<App> for MfaCaller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Error> {
        let token = bearer(&parts.headers)?;
        app.auth.authenticate(token).await.map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::parse_bearer;

    #[test]
    fn bearer_tokens_follow_rfc_6750() {
        assert_eq!(parse_bearer("Bearer abc.def"), Some("abc.def"));
        assert_eq!(parse_bearer("bearer abc"), Some("abc"));
        assert_eq!(parse_bearer("BEARER  abc "), Some("abc"));
        assert_eq!(parse_bearer("Bearer"), None);
        assert_eq!(parse_bearer("Bearer "), None);
        assert_eq!(parse_bearer("Bearer a b"), None);
        assert_eq!(parse_bearer("Basic dXNlcjpwdw=="), None);
        assert_eq!(parse_bearer("abc"), None);
    }
}
