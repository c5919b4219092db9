//! `oauth_clients`: the third-party applications that sign users in through this server.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgExecutor};
use uuid::Uuid;

/// A client as administrators see it (never its secret's hash).
#[derive(Debug, Clone, FromRow)]
pub struct OAuthClient {
    pub id: Uuid,
    pub client_type: String,
    pub token_endpoint_auth_method: String,
    pub registration_type: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    /// The Hasura roles its tokens may carry, at most (`None`: the user's default role).
    pub allowed_roles: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, client_type, token_endpoint_auth_method, registration_type,
     redirect_uris, grant_types, client_name, client_uri, logo_uri, allowed_roles, created_at,
     updated_at";

/// What a client is made of.
pub struct NewClient<'a> {
    pub client_type: &'a str,
    pub token_endpoint_auth_method: &'a str,
    pub secret_hash: Option<&'a [u8]>,
    pub registration_type: &'a str,
    pub redirect_uris: &'a [String],
    pub grant_types: &'a [String],
    pub client_name: Option<&'a str>,
    pub client_uri: Option<&'a str>,
    pub logo_uri: Option<&'a str>,
    pub allowed_roles: Option<&'a [String]>,
}

pub async fn insert(db: impl PgExecutor<'_>, new: &NewClient<'_>) -> sqlx::Result<OAuthClient> {
    let sql = format!(
        "INSERT INTO oauth_clients (client_type, token_endpoint_auth_method, secret_hash,
             registration_type, redirect_uris, grant_types, client_name, client_uri, logo_uri,
             allowed_roles)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         RETURNING {COLUMNS}"
    );
    sqlx::query_as(&sql)
        .bind(new.client_type)
        .bind(new.token_endpoint_auth_method)
        .bind(new.secret_hash)
        .bind(new.registration_type)
        .bind(new.redirect_uris)
        .bind(new.grant_types)
        .bind(new.client_name)
        .bind(new.client_uri)
        .bind(new.logo_uri)
        .bind(new.allowed_roles)
        .fetch_one(db)
        .await
}

/// Every client, newest first.
pub async fn all(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<OAuthClient>> {
    let sql = format!("SELECT {COLUMNS} FROM oauth_clients ORDER BY created_at DESC, id");
    sqlx::query_as(&sql).fetch_all(db).await
}

pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<OAuthClient>> {
    let sql = format!("SELECT {COLUMNS} FROM oauth_clients WHERE id = $1");
    sqlx::query_as(&sql).bind(id).fetch_optional(db).await
}

/// What an update changes: `None` leaves a field; an empty name or URI clears it.
#[derive(Default)]
pub struct Patch<'a> {
    pub redirect_uris: Option<&'a [String]>,
    pub grant_types: Option<&'a [String]>,
    pub client_name: Option<&'a str>,
    pub client_uri: Option<&'a str>,
    pub logo_uri: Option<&'a str>,
    pub token_endpoint_auth_method: Option<&'a str>,
    /// An empty list clears them (back to the user's default role).
    pub allowed_roles: Option<&'a [String]>,
}

pub async fn update(
    db: impl PgExecutor<'_>,
    id: Uuid,
    patch: &Patch<'_>,
) -> sqlx::Result<Option<OAuthClient>> {
    let sql = format!(
        "UPDATE oauth_clients SET
             redirect_uris = coalesce($2, redirect_uris),
             grant_types = coalesce($3, grant_types),
             client_name = CASE WHEN $4::text IS NULL THEN client_name ELSE nullif($4, '') END,
             client_uri = CASE WHEN $5::text IS NULL THEN client_uri ELSE nullif($5, '') END,
             logo_uri = CASE WHEN $6::text IS NULL THEN logo_uri ELSE nullif($6, '') END,
             token_endpoint_auth_method = coalesce($7, token_endpoint_auth_method),
             allowed_roles = CASE WHEN $8::text[] IS NULL THEN allowed_roles
                                  ELSE nullif($8, '{{}}'::text[]) END,
             updated_at = now()
         WHERE id = $1
         RETURNING {COLUMNS}"
    );
    sqlx::query_as(&sql)
        .bind(id)
        .bind(patch.redirect_uris)
        .bind(patch.grant_types)
        .bind(patch.client_name)
        .bind(patch.client_uri)
        .bind(patch.logo_uri)
        .bind(patch.token_endpoint_auth_method)
        .bind(patch.allowed_roles)
        .fetch_optional(db)
        .await
}

/// Replaces a confidential client's secret; `None` when there is no such confidential client.
pub async fn set_secret(
    db: impl PgExecutor<'_>,
    id: Uuid,
    secret_hash: &[u8],
) -> sqlx::Result<Option<OAuthClient>> {
    let sql = format!(
        "UPDATE oauth_clients SET secret_hash = $2, updated_at = now()
         WHERE id = $1 AND client_type = 'confidential'
         RETURNING {COLUMNS}"
    );
    sqlx::query_as(&sql)
        .bind(id)
        .bind(secret_hash)
        .fetch_optional(db)
        .await
}

/// Deletes a client; `false` when there is none.
pub async fn delete(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM oauth_clients WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The client with its secret's hash (`None` for a public client), to authenticate it.
pub async fn find_with_secret(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> sqlx::Result<Option<(OAuthClient, Option<Vec<u8>>)>> {
    #[derive(FromRow)]
    struct Row {
        #[sqlx(flatten)]
        client: OAuthClient,
        secret_hash: Option<Vec<u8>>,
    }
    let sql = format!("SELECT {COLUMNS}, secret_hash FROM oauth_clients WHERE id = $1");
    let row: Option<Row> = sqlx::query_as(&sql).bind(id).fetch_optional(db).await?;
    Ok(row.map(|r| (r.client, r.secret_hash)))
}
