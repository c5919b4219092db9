//! Writing users moved in from another auth server (`admin::migrate`), a batch at a time: each
//! table's rows go in one statement (a JSON array read by `jsonb_to_recordset`), so that a
//! batch of a thousand users costs a handful of round trips, not thousands.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{types::Json, PgExecutor};
use uuid::Uuid;

/// A user as it is written here (its id kept).
#[derive(Serialize)]
pub struct UserRow<'a> {
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

/// A password hash, as the old server made it.
#[derive(Serialize)]
pub struct PasswordRow<'a> {
    pub user_id: Uuid,
    pub hash: &'a str,
}

/// An identity at an external provider.
#[derive(Serialize)]
pub struct IdentityRow<'a> {
    pub user_id: Uuid,
    pub provider: &'a str,
    pub provider_id: &'a str,
    pub identity_data: &'a Value,
    pub email: Option<&'a str>,
    pub created_at: Option<DateTime<Utc>>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

/// A verified TOTP factor, its secret sealed (hex).
#[derive(Serialize)]
pub struct FactorRow<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub friendly_name: &'a str,
    pub sealed_secret: String,
    pub created_at: DateTime<Utc>,
}

/// A live session of the old server, on a chain of this server's that nobody holds a token
/// of yet (`token_hash`, `token_salt`, hex): the old server's refresh token, of which only
/// `refresh_token_sha256` (hex) is kept, is what continues it.
#[derive(Serialize)]
pub struct SessionRow<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub token_hash: String,
    pub token_salt: String,
    pub created_at: DateTime<Utc>,
    pub refreshed_at: DateTime<Utc>,
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub aal: i16,
    pub amr: &'a Value,
    pub refresh_token_sha256: Option<&'a str>,
    pub refresh_token_expires_at: Option<DateTime<Utc>>,
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

/// Inserts the users, or brings the users of those ids up to date.
pub async fn upsert_users(db: impl PgExecutor<'_>, rows: &[UserRow<'_>]) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO users (id, email, default_role, allowed_roles, user_metadata, app_metadata,
                            banned_until, email_confirmed_at, email_verified_at, email_identity,
                            is_anonymous, created_at, last_sign_in_at)
         SELECT id, email, default_role, allowed_roles, user_metadata, app_metadata,
                banned_until, email_confirmed_at, email_verified_at, email_identity,
                is_anonymous, created_at, last_sign_in_at
         FROM jsonb_to_recordset($1) AS u(id uuid, email text, default_role text,
              allowed_roles text[], user_metadata jsonb, app_metadata jsonb,
              banned_until timestamptz, email_confirmed_at timestamptz,
              email_verified_at timestamptz, email_identity boolean, is_anonymous boolean,
              created_at timestamptz, last_sign_in_at timestamptz)
         ON CONFLICT (id) DO UPDATE SET
             email = EXCLUDED.email, default_role = EXCLUDED.default_role,
             allowed_roles = EXCLUDED.allowed_roles, user_metadata = EXCLUDED.user_metadata,
             app_metadata = EXCLUDED.app_metadata, banned_until = EXCLUDED.banned_until,
             email_confirmed_at = EXCLUDED.email_confirmed_at,
             email_verified_at = EXCLUDED.email_verified_at,
             email_identity = EXCLUDED.email_identity, is_anonymous = EXCLUDED.is_anonymous,
             last_sign_in_at = EXCLUDED.last_sign_in_at, updated_at = now()",
    )
    .bind(Json(rows))
    .execute(db)
    .await?;
    Ok(())
}

/// Sets the users' password hashes.
pub async fn set_passwords(db: impl PgExecutor<'_>, rows: &[PasswordRow<'_>]) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO user_passwords (user_id, hash)
         SELECT user_id, hash FROM jsonb_to_recordset($1) AS p(user_id uuid, hash text)
         ON CONFLICT (user_id) DO UPDATE SET hash = EXCLUDED.hash, updated_at = now()",
    )
    .bind(Json(rows))
    .execute(db)
    .await?;
    Ok(())
}

