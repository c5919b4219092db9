//! `sessions`: one row per sign-in, holding only the hash of the current refresh token.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use super::users::{User, USER_COLUMNS};
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

/// A session's user with the session's assurance: its level (1 or 2) and its `amr` entries
/// (`[{method, timestamp}]`, newest first), as its tokens carry them.
#[derive(FromRow)]
pub struct SessionUser {
    #[sqlx(flatten)]
    pub user: User,
    pub aal: i16,
    pub amr: serde_json::Value,
}

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
    pub db_now: DateTime<Utc>,
}

pub async fn find_for_refresh(
    db: impl PgExecutor<'_>,
    session_id: Uuid,
) -> sqlx::Result<Option<RefreshRow>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {USER_COLUMNS}, s.id AS session_id, s.token_counter, s.token_hash,
                    s.token_salt, s.rotated_at, s.prev_rotated_at,
                    s.created_at AS session_created_at, s.refreshed_at, s.aal, s.amr,
                    now() AS db_now
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = $1"
        )
    });
    sqlx::query_as(&SQL)
        .bind(session_id)
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

/// The one-statement refresh: what [`rotate_current`] checks and writes.
pub struct CurrentRotation<'a> {
    pub session_id: Uuid,
    /// The presented token's counter and hash: it must be the session's current token.
    pub counter: i64,
    pub hash: &'a [u8],
    pub new_hash: &'a [u8],
    pub client: &'a Client,
}

/// The session lifetimes a rotation checks (the server's settings, the same for every
/// refresh).
#[derive(Clone, Copy, Debug)]
pub struct Lifetimes {
    /// The session must have been used within this many seconds (`None`: no limit).
    pub idle_secs: Option<f64>,
    /// The session must be younger than this many seconds (`None`: no limit).
    pub max_secs: Option<f64>,
}

impl From<&crate::config::SessionArgs> for Lifetimes {
    fn from(sessions: &crate::config::SessionArgs) -> Self {
        Self {
            idle_secs: sessions.session_idle_timeout.0.map(|d| d.as_secs_f64()),
            max_secs: sessions.session_max_lifetime.0.map(|d| d.as_secs_f64()),
        }
    }
}

/// Rotates the session's token in one statement, if the presented token is its current one
/// (counter and hash), the session is within its lifetimes and its user is active (enabled,
/// not banned: the same rule as [`User::is_active`], on the database's clock). Returns the
/// user, or `None` when any condition fails: then nothing changed, and the caller reads the
/// session to find out why. A compare-and-set like [`rotate`]: of racing requests one wins.
pub async fn rotate_current(
    db: impl PgExecutor<'_>,
    r: &CurrentRotation<'_>,
    lifetimes: Lifetimes,
) -> sqlx::Result<Option<SessionUser>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "UPDATE sessions s
             SET token_counter = s.token_counter + 1, token_hash = $4,
                 prev_rotated_at = s.rotated_at, rotated_at = now(), refreshed_at = now(),
                 user_agent = coalesce($5, s.user_agent), ip = coalesce($6, s.ip)
             FROM users u
             WHERE s.id = $1 AND s.token_counter = $2 AND s.token_hash = $3 AND u.id = s.user_id
               AND ($7::float8 IS NULL OR s.refreshed_at >= now() - make_interval(secs => $7))
               AND ($8::float8 IS NULL OR s.created_at >= now() - make_interval(secs => $8))
               AND u.enabled AND (u.banned_until IS NULL OR u.banned_until <= now())
             RETURNING {USER_COLUMNS}, s.aal, s.amr"
        )
    });
    sqlx::query_as(&SQL)
        .bind(r.session_id)
        .bind(r.counter)
        .bind(r.hash)
        .bind(r.new_hash)
        .bind(&r.client.user_agent)
        .bind(&r.client.ip)
        .bind(lifetimes.idle_secs)
        .bind(lifetimes.max_secs)
        .fetch_optional(db)
        .await
}

/// [`rotate_current`] for several sessions in one statement and one transaction (refreshes
/// that arrived together, see `auth::refresh::batch`): each row is checked and rotated as
/// [`rotate_current`] would, independently of the others. Returns the users of the rotations
/// that happened, with their index in `rs`; an index missing means that rotation changed
/// nothing. When one session appears twice, at most one of them rotates.
///
/// A session row that another transaction has locked is skipped (`SKIP LOCKED`), so the
/// statement never waits on a lock: it cannot be held up by, or deadlock with, a revocation
/// or another statement of this kind carrying the same sessions. A skipped rotation is
/// reported as not having happened, and its caller takes the slow path alone.
pub async fn rotate_current_many(
    db: impl PgExecutor<'_>,
    rs: &[CurrentRotation<'_>],
    lifetimes: Lifetimes,
) -> sqlx::Result<Vec<(usize, SessionUser)>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "WITH free AS (SELECT id FROM sessions WHERE id = ANY($1) FOR NO KEY UPDATE SKIP LOCKED)
             UPDATE sessions s
             SET token_counter = s.token_counter + 1, token_hash = r.new_hash,
                 prev_rotated_at = s.rotated_at, rotated_at = now(), refreshed_at = now(),
                 user_agent = coalesce(r.user_agent, s.user_agent), ip = coalesce(r.ip, s.ip)
             FROM free f, users u,
                  unnest($1::uuid[], $2::int8[], $3::bytea[], $4::bytea[], $5::text[], $6::text[])
                      WITH ORDINALITY AS r(id, counter, hash, new_hash, user_agent, ip, n)
             WHERE s.id = f.id AND s.id = r.id
               AND s.token_counter = r.counter AND s.token_hash = r.hash
               AND u.id = s.user_id
               AND ($7::float8 IS NULL OR s.refreshed_at >= now() - make_interval(secs => $7))
               AND ($8::float8 IS NULL OR s.created_at >= now() - make_interval(secs => $8))
               AND u.enabled AND (u.banned_until IS NULL OR u.banned_until <= now())
             RETURNING r.n, s.id AS rotated, {USER_COLUMNS}, s.aal, s.amr"
        )
    });
    #[derive(FromRow)]
    struct Rotated {
        n: i64,
        rotated: Uuid,
        #[sqlx(flatten)]
        session: SessionUser,
    }
    if rs.is_empty() {
        return Ok(Vec::new());
    }
    let rotated: Vec<Rotated> = sqlx::query_as(&SQL)
        .bind(rs.iter().map(|r| r.session_id).collect::<Vec<_>>())
        .bind(rs.iter().map(|r| r.counter).collect::<Vec<_>>())
        .bind(rs.iter().map(|r| r.hash).collect::<Vec<_>>())
        .bind(rs.iter().map(|r| r.new_hash).collect::<Vec<_>>())
        .bind(
            rs.iter()
                .map(|r| r.client.user_agent.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(
            rs.iter()
                .map(|r| r.client.ip.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(lifetimes.idle_secs)
        .bind(lifetimes.max_secs)
        .fetch_all(db)
        .await?;
    // `n` counts from 1; each row must be the session its index names.
    Ok(rotated
        .into_iter()
        .filter_map(|r| {
            let i = usize::try_from(r.n - 1).ok()?;
            (rs.get(i)?.session_id == r.rotated).then_some((i, r.session))
        })
        .collect())
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
) -> sqlx::Result<Option<User>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {USER_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = $1 AND s.user_id = $2"
        )
    });
    sqlx::query_as(&SQL)
        .bind(session_id)
        .bind(user_id)
        .fetch_optional(db)
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
