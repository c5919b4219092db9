//! The domain error of the whole crate: what went wrong, as a [`Kind`] (which the HTTP layer
//! turns into a status code and an RFC 6749 error name, in `http/error.rs`) and a stable
//! machine-readable [`code`]. Nothing here knows about HTTP.
//!
//! Internal failures keep their cause for the log (and for the CLI, whose operator may see
//! it); what reaches an API client is only the kind, the code and a fixed message.

use std::borrow::Cow;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Stable error codes (`error_code` in API responses). Clients match on these; never change
/// one, only add.
pub mod code {
    pub const VALIDATION_FAILED: &str = "validation_failed";
    pub const BAD_JSON: &str = "bad_json";
    pub const UNSUPPORTED_GRANT_TYPE: &str = "unsupported_grant_type";
    pub const INVALID_CREDENTIALS: &str = "invalid_credentials";
    pub const EMAIL_ADDRESS_INVALID: &str = "email_address_invalid";
    pub const WEAK_PASSWORD: &str = "weak_password";
    pub const USER_ALREADY_EXISTS: &str = "user_already_exists";
    pub const EMAIL_EXISTS: &str = "email_exists";
    pub const EMAIL_CHANGE_NOT_SUPPORTED: &str = "email_change_not_supported";
    pub const INVALID_ROLES: &str = "invalid_roles";
    pub const SIGNUP_DISABLED: &str = "signup_disabled";
    pub const REFRESH_TOKEN_NOT_FOUND: &str = "refresh_token_not_found";
    pub const REFRESH_TOKEN_ALREADY_USED: &str = "refresh_token_already_used";
    pub const SESSION_EXPIRED: &str = "session_expired";
    pub const SESSION_NOT_FOUND: &str = "session_not_found";
    pub const USER_NOT_FOUND: &str = "user_not_found";
    pub const USER_BANNED: &str = "user_banned";
    pub const NO_AUTHORIZATION: &str = "no_authorization";
    pub const BAD_JWT: &str = "bad_jwt";
    pub const REAUTHENTICATION_NEEDED: &str = "reauthentication_needed";
    pub const NOT_ADMIN: &str = "not_admin";
    pub const UNAUTHORIZED: &str = "unauthorized";
    pub const CROSS_SITE_REQUEST: &str = "cross_site_request";
    pub const NOT_FOUND: &str = "not_found";
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    pub const CONFLICT: &str = "conflict";
    pub const REQUEST_TOO_LARGE: &str = "request_too_large";
    pub const UNSUPPORTED_MEDIA_TYPE: &str = "unsupported_media_type";
    pub const OVER_REQUEST_RATE_LIMIT: &str = "over_request_rate_limit";
    pub const SERVICE_UNAVAILABLE: &str = "service_unavailable";
    pub const REQUEST_TIMEOUT: &str = "request_timeout";
    pub const EMAIL_NOT_CONFIRMED: &str = "email_not_confirmed";
    pub const OTP_EXPIRED: &str = "otp_expired";
    pub const OVER_EMAIL_SEND_RATE_LIMIT: &str = "over_email_send_rate_limit";
    pub const FLOW_STATE_NOT_FOUND: &str = "flow_state_not_found";
    pub const FLOW_STATE_EXPIRED: &str = "flow_state_expired";
    pub const BAD_CODE_VERIFIER: &str = "bad_code_verifier";
    pub const UNEXPECTED_FAILURE: &str = "unexpected_failure";
    pub const PROVIDER_FAILED: &str = "provider_failed";
    pub const PROVIDER_EMAIL_NEEDS_VERIFICATION: &str = "provider_email_needs_verification";
    pub const BAD_OAUTH_STATE: &str = "bad_oauth_state";
    pub const BAD_ID_TOKEN: &str = "bad_id_token";
    pub const IDENTITY_ALREADY_EXISTS: &str = "identity_already_exists";
    pub const SINGLE_IDENTITY_NOT_DELETABLE: &str = "single_identity_not_deletable";
    pub const IDENTITY_NOT_FOUND: &str = "identity_not_found";
}

