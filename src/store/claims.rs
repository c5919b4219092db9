//! Custom claims: the operator's `AUTH_CUSTOM_CLAIMS_SQL`, checked at start-up and run at
//! every sign-in and refresh.

use serde_json::Value;
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

/// Runs the custom-claims query for `user_id`: its one JSON value, or `None` for no row.
pub async fn custom_claims(
    db: impl PgExecutor<'_>,
    sql: &str,
    user_id: Uuid,
) -> sqlx::Result<Option<Value>> {
    sqlx::query_scalar(sql)
        .bind(user_id)
        .fetch_optional(db)
        .await
}

/// Checks `AUTH_CUSTOM_CLAIMS_SQL` at start-up: it must prepare, take one parameter (the user
/// id) and return one column. Nothing is executed.
pub async fn check_custom_claims_sql(pool: &PgPool, sql: &str) -> anyhow::Result<()> {
    use sqlx::{Column as _, Executor as _, TypeInfo as _};
    let described = pool
        .describe(sql)
        .await
        .map_err(|e| anyhow::anyhow!("AUTH_CUSTOM_CLAIMS_SQL is not valid SQL here: {e}"))?;
    let parameters = match described.parameters() {
        Some(sqlx::Either::Left(types)) => types.len(),
        Some(sqlx::Either::Right(n)) => n,
        None => 0,
    };
    anyhow::ensure!(
        parameters == 1,
        "AUTH_CUSTOM_CLAIMS_SQL must take the user id as $1 (and no other parameter), it takes {parameters}"
    );
    let columns = described.columns();
    anyhow::ensure!(
        columns.len() == 1,
        "AUTH_CUSTOM_CLAIMS_SQL must return one column (a JSON object of claims), it returns {}: {:?}",
        columns.len(),
        columns.iter().map(|c| c.name()).collect::<Vec<_>>()
    );
    if let Some(column) = columns.first() {
        let ty = column.type_info().name().to_ascii_uppercase();
        anyhow::ensure!(
            ty == "JSON" || ty == "JSONB",
            "AUTH_CUSTOM_CLAIMS_SQL must return json or jsonb (one object of claims), it returns {ty}"
        );
    }
    Ok(())
}
