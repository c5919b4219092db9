//! Reading nhost's hasura-auth `auth` schema, for `import nhost`: users in batches by id, each
//! with its roles, provider identities and live refresh tokens (kept there as SHA-256 only).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

/// A row of `auth.users` with what belongs to it.
#[derive(FromRow)]
pub struct SourceUser {
    pub id: Uuid,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub email_verified: bool,
    pub disabled: bool,
    pub is_anonymous: bool,
    pub default_role: String,
    pub roles: Vec<String>,
    pub display_name: String,
    pub avatar_url: String,
    pub locale: String,
    pub metadata: Option<Value>,
    pub totp_secret: Option<String>,
    pub active_mfa_type: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen: Option<DateTime<Utc>>,
    pub providers: sqlx::types::Json<Vec<SourceProvider>>,
    pub refresh_tokens: sqlx::types::Json<Vec<SourceRefreshToken>>,
    pub personal_access_tokens: i64,
}

impl std::fmt::Debug for SourceUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceUser")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A row of `auth.user_providers`.
#[derive(Deserialize, Clone)]
pub struct SourceProvider {
    pub provider_id: String,
    pub provider_user_id: String,
    pub created_at: Option<DateTime<Utc>>,
}

/// A live row of `auth.refresh_tokens` of type `regular`.
#[derive(Deserialize, Clone)]
pub struct SourceRefreshToken {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// `\x` and the hex of the token's SHA-256.
    pub hash: Option<String>,
}

/// How many users the source has.
pub async fn count(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM auth.users")
        .fetch_one(db)
        .await
}

/// Up to `limit` users with ids after `after`, in id order. nhost indexes neither its
/// providers nor its tokens by user, so what belongs to the batch is gathered by one join per
/// table, not one lookup per user.
pub async fn batch(
    db: impl PgExecutor<'_>,
    after: Uuid,
    limit: i64,
) -> sqlx::Result<Vec<SourceUser>> {
    sqlx::query_as(
        "WITH u AS (
             SELECT * FROM auth.users WHERE id > $1 ORDER BY id LIMIT $2
         ), roles AS (
             SELECT r.user_id, array_agg(r.role::text ORDER BY r.role) AS roles
             FROM auth.user_roles r JOIN u ON u.id = r.user_id GROUP BY r.user_id
         ), providers AS (
             SELECT p.user_id, json_agg(json_build_object(
                        'provider_id', p.provider_id, 'provider_user_id', p.provider_user_id,
                        'created_at', p.created_at) ORDER BY p.created_at) AS providers
             FROM auth.user_providers p JOIN u ON u.id = p.user_id GROUP BY p.user_id
         ), tokens AS (
             SELECT t.user_id,
                    json_agg(json_build_object(
                        'id', t.id, 'created_at', t.created_at, 'expires_at', t.expires_at,
                        'hash', t.refresh_token_hash) ORDER BY t.created_at)
                      FILTER (WHERE t.type = 'regular') AS tokens,
                    count(*) FILTER (WHERE t.type = 'pat') AS pats
             FROM auth.refresh_tokens t JOIN u ON u.id = t.user_id
             WHERE t.expires_at > now()
             GROUP BY t.user_id
         )
         SELECT u.id, u.email::text AS email, u.password_hash, u.email_verified, u.disabled,
                u.is_anonymous, u.default_role, u.display_name, u.avatar_url,
                u.locale::text AS locale, u.metadata, u.totp_secret, u.active_mfa_type,
                u.created_at, u.last_seen,
                coalesce(roles.roles, '{}') AS roles,
                coalesce(providers.providers, '[]') AS providers,
                coalesce(tokens.tokens, '[]') AS refresh_tokens,
                coalesce(tokens.pats, 0) AS personal_access_tokens
         FROM u
         LEFT JOIN roles ON roles.user_id = u.id
         LEFT JOIN providers ON providers.user_id = u.id
         LEFT JOIN tokens ON tokens.user_id = u.id
         ORDER BY u.id",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}
