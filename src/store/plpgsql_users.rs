//! Reading the `hasura_user` table of the PL/pgSQL hasura-jwt-auth (in the database it lives
//! in, which may not be ours), for `import hasura-jwt-auth`.

use sqlx::{FromRow, PgPool};

/// One row of `hasura_user`, every column as text (or as the boolean it is).
#[derive(FromRow)]
pub struct PlpgsqlUser {
    pub legacy_id: String,
    pub email: Option<String>,
    pub crypt_password: Option<String>,
    pub default_role: Option<String>,
    /// A JSON array of role names, as text.
    pub allowed_roles: Option<String>,
    pub enabled: Option<bool>,
}

impl std::fmt::Debug for PlpgsqlUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlpgsqlUser")
            .field("legacy_id", &self.legacy_id)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// Whether `table` is a plain (optionally schema-qualified) table name, safe to put in SQL.
pub fn is_table_name(table: &str) -> bool {
    !table.is_empty()
        && table.split('.').count() <= 2
        && table
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

/// Every row of `table` (checked with [`is_table_name`] first), in id order.
pub async fn read_all(source: &PgPool, table: &str) -> anyhow::Result<Vec<PlpgsqlUser>> {
    anyhow::ensure!(
        is_table_name(table),
        "--table must be a table name such as hasura_user or public.hasura_user"
    );
    let quoted: Vec<String> = table.split('.').map(|p| format!("\"{p}\"")).collect();
    let sql = format!(
        "SELECT id::text AS legacy_id, email::text AS email, crypt_password::text AS crypt_password,
                default_role::text AS default_role, allowed_roles::text AS allowed_roles, enabled
         FROM {} ORDER BY id",
        quoted.join(".")
    );
    use anyhow::Context as _;
    sqlx::query_as(&sql)
        .fetch_all(source)
        .await
        .with_context(|| {
            format!(
                "cannot read {table} (expected the hasura-jwt-auth columns id, email, \
             crypt_password, default_role, allowed_roles, enabled)"
            )
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_names_are_plain_identifiers() {
        assert!(super::is_table_name("hasura_user"));
        assert!(super::is_table_name("public.hasura_user"));
        assert!(!super::is_table_name("a.b.c"));
        assert!(!super::is_table_name("x; drop table y"));
        assert!(!super::is_table_name(""));
    }
}
