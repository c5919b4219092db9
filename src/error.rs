//! The domain error of the whole crate: a stable machine-readable [`Code`] and the [`Kind`]
//! of failure it names (which the HTTP layer turns into a status code and an RFC 6749 error
//! name, in `http/error.rs`). Nothing here knows about HTTP.
//!
//! Internal failures keep their cause for the log (and for the CLI, whose operator may see
//! it); what reaches an API client is only the kind, the code and a fixed message.

use std::borrow::Cow;

pub type Result<T, E = Error> = std::result::Result<T, E>;

mod code;

pub use code::Code;

/// What kind of failure: decides the HTTP status and the RFC 6749 error name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A malformed request to an OAuth endpoint (RFC 6749 `invalid_request`).
    InvalidRequest,
    /// Bad credentials, or a refresh token that is not (or no longer) valid (`invalid_grant`).
    InvalidGrant,
    /// A grant type this server does not offer (`unsupported_grant_type`).
    UnsupportedGrantType,
    /// An OAuth client that failed to authenticate (`invalid_client`, 401).
    InvalidClient,
    /// An OAuth client not allowed this grant (`unauthorized_client`).
    UnauthorizedClient,
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
    /// Stable across releases; decides `kind` (see [`Code`]).
    pub code: Code,
    pub message: Cow<'static, str>,
    /// `Retry-After` seconds, for [`Kind::RateLimited`].
    pub retry_after: Option<u64>,
    /// The rules a refused password breaks (`weak_password`): `length`, `characters`.
    pub reasons: Vec<&'static str>,
    /// Cause of an internal error; logged, never sent to an API client.
    source: Option<anyhow::Error>,
}

impl Error {
    /// An error with `code`, whose kind the code decides.
    pub fn new(code: Code, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind: code.kind(),
            code,
            message: message.into(),
            retry_after: None,
            reasons: Vec::new(),
            source: None,
        }
    }

    /// Whether the request's input was refused (missing, malformed or against a rule), so
    /// that the caller can correct it.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self.kind,
            Kind::InvalidRequest | Kind::BadRequest | Kind::Validation
        )
    }

    /// The same error naming the rules a refused password breaks.
    pub fn with_reasons(mut self, reasons: Vec<&'static str>) -> Self {
        self.reasons = reasons;
        self
    }

    /// A field that is missing, malformed or breaks a rule.
    pub fn validation_failed(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Code::ValidationFailed, message)
    }

    /// The one answer to a failed password sign-in, whatever the reason.
    pub fn invalid_credentials() -> Self {
        Self::new(Code::InvalidCredentials, "Invalid login credentials")
    }

    pub fn unsupported_grant_type() -> Self {
        Self::new(
            Code::UnsupportedGrantType,
            "grant_type must be password, refresh_token or pkce",
        )
    }

    /// The session of an access token has ended (signed out, revoked, expired).
    pub fn session_not_found() -> Self {
        Self::new(
            Code::SessionNotFound,
            "Session from session_id claim in JWT does not exist",
        )
    }

    /// No session with the id the request named among the user's own.
    pub fn no_such_session() -> Self {
        Self::new(Code::NoSuchSession, "Session not found")
    }

    /// The user of a valid token is disabled or banned.
    pub fn user_banned() -> Self {
        Self::new(Code::UserBanned, "User is disabled")
    }

    /// A grant (refresh token, PKCE code, ID token) for a disabled or banned user: at the
    /// token endpoint RFC 6749 §5.2 answers 400 `invalid_grant`, and so does Supabase Auth.
    pub fn user_banned_grant() -> Self {
        Self {
            kind: Kind::InvalidGrant,
            ..Self::user_banned()
        }
    }

    pub fn signup_disabled() -> Self {
        Self::new(
            Code::SignupDisabled,
            "Signups not allowed for this instance",
        )
    }

    /// The user an administrator named does not exist.
    pub fn user_not_found() -> Self {
        Self::new(Code::UserNotFound, "User not found")
    }

    /// Nothing at this address.
    pub fn not_found(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Code::NotFound, message)
    }

    /// Too many attempts; retry after `retry_after_secs`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(
                Code::OverRequestRateLimit,
                format!("Too many attempts from this address; retry in {retry_after_secs} s"),
            )
        }
    }

    /// Too many failed password checks for one account; retry after `retry_after_secs`.
    pub fn account_locked(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(
                Code::OverRequestRateLimit,
                format!("Too many failed attempts for this account; retry in {retry_after_secs} s"),
            )
        }
    }

    /// Too many guesses of codes sent to one address; retry after `retry_after_secs`.
    pub fn too_many_guesses(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(
                Code::OverRequestRateLimit,
                format!("Too many codes tried for this address; retry in {retry_after_secs} s"),
            )
        }
    }

    /// Too many messages to one address, or from one client; retry after `retry_after_secs`.
    pub fn email_rate_limited(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(
                Code::OverEmailSendRateLimit,
                format!("For security purposes, you can only request this after {retry_after_secs} seconds."),
            )
        }
    }

    /// A link or code that is unknown, used, expired, or for another purpose.
    pub fn otp_expired() -> Self {
        Self::new(Code::OtpExpired, "Token has expired or is invalid")
    }

    /// Cannot serve now; retry after `retry_after_secs`.
    pub fn unavailable(message: impl Into<Cow<'static, str>>, retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(Code::ServiceUnavailable, message)
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
            ..Self::new(Code::UnexpectedFailure, "Internal server error")
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
                code = self.code.as_str(),
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

/// A field a request must carry: `email.required("email")?` is the value, or
/// `validation_failed` naming the field.
pub trait Required<T> {
    fn required(self, field: &'static str) -> Result<T>;
}

impl<T> Required<T> for Option<T> {
    fn required(self, field: &'static str) -> Result<T> {
        self.ok_or_else(|| Error::validation_failed(format!("{field} is required")))
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
