//! Second factors and their challenges (`mfa_factors`, `mfa_challenges`), and what they do to
//! sessions. A factor's secret is stored sealed (see `auth::sealing`); this module never sees
//! it in clear.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

/// How long an unverified factor, or a challenge, lives (Supabase Auth's default).
pub const EXPIRY_SECS: f64 = 300.0;

/// A session's `amr` without its entries whose method `{keep}` rejects (an SQL condition on
/// `e->>'method'`), in their order.
const AMR_WITHOUT: &str =
    "coalesce((SELECT jsonb_agg(e ORDER BY n) FROM jsonb_array_elements(amr) \
     WITH ORDINALITY AS a(e, n) WHERE e->>'method' {keep}), '[]'::jsonb)";

/// The `amr` methods of second factors (what removing the factor takes away).
const FACTOR_METHODS: &str = "NOT IN ('totp', 'mfa/webauthn')";

/// A factor as user payloads carry it (never its secret).
#[derive(Debug, Clone, PartialEq, FromRow, Serialize, Deserialize)]
pub struct Factor {
    pub id: Uuid,
    pub friendly_name: String,
    pub factor_type: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Factor {
    pub fn is_verified(&self) -> bool {
        self.status == "verified"
    }
}

/// A factor with its sealed secret, for checking a code.
#[derive(FromRow)]
pub struct FactorSecret {
    pub id: Uuid,
    pub user_id: Uuid,
    pub factor_type: String,
    pub status: String,
    /// A TOTP factor's secret, sealed.
    pub secret: Option<Vec<u8>>,
    pub last_used_step: Option<i64>,
    /// A WebAuthn factor's credential (once registered).
    pub webauthn_credential: Option<serde_json::Value>,
}

pub struct NewFactor<'a> {
    /// `totp` or `webauthn`.
    pub factor_type: &'a str,
    pub id: Uuid,
    pub user_id: Uuid,
    pub friendly_name: &'a str,
    pub sealed_secret: Option<&'a [u8]>,
}

/// Removes `user_id`'s unverified factors that have expired.
pub async fn delete_expired(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM mfa_factors WHERE user_id = $1 AND status = 'unverified'
           AND created_at <= now() - make_interval(secs => $2)",
    )
    .bind(user_id)
    .bind(EXPIRY_SECS)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Removes every expired unverified factor and every expired challenge (housekeeping).
pub async fn prune_expired(db: &sqlx::PgPool) -> sqlx::Result<u64> {
    let factors = sqlx::query(
        "DELETE FROM mfa_factors WHERE status = 'unverified'
           AND created_at <= now() - make_interval(secs => $1)",
    )
    .bind(EXPIRY_SECS)
    .execute(db)
    .await?;
    let challenges = sqlx::query(
        "DELETE FROM mfa_challenges WHERE created_at <= now() - make_interval(secs => $1)",
    )
    .bind(EXPIRY_SECS)
    .execute(db)
    .await?;
    Ok(factors.rows_affected() + challenges.rows_affected())
}

/// Inserts a new unverified TOTP factor; `None` when the user already has a factor of that
/// (non-empty) name.
pub async fn insert(db: impl PgExecutor<'_>, new: &NewFactor<'_>) -> sqlx::Result<Option<Factor>> {
    sqlx::query_as(
        "INSERT INTO mfa_factors (id, user_id, friendly_name, factor_type, secret)
         VALUES ($1, $2, $3, $5, $4)
         ON CONFLICT DO NOTHING
         RETURNING id, friendly_name, factor_type, status, created_at, updated_at",
    )
    .bind(new.id)
    .bind(new.user_id)
    .bind(new.friendly_name)
    .bind(new.sealed_secret)
    .bind(new.factor_type)
    .fetch_optional(db)
    .await
}

