//! The body of every error answer of the HTTP API.

use serde::Serialize;
use utoipa::ToSchema;

/// Every error answer: RFC 6749 §5.2's fields and Supabase Auth's, side by side.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody<'a> {
    /// The OAuth 2.0 error name (`invalid_grant`…) or the same as `error_code`.
    pub error: &'a str,
    pub error_description: &'a str,
    /// The HTTP status.
    pub code: u16,
    /// A stable code (`invalid_credentials`, `weak_password`, `session_not_found`…).
    pub error_code: &'a str,
    /// The same as `error_description`.
    pub msg: &'a str,
    /// With `weak_password`: which rules the password breaks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weak_password: Option<WeakPassword<'a>>,
}

/// Why a new password was refused (Supabase Auth's shape, which auth-js turns into an
/// `AuthWeakPasswordError`).
#[derive(Serialize, ToSchema)]
pub struct WeakPassword<'a> {
    /// `length`, `characters`.
    pub reasons: &'a [&'static str],
    pub message: &'a str,
}
