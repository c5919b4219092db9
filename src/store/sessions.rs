//! `sessions`: one row per sign-in, holding only the hash of the current refresh token.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

mod rotation;

pub use rotation::{rotate_current, rotate_current_many, CurrentRotation, Lifetimes, SessionUser};

/// What ties a session to an OAuth client (all `None` for a user's own session): opened by a
/// code exchange, it is refreshed only by that client, its tokens carry at most `roles`
/// (`None`: the user's default role) and are for `resource` (RFC 8707) when one was named.
#[derive(Debug, Clone, Default, FromRow)]
pub struct ClientBinding {
    pub oauth_client_id: Option<Uuid>,
    pub oauth_scopes: Option<Vec<String>>,
    pub oauth_roles: Option<Vec<String>>,
    pub oauth_resource: Option<String>,
}

/// The columns of [`ClientBinding`] (sessions as `s`).
pub const CLIENT_BINDING_COLUMNS: &str =
    "s.oauth_client_id, s.oauth_scopes, s.oauth_roles, s.oauth_resource";

use super::{
    organizations::{ActiveOrg, ACTIVE_ORG_COLUMNS},
    users::{User, USER_COLUMNS},
};
use crate::client::Client;

pub struct NewSession<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub token_hash: &'a [u8],
    pub token_salt: &'a [u8],
    pub client: &'a Client,
    /// For a password sign-in: the hash the password was checked against.
    pub password_hash: Option<&'a str>,
    /// How the user proved who they are: the first entry of the session's `amr`.
    pub amr_method: &'a str,
}

/// SQL of an `amr` entry for `method` (a text parameter) at the database's time.
const AMR_ENTRY: &str =
    "jsonb_build_object('method', {m}::text, 'timestamp', floor(extract(epoch FROM now()))::int8)";

/// Opens a session and records the sign-in, in one statement (atomic on its own, or part of
/// the caller's transaction): the session row, the user's `last_sign_in_at` and the audit
/// entry `event` with `detail`. Returns the sign-in's time.
///
/// `None` when the sign-in was checked against `password_hash` and the user's password is no
/// longer that one (changed or removed while it was being checked). The password row is
/// share-locked, so a concurrent removal (the first proof of the address, say) either waits
/// for this session and then ends it, or wins and then no session opens. The statement waits
/// on no other lock: `last_sign_in_at` is skipped while another transaction holds the user
/// row, so that it cannot deadlock with one holding the user row and waiting for the
/// password's.
pub async fn open(
    db: impl PgExecutor<'_>,
    s: &NewSession<'_>,
    event: &str,
    detail: &serde_json::Value,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        let entry = AMR_ENTRY.replace("{m}", "$11");
        format!(
            "WITH checked AS (
             SELECT 1 FROM user_passwords WHERE user_id = $2 AND hash = $10 FOR SHARE
         ), session AS (
             INSERT INTO sessions (id, user_id, token_hash, token_salt, user_agent, ip, amr)
             SELECT $1, $2, $3, $4, $5, $6, jsonb_build_array({entry})
             WHERE $10::text IS NULL OR EXISTS (SELECT 1 FROM checked)
             RETURNING id
         ), audit AS (
             INSERT INTO audit_log (event, user_id, session_id, ip, user_agent, detail, request_id)
             SELECT $7, $2, id, $6, $5, $8, $9 FROM session
         ), signed_in AS (
             UPDATE users SET last_sign_in_at = now()
              WHERE id = (SELECT id FROM users WHERE id = $2 AND EXISTS (SELECT 1 FROM session)
                          FOR NO KEY UPDATE SKIP LOCKED)
         )
         SELECT now() FROM session"
        )
    });
    sqlx::query_scalar(&SQL)
        .bind(s.id)
        .bind(s.user_id)
        .bind(s.token_hash)
        .bind(s.token_salt)
        .bind(&s.client.user_agent)
        .bind(&s.client.ip)
        .bind(event)
        .bind(detail)
        .bind(&s.client.request_id)
        .bind(s.password_hash)
        .bind(s.amr_method)
        .fetch_optional(db)
        .await
}

/// A session with its user, read in one query at every refresh.
#[derive(FromRow)]
pub struct RefreshRow {
    #[sqlx(flatten)]
    pub user: User,
    pub session_id: Uuid,
    pub token_counter: i64,
    pub token_hash: Vec<u8>,
    pub token_salt: Vec<u8>,
    pub rotated_at: DateTime<Utc>,
    pub prev_rotated_at: Option<DateTime<Utc>>,
    pub session_created_at: DateTime<Utc>,
    pub refreshed_at: DateTime<Utc>,
    pub aal: i16,
    pub amr: serde_json::Value,
    #[sqlx(flatten)]
    pub org: ActiveOrg,
    #[sqlx(flatten)]
    pub binding: ClientBinding,
    pub db_now: DateTime<Utc>,
}

/// The session and its user, if the session is bound to OAuth client `client` (`None`: a
/// user's own session, not bound to any client).
pub async fn find_for_refresh(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
    client: Option<Uuid>,
) -> sqlx::Result<Option<RefreshRow>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {USER_COLUMNS}, s.id AS session_id, s.token_counter, s.token_hash,
                    s.token_salt, s.rotated_at, s.prev_rotated_at,
                    s.created_at AS session_created_at, s.refreshed_at, s.aal, s.amr,
                    {ACTIVE_ORG_COLUMNS}, {CLIENT_BINDING_COLUMNS}, now() AS db_now
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = $1 AND s.oauth_client_id IS NOT DISTINCT FROM $2"
        )
    });
    sqlx::query_as(&SQL)
        .bind(session_id)
        .bind(client)
        .fetch_optional(db)
        .await
}

