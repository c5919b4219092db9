//! `users`: one row per account, without any secret (Hasura may track this table).

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
    /// When the account could first sign in without confirming its address: Supabase Auth's
    /// meaning, so the sign-up time when confirmation is not required. Not a proof (see
    /// `email_verified_at`).
    pub email_confirmed_at: Option<DateTime<Utc>>,
    /// When someone proved they receive mail at `email` (a link or code sent there, an
    /// identity provider that verified it, an administrator); `None` while unproven.
    pub email_verified_at: Option<DateTime<Utc>>,
    pub invited_at: Option<DateTime<Utc>>,
    /// A new address waiting for its confirmation.
    pub email_change: Option<String>,
    /// Whether the user signs in by email (password or email links): false for users created
    /// by an external sign-in, until they set a password.
    pub email_identity: bool,
    /// Accounts at external identity providers.
    pub external_identities: sqlx::types::Json<Vec<super::identities::ExternalIdentity>>,
    /// Second factors (see `store::mfa`).
    pub factors: sqlx::types::Json<Vec<super::mfa::Factor>>,
    /// Signed up with nothing (no address, no password) and not yet converted; `email` is ''.
    pub is_anonymous: bool,
}

impl User {
    /// Whether the user may sign in and refresh at `now` (enabled and not banned).
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.enabled && self.banned_until.is_none_or(|until| until <= now)
    }

    /// Whether the user has a verified second factor.
    pub fn has_verified_factor(&self) -> bool {
        self.factors.iter().any(super::mfa::Factor::is_verified)
    }
}

pub const USER_COLUMNS: &str = concat!(
    "u.id, u.email, u.enabled, u.banned_until, u.default_role, u.allowed_roles, \
     u.user_metadata, u.app_metadata, u.last_sign_in_at, u.created_at, u.updated_at, \
     u.email_confirmed_at, u.email_verified_at, u.invited_at, u.email_change, u.email_identity, \
     u.is_anonymous, ",
    "coalesce((SELECT json_agg(json_build_object(\
     'id', i.id, 'provider', i.provider, 'provider_id', i.provider_id, \
     'identity_data', i.identity_data, 'email', i.email, \
     'last_sign_in_at', i.last_sign_in_at, 'created_at', i.created_at, \
     'updated_at', i.updated_at) ORDER BY i.created_at) \
     FROM identities i WHERE i.user_id = u.id), '[]'::json) AS external_identities, ",
    // The factors that count: verified, or unverified and younger than `mfa::EXPIRY_SECS`.
    "coalesce((SELECT json_agg(json_build_object(\
     'id', f.id, 'friendly_name', f.friendly_name, 'factor_type', f.factor_type, \
     'status', f.status, 'created_at', f.created_at, 'updated_at', f.updated_at) \
     ORDER BY f.created_at) \
     FROM mfa_factors f WHERE f.user_id = u.id \
       AND (f.status = 'verified' OR f.created_at > now() - interval '300 seconds')), \
     '[]'::json) AS factors"
);

pub struct NewUser<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub default_role: &'a str,
    pub allowed_roles: &'a [String],
    pub user_metadata: &'a Value,
    pub app_metadata: &'a Value,
    pub enabled: bool,
    /// Whether the account may sign in without confirming its address.
    pub email_confirmed: bool,
    /// Whether the address is proven from the start (a provider or an administrator vouches).
    pub email_verified: bool,
    /// Whether the user is invited (by an administrator) rather than signing up.
    pub invited: bool,
}

/// Inserts a user; `Ok(None)` when the email is taken (the unique index decides, no pre-check).
pub async fn insert(db: impl PgExecutor<'_>, new: &NewUser<'_>) -> sqlx::Result<Option<User>> {
    let sql = format!(
        "INSERT INTO users AS u (id, email, default_role, allowed_roles, user_metadata, app_metadata, enabled,
                                 email_confirmed_at, invited_at, email_verified_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $8 OR $10 THEN now() END,
                 CASE WHEN $9 THEN now() END, CASE WHEN $10 THEN now() END)
         ON CONFLICT ((lower(email))) WHERE email <> '' DO NOTHING
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
        .bind(new.email_confirmed)
        .bind(new.invited)
        .bind(new.email_verified)
        .fetch_optional(db)
        .await
}

/// A user by email, case-insensitively (no password hash loaded).
pub async fn find_by_email(db: impl PgExecutor<'_>, email: &str) -> sqlx::Result<Option<User>> {
    // Anonymous users share the empty address: never found by it.
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users u WHERE lower(u.email) = lower($1) AND u.email <> ''"
    );
    sqlx::query_as(&sql)
        .bind(email.trim())
        .fetch_optional(db)
        .await
}

pub async fn find_by_id(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1");
    sqlx::query_as(&sql).bind(id).fetch_optional(db).await
}

