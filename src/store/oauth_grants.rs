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
    pub roles: Vec<String>,
    /// The resources (RFC 8707) its tokens may be for.
    pub resources: Vec<String>,
    pub granted_at: DateTime<Utc>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
}

const COLUMNS: &str =
    "g.user_id, g.client_id, g.scopes, g.roles, g.resources, g.granted_at, c.client_name,
     c.client_uri, c.logo_uri";

/// The user's grant to the client, share-locked for the caller's transaction (a revocation
/// waits for it).
pub async fn find(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    client_id: Uuid,
) -> sqlx::Result<Option<Grant>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM oauth_grants g JOIN oauth_clients c ON c.id = g.client_id
         WHERE g.user_id = $1 AND g.client_id = $2 FOR SHARE OF g"
    );
    sqlx::query_as(&sql)
        .bind(user_id)
        .bind(client_id)
        .fetch_optional(db)
        .await
}

/// What a consent grants.
pub struct Consent<'a> {
    pub scopes: &'a [String],
    pub roles: &'a [String],
    pub resource: Option<&'a str>,
}

/// Records consent: what was granted now, with what was granted before (scopes and resources
/// add up; the roles are those just granted).
pub async fn upsert(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    client_id: Uuid,
    consent: &Consent<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO oauth_grants (user_id, client_id, scopes, roles, resources)
         VALUES ($1, $2, $3, $4, array_remove(ARRAY[$5::text], NULL))
         ON CONFLICT (user_id, client_id) DO UPDATE SET
             scopes = ARRAY(SELECT DISTINCT unnest(oauth_grants.scopes || EXCLUDED.scopes)
                            ORDER BY 1),
             resources = ARRAY(SELECT DISTINCT unnest(oauth_grants.resources
                                                      || EXCLUDED.resources) ORDER BY 1),
             roles = EXCLUDED.roles, updated_at = now()",
    )
    .bind(user_id)
    .bind(client_id)
    .bind(consent.scopes)
    .bind(consent.roles)
    .bind(consent.resource)
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
/// deletion notifies every instance, as a sign-out does), in the caller's transaction. The
/// sessions ended; `None` when there was no consent. Two statements: the grant first (which
/// waits for a code exchange holding it), then the sessions as they are after that.
pub async fn revoke(
    db: &mut sqlx::PgConnection,
    user_id: Uuid,
    client_id: Uuid,
) -> sqlx::Result<Option<Vec<Uuid>>> {
    let gone = sqlx::query("DELETE FROM oauth_grants WHERE user_id = $1 AND client_id = $2")
        .bind(user_id)
        .bind(client_id)
        .execute(&mut *db)
        .await?;
    if gone.rows_affected() == 0 {
        return Ok(None);
    }
    let ended = sqlx::query_scalar(
        "DELETE FROM sessions WHERE user_id = $1 AND oauth_client_id = $2 RETURNING id",
    )
    .bind(user_id)
    .bind(client_id)
    .fetch_all(&mut *db)
    .await?;
    Ok(Some(ended))
}
