//! Writing users moved in from another auth server (`admin::migrate`), and the old server's
//! refresh tokens they hold (accepted once, see `auth::refresh::imported`).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

/// A user as it is written here (its id kept).
pub struct ImportedUser<'a> {
    pub id: Uuid,
    pub email: &'a str,
    pub default_role: &'a str,
    pub allowed_roles: &'a [String],
    pub user_metadata: &'a Value,
    pub app_metadata: &'a Value,
    pub banned_until: Option<DateTime<Utc>>,
    pub email_confirmed_at: Option<DateTime<Utc>>,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub email_identity: bool,
    pub is_anonymous: bool,
    pub created_at: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

/// The fingerprints recorded for `ids` by the last import from `source`.
pub async fn fingerprints(
    db: impl PgExecutor<'_>,
    source: &str,
    ids: &[Uuid],
) -> sqlx::Result<Vec<(Uuid, Vec<u8>)>> {
    sqlx::query_as(
        "SELECT user_id, fingerprint FROM imported_users WHERE source = $1 AND user_id = ANY($2)",
    )
    .bind(source)
    .bind(ids)
    .fetch_all(db)
    .await
}

/// Which of `(id, email)` name an address another user here has.
pub async fn addresses_of_others(
    db: impl PgExecutor<'_>,
    ids: &[Uuid],
    emails: &[String],
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT i.id FROM unnest($1::uuid[], $2::text[]) AS i(id, email)
         JOIN users u ON lower(u.email) = lower(i.email) AND u.email <> '' AND u.id <> i.id",
    )
    .bind(ids)
    .bind(emails)
    .fetch_all(db)
    .await
}

/// Inserts the user, or brings the user of that id up to date.
pub async fn upsert_user(db: impl PgExecutor<'_>, u: &ImportedUser<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO users (id, email, default_role, allowed_roles, user_metadata, app_metadata,
                            banned_until, email_confirmed_at, email_verified_at, email_identity,
                            is_anonymous, created_at, last_sign_in_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (id) DO UPDATE SET
             email = EXCLUDED.email, default_role = EXCLUDED.default_role,
             allowed_roles = EXCLUDED.allowed_roles, user_metadata = EXCLUDED.user_metadata,
             app_metadata = EXCLUDED.app_metadata, banned_until = EXCLUDED.banned_until,
             email_confirmed_at = EXCLUDED.email_confirmed_at,
             email_verified_at = EXCLUDED.email_verified_at,
             email_identity = EXCLUDED.email_identity, is_anonymous = EXCLUDED.is_anonymous,
             last_sign_in_at = EXCLUDED.last_sign_in_at, updated_at = now()",
    )
    .bind(u.id)
    .bind(u.email)
    .bind(u.default_role)
    .bind(u.allowed_roles)
    .bind(u.user_metadata)
    .bind(u.app_metadata)
    .bind(u.banned_until)
    .bind(u.email_confirmed_at)
    .bind(u.email_verified_at)
    .bind(u.email_identity)
    .bind(u.is_anonymous)
    .bind(u.created_at)
    .bind(u.last_sign_in_at)
    .execute(db)
    .await?;
    Ok(())
}

/// An identity at an external provider.
pub struct ImportedIdentity<'a> {
    pub user_id: Uuid,
    pub provider: &'a str,
    pub provider_id: &'a str,
    pub identity_data: &'a Value,
    pub email: Option<&'a str>,
    pub created_at: Option<DateTime<Utc>>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

