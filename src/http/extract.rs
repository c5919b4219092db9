//! Extractors whose rejections are our JSON errors.

use std::net::SocketAddr;

use axum::{
    body::Bytes,
    extract::{ConnectInfo, FromRequest, FromRequestParts, Request},
    http::{header, request::Parts, StatusCode},
};
use serde::de::DeserializeOwned;

use super::AppState;
use crate::{
    auth::sessions::{Authenticated, Client},
    error::Error,
};

/// A request body as JSON or as an HTML form (`application/x-www-form-urlencoded`, which
/// RFC 6749 and RFC 7009 clients send).
pub struct Payload<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Payload<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Error::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request_too_large",
                    "Request body is too large",
                )
            } else {
                Error::bad_request("bad_json", "Could not read the request body")
            }
        })?;
        let value = if bytes.is_empty() && content_type.is_empty() {
            // No body at all (a cookie-based refresh, say): every field absent.
            serde_json::from_slice(b"{}").map_err(|e| {
                Error::bad_request(
                    "validation_failed",
                    format!("A request body is required: {e}"),
                )
            })?
        } else if content_type == "application/json" || content_type.ends_with("+json") {
            serde_json::from_slice(&bytes).map_err(|e| {
                Error::bad_request(
                    "bad_json",
                    format!("Could not parse request body as JSON: {e}"),
                )
            })?
        } else if content_type == "application/x-www-form-urlencoded" {
            serde_urlencoded::from_bytes(&bytes).map_err(|e| {
                Error::bad_request("bad_json", format!("Could not parse the form body: {e}"))
            })?
        } else {
            return Err(Error::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Content-Type must be application/json or application/x-www-form-urlencoded",
            ));
        };
        Ok(Self(value))
    }
}

/// The client address from `X-Forwarded-For`, when `AUTH_TRUST_FORWARDED_FOR` is on: the
/// rightmost entry, which our proxy appended (the others are the client's word).
pub fn forwarded_for(state: &AppState, headers: &axum::http::HeaderMap) -> Option<String> {
    state
        .config
        .trust_forwarded_for
        .then(|| headers.get("x-forwarded-for"))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ip = forwarded_for(state, &parts.headers).or_else(|| {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip().to_string())
        });
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(512).collect());
        Ok(Client { ip, user_agent })
    }
}

/// The bearer token of the `Authorization` header (RFC 6750: the scheme is case-insensitive).
pub fn bearer(parts: &Parts) -> Result<&str, Error> {
    let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
        Error::unauthorized("no_authorization", "This endpoint requires a Bearer token")
    })?;
    let malformed =
        || Error::unauthorized("bad_jwt", "Authorization header must be: Bearer <token>");
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return Err(malformed());
    }
    Ok(token)
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        let token = bearer(parts)?;
        state.auth.authenticate(token).await
    }
}
