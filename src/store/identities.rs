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
pub async fn insert(db: impl PgExecutor<'_>, i: &NewIdentity<'_>) -> sqlx::Result<Uuid> {
    sqlx::query_scalar(
        "INSERT INTO identities (id, user_id, provider, provider_id, identity_data, email, last_sign_in_at)
         VALUES ($1, $2, $3, $4, $5, $6, now()) RETURNING id",
    )
    .bind(Uuid::new_v4())
    .bind(i.user_id)
    .bind(i.provider)
    .bind(i.provider_id)
    .bind(i.identity_data)
    .bind(i.email)
    .fetch_one(db)
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

/// Unlinks an identity of the user; returns whether one went.
pub async fn delete(db: impl PgExecutor<'_>, user_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let r = sqlx::query("DELETE FROM identities WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(r.rows_affected() == 1)
}
