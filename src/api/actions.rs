//! What the Hasura actions answer: the output types of the generated action metadata
//! (`hasura metadata`), and Hasura's action error shape.

use serde::Serialize;

use crate::error::Code;

/// `AuthSession` (and `SignUpOutput`, with `confirmation_sent`): exactly these fields.
/// `refresh_token` is `null` in cookie mode, where the cookie carries it; every token field is
/// `null` for a sign-up waiting for its address to be confirmed.
#[derive(Serialize)]
pub struct AuthSession<'a> {
    pub access_token: Option<&'a str>,
    pub token_type: Option<&'static str>,
    pub expires_in: Option<u64>,
    pub expires_at: Option<i64>,
    pub refresh_token: Option<&'a str>,
    pub user_id: String,
    pub email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmation_sent: Option<bool>,
}

/// `RequestOutput`, `LogoutOutput`, `ChangePasswordOutput`: `{"ok": true}`.
#[derive(Serialize)]
pub struct Done {
    pub ok: bool,
}

impl Done {
    pub const fn new() -> Self {
        Self { ok: true }
    }
}

impl Default for Done {
    fn default() -> Self {
        Self::new()
    }
}

/// Hasura's action error: `{message, extensions: {code, reasons?}}`, passed on as a GraphQL
/// error.
#[derive(Serialize)]
pub struct ActionError<'a> {
    pub message: &'a str,
    pub extensions: ActionErrorExtensions<'a>,
}

#[derive(Serialize)]
pub struct ActionErrorExtensions<'a> {
    pub code: Code,
    /// The rules a refused password breaks.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub reasons: &'a [&'static str],
}
