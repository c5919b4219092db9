//! `user_passwords`: password hashes (PHC strings: Argon2id, or imported bcrypt and
//! PL/pgSQL hasura-jwt-auth hashes), kept apart from `users` so that tracking users exposes none.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use super::users::{User, USER_COLUMNS};

/// Sets (or replaces) the user's password hash; a user with a password has the `email`
/// identity (also one created by an external sign-in).
pub async fn set(db: impl PgExecutor<'_>, user_id: Uuid, hash: &str) -> sqlx::Result<()> {
    sqlx::query(
        "WITH identity AS (
             UPDATE users SET email_identity = true WHERE id = $1 AND NOT email_identity
         )
         INSERT INTO user_passwords (user_id, hash) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET hash = EXCLUDED.hash, updated_at = now()",
    )
    .bind(user_id)
    .bind(hash)
    .execute(db)
    .await?;
    Ok(())
}

/// Replaces a hash only if it is still `old` (an upgrade must not undo a concurrent change).
pub async fn upgrade(
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

/// A user by email with their password hash (case-insensitively).
pub async fn find_user_by_email(
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

/// A user by id with their password hash.
pub async fn find_user_by_id(
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

/// Whether the user's password is still `hash`, share-locking it until the end of the
/// transaction: a concurrent removal waits for the caller (see `sessions::open`).
pub async fn hold(db: impl PgExecutor<'_>, user_id: Uuid, hash: &str) -> sqlx::Result<bool> {
    let held: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM user_passwords WHERE user_id = $1 AND hash = $2 FOR SHARE",
    )
    .bind(user_id)
    .bind(hash)
    .fetch_optional(db)
    .await?;
    Ok(held.is_some())
}

/// Removes the user's password (an account confirmed by another proof than the password
/// it was created with must not keep a password set by someone else).
pub async fn delete(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM user_passwords WHERE user_id = $1")
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}