/// Rotates the session's token if its counter is still `expected` (compare-and-set: of racing
/// requests exactly one wins, on any number of server instances). Returns whether it did.
pub async fn rotate(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
    expected: i64,
    new_hash: &[u8],
    client: &Client,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE sessions
         SET token_counter = token_counter + 1, token_hash = $3,
             prev_rotated_at = rotated_at, rotated_at = now(), refreshed_at = now(),
             user_agent = coalesce($4, user_agent), ip = coalesce($5, ip)
         WHERE id = $1 AND token_counter = $2",
    )
    .bind(session_id)
    .bind(expected)
    .bind(new_hash)
    .bind(&client.user_agent)
    .bind(&client.ip)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks the session used if its counter is still `expected`; returns whether it was.
pub async fn touch(db: impl PgExecutor<'_>, session_id: Uuid, expected: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE sessions SET refreshed_at = now() WHERE id = $1 AND token_counter = $2",
    )
    .bind(session_id)
    .bind(expected)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The user of session `session_id`, if that session still exists and belongs to `user_id`
/// (for requests authenticated by an access token).
pub async fn find_live_user(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<Option<(User, ActiveOrg, ClientBinding)>> {
    #[derive(FromRow)]
    struct Live {
        #[sqlx(flatten)]
        user: User,
        #[sqlx(flatten)]
        org: ActiveOrg,
        #[sqlx(flatten)]
        binding: ClientBinding,
    }
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {USER_COLUMNS}, {ACTIVE_ORG_COLUMNS}, {CLIENT_BINDING_COLUMNS}
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = $1 AND s.user_id = $2"
        )
    });
    let live: Option<Live> = sqlx::query_as(&SQL)
        .bind(session_id)
        .bind(user_id)
        .fetch_optional(db)
        .await?;
    Ok(live.map(|l| (l.user, l.org, l.binding)))
}

/// Deletes a session of OAuth client `client_id`; `false` when it has none of that id.
pub async fn delete_of_client(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
    client_id: Uuid,
) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM sessions WHERE id = $1 AND oauth_client_id = $2")
        .bind(session_id)
        .bind(client_id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends every session of OAuth client `client_id`; the sessions ended.
pub async fn delete_for_client(
    db: impl PgExecutor<'_>,
    client_id: Uuid,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar("DELETE FROM sessions WHERE oauth_client_id = $1 RETURNING id")
        .bind(client_id)
        .fetch_all(db)
        .await
}

/// How many sessions there are (for the metrics).
pub async fn count(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM sessions")
        .fetch_one(db)
        .await
}

/// Deletes one session; returns how many rows went (0 or 1).
pub async fn delete(db: impl PgExecutor<'_>, session_id: Uuid) -> sqlx::Result<u64> {
    let r = sqlx::query("DELETE FROM sessions WHERE id = $1")
        .bind(session_id)
        .execute(db)
        .await?;
    Ok(r.rows_affected())
}

/// Deletes one session of `user_id` (none if it belongs to someone else); returns 0 or 1.
pub async fn delete_of_user(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<u64> {
    let r = sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
        .bind(session_id)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(r.rows_affected())
}

/// Age in seconds of session `session_id` of `user_id`, or `None` when it does not exist.
/// `lock` also locks the row until the end of the transaction.
pub async fn age_secs(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
    user_id: Uuid,
    lock: bool,
) -> sqlx::Result<Option<f64>> {
    let sql = if lock {
        "SELECT extract(epoch FROM now() - created_at)::float8 FROM sessions WHERE id = $1 AND user_id = $2 FOR UPDATE"
    } else {
        "SELECT extract(epoch FROM now() - created_at)::float8 FROM sessions WHERE id = $1 AND user_id = $2"
    };
    sqlx::query_scalar(sql)
        .bind(session_id)
        .bind(user_id)
        .fetch_optional(db)
        .await
}

/// Deletes the user's sessions, except `keep` if given.
pub async fn delete_for_user(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    keep: Option<Uuid>,
) -> sqlx::Result<u64> {
    let r =
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND ($2::uuid IS NULL OR id <> $2)")
            .bind(user_id)
            .bind(keep)
            .execute(db)
            .await?;
    Ok(r.rows_affected())
}

/// Deletes sessions that can no longer be refreshed; returns how many.
pub async fn prune_expired(
    db: impl PgExecutor<'_>,
    idle_secs: Option<f64>,
    max_secs: Option<f64>,
) -> sqlx::Result<u64> {
    let r = sqlx::query(
        "DELETE FROM sessions
         WHERE ($1::float8 IS NOT NULL AND refreshed_at < now() - make_interval(secs => $1))
            OR ($2::float8 IS NOT NULL AND created_at < now() - make_interval(secs => $2))",
    )
    .bind(idle_secs)
    .bind(max_secs)
    .execute(db)
    .await?;
    Ok(r.rows_affected())
}

#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct SessionInfo {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub refreshed_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

pub async fn list_for_user(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
) -> sqlx::Result<Vec<SessionInfo>> {
    sqlx::query_as(
        "SELECT id, user_id, created_at, refreshed_at, user_agent, ip FROM sessions
         WHERE user_id = $1 ORDER BY created_at",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}
