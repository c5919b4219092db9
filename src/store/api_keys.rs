//! `api_keys`: keys machines authenticate with, their secrets stored only as SHA-256 hashes.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use super::{
    organizations::{ActiveOrg, ACTIVE_ORG_COLUMNS},
    users::{User, USER_COLUMNS},
};

/// A key as its owner sees it (never its secret).
#[derive(Debug, Clone, FromRow)]
pub struct ApiKey {
    pub id: Uuid,
    pub user_id: Uuid,
    pub organization_id: Option<Uuid>,
    pub name: String,
    pub roles: Vec<String>,
    pub aal: i16,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub rotated_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "id, user_id, organization_id, name, roles, aal, created_at, expires_at, rotated_at";

/// What a key is made of.
pub struct NewKey<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub organization_id: Option<Uuid>,
    pub name: &'a str,
    pub roles: &'a [String],
    pub aal: i16,
    pub secret_hash: &'a [u8],
    pub expires_at: Option<DateTime<Utc>>,
}

/// Stores a key; `None` when the user has one of that name.
pub async fn insert(db: impl PgExecutor<'_>, new: &NewKey<'_>) -> sqlx::Result<Option<ApiKey>> {
    let sql = format!(
        "INSERT INTO api_keys
             (id, user_id, organization_id, name, roles, aal, secret_hash, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (user_id, name) DO NOTHING
         RETURNING {COLUMNS}"
    );
    sqlx::query_as(&sql)
        .bind(new.id)
        .bind(new.user_id)
        .bind(new.organization_id)
        .bind(new.name)
        .bind(new.roles)
        .bind(new.aal)
        .bind(new.secret_hash)
        .bind(new.expires_at)
        .fetch_optional(db)
        .await
}

/// The user's keys, newest first.
pub async fn of_user(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Vec<ApiKey>> {
    let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE user_id = $1 ORDER BY created_at DESC");
    sqlx::query_as(&sql).bind(user_id).fetch_all(db).await
}

/// The keys acting in organization `organization_id`, newest first.
pub async fn of_organization(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
) -> sqlx::Result<Vec<ApiKey>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM api_keys WHERE organization_id = $1 ORDER BY created_at DESC"
    );
    sqlx::query_as(&sql)
        .bind(organization_id)
        .fetch_all(db)
        .await
}

/// Deletes a key acting in organization `organization_id`; `None` when there is no such key.
pub async fn delete_in_organization(
    db: impl PgExecutor<'_>,
    organization_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<ApiKey>> {
    let sql =
        format!("DELETE FROM api_keys WHERE id = $1 AND organization_id = $2 RETURNING {COLUMNS}");
    sqlx::query_as(&sql)
        .bind(id)
        .bind(organization_id)
        .fetch_optional(db)
        .await
}

/// Locks the user's row, so that counting and adding their keys is one step.
pub async fn lock_owner(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE")
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// How many keys the user has.
pub async fn count(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM api_keys WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(db)
        .await
}

/// Deletes one of the user's keys; `None` when the user has no such key.
pub async fn delete(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<ApiKey>> {
    let sql = format!("DELETE FROM api_keys WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}");
    sqlx::query_as(&sql)
        .bind(id)
        .bind(user_id)
        .fetch_optional(db)
        .await
}

/// Gives one of the user's keys a new secret; `None` when the user has no such key.
pub async fn rotate(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    secret_hash: &[u8],
) -> sqlx::Result<Option<ApiKey>> {
    let sql = format!(
        "UPDATE api_keys SET secret_hash = $3, rotated_at = now()
         WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}"
    );
    sqlx::query_as(&sql)
        .bind(id)
        .bind(user_id)
        .bind(secret_hash)
        .fetch_optional(db)
        .await
}

/// A key as a request presenting it needs it: the key, its secret's hash, its user, and the
/// organization it acts in with the user's roles there (as they are now). No `Debug`: it
/// holds the secret's hash.
#[derive(FromRow)]
pub struct LiveKey {
    #[sqlx(flatten)]
    pub user: User,
    #[sqlx(flatten)]
    pub org: ActiveOrg,
    pub key_roles: Vec<String>,
    pub key_aal: i16,
    pub key_name: String,
    pub secret_hash: Vec<u8>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Key `id`, with its user and organization.
pub async fn find_live(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<LiveKey>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {USER_COLUMNS}, {ACTIVE_ORG_COLUMNS}, s.roles AS key_roles,
                    s.aal AS key_aal, s.name AS key_name, s.secret_hash, s.expires_at
             FROM api_keys s JOIN users u ON u.id = s.user_id
             WHERE s.id = $1"
        )
    });
    sqlx::query_as(&SQL).bind(id).fetch_optional(db).await
}
