//! One error type for the whole HTTP surface.
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

use std::borrow::Cow;

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug)]
pub struct Error {
    pub status: StatusCode,
    /// Machine-readable code (`error_code`), stable across releases.
    pub code: &'static str,
    /// RFC 6749 §5.2 error, when different from `code`.
    pub oauth: Option<&'static str>,
    pub message: Cow<'static, str>,
    /// Cause of an internal error; logged, never sent.
    source: Option<anyhow::Error>,
    /// `Retry-After` seconds, for 429.
    retry_after: Option<u64>,
}

impl Error {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            oauth: None,
            message: message.into(),
            source: None,
            retry_after: None,
        }
    }

    fn oauth(
        oauth: &'static str,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            oauth: Some(oauth),
            ..Self::new(StatusCode::BAD_REQUEST, code, message)
        }
    }

    /// RFC 6749 `invalid_grant`: bad credentials, or a refresh token that is not (or no
    /// longer) valid.
    pub fn invalid_grant(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::oauth("invalid_grant", code, message)
    }

    /// The one answer to a failed password sign-in, whatever the reason.
    pub fn invalid_credentials() -> Self {
        Self::invalid_grant("invalid_credentials", "Invalid login credentials")
    }

    pub fn invalid_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::oauth("invalid_request", "validation_failed", message)
    }

    pub fn unsupported_grant_type() -> Self {
        Self::oauth(
            "unsupported_grant_type",
            "unsupported_grant_type",
            "grant_type must be password or refresh_token",
        )
    }

    pub fn validation(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn bad_request(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401 for a missing, malformed, expired or revoked access token.
    pub fn unauthorized(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }

    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    /// 429 with `Retry-After`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "over_request_rate_limit",
                format!("Too many attempts from this address; retry in {retry_after_secs} s"),
            )
        }
    }

    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            message,
        )
    }

    /// A failure that is ours, not the client's: logged with its cause, answered generically.
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        Self {
            source: Some(source.into()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "unexpected_failure",
                "Internal server error",
            )
        }
    }
}

impl Error {
    /// For the CLI, where the operator may see the cause: the message, then the cause if any.
    pub fn into_anyhow(self) -> anyhow::Error {
        match self.source {
            Some(source) => source.context(self.message),
            None => anyhow::anyhow!("{}", self.message),
        }
    }

    /// Logs the cause of an internal error (once, where the response is made).
    pub fn log_cause(&self) {
        if let Some(source) = &self.source {
            tracing::error!(
                error = format!("{source:#}"),
                code = self.code,
                "request failed"
            );
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for Error {}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut => {
                tracing::error!("database pool timed out");
                Self::unavailable("The database is not answering; try again later")
            }
            other => Self::internal(other),
        }
    }
}

impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Self {
        Self::internal(e)
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        self.log_cause();
        let body = json!({
            "error": self.oauth.unwrap_or(self.code),
            "error_description": self.message,
            "code": self.status.as_u16(),
            "error_code": self.code,
            "msg": self.message,
        });
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer error="invalid_token""#),
            );
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.oauth.is_some() {
            // RFC 6749 §5.1/§5.2: token responses must not be cached.
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        response
    }
}
