//! `users` and `user_passwords`.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

/// A row of `users` (never holds a secret).
#[derive(Debug, Clone, FromRow)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub enabled: bool,
    pub banned_until: Option<DateTime<Utc>>,
    pub default_role: String,
    pub allowed_roles: Vec<String>,
    pub user_metadata: Value,
    pub app_metadata: Value,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// Whether the user may sign in and refresh at `now` (enabled and not banned).
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.enabled && self.banned_until.is_none_or(|until| until <= now)
    }
}

pub const USER_COLUMNS: &str =
    "u.id, u.email, u.enabled, u.banned_until, u.default_role, u.allowed_roles, \
     u.user_metadata, u.app_metadata, u.last_sign_in_at, u.created_at, u.updated_at";

pub struct NewUser<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub default_role: &'a str,
    pub allowed_roles: &'a [String],
    pub user_metadata: &'a Value,
    pub app_metadata: &'a Value,
    pub enabled: bool,
}

/// Inserts a user; `Ok(None)` when the email is taken (the unique index decides, no pre-check).
pub async fn insert(db: impl PgExecutor<'_>, new: &NewUser<'_>) -> sqlx::Result<Option<User>> {
    let sql = format!(
        "INSERT INTO users AS u (id, email, default_role, allowed_roles, user_metadata, app_metadata, enabled)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT ((lower(email))) DO NOTHING
         RETURNING {USER_COLUMNS}"
    );
    sqlx::query_as(&sql)
        .bind(new.id)
        .bind(new.email)
        .bind(new.default_role)
        .bind(new.allowed_roles)
        .bind(new.user_metadata)
        .bind(new.app_metadata)
        .bind(new.enabled)
        .fetch_optional(db)
        .await
}

pub async fn set_password(db: impl PgExecutor<'_>, user_id: Uuid, hash: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO user_passwords (user_id, hash) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET hash = EXCLUDED.hash, updated_at = now()",
    )
    .bind(user_id)
    .bind(hash)
    .execute(db)
    .await?;
    Ok(())
}

/// Replaces a hash only if it is still `old` (an upgrade must not undo a concurrent change).
pub async fn upgrade_password_hash(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    old: &str,
    new: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE user_passwords SET hash = $3, updated_at = now() WHERE user_id = $1 AND hash = $2",
    )
    .bind(user_id)
    .bind(old)
    .bind(new)
    .execute(db)
    .await?;
    Ok(())
}

#[derive(FromRow)]
pub struct UserWithHash {
    #[sqlx(flatten)]
    pub user: User,
    pub password_hash: Option<String>,
    pub db_now: DateTime<Utc>,
}

impl std::fmt::Debug for UserWithHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserWithHash")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

pub async fn find_by_email_with_hash(
    db: impl PgExecutor<'_>,
    email: &str,
) -> sqlx::Result<Option<UserWithHash>> {
    let sql = format!(
        "SELECT {USER_COLUMNS}, p.hash AS password_hash, now() AS db_now
         FROM users u LEFT JOIN user_passwords p ON p.user_id = u.id
         WHERE lower(u.email) = lower($1)"
    );
    sqlx::query_as(&sql).bind(email).fetch_optional(db).await
}

pub async fn find_by_id_with_hash(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> sqlx::Result<Option<UserWithHash>> {
    let sql = format!(
        "SELECT {USER_COLUMNS}, p.hash AS password_hash, now() AS db_now
         FROM users u LEFT JOIN user_passwords p ON p.user_id = u.id
         WHERE u.id = $1"
    );
    sqlx::query_as(&sql).bind(id).fetch_optional(db).await
}

/// A user by email, case-insensitively (no password hash loaded).
pub async fn find_by_email(db: impl PgExecutor<'_>, email: &str) -> sqlx::Result<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE lower(u.email) = lower($1)");
    sqlx::query_as(&sql)
        .bind(email.trim())
        .fetch_optional(db)
        .await
}

pub async fn find_by_id(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1");
    sqlx::query_as(&sql).bind(id).fetch_optional(db).await
}

/// Merges `patch` into `user_metadata` (top-level keys; a null value removes the key).
pub async fn merge_user_metadata(
    db: impl PgExecutor<'_>,
    id: Uuid,
    patch: &Value,
) -> sqlx::Result<Option<User>> {
    let sql = format!(
        "UPDATE users AS u SET user_metadata = jsonb_strip_nulls(u.user_metadata || $2), updated_at = now()
         WHERE u.id = $1 RETURNING {USER_COLUMNS}"
    );
    sqlx::query_as(&sql)
        .bind(id)
        .bind(patch)
        .fetch_optional(db)
        .await
}
