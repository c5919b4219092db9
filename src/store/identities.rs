//! `identities`: accounts at external identity providers, one row per provider subject.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

/// An external identity of a user (as the user row carries them, and as the API shows them).
#[derive(Debug, Clone, FromRow, Serialize, Deserialize)]
pub struct ExternalIdentity {
    pub id: Uuid,
    pub provider: String,
    pub provider_id: String,
    pub identity_data: Value,
    pub email: Option<String>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The user of the identity `provider_id` at `provider`, if known.
pub async fn find_user(
    db: impl PgExecutor<'_>,
    provider: &str,
    provider_id: &str,
) -> sqlx::Result<Option<(Uuid, Uuid)>> {
    sqlx::query_as("SELECT id, user_id FROM identities WHERE provider = $1 AND provider_id = $2")
        .bind(provider)
        .bind(provider_id)
        .fetch_optional(db)
        .await
}

pub struct NewIdentity<'a> {
    pub user_id: Uuid,
    pub provider: &'a str,
    pub provider_id: &'a str,
    pub identity_data: &'a Value,
    pub email: Option<&'a str>,
}

/// Links an identity to a user (signed in by it just now).
/// Links an identity; `None` when that provider account is already linked (a concurrent
/// sign-in won).
pub async fn insert(db: impl PgExecutor<'_>, i: &NewIdentity<'_>) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "INSERT INTO identities (id, user_id, provider, provider_id, identity_data, email, last_sign_in_at)
         VALUES ($1, $2, $3, $4, $5, $6, now())
         ON CONFLICT (provider, provider_id) DO NOTHING RETURNING id",
    )
    .bind(Uuid::new_v4())
    .bind(i.user_id)
    .bind(i.provider)
    .bind(i.provider_id)
    .bind(i.identity_data)
    .bind(i.email)
    .fetch_optional(db)
    .await
}

/// Records a sign-in with an identity, with what the provider says now.
pub async fn signed_in(
    db: impl PgExecutor<'_>,
    id: Uuid,
    identity_data: &Value,
    email: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE identities SET identity_data = $2, email = $3, last_sign_in_at = now(),
                updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(identity_data)
    .bind(email)
    .execute(db)
    .await?;
    Ok(())
}

/// Unlinks the user's provider accounts except those whose provider verified `address`
/// itself: once the address is proven, an identity that vouches for another address (or for
/// none) may be someone else's, linked before the owner came.
pub async fn delete_unless_verified_for(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    address: &str,
) -> sqlx::Result<u64> {
    let r = sqlx::query(
        "DELETE FROM identities WHERE user_id = $1
           AND NOT (identity_data->'email_verified' = 'true'::jsonb
                    AND lower(coalesce(email, '')) = lower($2))",
    )
    .bind(user_id)
    .bind(address)
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

/// The number of the user's provider accounts (read after locking the user row).
pub async fn count(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM identities WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(db)
        .await
}

/// Stores an identity's provider tokens (already encrypted).
pub async fn set_provider_tokens(
    db: impl PgExecutor<'_>,
    id: Uuid,
    sealed: &[u8],
    expires_at: Option<DateTime<Utc>>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE identities SET provider_tokens = $2, provider_tokens_expires_at = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(sealed)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}

#[derive(FromRow)]
pub struct SealedTokens {
    pub id: Uuid,
    pub provider: String,
    pub sealed: Vec<u8>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The user's identities that have provider tokens stored.
pub async fn provider_tokens(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> sqlx::Result<Vec<SealedTokens>> {
    sqlx::query_as(
        "SELECT id, provider, provider_tokens AS sealed, provider_tokens_expires_at AS expires_at
           FROM identities WHERE user_id = $1 AND provider_tokens IS NOT NULL ORDER BY created_at",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Unlinks an identity of the user; its provider, if one went.
pub async fn delete(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("DELETE FROM identities WHERE id = $1 AND user_id = $2 RETURNING provider")
        .bind(id)
        .bind(user_id)
        .fetch_optional(db)
        .await
}