/// Reads a user and locks the row until the end of the transaction (`FOR NO KEY UPDATE`: rows
/// that reference the user, a new session say, can still be inserted meanwhile).
pub async fn find_by_id_for_update(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> sqlx::Result<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1 FOR NO KEY UPDATE");
    sqlx::query_as(&sql).bind(id).fetch_optional(db).await
}

/// Replaces `user_metadata`.
pub async fn set_user_metadata(
    db: impl PgExecutor<'_>,
    id: Uuid,
    metadata: &Value,
) -> sqlx::Result<Option<User>> {
    let sql = format!(
        "UPDATE users AS u SET user_metadata = $2, updated_at = now()
         WHERE u.id = $1 RETURNING {USER_COLUMNS}"
    );
    sqlx::query_as(&sql)
        .bind(id)
        .bind(metadata)
        .fetch_optional(db)
        .await
}

/// Bans a user until `until`.
pub async fn set_banned_until(
    db: impl PgExecutor<'_>,
    id: Uuid,
    until: DateTime<Utc>,
) -> sqlx::Result<User> {
    let sql =
        format!("UPDATE users AS u SET banned_until = $2 WHERE u.id = $1 RETURNING {USER_COLUMNS}");
    sqlx::query_as(&sql)
        .bind(id)
        .bind(until)
        .fetch_one(db)
        .await
}

/// An administrator's change to a user; `None` fields stay as they are.
pub struct UserChanges<'a> {
    pub email: Option<&'a str>,
    pub default_role: &'a str,
    pub allowed_roles: &'a [String],
    pub user_metadata: Option<&'a Value>,
    pub app_metadata: Option<&'a Value>,
    pub enabled: Option<bool>,
    /// `Some(until)` sets the ban (`Some(None)` lifts it).
    pub banned_until: Option<Option<DateTime<Utc>>>,
    /// Mark the address confirmed and proven (the administrator vouches for it).
    pub confirm_email: bool,
}

/// Applies `changes`; fails on the `users_email_key` constraint when the email is taken.
pub async fn update(
    db: impl PgExecutor<'_>,
    id: Uuid,
    changes: &UserChanges<'_>,
) -> sqlx::Result<User> {
    let sql = format!(
        "UPDATE users AS u SET email = coalesce($2, u.email), default_role = $3, allowed_roles = $4,
                user_metadata = coalesce($5, u.user_metadata), app_metadata = coalesce($6, u.app_metadata),
                enabled = coalesce($7, u.enabled),
                banned_until = CASE WHEN $8 THEN $9 ELSE u.banned_until END,
                email_confirmed_at = CASE WHEN $10 THEN coalesce(u.email_confirmed_at, now())
                                          ELSE u.email_confirmed_at END,
                email_verified_at = CASE WHEN $10 THEN coalesce(u.email_verified_at, now())
                                         WHEN $2 IS NOT NULL AND lower($2) <> lower(u.email) THEN NULL
                                         ELSE u.email_verified_at END,
                updated_at = now()
         WHERE u.id = $1 RETURNING {USER_COLUMNS}"
    );
    sqlx::query_as(&sql)
        .bind(id)
        .bind(changes.email)
        .bind(changes.default_role)
        .bind(changes.allowed_roles)
        .bind(changes.user_metadata)
        .bind(changes.app_metadata)
        .bind(changes.enabled)
        .bind(changes.banned_until.is_some())
        .bind(changes.banned_until.flatten())
        .bind(changes.confirm_email)
        .fetch_one(db)
        .await
}

/// Deletes a user (sessions, password and old ids go with it); returns what was deleted.
pub async fn delete(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<User>> {
    let sql = format!("DELETE FROM users AS u WHERE u.id = $1 RETURNING {USER_COLUMNS}");
    sqlx::query_as(&sql).bind(id).fetch_optional(db).await
}

/// One page of users, newest first (as Supabase Auth lists them).
pub async fn list(db: impl PgExecutor<'_>, limit: i64, offset: i64) -> sqlx::Result<Vec<User>> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users u ORDER BY u.created_at DESC, u.id DESC LIMIT $1 OFFSET $2"
    );
    sqlx::query_as(&sql)
        .bind(limit)
        .bind(offset)
        .fetch_all(db)
        .await
}

pub async fn count(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(db)
        .await
}

