//! Organizations as the API sends them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::store::organizations::{Member, Membership};

/// An organization with the caller's roles there: `{id, name, slug, metadata, created_at, roles}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OrganizationView {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    /// The caller's roles in it.
    pub roles: Vec<String>,
}

impl From<Membership> for OrganizationView {
    fn from(m: Membership) -> Self {
        let o = m.organization;
        Self {
            id: o.id,
            name: o.name,
            slug: o.slug,
            metadata: o.metadata,
            created_at: o.created_at,
            roles: m.roles,
        }
    }
}

/// A member: `{user_id, email, roles, created_at}` (when the user joined).
#[derive(Serialize, utoipa::ToSchema)]
pub struct MemberView {
    pub user_id: Uuid,
    pub email: String,
    pub roles: Vec<String>,
    pub created_at: DateTime<Utc>,
}

impl From<Member> for MemberView {
    fn from(m: Member) -> Self {
        Self {
            user_id: m.user_id,
            email: m.email,
            roles: m.roles,
            created_at: m.created_at,
        }
    }
}
