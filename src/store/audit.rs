//! The audit log: security events with time, user, session and client. Never a secret.

use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::auth::sessions::Client;

/// Event names written to `audit_log.event`.
pub mod event {
    pub const SIGN_UP: &str = "sign_up";
    pub const SIGN_IN: &str = "sign_in";
    pub const SIGN_IN_FAILED: &str = "sign_in_failed";
    pub const REFRESH_TOKEN_REUSE: &str = "refresh_token_reuse";
    pub const LOGOUT: &str = "logout";
    pub const TOKEN_REVOKED: &str = "token_revoked";
    pub const PASSWORD_CHANGED: &str = "password_changed";
    pub const PASSWORD_CHANGE_FAILED: &str = "password_change_failed";
    pub const DISABLED_USER_REFRESH: &str = "disabled_user_refresh";
    pub const ADMIN_USER_CREATED: &str = "admin_user_created";
    pub const ADMIN_USER_UPDATED: &str = "admin_user_updated";
    pub const ADMIN_USER_DELETED: &str = "admin_user_deleted";
    pub const ADMIN_SESSIONS_REVOKED: &str = "admin_sessions_revoked";
    pub const USER_IMPORTED: &str = "user_imported";
}

pub async fn record(
    db: impl PgExecutor<'_>,
    event: &str,
    user_id: Option<Uuid>,
    session_id: Option<Uuid>,
    client: &Client,
    detail: Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (event, user_id, session_id, ip, user_agent, detail)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(event)
    .bind(user_id)
    .bind(session_id)
    .bind(&client.ip)
    .bind(&client.user_agent)
    .bind(detail)
    .execute(db)
    .await?;
    Ok(())
}