/// Records identities (kept up to date); returns the (provider, provider id) of those written:
/// the others belong to another user here.
pub async fn upsert_identities(
    db: impl PgExecutor<'_>,
    rows: &[IdentityRow<'_>],
) -> sqlx::Result<Vec<(String, String)>> {
    sqlx::query_as(
        "INSERT INTO identities (id, user_id, provider, provider_id, identity_data, email,
                                 created_at, last_sign_in_at)
         SELECT gen_random_uuid(), user_id, provider, provider_id, identity_data, email,
                coalesce(created_at, now()), last_sign_in_at
         FROM jsonb_to_recordset($1) AS i(user_id uuid, provider text, provider_id text,
              identity_data jsonb, email text, created_at timestamptz,
              last_sign_in_at timestamptz)
         ON CONFLICT (provider, provider_id) DO UPDATE SET
             identity_data = EXCLUDED.identity_data, email = EXCLUDED.email,
             last_sign_in_at = EXCLUDED.last_sign_in_at, updated_at = now()
         WHERE identities.user_id = EXCLUDED.user_id
         RETURNING provider, provider_id",
    )
    .bind(Json(rows))
    .fetch_all(db)
    .await
}

/// Verified TOTP factors (a factor already imported is kept as it is).
pub async fn insert_factors(db: impl PgExecutor<'_>, rows: &[FactorRow<'_>]) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO mfa_factors (id, user_id, friendly_name, factor_type, status, secret,
                                  created_at)
         SELECT id, user_id, friendly_name, 'totp', 'verified', decode(sealed_secret, 'hex'),
                created_at
         FROM jsonb_to_recordset($1) AS f(id uuid, user_id uuid, friendly_name text,
              sealed_secret text, created_at timestamptz)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(Json(rows))
    .execute(db)
    .await?;
    Ok(())
}

/// Inserts the sessions never imported before (a session that ended here stays ended,
/// whatever the source still says) with their old refresh tokens; how many were new. A session
/// imported before and not yet continued here (none of its old tokens used) also takes the
/// token the source has now: a browser that refreshed there in between is not logged out.
pub async fn insert_sessions(
    db: impl PgExecutor<'_>,
    rows: &[SessionRow<'_>],
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "WITH s AS (
             SELECT * FROM jsonb_to_recordset($1) AS s(id uuid, user_id uuid, token_hash text,
                 token_salt text, created_at timestamptz, refreshed_at timestamptz,
                 user_agent text, ip text, aal smallint, amr jsonb, refresh_token_sha256 text,
                 refresh_token_expires_at timestamptz)
         ), claimed AS (
             INSERT INTO imported_session_ids (session_id) SELECT id FROM s
             ON CONFLICT DO NOTHING RETURNING session_id
         ), new AS (
             SELECT s.* FROM s JOIN claimed ON claimed.session_id = s.id
         ), waiting AS (
             SELECT s.* FROM s JOIN sessions here ON here.id = s.id AND here.user_id = s.user_id
             WHERE NOT EXISTS (SELECT 1 FROM imported_refresh_tokens t
                               WHERE t.session_id = s.id AND t.used_at IS NOT NULL)
         ), sessions AS (
             INSERT INTO sessions (id, user_id, token_hash, token_salt, created_at,
                                   refreshed_at, rotated_at, user_agent, ip, aal, amr)
             SELECT id, user_id, decode(token_hash, 'hex'), decode(token_salt, 'hex'),
                    created_at, refreshed_at, refreshed_at, user_agent, ip, aal, amr
             FROM new
             ON CONFLICT (id) DO NOTHING
         ), tokens AS (
             INSERT INTO imported_refresh_tokens (token_hash, session_id, expires_at)
             SELECT decode(refresh_token_sha256, 'hex'), id, refresh_token_expires_at
             FROM (SELECT * FROM new UNION ALL SELECT * FROM waiting) t
             WHERE refresh_token_sha256 IS NOT NULL
             ON CONFLICT (token_hash) DO NOTHING
         )
         SELECT count(*) FROM new",
    )
    .bind(Json(rows))
    .fetch_one(db)
    .await
}

/// Records what each user looked like at `source` (`(user id, fingerprint)`).
pub async fn record(
    db: impl PgExecutor<'_>,
    source: &str,
    ids: &[Uuid],
    fingerprints: &[Vec<u8>],
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO imported_users (source, user_id, fingerprint)
         SELECT $1, * FROM unnest($2::uuid[], $3::bytea[])
         ON CONFLICT (source, user_id) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,
             imported_at = now()",
    )
    .bind(source)
    .bind(ids)
    .bind(fingerprints)
    .execute(db)
    .await?;
    Ok(())
}