/// `user_id`'s factor `id` with its sealed secret, locked until the end of the transaction.
pub async fn find_secret_for_update(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<FactorSecret>> {
    sqlx::query_as(
        "SELECT id, user_id, factor_type, status, secret, last_used_step, webauthn_credential
         FROM mfa_factors
         WHERE id = $1 AND user_id = $2
           AND (status = 'verified' OR created_at > now() - make_interval(secs => $3))
         FOR UPDATE",
    )
    .bind(id)
    .bind(user_id)
    .bind(EXPIRY_SECS)
    .fetch_optional(db)
    .await
}

/// `user_id`'s factor `id`, if it has one (and it has not expired unverified).
pub async fn find(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<Factor>> {
    sqlx::query_as(
        "SELECT id, friendly_name, factor_type, status, created_at, updated_at FROM mfa_factors
         WHERE id = $1 AND user_id = $2
           AND (status = 'verified' OR created_at > now() - make_interval(secs => $3))",
    )
    .bind(id)
    .bind(user_id)
    .bind(EXPIRY_SECS)
    .fetch_optional(db)
    .await
}

/// Stores a WebAuthn factor's credential (registered, or its counter moved) and marks it
/// verified.
pub async fn set_webauthn_credential(
    db: impl PgExecutor<'_>,
    id: Uuid,
    credential: &serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE mfa_factors SET webauthn_credential = $2, status = 'verified', updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(credential)
    .execute(db)
    .await?;
    Ok(())
}

/// Records that the code of time step `step` was accepted, and marks the factor verified;
/// `false` (nothing changed) when a code of that step or a later one was accepted before.
pub async fn use_step(db: impl PgExecutor<'_>, id: Uuid, step: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE mfa_factors SET last_used_step = $2, status = 'verified', updated_at = now()
         WHERE id = $1 AND (last_used_step IS NULL OR last_used_step < $2)",
    )
    .bind(id)
    .bind(step)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes `user_id`'s other unverified factors (once one is verified, as Supabase Auth does).
pub async fn delete_unverified(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM mfa_factors WHERE user_id = $1 AND status = 'unverified'")
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}

/// Removes factor `id` of `user_id`, first bringing the sessions it raised back to aal1
/// (without their second factors' entries in `amr`), and the user's recovery codes when no verified
/// factor is left. Returns the factor removed.
pub async fn delete(
    db: &mut sqlx::PgConnection,
    user_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<Factor>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "UPDATE sessions SET aal = 1, factor_id = NULL, amr = {}
             WHERE factor_id = $1 AND user_id = $2",
            AMR_WITHOUT.replace("{keep}", FACTOR_METHODS)
        )
    });
    sqlx::query(&SQL)
        .bind(id)
        .bind(user_id)
        .execute(&mut *db)
        .await?;
    let deleted: Option<Factor> = sqlx::query_as(
        "DELETE FROM mfa_factors WHERE id = $1 AND user_id = $2
         RETURNING id, friendly_name, factor_type, status, created_at, updated_at",
    )
    .bind(id)
    .bind(user_id)
    .fetch_optional(&mut *db)
    .await?;
    // Recovery codes stand in for a factor: without a verified one they go too.
    sqlx::query(
        "DELETE FROM mfa_recovery_codes WHERE user_id = $1 AND NOT EXISTS
             (SELECT 1 FROM mfa_factors WHERE user_id = $1 AND status = 'verified')",
    )
    .bind(user_id)
    .execute(&mut *db)
    .await?;
    Ok(deleted)
}

/// Opens a challenge of factor `factor_id` for client address `ip`; returns when it was made.
pub async fn insert_challenge(
    db: impl PgExecutor<'_>,
    id: Uuid,
    factor_id: Uuid,
    ip: Option<&str>,
    webauthn_state: Option<&serde_json::Value>,
) -> sqlx::Result<DateTime<Utc>> {
    sqlx::query_scalar(
        "INSERT INTO mfa_challenges (id, factor_id, ip, webauthn_state) VALUES ($1, $2, $3, $4)
         RETURNING created_at",
    )
    .bind(id)
    .bind(factor_id)
    .bind(ip)
    .bind(webauthn_state)
    .fetch_one(db)
    .await
}

/// A challenge as verification checks it.
#[derive(FromRow)]
pub struct Challenge {
    pub ip: Option<String>,
    pub verified: bool,
    pub expired: bool,
    /// A WebAuthn challenge's ceremony state.
    pub webauthn_state: Option<serde_json::Value>,
}

