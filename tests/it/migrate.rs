//! Moving in from other auth servers: their schemas, written here from their documented table
//! definitions (Supabase Auth: GoTrue's migrations as of v2.196), filled the way each server
//! fills them, then imported and used as their users would.

mod supabase;

use sqlx::{postgres::PgPoolOptions, PgPool};

use crate::common;

/// The other server's database, beside the test's (both servers name their schema `auth`);
/// [`Source::drop_now`] removes it at the end of the test.
pub(crate) struct Source {
    pub pool: PgPool,
    name: String,
    admin: PgPool,
}

impl Source {
    pub(crate) async fn create(db: &PgPool, what: &str) -> Self {
        let ours: String = sqlx::query_scalar("SELECT current_database()")
            .fetch_one(db)
            .await
            .unwrap();
        // Identifiers end at 63 bytes: a short name made from the test's.
        let digest = <sha2::Sha256 as sha2::Digest>::digest(ours.as_bytes());
        let short: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let name = format!("source_{what}_{short}");
        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\""))
            .execute(db)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(db)
            .await
            .unwrap();
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(common::options(db).database(&name))
            .await
            .unwrap();
        Self {
            pool,
            name,
            admin: db.clone(),
        }
    }

    /// Closes and drops the database (a failed test leaves it behind, named after the test's).
    pub(crate) async fn drop_now(self) {
        self.pool.close().await;
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            self.name
        ))
        .execute(&self.admin)
        .await
        .unwrap();
    }
}
