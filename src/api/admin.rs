//! What the admin API (and the CLI) show of users, sessions and the audit log.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::UserView;
use crate::store::{audit, sessions::SessionInfo};

/// `GET /admin/users`: a page of users.
#[derive(Serialize, ToSchema)]
pub struct UserPage {
    pub users: Vec<UserView>,
    pub aud: String,
}

/// A session as administrators see it.
#[derive(Serialize, ToSchema)]
pub struct AdminSession {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    /// When its refresh token was last used.
    pub refreshed_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

impl From<SessionInfo> for AdminSession {
    fn from(s: SessionInfo) -> Self {
        Self {
            id: s.id,
            user_id: s.user_id,
            created_at: s.created_at,
            refreshed_at: s.refreshed_at,
            user_agent: s.user_agent,
            ip: s.ip,
        }
    }
}

/// `GET /admin/users/{id}/sessions`.
#[derive(Serialize, ToSchema)]
pub struct AdminSessions {
    pub sessions: Vec<AdminSession>,
}

/// How many sessions an administrator's revocation ended.
#[derive(Serialize, ToSchema)]
pub struct Revoked {
    pub revoked: u64,
}

/// One audit-log entry.
#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub event: String,
    pub user_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The `X-Request-Id` of the request that caused it.
    pub request_id: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

impl From<audit::AuditEntry> for AuditEntry {
    fn from(e: audit::AuditEntry) -> Self {
        Self {
            id: e.id,
            created_at: e.created_at,
            event: e.event,
            user_id: e.user_id,
            session_id: e.session_id,
            ip: e.ip,
            user_agent: e.user_agent,
            request_id: e.request_id,
            detail: e.detail,
        }
    }
}