/// Challenge `id` of factor `factor_id`, locked until the end of the transaction.
pub async fn find_challenge_for_update(
    db: impl PgExecutor<'_>,
    factor_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<Challenge>> {
    sqlx::query_as(
        "SELECT ip, verified_at IS NOT NULL AS verified, webauthn_state,
                created_at <= now() - make_interval(secs => $3) AS expired
         FROM mfa_challenges WHERE id = $1 AND factor_id = $2 FOR UPDATE",
    )
    .bind(id)
    .bind(factor_id)
    .bind(EXPIRY_SECS)
    .fetch_optional(db)
    .await
}

pub async fn delete_challenge(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM mfa_challenges WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn mark_challenge_verified(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE mfa_challenges SET verified_at = now() WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// The assurance level of session `session_id` of `user_id` (1 or 2), if it exists.
pub async fn session_aal(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<Option<i16>> {
    sqlx::query_scalar("SELECT aal FROM sessions WHERE id = $1 AND user_id = $2")
        .bind(session_id)
        .bind(user_id)
        .fetch_optional(db)
        .await
}

/// Whether `user_id` has a verified factor while session `session_id` (none: no session) is
/// below aal2: then steps that need a second factor are refused.
pub async fn needs_step_up(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    session_id: Option<Uuid>,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM mfa_factors WHERE user_id = $1 AND status = 'verified')
            AND coalesce((SELECT aal FROM sessions WHERE id = $2 AND user_id = $1), 1) < 2",
    )
    .bind(user_id)
    .bind(session_id)
    .fetch_one(db)
    .await
}

/// A session raised to aal2: its new token counter and `amr`.
#[derive(FromRow)]
pub struct Raised {
    pub token_counter: i64,
    pub amr: serde_json::Value,
}

/// Raises session `session_id` of `user_id` to aal2 by factor `factor_id` (none: a recovery
/// code) (`method` first in
/// its `amr`, replacing an earlier entry of that method) and restarts its refresh token chain
/// with `new_hash`, so that no token issued before can refresh it. `None` when the session is
/// gone.
pub async fn raise_session(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
    user_id: Uuid,
    factor_id: Option<Uuid>,
    method: &str,
    new_hash: &[u8],
) -> sqlx::Result<Option<Raised>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "UPDATE sessions SET aal = 2, factor_id = $3,
                    amr = jsonb_build_array(jsonb_build_object(
                              'method', $4::text, 'timestamp', floor(extract(epoch FROM now()))::bigint))
                          || {},
                    token_counter = token_counter + 1, token_hash = $5,
                    prev_rotated_at = NULL, rotated_at = now(), refreshed_at = now()
             WHERE id = $1 AND user_id = $2
             RETURNING token_counter, amr",
            AMR_WITHOUT.replace("{keep}", "<> $4")
        )
    });
    sqlx::query_as(&SQL)
        .bind(session_id)
        .bind(user_id)
        .bind(factor_id)
        .bind(method)
        .bind(new_hash)
        .fetch_optional(db)
        .await
}

/// Ends `user_id`'s sessions below aal2 other than `keep` (once a second factor is proven,
/// sessions opened without it go, as in Supabase Auth); returns their ids.
pub async fn end_aal1_sessions(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    keep: Uuid,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "DELETE FROM sessions WHERE user_id = $1 AND id <> $2 AND aal < 2 RETURNING id",
    )
    .bind(user_id)
    .bind(keep)
    .fetch_all(db)
    .await
}

/// How session `session_id` of `user_id` was raised, if it is at aal2: the factor (none for a
/// recovery code), the newest `amr` method and the oldest (the first factor).
#[derive(FromRow)]
pub struct RaisedSession {
    pub factor_id: Option<Uuid>,
    pub raised_by: String,
    pub first_method: String,
}

pub async fn raised_session(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<Option<RaisedSession>> {
    sqlx::query_as(
        "SELECT factor_id, coalesce(amr->0->>'method', '') AS raised_by,
                coalesce(amr->-1->>'method', '') AS first_method
         FROM sessions WHERE id = $1 AND user_id = $2 AND aal = 2",
    )
    .bind(session_id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}
