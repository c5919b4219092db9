//! Passkeys (`passkeys`) and WebAuthn ceremonies under way (`webauthn_challenges`).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

/// How long a ceremony may take, in seconds.
pub const CHALLENGE_SECS: f64 = 300.0;

/// A passkey as its owner sees it.
#[derive(Debug, Clone, FromRow)]
pub struct PasskeyInfo {
    pub id: Uuid,
    pub friendly_name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A passkey with its credential, for a sign-in.
#[derive(FromRow)]
pub struct PasskeyRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub credential: Value,
}

pub async fn insert_challenge(
    db: impl PgExecutor<'_>,
    id: Uuid,
    user_id: Option<Uuid>,
    kind: &str,
    state: &Value,
) -> sqlx::Result<DateTime<Utc>> {
    sqlx::query_scalar(
        "INSERT INTO webauthn_challenges (id, user_id, kind, state) VALUES ($1, $2, $3, $4)
         RETURNING created_at",
    )
    .bind(id)
    .bind(user_id)
    .bind(kind)
    .bind(state)
    .fetch_one(db)
    .await
}

/// A ceremony taken (removed: single use): its state, and whether it had expired.
#[derive(FromRow)]
pub struct Taken {
    pub state: Value,
    pub expired: bool,
}

/// Removes and returns challenge `id` of `kind` (and of `user_id` for a registration).
pub async fn take_challenge(
    db: impl PgExecutor<'_>,
    id: Uuid,
    kind: &str,
    user_id: Option<Uuid>,
) -> sqlx::Result<Option<Taken>> {
    sqlx::query_as(
        "DELETE FROM webauthn_challenges
         WHERE id = $1 AND kind = $2 AND user_id IS NOT DISTINCT FROM $3
         RETURNING state, created_at <= now() - make_interval(secs => $4) AS expired",
    )
    .bind(id)
    .bind(kind)
    .bind(user_id)
    .bind(CHALLENGE_SECS)
    .fetch_optional(db)
    .await
}

pub async fn prune_challenges(db: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM webauthn_challenges WHERE created_at <= now() - make_interval(secs => $1)",
    )
    .bind(CHALLENGE_SECS)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

pub async fn list(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Vec<PasskeyInfo>> {
    sqlx::query_as(
        "SELECT id, friendly_name, created_at, last_used_at FROM passkeys
         WHERE user_id = $1 ORDER BY created_at",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// The credentials of `user_id`'s passkeys (to exclude them from a new registration).
pub async fn credentials_of(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Vec<Value>> {
    sqlx::query_scalar("SELECT credential FROM passkeys WHERE user_id = $1")
        .bind(user_id)
        .fetch_all(db)
        .await
}

pub struct NewPasskey<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub credential_id: &'a [u8],
    pub credential: &'a Value,
    pub friendly_name: &'a str,
}

/// Stores a passkey; `None` when its credential is registered already (to anyone).
pub async fn insert(
    db: impl PgExecutor<'_>,
    new: &NewPasskey<'_>,
) -> sqlx::Result<Option<PasskeyInfo>> {
    sqlx::query_as(
        "INSERT INTO passkeys (id, user_id, credential_id, credential, friendly_name)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (credential_id) DO NOTHING
         RETURNING id, friendly_name, created_at, last_used_at",
    )
    .bind(new.id)
    .bind(new.user_id)
    .bind(new.credential_id)
    .bind(new.credential)
    .bind(new.friendly_name)
    .fetch_optional(db)
    .await
}

/// The passkey of credential `credential_id`, if it is `user_id`'s.
pub async fn find_by_credential(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    credential_id: &[u8],
) -> sqlx::Result<Option<PasskeyRow>> {
    sqlx::query_as(
        "SELECT id, user_id, credential FROM passkeys WHERE credential_id = $1 AND user_id = $2",
    )
    .bind(credential_id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// Records a sign-in with passkey `id` (and its credential's new counter).
pub async fn used(db: impl PgExecutor<'_>, id: Uuid, credential: &Value) -> sqlx::Result<()> {
    sqlx::query("UPDATE passkeys SET credential = $2, last_used_at = now() WHERE id = $1")
        .bind(id)
        .bind(credential)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn rename(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    name: &str,
) -> sqlx::Result<Option<PasskeyInfo>> {
    sqlx::query_as(
        "UPDATE passkeys SET friendly_name = $3 WHERE id = $1 AND user_id = $2
         RETURNING id, friendly_name, created_at, last_used_at",
    )
    .bind(id)
    .bind(user_id)
    .bind(name)
    .fetch_optional(db)
    .await
}

pub async fn delete(db: impl PgExecutor<'_>, user_id: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn count(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM passkeys WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(db)
        .await
}
