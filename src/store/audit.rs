//! The audit log: security events with time, user, session and client. Never a secret.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use crate::client::Client;

/// Event names written to `audit_log.event`.
pub mod event {
    pub const SIGN_UP: &str = "sign_up";
    /// A sign-up for an address whose account waits for its confirmation.
    pub const SIGN_UP_REPEATED: &str = "sign_up_repeated";
    pub const SIGN_IN: &str = "sign_in";
    pub const SIGN_IN_FAILED: &str = "sign_in_failed";
    pub const SIGN_IN_LOCKED: &str = "sign_in_locked";
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
    pub const EMAIL_CONFIRMED: &str = "email_confirmed";
    pub const EMAIL_CHANGE_REQUESTED: &str = "email_change_requested";
    pub const EMAIL_CHANGED: &str = "email_changed";
    pub const RECOVERY_REQUESTED: &str = "recovery_requested";
    pub const USER_INVITED: &str = "user_invited";
    pub const EXTERNAL_SIGN_IN_FAILED: &str = "external_sign_in_failed";
    pub const IDENTITY_LINKED: &str = "identity_linked";
    pub const IDENTITY_UNLINKED: &str = "identity_unlinked";
    pub const PROVIDER_TOKENS_READ: &str = "provider_tokens_read";
    pub const ADMIN_FACTOR_DELETED: &str = "admin_factor_deleted";
    pub const ADMIN_PASSKEY_DELETED: &str = "admin_passkey_deleted";
    pub const MFA_FACTOR_ENROLLED: &str = "mfa_factor_enrolled";
    pub const MFA_FACTOR_UNENROLLED: &str = "mfa_factor_unenrolled";
    pub const MFA_VERIFIED: &str = "mfa_verified";
    pub const MFA_RECOVERY_CODES_GENERATED: &str = "mfa_recovery_codes_generated";
    pub const PASSKEY_REGISTERED: &str = "passkey_registered";
    pub const PASSKEY_REMOVED: &str = "passkey_removed";
    pub const PASSKEY_CLONE_DETECTED: &str = "passkey_clone_detected";
    pub const ANONYMOUS_SIGN_UP: &str = "anonymous_sign_up";
    pub const ANONYMOUS_CONVERTED: &str = "anonymous_converted";
    pub const ANONYMOUS_USER_EXPIRED: &str = "anonymous_user_expired";
    pub const REAUTHENTICATION_REQUESTED: &str = "reauthentication_requested";
    pub const MFA_VERIFICATION_FAILED: &str = "mfa_verification_failed";
    pub const ORGANIZATION_CREATED: &str = "organization_created";
    pub const ORGANIZATION_DELETED: &str = "organization_deleted";
    pub const ORGANIZATION_MEMBER_ADDED: &str = "organization_member_added";
    pub const ORGANIZATION_MEMBER_INVITED: &str = "organization_member_invited";
    pub const API_KEY_CREATED: &str = "api_key_created";
    pub const API_KEY_REVOKED: &str = "api_key_revoked";
    pub const API_KEY_ROTATED: &str = "api_key_rotated";
    pub const OAUTH_CLIENT_CREATED: &str = "oauth_client_created";
    pub const OAUTH_CLIENT_UPDATED: &str = "oauth_client_updated";
    pub const OAUTH_CLIENT_SECRET_REGENERATED: &str = "oauth_client_secret_regenerated";
    pub const OAUTH_CLIENT_DELETED: &str = "oauth_client_deleted";
    pub const OAUTH_CONSENT_GRANTED: &str = "oauth_consent_granted";
    pub const OAUTH_CONSENT_DENIED: &str = "oauth_consent_denied";
    pub const OAUTH_TOKEN_ISSUED: &str = "oauth_token_issued";
    pub const OAUTH_CODE_REPLAYED: &str = "oauth_code_replayed";
    pub const OAUTH_GRANT_REVOKED: &str = "oauth_grant_revoked";
    pub const ORGANIZATION_MEMBER_ROLES_CHANGED: &str = "organization_member_roles_changed";
    pub const ORGANIZATION_MEMBER_REMOVED: &str = "organization_member_removed";
    pub const ORGANIZATION_LEFT: &str = "organization_left";
}

/// Appends one entry.
pub async fn record(
    db: impl PgExecutor<'_>,
    event: &str,
    user_id: Option<Uuid>,
    session_id: Option<Uuid>,
    client: &Client,
    detail: Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (event, user_id, session_id, ip, user_agent, detail, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(event)
    .bind(user_id)
    .bind(session_id)
    .bind(&client.ip)
    .bind(&client.user_agent)
    .bind(detail)
    .bind(&client.request_id)
    .execute(db)
    .await?;
    Ok(())
}

/// Appends one entry per user, the same event and detail, from no client (the CLI).
pub async fn record_for_users(
    db: impl PgExecutor<'_>,
    event: &str,
    user_ids: &[Uuid],
    detail: Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (event, user_id, detail)
         SELECT $1, user_id, $3 FROM unnest($2::uuid[]) AS u(user_id)",
    )
    .bind(event)
    .bind(user_ids)
    .bind(detail)
    .execute(db)
    .await?;
    Ok(())
}

/// One audit-log entry.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub event: String,
    pub user_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The HTTP request's id (`X-Request-Id`), when an HTTP request caused it.
    pub request_id: Option<String>,
    pub detail: Value,
}

/// One page of entries, newest first, optionally of one user only.
pub async fn list(
    db: impl PgExecutor<'_>,
    limit: i64,
    offset: i64,
    user_id: Option<Uuid>,
) -> sqlx::Result<Vec<AuditEntry>> {
    sqlx::query_as(
        "SELECT id, created_at, event, user_id, session_id, ip, user_agent, request_id, detail
         FROM audit_log
         WHERE $3::uuid IS NULL OR user_id = $3 ORDER BY id DESC LIMIT $1 OFFSET $2",
    )
    .bind(limit)
    .bind(offset)
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// How many entries there are (of one user, if given).
pub async fn count(db: impl PgExecutor<'_>, user_id: Option<Uuid>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE $1::uuid IS NULL OR user_id = $1")
        .bind(user_id)
        .fetch_one(db)
        .await
}

/// Deletes entries older than `retention`; returns how many.
pub async fn prune(db: impl PgExecutor<'_>, retention: Duration) -> sqlx::Result<u64> {
    let r =
        sqlx::query("DELETE FROM audit_log WHERE created_at < now() - make_interval(secs => $1)")
            .bind(retention.as_secs_f64())
            .execute(db)
            .await?;
    Ok(r.rows_affected())
}
