//! Reading Supabase Auth's (GoTrue's) `auth` schema, for `import supabase`: users in batches
//! by id, each with its identities, verified TOTP factors and live sessions (with the refresh
//! token a browser holds now). Written against GoTrue's migrations as of v2.196.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

/// A row of `auth.users` with what belongs to it.
#[derive(FromRow)]
pub struct SourceUser {
    pub id: Uuid,
    pub email: String,
    pub encrypted_password: Option<String>,
    pub email_confirmed_at: Option<DateTime<Utc>>,
    pub email_verified: Option<bool>,
    pub has_email_identity: bool,
    pub banned_until: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub is_anonymous: bool,
    pub is_sso_user: bool,
    pub user_metadata: Value,
    pub app_metadata: Value,
    pub created_at: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub identities: sqlx::types::Json<Vec<SourceIdentity>>,
    pub factors: sqlx::types::Json<Vec<SourceFactor>>,
    pub sessions: sqlx::types::Json<Vec<SourceSession>>,
}

impl std::fmt::Debug for SourceUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceUser")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize, Clone)]
pub struct SourceIdentity {
    pub provider: String,
    pub provider_id: String,
    pub identity_data: Value,
    pub created_at: Option<DateTime<Utc>>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize, Clone)]
pub struct SourceFactor {
    pub id: Uuid,
    pub friendly_name: Option<String>,
    /// Base32, or GoTrue's encrypted JSON when its database encryption is on.
    pub secret: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Deserialize, Clone)]
pub struct SourceSession {
    pub id: Uuid,
    pub created_at: Option<DateTime<Utc>>,
    pub refreshed_at: Option<DateTime<Utc>>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub aal: Option<String>,
    /// The session's newest unrevoked token of the classic scheme.
    pub token: Option<String>,
    /// The session-bound scheme's key and counter (GoTrue's refresh token algorithm 2).
    pub hmac_key: Option<String>,
    pub counter: Option<i64>,
}

/// Whether the source has GoTrue's session-bound refresh tokens (`auth.sessions` columns).
pub async fn has_session_bound_tokens(db: impl PgExecutor<'_>) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns
                        WHERE table_schema = 'auth' AND table_name = 'sessions'
                          AND column_name = 'refresh_token_hmac_key')",
    )
    .fetch_one(db)
    .await
}

/// How many users the source has.
pub async fn count(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM auth.users")
        .fetch_one(db)
        .await
}

/// Up to `limit` users with ids after `after`, in id order.
pub async fn batch(
    db: impl PgExecutor<'_>,
    after: Uuid,
    limit: i64,
    session_bound: bool,
) -> sqlx::Result<Vec<SourceUser>> {
    let bound = if session_bound {
        "'hmac_key', s.refresh_token_hmac_key, 'counter', s.refresh_token_counter"
    } else {
        "'hmac_key', NULL, 'counter', NULL"
    };
    let sql = format!(
        "SELECT u.id, coalesce(u.email, '') AS email, u.encrypted_password,
                u.email_confirmed_at, u.banned_until, u.deleted_at, u.is_anonymous, u.is_sso_user,
                coalesce(u.raw_user_meta_data, '{{}}') AS user_metadata,
                coalesce(u.raw_app_meta_data, '{{}}') AS app_metadata,
                coalesce(u.created_at, now()) AS created_at, u.last_sign_in_at,
                (SELECT (i.identity_data->>'email_verified')::boolean FROM auth.identities i
                 WHERE i.user_id = u.id AND i.provider = 'email' LIMIT 1) AS email_verified,
                EXISTS (SELECT 1 FROM auth.identities i
                        WHERE i.user_id = u.id AND i.provider = 'email') AS has_email_identity,
                coalesce((SELECT json_agg(json_build_object(
                    'provider', i.provider, 'provider_id', i.provider_id,
                    'identity_data', i.identity_data, 'created_at', i.created_at,
                    'last_sign_in_at', i.last_sign_in_at) ORDER BY i.created_at)
                  FROM auth.identities i
                  WHERE i.user_id = u.id AND i.provider NOT IN ('email', 'phone')), '[]') AS identities,
                coalesce((SELECT json_agg(json_build_object(
                    'id', f.id, 'friendly_name', f.friendly_name, 'secret', f.secret,
                    'created_at', f.created_at) ORDER BY f.created_at)
                  FROM auth.mfa_factors f
                  WHERE f.user_id = u.id AND f.factor_type = 'totp' AND f.status = 'verified'),
                  '[]') AS factors,
                coalesce((SELECT json_agg(json_build_object(
                    'id', s.id, 'created_at', s.created_at,
                    'refreshed_at', s.refreshed_at AT TIME ZONE 'UTC',
                    'user_agent', s.user_agent, 'ip', host(s.ip), 'aal', s.aal,
                    'token', (SELECT r.token FROM auth.refresh_tokens r
                              WHERE r.session_id = s.id AND NOT coalesce(r.revoked, false)
                              ORDER BY r.id DESC LIMIT 1),
                    {bound}) ORDER BY s.created_at)
                  FROM auth.sessions s
                  WHERE s.user_id = u.id AND (s.not_after IS NULL OR s.not_after > now())),
                  '[]') AS sessions
         FROM auth.users u
         WHERE u.id > $1
         ORDER BY u.id
         LIMIT $2"
    );
    sqlx::query_as(&sql)
        .bind(after)
        .bind(limit)
        .fetch_all(db)
        .await
}
