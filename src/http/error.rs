//! How a domain [`Error`] becomes an HTTP response: the one place that knows status codes
//! and RFC 6749 error names.
//!
//! Every error answers with the same JSON body, readable by both client families the server
//! speaks to:
//!
//! ```json
//! {"error": "invalid_grant", "error_description": "Invalid login credentials",
//!  "code": 400, "error_code": "invalid_credentials", "msg": "Invalid login credentials"}
//! ```
//!
//! `error`/`error_description` are RFC 6749 §5.2; `code`/`error_code`/`msg` are what Supabase
//! Auth (GoTrue) clients read. Internal failures answer a generic 500 and log the cause; no
//! error body ever carries a database message or a secret.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

use crate::error::{Error, Kind};

/// The HTTP status of an error kind.
pub fn status(kind: Kind) -> StatusCode {
    match kind {
        Kind::InvalidRequest
        | Kind::InvalidGrant
        | Kind::UnsupportedGrantType
        | Kind::BadRequest => StatusCode::BAD_REQUEST,
        Kind::Validation => StatusCode::UNPROCESSABLE_ENTITY,
        Kind::Unauthorized => StatusCode::UNAUTHORIZED,
        Kind::Forbidden => StatusCode::FORBIDDEN,
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        Kind::Conflict => StatusCode::CONFLICT,
        Kind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Kind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Kind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The RFC 6749 §5.2 error name, for the kinds that are OAuth errors.
pub fn oauth_error(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::InvalidRequest => Some("invalid_request"),
        Kind::InvalidGrant => Some("invalid_grant"),
        Kind::UnsupportedGrantType => Some("unsupported_grant_type"),
        _ => None,
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        self.log_cause();
        let status = status(self.kind);
        let oauth = oauth_error(self.kind);
        let body = json!({
            "error": oauth.unwrap_or(self.code),
            "error_description": self.message,
            "code": status.as_u16(),
            "error_code": self.code,
            "msg": self.message,
        });
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer error="invalid_token""#),
            );
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if oauth.is_some() {
            // RFC 6749 §5.1/§5.2: token responses must not be cached.
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        response
    }
}
