//! `oauth_authorizations`: an OAuth client's authorization request, from `GET /oauth/authorize`
//! to the single use of its code (stored as SHA-256), and the session that use opened.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgExecutor};
use uuid::Uuid;

use super::sessions::NewSession;

/// An authorization request with what has been decided about it.
#[derive(Debug, Clone, FromRow)]
pub struct Authorization {
    pub id: Uuid,
    pub client_id: Uuid,
    pub redirect_uri: String,
    pub redirect_uri_given: bool,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub resource: Option<String>,
    pub user_id: Option<Uuid>,
    pub status: String,
    pub roles: Option<Vec<String>>,
    pub aal: Option<i16>,
    pub amr: Option<serde_json::Value>,
    pub auth_time: Option<DateTime<Utc>>,
    pub used_at: Option<DateTime<Utc>>,
    pub session_id: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
    /// Whether it has expired, on the database's clock.
    pub expired: bool,
}

const COLUMNS: &str =
    "id, client_id, redirect_uri, redirect_uri_given, scopes, state, nonce, code_challenge,
     resource, user_id, status, roles, aal, amr, auth_time, used_at, session_id, expires_at,
     expires_at <= now() AS expired";

/// What a client asked for.
pub struct NewAuthorization<'a> {
    pub id: Uuid,
    pub client_id: Uuid,
    pub redirect_uri: &'a str,
    pub redirect_uri_given: bool,
    pub scopes: &'a [String],
    pub state: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub code_challenge: &'a str,
    pub resource: Option<&'a str>,
    pub ttl_secs: f64,
}

pub async fn insert(db: impl PgExecutor<'_>, a: &NewAuthorization<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO oauth_authorizations (id, client_id, redirect_uri, scopes, state, nonce,
             code_challenge, resource, expires_at, redirect_uri_given)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9), $10)",
    )
    .bind(a.id)
    .bind(a.client_id)
    .bind(a.redirect_uri)
    .bind(a.scopes)
    .bind(a.state)
    .bind(a.nonce)
    .bind(a.code_challenge)
    .bind(a.resource)
    .bind(a.ttl_secs)
    .bind(a.redirect_uri_given)
    .execute(db)
    .await?;
    Ok(())
}

/// The authorization, locked for the caller's transaction.
pub async fn lock(db: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Authorization>> {
    let sql = format!("SELECT {COLUMNS} FROM oauth_authorizations WHERE id = $1 FOR UPDATE");
    sqlx::query_as(&sql).bind(id).fetch_optional(db).await
}

/// The authorization whose code hashes to `code_hash`, locked.
pub async fn lock_by_code(
    db: &mut PgConnection,
    code_hash: &[u8],
) -> sqlx::Result<Option<Authorization>> {
    let sql = format!("SELECT {COLUMNS} FROM oauth_authorizations WHERE code_hash = $1 FOR UPDATE");
    sqlx::query_as(&sql)
        .bind(code_hash)
        .fetch_optional(db)
        .await
}

/// Binds a pending authorization to the user who first sees it.
pub async fn bind_user(db: impl PgExecutor<'_>, id: Uuid, user_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE oauth_authorizations SET user_id = $2 WHERE id = $1 AND user_id IS NULL")
        .bind(id)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// What an approval records: the roles granted and the code's hash.
pub struct Approval<'a> {
    pub roles: &'a [String],
    pub code_hash: &'a [u8],
    /// The session that approved: the client's session takes on its assurance (level and
    /// `amr`) and its sign-in time (`auth_time`).
    pub session_id: Uuid,
    /// How long the code is good for.
    pub code_ttl_secs: f64,
}

pub async fn approve(db: impl PgExecutor<'_>, id: Uuid, a: &Approval<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE oauth_authorizations o SET status = 'approved', roles = $2, code_hash = $3,
             aal = s.aal, amr = s.amr, auth_time = s.created_at,
             expires_at = least(o.expires_at, now() + make_interval(secs => $5))
         FROM sessions s
         WHERE o.id = $1 AND s.id = $4",
    )
    .bind(id)
    .bind(a.roles)
    .bind(a.code_hash)
    .bind(a.session_id)
    .bind(a.code_ttl_secs)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn deny(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE oauth_authorizations SET status = 'denied' WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Records the code's use and the session it opened.
pub async fn mark_used(db: impl PgExecutor<'_>, id: Uuid, session_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE oauth_authorizations SET used_at = now(), session_id = $2 WHERE id = $1")
        .bind(id)
        .bind(session_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Opens the client's session for an approved authorization: the user's, at the approving
/// session's assurance, bound to the client with the scopes, roles and resource granted.
pub async fn open_session(
    db: impl PgExecutor<'_>,
    s: &NewSession<'_>,
    a: &Authorization,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, token_hash, token_salt, user_agent, ip, aal, amr,
             oauth_client_id, oauth_scopes, oauth_roles, oauth_resource)
         VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, 1), coalesce($8, '[]'::jsonb),
                 $9, $10, $11, $12)",
    )
    .bind(s.id)
    .bind(s.user_id)
    .bind(s.token_hash)
    .bind(s.token_salt)
    .bind(&s.client.user_agent)
    .bind(&s.client.ip)
    .bind(a.aal)
    .bind(&a.amr)
    .bind(a.client_id)
    .bind(&a.scopes)
    .bind(&a.roles)
    .bind(&a.resource)
    .execute(db)
    .await?;
    Ok(())
}

/// Drops authorizations past their expiry (housekeeping); a used code's row goes with it, so
/// a replay after that is only an unknown code.
pub async fn prune_expired(db: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM oauth_authorizations WHERE expires_at < now() - interval '1 hour'",
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
