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

/// The organization a session acts in, and the member's roles there: both `None` when the
/// session has none, and `roles` `None` when its user is no longer a member.
#[derive(Debug, Clone, Default, PartialEq, Eq, FromRow)]
pub struct ActiveOrg {
    #[sqlx(rename = "org_id")]
    pub id: Option<Uuid>,
    #[sqlx(rename = "org_roles")]
    pub roles: Option<Vec<String>>,
}

impl ActiveOrg {
    /// The organization and the roles there, when the session acts in one its user belongs to.
    pub fn membership(&self) -> Option<(Uuid, &[String])> {
        match (self.id, &self.roles) {
            (Some(id), Some(roles)) if !roles.is_empty() => Some((id, roles)),
            _ => None,
        }
    }
}

/// The columns of [`ActiveOrg`] for a query over `sessions s`: one index lookup, none when
/// the session acts in no organization.
pub const ACTIVE_ORG_COLUMNS: &str = "s.organization_id AS org_id,
    (SELECT m.roles FROM organization_members m
     WHERE m.organization_id = s.organization_id AND m.user_id = s.user_id) AS org_roles";

/// The organization session `session_id` acts in.
pub async fn active(db: impl PgExecutor<'_>, session_id: Uuid) -> sqlx::Result<ActiveOrg> {
    let sql = format!("SELECT {ACTIVE_ORG_COLUMNS} FROM sessions s WHERE s.id = $1");
    Ok(sqlx::query_as(&sql)
        .bind(session_id)
        .fetch_optional(db)
        .await?
        .unwrap_or_default())
}

/// Makes session `session_id` of `user_id` act in `organization_id` (`None`: in none);
/// `false` when no such session.
pub async fn set_active(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
    user_id: Uuid,
    organization_id: Option<Uuid>,
) -> sqlx::Result<bool> {
    let done =
        sqlx::query("UPDATE sessions SET organization_id = $3 WHERE id = $1 AND user_id = $2")
            .bind(session_id)
            .bind(user_id)
            .bind(organization_id)
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Makes session `session_id` of `user_id` act in `organization_id` if the user is a member
/// there; `false` (nothing changed) when not, or when no such session.
pub async fn set_active_if_member(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
    user_id: Uuid,
    organization_id: Uuid,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE sessions SET organization_id = $3
         WHERE id = $1 AND user_id = $2
           AND EXISTS (SELECT 1 FROM organization_members
                       WHERE organization_id = $3 AND user_id = $2)",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(organization_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
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

/// Whether a member of the organization has the address `email`.
pub async fn has_member_with_email(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    email: &str,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM organization_members m JOIN users u ON u.id = m.user_id
                        WHERE m.organization_id = $1 AND u.email = $2)",
    )
    .bind(organization_id)
    .bind(email)
    .fetch_one(db)
    .await
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

/// Organization `id`.
pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Organization>> {
    sqlx::query_as("SELECT id, name, slug, metadata, created_at FROM organizations WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// An organization as the server's administrators list it: with its number of members.
#[derive(Debug, Clone, FromRow)]
pub struct Listed {
    #[sqlx(flatten)]
    pub organization: Organization,
    pub members: i64,
}

/// Every organization, by name, `limit` from `offset`; and how many there are.
pub async fn all(
    db: impl PgExecutor<'_> + Copy,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<Listed>, i64)> {
    let page = sqlx::query_as(
        "SELECT o.id, o.name, o.slug, o.metadata, o.created_at,
                (SELECT count(*) FROM organization_members m WHERE m.organization_id = o.id)
                    AS members
         FROM organizations o ORDER BY o.name, o.id LIMIT $1 OFFSET $2",
    )
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await?;
    let total = sqlx::query_scalar("SELECT count(*) FROM organizations")
        .fetch_one(db)
        .await?;
    Ok((page, total))
}

/// Deletes the organization (its memberships with it); `false` when it does not exist.
pub async fn delete(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM organizations WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}
