//! `organization_invitations`: invitations to join an organization, their link tokens stored
//! only as SHA-256 hashes.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

/// An invitation as the organization's administrators see it (never its token).
#[derive(Debug, Clone, FromRow)]
pub struct Invitation {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub email: String,
    pub roles: Vec<String>,
    pub invited_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
}

/// An invitation found by its token, with its organization.
#[derive(Debug, Clone, FromRow)]
pub struct Found {
    #[sqlx(flatten)]
    pub invitation: Invitation,
    pub organization_name: String,
    pub organization_slug: String,
    /// Whether the invitation can still be accepted (not accepted, not expired).
    pub open: bool,
}

const COLUMNS: &str = "i.id, i.organization_id, i.email, i.roles, i.invited_by, i.created_at,
     i.expires_at, i.accepted_at";

/// What an invitation is made of.
pub struct NewInvitation<'a> {
    pub organization_id: Uuid,
    pub email: &'a str,
    pub roles: &'a [String],
    pub token_hash: &'a [u8],
    pub invited_by: Uuid,
    pub ttl_secs: f64,
}

/// Stores an invitation, replacing the organization's earlier one to that address (whose link
/// then stops working).
pub async fn put(db: impl PgExecutor<'_>, new: &NewInvitation<'_>) -> sqlx::Result<Invitation> {
    let sql = format!(
        "INSERT INTO organization_invitations AS i
             (organization_id, email, roles, token_hash, invited_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))
         ON CONFLICT (organization_id, email) DO UPDATE SET
             id = gen_random_uuid(), roles = EXCLUDED.roles, token_hash = EXCLUDED.token_hash,
             invited_by = EXCLUDED.invited_by, created_at = now(),
             expires_at = EXCLUDED.expires_at, accepted_at = NULL, accepted_by = NULL
         RETURNING {COLUMNS}"
    );
    sqlx::query_as(&sql)
        .bind(new.organization_id)
        .bind(new.email)
        .bind(new.roles)
        .bind(new.token_hash)
        .bind(new.invited_by)
        .bind(new.ttl_secs)
        .fetch_one(db)
        .await
}

/// The invitation whose token hashes to `token_hash`.
pub async fn find(db: impl PgExecutor<'_>, token_hash: &[u8]) -> sqlx::Result<Option<Found>> {
    let sql = format!(
        "SELECT {COLUMNS}, o.name AS organization_name, o.slug AS organization_slug,
                (i.accepted_at IS NULL AND i.expires_at > now()) AS open
         FROM organization_invitations i JOIN organizations o ON o.id = i.organization_id
         WHERE i.token_hash = $1"
    );
    sqlx::query_as(&sql)
        .bind(token_hash)
        .fetch_optional(db)
        .await
}

/// The invitation `id`, locked (to accept it). Lock its organization first.
pub async fn find_by_id(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Found>> {
    let sql = format!(
        "SELECT {COLUMNS}, o.name AS organization_name, o.slug AS organization_slug,
                (i.accepted_at IS NULL AND i.expires_at > now()) AS open
         FROM organization_invitations i JOIN organizations o ON o.id = i.organization_id
         WHERE i.id = $1 FOR UPDATE OF i"
    );
    sqlx::query_as(&sql).bind(id).fetch_optional(db).await
}

/// Marks an invitation accepted by `user_id`.
pub async fn accept(db: impl PgExecutor<'_>, id: Uuid, user_id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE organization_invitations SET accepted_at = now(), accepted_by = $2 WHERE id = $1",
    )
    .bind(id)
    .bind(user_id)
    .execute(db)
    .await?;
    Ok(())
}

/// The organization's invitations not yet accepted, expired ones included, newest first.
pub async fn pending(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
) -> sqlx::Result<Vec<Invitation>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM organization_invitations i
         WHERE i.organization_id = $1 AND i.accepted_at IS NULL
         ORDER BY i.created_at DESC"
    );
    sqlx::query_as(&sql)
        .bind(organization_id)
        .fetch_all(db)
        .await
}

/// The open invitations to `email`, with their organizations (for the account page).
pub async fn open_for(db: impl PgExecutor<'_>, email: &str) -> sqlx::Result<Vec<Found>> {
    let sql = format!(
        "SELECT {COLUMNS}, o.name AS organization_name, o.slug AS organization_slug, true AS open
         FROM organization_invitations i JOIN organizations o ON o.id = i.organization_id
         WHERE i.email = $1 AND i.accepted_at IS NULL AND i.expires_at > now()
         ORDER BY i.created_at DESC"
    );
    sqlx::query_as(&sql).bind(email).fetch_all(db).await
}

/// Withdraws a pending invitation; `false` when the organization has no such one.
pub async fn delete(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    id: Uuid,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "DELETE FROM organization_invitations
         WHERE organization_id = $1 AND id = $2 AND accepted_at IS NULL",
    )
    .bind(organization_id)
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Drops invitations past their expiry (accepted ones are kept until then).
pub async fn prune_expired(db: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM organization_invitations WHERE expires_at <= now()")
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