/// Records that the user's address is proven (and so confirmed), keeping earlier times; a
/// change of address that was waiting is dropped.
pub async fn mark_email_verified(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<User>> {
    let sql = format!(
        "UPDATE users AS u SET email_confirmed_at = coalesce(u.email_confirmed_at, now()),
                email_verified_at = coalesce(u.email_verified_at, now()),
                email_change = NULL, email_change_confirmed_new = false,
                email_change_confirmed_current = false, updated_at = now()
         WHERE u.id = $1 RETURNING {USER_COLUMNS}"
    );
    sqlx::query_as(&sql).bind(id).fetch_optional(db).await
}

/// Whether the user has the `email` identity (a user created by a provider has not).
pub async fn set_email_identity(db: impl PgExecutor<'_>, id: Uuid, on: bool) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET email_identity = $2 WHERE id = $1")
        .bind(id)
        .bind(on)
        .execute(db)
        .await?;
    Ok(())
}

/// Records (or with `None` forgets) an address waiting for confirmation; no confirmation of
/// it has arrived yet.
pub async fn set_email_change(
    db: impl PgExecutor<'_>,
    id: Uuid,
    new_email: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE users SET email_change = $2, email_change_confirmed_new = false,
                email_change_confirmed_current = false, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(new_email)
    .execute(db)
    .await?;
    Ok(())
}

/// Records one confirmation of the waiting address (`new`: by the new address, else by the
/// current one); returns both flags `(new, current)` as they now stand.
pub async fn confirm_email_change(
    db: impl PgExecutor<'_>,
    id: Uuid,
    new: bool,
) -> sqlx::Result<(bool, bool)> {
    sqlx::query_as(
        "UPDATE users SET
             email_change_confirmed_new = email_change_confirmed_new OR $2,
             email_change_confirmed_current = email_change_confirmed_current OR NOT $2
         WHERE id = $1
         RETURNING email_change_confirmed_new, email_change_confirmed_current",
    )
    .bind(id)
    .bind(new)
    .fetch_one(db)
    .await
}

/// Makes the waiting address the user's address (confirmed and proven by its link); fails on the `users_email_key`
/// constraint when another user took it meanwhile. `None` when nothing was waiting.
pub async fn apply_email_change(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<User>> {
    let sql = format!(
        "UPDATE users AS u SET email = u.email_change, email_change = NULL,
                email_change_confirmed_new = false, email_change_confirmed_current = false,
                email_confirmed_at = now(), email_verified_at = now(), updated_at = now()
         WHERE u.id = $1 AND u.email_change IS NOT NULL RETURNING {USER_COLUMNS}"
    );
    sqlx::query_as(&sql).bind(id).fetch_optional(db).await
}

/// Inserts an anonymous user: no address, `role` its only role, `metadata` its
/// `user_metadata`.
pub async fn insert_anonymous(
    db: impl PgExecutor<'_>,
    id: Uuid,
    role: &str,
    metadata: &Value,
) -> sqlx::Result<User> {
    let sql = format!(
        "INSERT INTO users AS u (id, email, default_role, allowed_roles, user_metadata,
                                 email_identity, is_anonymous)
         VALUES ($1, '', $2, ARRAY[$2], $3, false, true)
         RETURNING {USER_COLUMNS}"
    );
    sqlx::query_as(&sql)
        .bind(id)
        .bind(role)
        .bind(metadata)
        .fetch_one(db)
        .await
}

/// Makes an anonymous user a full one with the given roles (`email_identity`: whether they
/// now sign in by email). `None` when the user is not (or no longer) anonymous.
pub async fn convert_anonymous(
    db: impl PgExecutor<'_>,
    id: Uuid,
    default_role: &str,
    allowed_roles: &[String],
    email_identity: bool,
) -> sqlx::Result<Option<User>> {
    let sql = format!(
        "UPDATE users AS u SET is_anonymous = false, default_role = $2, allowed_roles = $3,
                email_identity = u.email_identity OR $4, updated_at = now()
         WHERE u.id = $1 AND u.is_anonymous RETURNING {USER_COLUMNS}"
    );
    sqlx::query_as(&sql)
        .bind(id)
        .bind(default_role)
        .bind(allowed_roles)
        .bind(email_identity)
        .fetch_optional(db)
        .await
}

/// Deletes up to `limit` anonymous users created more than `max_age_secs` ago (their
/// sessions go with them); their ids.
pub async fn delete_old_anonymous(
    db: impl PgExecutor<'_>,
    max_age_secs: f64,
    limit: i64,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "DELETE FROM users WHERE id IN (
             SELECT id FROM users
             WHERE is_anonymous AND created_at < now() - make_interval(secs => $1)
             ORDER BY created_at LIMIT $2
             FOR UPDATE SKIP LOCKED)
         RETURNING id",
    )
    .bind(max_age_secs)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Sets a proven address on a user that has none (an anonymous user linking an identity
/// whose provider verified it); fails on the `users_email_key` constraint when taken.
pub async fn set_proven_email(
    db: impl PgExecutor<'_>,
    id: Uuid,
    email: &str,
) -> sqlx::Result<Option<User>> {
    let sql = format!(
        "UPDATE users AS u SET email = $2, email_confirmed_at = now(), email_verified_at = now(),
                updated_at = now()
         WHERE u.id = $1 AND u.email = '' RETURNING {USER_COLUMNS}"
    );
    sqlx::query_as(&sql)
        .bind(id)
        .bind(email)
        .fetch_optional(db)
        .await
}