/// What kind of failure: decides the HTTP status and the RFC 6749 error name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A malformed request to an OAuth endpoint (RFC 6749 `invalid_request`).
    InvalidRequest,
    /// Bad credentials, or a refresh token that is not (or no longer) valid (`invalid_grant`).
    InvalidGrant,
    /// A grant type this server does not offer (`unsupported_grant_type`).
    UnsupportedGrantType,
    /// A request that cannot be understood.
    BadRequest,
    /// Well-formed input that breaks a rule (a weak password, an invalid email).
    Validation,
    /// No, or no longer, a valid access token (or secret).
    Unauthorized,
    /// Authenticated, but not allowed.
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    TooLarge,
    UnsupportedMediaType,
    /// Too many attempts; `retry_after` says when to try again.
    RateLimited,
    /// A dependency (the database, the hashing threads) cannot take the request now;
    /// `retry_after` says when to try again.
    Unavailable,
    /// The request took too long.
    Timeout,
    /// Our failure, not the caller's: logged with its cause, answered generically.
    Internal,
}

#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    /// One of [`code`]: stable across releases.
    pub code: &'static str,
    pub message: Cow<'static, str>,
    /// `Retry-After` seconds, for [`Kind::RateLimited`].
    pub retry_after: Option<u64>,
    /// The rules a refused password breaks (`weak_password`): `length`, `characters`.
    pub reasons: Vec<&'static str>,
    /// Cause of an internal error; logged, never sent to an API client.
    source: Option<anyhow::Error>,
}