/// Records an identity (kept up to date); `false` when it belongs to another user here.
pub async fn upsert_identity(
    db: impl PgExecutor<'_>,
    i: &ImportedIdentity<'_>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO identities (id, user_id, provider, provider_id, identity_data, email,
                                 created_at, last_sign_in_at)
         VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, coalesce($6, now()), $7)
         ON CONFLICT (provider, provider_id) DO UPDATE SET
             identity_data = EXCLUDED.identity_data, email = EXCLUDED.email,
             last_sign_in_at = EXCLUDED.last_sign_in_at, updated_at = now()
         WHERE identities.user_id = EXCLUDED.user_id",
    )
    .bind(i.user_id)
    .bind(i.provider)
    .bind(i.provider_id)
    .bind(i.identity_data)
    .bind(i.email)
    .bind(i.created_at)
    .bind(i.last_sign_in_at)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A verified TOTP factor with its sealed secret (kept as it is when already imported).
pub async fn insert_factor(
    db: impl PgExecutor<'_>,
    id: Uuid,
    user_id: Uuid,
    friendly_name: &str,
    sealed_secret: &[u8],
    created_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO mfa_factors (id, user_id, friendly_name, factor_type, status, secret,
                                  created_at)
         VALUES ($1, $2, $3, 'totp', 'verified', $4, $5)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(user_id)
    .bind(friendly_name)
    .bind(sealed_secret)
    .bind(created_at)
    .execute(db)
    .await?;
    Ok(())
}

/// A live session of the old server, on a chain of this server's that nobody holds a token
/// of yet (`token_hash`, `token_salt`): its imported refresh token is what continues it.
pub struct ImportedSession<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub token_hash: &'a [u8],
    pub token_salt: &'a [u8],
    pub created_at: DateTime<Utc>,
    pub refreshed_at: DateTime<Utc>,
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub aal: i16,
    pub amr: &'a Value,
}

/// Claims session `id` for import: `false` when it was imported before (even if it has
/// ended since).
pub async fn claim_session(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO imported_session_ids (session_id) VALUES ($1) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Inserts the session unless it exists; whether it was inserted.
pub async fn insert_session(
    db: impl PgExecutor<'_>,
    s: &ImportedSession<'_>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO sessions (id, user_id, token_hash, token_salt, created_at, refreshed_at,
                               rotated_at, user_agent, ip, aal, amr)
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(s.id)
    .bind(s.user_id)
    .bind(s.token_hash)
    .bind(s.token_salt)
    .bind(s.created_at)
    .bind(s.refreshed_at)
    .bind(s.user_agent)
    .bind(s.ip)
    .bind(s.aal)
    .bind(s.amr)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records the SHA-256 of a refresh token the old server issued for `session_id`.
pub async fn insert_refresh_token(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
    session_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO imported_refresh_tokens (token_hash, session_id) VALUES ($1, $2)
         ON CONFLICT (token_hash) DO NOTHING",
    )
    .bind(token_hash)
    .bind(session_id)
    .execute(db)
    .await?;
    Ok(())
}

/// Records what `user_id` looked like at `source` (`fingerprint`).
pub async fn record(
    db: impl PgExecutor<'_>,
    source: &str,
    user_id: Uuid,
    fingerprint: &[u8],
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO imported_users (source, user_id, fingerprint) VALUES ($1, $2, $3)
         ON CONFLICT (source, user_id) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,
             imported_at = now()",
    )
    .bind(source)
    .bind(user_id)
    .bind(fingerprint)
    .execute(db)
    .await?;
    Ok(())
}

/// An imported refresh token: its session, when it was used (if it was), and the time now.
#[derive(sqlx::FromRow)]
pub struct ImportedToken {
    pub session_id: Uuid,
    pub used_at: Option<DateTime<Utc>>,
    pub db_now: DateTime<Utc>,
}

pub async fn find_refresh_token(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
) -> sqlx::Result<Option<ImportedToken>> {
    sqlx::query_as(
        "SELECT session_id, used_at, now() AS db_now FROM imported_refresh_tokens
         WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await
}

/// Marks the token used; `false` when it was already (another request won).
pub async fn use_refresh_token(db: impl PgExecutor<'_>, token_hash: &[u8]) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE imported_refresh_tokens SET used_at = now()
         WHERE token_hash = $1 AND used_at IS NULL",
    )
    .bind(token_hash)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
