//! `one_time_tokens`: the tokens email messages carry (a link token and a 6-digit code),
//! stored only as hashes. One live token per user and kind.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

pub struct NewToken<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: &'a str,
    pub token_hash: &'a [u8],
    pub code_hash: &'a [u8],
    pub recipient: &'a str,
    pub redirect_to: Option<&'a str>,
    pub code_challenge: Option<&'a str>,
    pub code_challenge_method: Option<&'a str>,
    pub link_ttl_secs: f64,
    pub code_ttl_secs: f64,
}

/// Stores a token, replacing (and so voiding) the user's previous one of the same kind. The
/// wrong codes counted against the previous one stay counted while its link would still have
/// worked: a new code brings no new attempts (after that, the count starts again).
pub async fn replace(db: impl PgExecutor<'_>, t: &NewToken<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO one_time_tokens AS t
             (id, user_id, kind, token_hash, code_hash, recipient, redirect_to, code_challenge,
              code_challenge_method, expires_at, code_expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
                 now() + make_interval(secs => $10), now() + make_interval(secs => $11))
         ON CONFLICT (user_id, kind) DO UPDATE SET
             id = EXCLUDED.id, token_hash = EXCLUDED.token_hash, code_hash = EXCLUDED.code_hash,
             recipient = EXCLUDED.recipient, redirect_to = EXCLUDED.redirect_to,
             code_challenge = EXCLUDED.code_challenge,
             code_challenge_method = EXCLUDED.code_challenge_method,
             code_attempts = CASE WHEN t.expires_at > now() THEN t.code_attempts ELSE 0 END,
             created_at = now(), expires_at = EXCLUDED.expires_at,
             code_expires_at = EXCLUDED.code_expires_at",
    )
    .bind(t.id)
    .bind(t.user_id)
    .bind(t.kind)
    .bind(t.token_hash)
    .bind(t.code_hash)
    .bind(t.recipient)
    .bind(t.redirect_to)
    .bind(t.code_challenge)
    .bind(t.code_challenge_method)
    .bind(t.link_ttl_secs)
    .bind(t.code_ttl_secs)
    .execute(db)
    .await?;
    Ok(())
}

/// A stored token, as taken for verification.
#[derive(FromRow)]
pub struct TokenRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: String,
    pub code_hash: Vec<u8>,
    pub recipient: String,
    pub redirect_to: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub code_attempts: i32,
    pub expires_at: DateTime<Utc>,
    pub code_expires_at: DateTime<Utc>,
    pub db_now: DateTime<Utc>,
}

impl std::fmt::Debug for TokenRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The code hash is a 6-digit code away from the code.
        f.debug_struct("TokenRow")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

const TOKEN_COLUMNS: &str =
    "id, user_id, kind, code_hash, recipient, redirect_to, code_challenge, \
     code_challenge_method, code_attempts, expires_at, code_expires_at, now() AS db_now";

/// Removes and returns the token of one of `kinds` with this link-token hash: whoever gets
/// it back is the only one to use it (expired or not: the caller checks).
pub async fn take_by_token_hash(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
    kinds: &[&str],
) -> sqlx::Result<Option<TokenRow>> {
    let sql = format!(
        "DELETE FROM one_time_tokens WHERE token_hash = $1 AND kind = ANY($2) RETURNING {TOKEN_COLUMNS}"
    );
    sqlx::query_as(&sql)
        .bind(token_hash)
        .bind(kinds)
        .fetch_optional(db)
        .await
}

/// The live-code tokens of `kinds` sent to `recipient`, locked for the check of a code.
pub async fn find_for_code(
    db: impl PgExecutor<'_>,
    recipient: &str,
    kinds: &[&str],
) -> sqlx::Result<Vec<TokenRow>> {
    let sql = format!(
        "SELECT {TOKEN_COLUMNS} FROM one_time_tokens
         WHERE lower(recipient) = lower($1) AND kind = ANY($2) AND code_expires_at > now()
         ORDER BY created_at DESC FOR UPDATE"
    );
    sqlx::query_as(&sql)
        .bind(recipient)
        .bind(kinds)
        .fetch_all(db)
        .await
}

/// Ends the code of a token (out of attempts); its link keeps working.
pub async fn expire_code(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE one_time_tokens SET code_expires_at = now() WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Deletes every token of the user (their address changed: messages sent to the old one must
/// not work any more).
pub async fn delete_all_for_user(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM one_time_tokens WHERE user_id = $1")
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Counts a wrong code against a token; returns the attempts so far.
pub async fn count_wrong_code(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<i32> {
    sqlx::query_scalar(
        "UPDATE one_time_tokens SET code_attempts = code_attempts + 1 WHERE id = $1
         RETURNING code_attempts",
    )
    .bind(id)
    .fetch_one(db)
    .await
}

pub async fn delete(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM one_time_tokens WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Deletes the user's tokens of `kinds` (an email change cancelled, say).
pub async fn delete_for_user(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    kinds: &[&str],
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM one_time_tokens WHERE user_id = $1 AND kind = ANY($2)")
        .bind(user_id)
        .bind(kinds)
        .execute(db)
        .await?;
    Ok(())
}

/// Whether the user still has a token of `kind` (the other half of an email change).
pub async fn exists(db: impl PgExecutor<'_>, user_id: Uuid, kind: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM one_time_tokens WHERE user_id = $1 AND kind = $2)",
    )
    .bind(user_id)
    .bind(kind)
    .fetch_one(db)
    .await
}

/// Deletes tokens whose link and code have both expired; returns how many.
pub async fn prune_expired(db: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    let r = sqlx::query(
        "DELETE FROM one_time_tokens WHERE expires_at < now() AND code_expires_at < now()",
    )
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}