impl Error {
    pub fn new(kind: Kind, code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
            retry_after: None,
            reasons: Vec::new(),
            source: None,
        }
    }

    /// The same error naming the rules a refused password breaks.
    pub fn with_reasons(mut self, reasons: Vec<&'static str>) -> Self {
        self.reasons = reasons;
        self
    }

    pub fn invalid_grant(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::InvalidGrant, code, message)
    }

    /// The one answer to a failed password sign-in, whatever the reason.
    pub fn invalid_credentials() -> Self {
        Self::invalid_grant(code::INVALID_CREDENTIALS, "Invalid login credentials")
    }

    /// A missing or malformed field of an OAuth request.
    pub fn invalid_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::InvalidRequest, code::VALIDATION_FAILED, message)
    }

    pub fn unsupported_grant_type() -> Self {
        Self::new(
            Kind::UnsupportedGrantType,
            code::UNSUPPORTED_GRANT_TYPE,
            "grant_type must be password, refresh_token or pkce",
        )
    }

    pub fn bad_request(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::BadRequest, code, message)
    }

    pub fn validation(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::Validation, code, message)
    }

    /// Input that breaks a rule, with the generic `validation_failed` code.
    pub fn invalid(message: impl Into<Cow<'static, str>>) -> Self {
        Self::validation(code::VALIDATION_FAILED, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::Unauthorized, code, message)
    }

    /// The session of an access token has ended (signed out, revoked, expired).
    pub fn session_not_found() -> Self {
        Self::unauthorized(
            code::SESSION_NOT_FOUND,
            "Session from session_id claim in JWT does not exist",
        )
    }

    /// The user of a valid token is disabled or banned.
    pub fn user_banned() -> Self {
        Self::unauthorized(code::USER_BANNED, "User is disabled")
    }

    pub fn forbidden(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::Forbidden, code, message)
    }

    pub fn signup_disabled() -> Self {
        Self::forbidden(
            code::SIGNUP_DISABLED,
            "Signups not allowed for this instance",
        )
    }

    pub fn not_found(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::NotFound, code, message)
    }

    /// The user an administrator named does not exist.
    pub fn user_not_found() -> Self {
        Self::not_found(code::USER_NOT_FOUND, "User not found")
    }

    pub fn conflict(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Kind::Conflict, code, message)
    }

    /// Too many attempts; retry after `retry_after_secs`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(
                Kind::RateLimited,
                code::OVER_REQUEST_RATE_LIMIT,
                format!("Too many attempts from this address; retry in {retry_after_secs} s"),
            )
        }
    }

    /// Cannot serve now; retry after `retry_after_secs`.
    /// Too many failed password checks for one account; retry after `retry_after_secs`.
    pub fn account_locked(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(
                Kind::RateLimited,
                code::OVER_REQUEST_RATE_LIMIT,
                format!("Too many failed attempts for this account; retry in {retry_after_secs} s"),
            )
        }
    }

    /// Too many guesses of codes sent to one address; retry after `retry_after_secs`.
    pub fn too_many_guesses(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(
                Kind::RateLimited,
                code::OVER_REQUEST_RATE_LIMIT,
                format!("Too many codes tried for this address; retry in {retry_after_secs} s"),
            )
        }
    }

    /// Too many messages to one address, or from one client; retry after `retry_after_secs`.
    pub fn email_rate_limited(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(
                Kind::RateLimited,
                code::OVER_EMAIL_SEND_RATE_LIMIT,
                format!("For security purposes, you can only request this after {retry_after_secs} seconds."),
            )
        }
    }

    /// A link or code that is unknown, used, expired, or for another purpose.
    pub fn otp_expired() -> Self {
        Self::forbidden(code::OTP_EXPIRED, "Token has expired or is invalid")
    }

    pub fn unavailable(message: impl Into<Cow<'static, str>>, retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(Kind::Unavailable, code::SERVICE_UNAVAILABLE, message)
        }
    }

    /// The database cannot be reached (down, restarting, or every connection busy).
    pub fn database_unavailable() -> Self {
        Self::unavailable("The database is not answering; try again later", 1)
    }

    /// A failure that is ours, not the client's: logged with its cause, answered generically.
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        Self {
            source: Some(source.into()),
            ..Self::new(
                Kind::Internal,
                code::UNEXPECTED_FAILURE,
                "Internal server error",
            )
        }
    }

    /// For the CLI, where the operator may see the cause: the message, then the cause if any.
    pub fn into_anyhow(self) -> anyhow::Error {
        match self.source {
            Some(source) => source.context(self.message),
            None => anyhow::anyhow!("{}", self.message),
        }
    }

    /// Logs the cause of an internal error (once, where the answer is made).
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
        write!(f, "{} ({:?}): {}", self.code, self.kind, self.message)
    }
}

impl std::error::Error for Error {}

/// Whether a database error means "the database is out of reach", as opposed to a fault in
/// a statement: no connection within the pool's timeout, a broken connection (including one
/// closed while it was being set up, as a proxy in front of a stopped database does: sqlx
/// calls that a protocol error), or a server that is shutting down or starting (SQLSTATE
/// classes 08 and 57P).
pub(crate) fn is_outage(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        if is_outage(&e) {
            tracing::error!(error = %e, "database unavailable");
            return Self::database_unavailable();
        }
        Self::internal(e)
    }
}

impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Self {
        Self::internal(e)
    }
}

/// Maps database constraint violations to domain errors by constraint name, in one place
/// instead of matching driver errors in every caller.
pub trait ConstraintExt<T> {
    /// A violation of `constraint` becomes `error()`; any other database error passes on.
    fn on_constraint(self, constraint: &str, error: impl FnOnce() -> Error) -> Result<T>;
}

impl<T> ConstraintExt<T> for std::result::Result<T, sqlx::Error> {
    fn on_constraint(self, constraint: &str, error: impl FnOnce() -> Error) -> Result<T> {
        self.map_err(|e| match &e {
            sqlx::Error::Database(db) if db.constraint() == Some(constraint) => error(),
            _ => e.into(),
        })
    }
}
