//! Organizations and their members.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

#[derive(Debug, Clone, FromRow)]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
}

/// An organization as one of its members sees it: with that member's roles there.
#[derive(Debug, Clone, FromRow)]
pub struct Membership {
    #[sqlx(flatten)]
    pub organization: Organization,
    pub roles: Vec<String>,
}

/// A member as the organization's administrators see it.
#[derive(Debug, Clone, FromRow)]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    pub roles: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// Creates an organization; `None` when the slug is taken.
pub async fn create(
    db: impl PgExecutor<'_>,
    name: &str,
    slug: &str,
    metadata: &Value,
) -> sqlx::Result<Option<Organization>> {
    sqlx::query_as(
        "INSERT INTO organizations (name, slug, metadata) VALUES ($1, $2, $3)
         ON CONFLICT (slug) DO NOTHING
         RETURNING id, name, slug, metadata, created_at",
    )
    .bind(name)
    .bind(slug)
    .bind(metadata)
    .fetch_optional(db)
    .await
}

/// Locks the organization for a change of its members (so that two administrators demoting
/// each other at once cannot leave it with none); `false` when it does not exist.
pub async fn lock(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    let found: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM organizations WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(db)
            .await?;
    Ok(found.is_some())
}

/// Adds a member, or sets the roles of one.
pub async fn put_member(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    user_id: Uuid,
    roles: &[String],
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO organization_members (organization_id, user_id, roles) VALUES ($1, $2, $3)
         ON CONFLICT (organization_id, user_id) DO UPDATE SET roles = EXCLUDED.roles,
             updated_at = now()",
    )
    .bind(organization_id)
    .bind(user_id)
    .bind(roles)
    .execute(db)
    .await?;
    Ok(())
}

/// Removes a member; `false` when not one.
pub async fn remove_member(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<bool> {
    let done =
        sqlx::query("DELETE FROM organization_members WHERE organization_id = $1 AND user_id = $2")
            .bind(organization_id)
            .bind(user_id)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// How many members have `role` there.
pub async fn count_with_role(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    role: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM organization_members
         WHERE organization_id = $1 AND $2 = ANY (roles)",
    )
    .bind(organization_id)
    .bind(role)
    .fetch_one(db)
    .await
}

/// The organizations `user_id` belongs to, by name.
pub async fn memberships(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Vec<Membership>> {
    sqlx::query_as(
        "SELECT o.id, o.name, o.slug, o.metadata, o.created_at, m.roles
         FROM organization_members m JOIN organizations o ON o.id = m.organization_id
         WHERE m.user_id = $1 ORDER BY o.name, o.id",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// The organization with `user_id`'s roles there, if a member.
pub async fn membership(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<Option<Membership>> {
    sqlx::query_as(
        "SELECT o.id, o.name, o.slug, o.metadata, o.created_at, m.roles
         FROM organization_members m JOIN organizations o ON o.id = m.organization_id
         WHERE m.organization_id = $1 AND m.user_id = $2",
    )
    .bind(organization_id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// The organization's members, oldest first.
pub async fn members(db: impl PgExecutor<'_>, organization_id: Uuid) -> sqlx::Result<Vec<Member>> {
    sqlx::query_as(
        "SELECT m.user_id, u.email, m.roles, m.created_at
         FROM organization_members m JOIN users u ON u.id = m.user_id
         WHERE m.organization_id = $1 ORDER BY m.created_at, m.user_id",
    )
    .bind(organization_id)
    .fetch_all(db)
    .await
}

/// Deletes the organization (its memberships with it); `false` when it does not exist.
pub async fn delete(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM organizations WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}
