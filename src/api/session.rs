//! Sessions as the API sends them: the token response, the answers of sign-up and
//! verification, the user's own sessions, and Hasura's session variables.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::UserView;

/// A session: the access token, the refresh token (not in cookie mode, where the HttpOnly
/// cookie alone carries it) and the user.
#[derive(Serialize, ToSchema)]
pub struct SessionResponse<'a> {
    pub access_token: &'a str,
    /// Always `bearer`.
    pub token_type: &'static str,
    pub expires_in: u64,
    /// Unix seconds.
    pub expires_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<&'a str>,
    pub user: UserView,
}

/// `POST /signup`: a session, or with email confirmation required the new user only.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum SignupResponse<'a> {
    Session(Box<SessionResponse<'a>>),
    ConfirmationSent(Box<UserView>),
}

/// `POST /verify`: a session, or (the first of two confirmations of an email change) a note.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum VerifyResponse<'a> {
    Session(Box<SessionResponse<'a>>),
    Pending(Message),
}

/// A note (`{msg}`, as Supabase Auth words it).
#[derive(Serialize, ToSchema)]
pub struct Message {
    pub msg: &'static str,
}

/// The answer of requests that send a message: `{}`, whether or not the address has an
/// account.
#[derive(Serialize, ToSchema)]
pub struct Empty {}

/// One of the signed-in user's own sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnSession {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    /// When its refresh token was last used.
    pub refreshed_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    /// Whether this is the session of the access token that asked.
    pub current: bool,
}

/// `GET /sessions`.
#[derive(Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<OwnSession>,
}

/// Hasura's session variables as the webhook answers them (`X-Hasura-Role`,
/// `X-Hasura-User-Id`, the custom claims, and `Expires`): strings, or for Hasura DDN with JSON
/// session variables the claims' own JSON types.
#[derive(Serialize, ToSchema)]
#[schema(value_type = Object)]
pub struct SessionVariables(pub Map<String, Value>);

/// The webhook's refusal (Hasura reads `message`).
#[derive(Serialize, ToSchema)]
pub struct WebhookDenied<'a> {
    pub message: &'a str,
}
