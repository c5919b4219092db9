//! The one-statement refresh (see `auth::refresh`): a current token checked and rotated, and
//! the user returned, in one statement, alone or for several sessions at once.

use std::sync::LazyLock;

use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

use crate::{
    client::Client,
    store::{
        organizations::{ActiveOrg, ACTIVE_ORG_COLUMNS},
        users::{User, USER_COLUMNS},
    },
};

/// A session's user with the session's assurance: its level (1 or 2) and its `amr` entries
/// (`[{method, timestamp}]`, newest first), as its tokens carry them.
#[derive(FromRow)]
pub struct SessionUser {
    #[sqlx(flatten)]
    pub user: User,
    pub aal: i16,
    pub amr: serde_json::Value,
    #[sqlx(flatten)]
    pub org: ActiveOrg,
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
/// session to find out why. A compare-and-set like [`super::rotate`]: of racing requests one wins.
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
             RETURNING {USER_COLUMNS}, s.aal, s.amr, {ACTIVE_ORG_COLUMNS}"
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
             RETURNING r.n, s.id AS rotated, {USER_COLUMNS}, s.aal, s.amr, {ACTIVE_ORG_COLUMNS}"
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
