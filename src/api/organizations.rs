//! Organizations as the API sends them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::store::{
    organization_invitations::{Found, Invitation},
    organizations::{Listed, Member, Membership},
};

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

/// An invitation as the organization's administrators see it: `{id, organization_id, email,
/// roles, invited_by, created_at, expires_at}` (never its token).
#[derive(Serialize, utoipa::ToSchema)]
pub struct InvitationView {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub email: String,
    pub roles: Vec<String>,
    pub invited_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl From<Invitation> for InvitationView {
    fn from(i: Invitation) -> Self {
        Self {
            id: i.id,
            organization_id: i.organization_id,
            email: i.email,
            roles: i.roles,
            invited_by: i.invited_by,
            created_at: i.created_at,
            expires_at: i.expires_at,
        }
    }
}

/// An open invitation as its invitee sees it: `{id, email, roles, expires_at, organization:
/// {id, name, slug}}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OfferedInvitationView {
    pub id: Uuid,
    pub email: String,
    pub roles: Vec<String>,
    pub expires_at: DateTime<Utc>,
    pub organization: OrganizationRef,
}

/// An organization named in an invitation.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OrganizationRef {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
}

impl From<Found> for OfferedInvitationView {
    fn from(f: Found) -> Self {
        let organization = OrganizationRef {
            id: f.invitation.organization_id,
            name: f.organization_name,
            slug: f.organization_slug,
        };
        let i = f.invitation;
        Self {
            id: i.id,
            email: i.email,
            roles: i.roles,
            expires_at: i.expires_at,
            organization,
        }
    }
}

/// An organization as the server's administrators list it: `{id, name, slug, metadata,
/// created_at, members}` (how many).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ListedOrganizationView {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub members: i64,
}

impl From<Listed> for ListedOrganizationView {
    fn from(l: Listed) -> Self {
        let o = l.organization;
        Self {
            id: o.id,
            name: o.name,
            slug: o.slug,
            metadata: o.metadata,
            created_at: o.created_at,
            members: l.members,
        }
    }
}

/// `GET /admin/organizations`: one page (the total in `x-total-count`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct OrganizationPage {
    pub organizations: Vec<ListedOrganizationView>,
}
