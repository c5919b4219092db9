//! `auth_codes`: PKCE authorization codes (RFC 7636), stored as hashes, exchanged once.

use std::time::Duration;

use serde_json::Value;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

pub struct NewAuthCode<'a> {
    pub code_hash: &'a [u8],
    pub user_id: Uuid,
    pub code_challenge: &'a str,
    pub code_challenge_method: &'a str,
    pub authentication_method: &'a str,
    /// An external identity to link to the user when the code is exchanged.
    pub pending_identity: Option<&'a Value>,
    pub ttl: Duration,
    /// For a code handed out after a second factor: the `amr` method and factor that raised
    /// the session it comes from (the session it opens starts at aal2).
    pub raised: Option<(&'a str, Option<Uuid>)>,
}

pub async fn insert(db: impl PgExecutor<'_>, c: &NewAuthCode<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO auth_codes (code_hash, user_id, code_challenge, code_challenge_method,
                                 authentication_method, pending_identity, expires_at,
                                 raised_by, raised_factor_id)
         VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(secs => $7), $8, $9)",
    )
    .bind(c.code_hash)
    .bind(c.user_id)
    .bind(c.code_challenge)
    .bind(c.code_challenge_method)
    .bind(c.authentication_method)
    .bind(c.pending_identity)
    .bind(c.ttl.as_secs_f64())
    .bind(c.raised.map(|(by, _)| by))
    .bind(c.raised.and_then(|(_, factor)| factor))
    .execute(db)
    .await?;
    Ok(())
}

#[derive(FromRow)]
pub struct AuthCode {
    pub user_id: Uuid,
    pub code_challenge: String,
    pub code_challenge_method: String,
    pub authentication_method: String,
    /// An external identity to link to the user when the code is exchanged.
    pub pending_identity: Option<Value>,
    pub live: bool,
    /// See [`NewAuthCode::raised`].
    pub raised_by: Option<String>,
    pub raised_factor_id: Option<Uuid>,
}

impl std::fmt::Debug for AuthCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCode")
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// Removes and returns the code: whoever gets it back is the only one to exchange it.
pub async fn take(db: impl PgExecutor<'_>, code_hash: &[u8]) -> sqlx::Result<Option<AuthCode>> {
    sqlx::query_as(
        "DELETE FROM auth_codes WHERE code_hash = $1
         RETURNING user_id, code_challenge, code_challenge_method, authentication_method,
                   pending_identity, expires_at > now() AS live, raised_by, raised_factor_id",
    )
    .bind(code_hash)
    .fetch_optional(db)
    .await
}

/// Deletes expired codes; returns how many.
pub async fn prune_expired(db: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    let r = sqlx::query("DELETE FROM auth_codes WHERE expires_at < now()")
        .execute(db)
        .await?;
    Ok(r.rows_affected())
}

/// Deletes the user's codes not yet exchanged (what was set up before their address was
/// proven); returns how many.
pub async fn delete_for_user(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<u64> {
    let r = sqlx::query("DELETE FROM auth_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(r.rows_affected())
}
