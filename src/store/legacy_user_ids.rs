//! `legacy_user_ids`: the id each imported user had in the system it came from (the PL/pgSQL
//! hasura-jwt-auth, or the source named at a file import), so app tables that referenced the
//! old ids can be migrated and an import can be re-run without duplicates.

use sqlx::PgExecutor;
use uuid::Uuid;

/// The user imported from `source` with old id `legacy_id`, if any.
pub async fn find(
    db: impl PgExecutor<'_>,
    source: &str,
    legacy_id: &str,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT user_id FROM legacy_user_ids WHERE source = $1 AND legacy_id = $2")
        .bind(source)
        .bind(legacy_id)
        .fetch_optional(db)
        .await
}

pub async fn insert(
    db: impl PgExecutor<'_>,
    source: &str,
    legacy_id: &str,
    user_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO legacy_user_ids (source, legacy_id, user_id) VALUES ($1, $2, $3)")
        .bind(source)
        .bind(legacy_id)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}
