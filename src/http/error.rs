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
//! Auth (GoTrue) clients read. A refused password adds `weak_password: {reasons, message}`. Internal failures answer a generic 500 and log the cause; no
//! error body ever carries a database message or a secret.

use crate::{
    api::{ErrorBody, WeakPassword},
    error::{Code, Error, Kind},
};
use axum::{
    extract::Request,
    http::{header, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Json,
};

/// The HTTP status of an error kind.
pub fn status(kind: Kind) -> StatusCode {
    match kind {
        Kind::InvalidRequest
        | Kind::InvalidGrant
        | Kind::UnsupportedGrantType
        | Kind::UnauthorizedClient
        | Kind::BadRequest => StatusCode::BAD_REQUEST,
        Kind::Validation => StatusCode::UNPROCESSABLE_ENTITY,
        Kind::Unauthorized | Kind::InvalidClient => StatusCode::UNAUTHORIZED,
        Kind::Forbidden => StatusCode::FORBIDDEN,
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        Kind::Conflict => StatusCode::CONFLICT,
        Kind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Kind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Kind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Kind::Timeout => StatusCode::REQUEST_TIMEOUT,
        Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The RFC 6749 §5.2 error name, for the kinds that are OAuth errors.
pub fn oauth_error(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::InvalidRequest => Some("invalid_request"),
        Kind::InvalidGrant => Some("invalid_grant"),
        Kind::UnsupportedGrantType => Some("unsupported_grant_type"),
        Kind::InvalidClient => Some("invalid_client"),
        Kind::UnauthorizedClient => Some("unauthorized_client"),
        _ => None,
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        self.log_cause();
        let status = status(self.kind);
        let oauth = oauth_error(self.kind);
        let body = ErrorBody {
            error: oauth.unwrap_or(self.code.as_str()),
            error_description: &self.message,
            code: status.as_u16(),
            error_code: self.code.as_str(),
            msg: &self.message,
            weak_password: (self.code == Code::WeakPassword).then(|| WeakPassword {
                reasons: &self.reasons,
                message: &self.message,
            }),
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        if self.kind == Kind::InvalidClient {
            // RFC 6749 §5.2: the scheme the client may authenticate with.
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="oauth""#),
            );
        } else if status == StatusCode::UNAUTHORIZED {
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

/// The code of a status the framework (not our handlers) answered with.
fn code_of(status: StatusCode) -> Code {
    match status {
        StatusCode::NOT_FOUND => Code::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => Code::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => Code::RequestTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => Code::UnsupportedMediaType,
        StatusCode::REQUEST_TIMEOUT => Code::RequestTimeout,
        s if s.is_server_error() => Code::UnexpectedFailure,
        _ => Code::ValidationFailed,
    }
}

/// Middleware: every error answer is our JSON error. Handlers already answer so; this turns
/// the framework's own rejections (a path or query that does not parse, a timeout) into the
/// same shape, keeping their short description as the message.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    // Pages (the hosted pages' error pages) stay pages.
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if status.as_u16() < 400 || is_json || is_page {
        return response;
    }
    let code = code_of(status);
    let text = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    if code == Code::UnexpectedFailure {
        return Error::internal(anyhow::anyhow!("{status} from the framework")).into_response();
    }
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("Request failed")
            .to_owned()
    } else {
        text
    };
    Error::new(code, message).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's error table lists every code under the status it answers with.
    #[test]
    fn readme_lists_every_code_with_its_status() {
        let readme = include_str!("../../README.md");
        let rows: Vec<(&str, &str)> = readme
            .lines()
            .filter_map(|line| {
                let mut cells = line.strip_prefix("| ")?.splitn(3, " | ");
                let status = cells.next()?;
                let codes = cells.next()?;
                status.parse::<u16>().ok().map(|_| (status, codes))
            })
            .collect();
        for code in Code::ALL {
            let status = status(code.kind()).as_u16().to_string();
            let quoted = format!("`{code}`");
            let listed: Vec<&str> = rows
                .iter()
                .filter(|(_, codes)| codes.contains(&quoted))
                .map(|(s, _)| *s)
                .collect();
            assert_eq!(
                listed,
                [status.as_str()],
                "{code} in README.md's error table"
            );
        }
    }
}
