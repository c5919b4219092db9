//! `oauth_grants`: the consent a user gave an OAuth client (scopes and roles), remembered, and
//! the client's sessions that revoking it ends.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

/// A user's consent to a client, with what the user sees of the client.
#[derive(Debug, Clone, FromRow)]
pub struct Grant {
    pub user_id: Uuid,
    pub client_id: Uuid,
    pub scopes: Vec<String>,
    pub roles: Option<Vec<String>>,
    pub granted_at: DateTime<Utc>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
}

const COLUMNS: &str = "g.user_id, g.client_id, g.scopes, g.roles, g.granted_at, c.client_name,
     c.client_uri, c.logo_uri";

pub async fn find(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    client_id: Uuid,
) -> sqlx::Result<Option<Grant>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM oauth_grants g JOIN oauth_clients c ON c.id = g.client_id
         WHERE g.user_id = $1 AND g.client_id = $2"
    );
    sqlx::query_as(&sql)
        .bind(user_id)
        .bind(client_id)
        .fetch_optional(db)
        .await
}

/// Records consent: what was granted now, with what was granted before (scopes add up; the
/// roles are the client's current ones).
pub async fn upsert(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    client_id: Uuid,
    scopes: &[String],
    roles: Option<&[String]>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO oauth_grants (user_id, client_id, scopes, roles) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, client_id) DO UPDATE SET
             scopes = ARRAY(SELECT DISTINCT unnest(oauth_grants.scopes || EXCLUDED.scopes)
                            ORDER BY 1),
             roles = EXCLUDED.roles, updated_at = now()",
    )
    .bind(user_id)
    .bind(client_id)
    .bind(scopes)
    .bind(roles)
    .execute(db)
    .await?;
    Ok(())
}

/// The user's grants, newest first (`client`: only that client's).
pub async fn of_user(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    client: Option<Uuid>,
) -> sqlx::Result<Vec<Grant>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM oauth_grants g JOIN oauth_clients c ON c.id = g.client_id
         WHERE g.user_id = $1 AND ($2::uuid IS NULL OR g.client_id = $2)
         ORDER BY g.granted_at DESC, g.client_id"
    );
    sqlx::query_as(&sql)
        .bind(user_id)
        .bind(client)
        .fetch_all(db)
        .await
}

/// A client's grants, newest first, with their users' addresses.
pub async fn of_client(
    db: impl PgExecutor<'_>,
    client_id: Uuid,
) -> sqlx::Result<Vec<(Grant, String)>> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        grant: Grant,
        email: String,
    }
    let sql = format!(
        "SELECT {COLUMNS}, u.email FROM oauth_grants g JOIN oauth_clients c ON c.id = g.client_id
             JOIN users u ON u.id = g.user_id
         WHERE g.client_id = $1 ORDER BY g.granted_at DESC, g.user_id"
    );
    let rows: Vec<Row> = sqlx::query_as(&sql).bind(client_id).fetch_all(db).await?;
    Ok(rows.into_iter().map(|r| (r.grant, r.email)).collect())
}

/// Revokes the user's consent to the client and ends the client's sessions for the user (each
/// deletion notifies every instance, as a sign-out does). The sessions ended; `None` when
/// there was no consent.
pub async fn revoke(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    client_id: Uuid,
) -> sqlx::Result<Option<Vec<Uuid>>> {
    let (granted, ended): (bool, Vec<Uuid>) = sqlx::query_as(
        "WITH grant_gone AS (
             DELETE FROM oauth_grants WHERE user_id = $1 AND client_id = $2 RETURNING 1
         ), sessions_gone AS (
             DELETE FROM sessions WHERE user_id = $1 AND oauth_client_id = $2 RETURNING id
         )
         SELECT EXISTS (SELECT 1 FROM grant_gone),
                ARRAY(SELECT id FROM sessions_gone)",
    )
    .bind(user_id)
    .bind(client_id)
    .fetch_one(db)
    .await?;
    Ok(granted.then_some(ended))
}
