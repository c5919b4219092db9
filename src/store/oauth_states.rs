//! `oauth_states`: browser sign-ins with a provider under way, single-use and short-lived.

use std::time::Duration;

use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

pub struct NewState<'a> {
    pub state_hash: &'a [u8],
    pub browser_hash: &'a [u8],
    pub provider: &'a str,
    pub nonce: &'a str,
    pub pkce_verifier: &'a str,
    pub redirect_to: &'a str,
    pub code_challenge: Option<&'a str>,
    pub code_challenge_method: Option<&'a str>,
    pub link_user_id: Option<Uuid>,
    pub ttl: Duration,
}

pub async fn insert(db: impl PgExecutor<'_>, s: &NewState<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO oauth_states (state_hash, browser_hash, provider, nonce, pkce_verifier,
                                   redirect_to, code_challenge, code_challenge_method,
                                   link_user_id, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() + make_interval(secs => $10))",
    )
    .bind(s.state_hash)
    .bind(s.browser_hash)
    .bind(s.provider)
    .bind(s.nonce)
    .bind(s.pkce_verifier)
    .bind(s.redirect_to)
    .bind(s.code_challenge)
    .bind(s.code_challenge_method)
    .bind(s.link_user_id)
    .bind(s.ttl.as_secs_f64())
    .execute(db)
    .await?;
    Ok(())
}

#[derive(FromRow)]
pub struct State {
    pub browser_hash: Vec<u8>,
    pub provider: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub redirect_to: String,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub link_user_id: Option<Uuid>,
    pub live: bool,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

/// Removes and returns the state: whoever gets it back is the only one to use it.
pub async fn take(db: impl PgExecutor<'_>, state_hash: &[u8]) -> sqlx::Result<Option<State>> {
    sqlx::query_as(
        "DELETE FROM oauth_states WHERE state_hash = $1
         RETURNING browser_hash, provider, nonce, pkce_verifier, redirect_to, code_challenge,
                   code_challenge_method, link_user_id, expires_at > now() AS live",
    )
    .bind(state_hash)
    .fetch_optional(db)
    .await
}

/// Deletes expired states; returns how many.
pub async fn prune_expired(db: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    let r = sqlx::query("DELETE FROM oauth_states WHERE expires_at < now()")
        .execute(db)
        .await?;
    Ok(r.rows_affected())
}

/// Deletes the provider links under way to the user (started before their address was
/// proven); returns how many.
pub async fn delete_links_to(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<u64> {
    let r = sqlx::query("DELETE FROM oauth_states WHERE link_user_id = $1")
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(r.rows_affected())
}
