//! Administration: the operations behind both the admin HTTP API and the CLI, so the two
//! behave the same. Every change is audited.
//!
//! `users.rs` creates, changes and deletes users; `factors.rs` lists and removes their second
//! factors; `metadata.rs` splits the roles out of
//! `app_metadata`; `ban.rs` reads ban durations; [`import`] brings users in from elsewhere.

mod ban;
mod factors;
pub mod import;
mod metadata;
pub mod migrate;
pub mod oauth_clients;
mod organizations;
mod users;

pub use ban::Ban;
pub use metadata::{split_app_metadata, AppMetadata};
pub use users::{NewUserInput, UserPatch};

use std::sync::Arc;

use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    api::{AdminSession, AuditEntry},
    auth::{password::PasswordHasher, session_cache::SessionCache},
    client::Client,
    config::Config,
    error::{Code, Error, Result},
    store::{
        self,
        audit::{self, event},
        users::User,
    },
};

/// Who acts: recorded in the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    /// `admin_api` or `cli`.
    pub via: &'static str,
    pub client: Client,
}

impl Actor {
    pub fn cli() -> Self {
        Self {
            via: "cli",
            client: Client::cli(),
        }
    }
}

/// The administration service.
#[derive(Clone, Debug)]
pub struct Admin {
    pub pool: PgPool,
    /// This instance's session cache, told at once of the changes made here.
    pub session_cache: Arc<SessionCache>,
    pub hasher: PasswordHasher,
    /// The settings (new users' roles).
    pub config: Arc<Config>,
}

/// Row offset of a 1-based page.
fn offset(page: u32, per_page: u32) -> i64 {
    i64::from(page.max(1) - 1) * i64::from(per_page)
}

impl Admin {
    /// Records an administrative event, with who did it.
    async fn record(
        &self,
        db: impl sqlx::PgExecutor<'_>,
        event: &str,
        user_id: Option<Uuid>,
        actor: &Actor,
        detail: Value,
    ) -> Result<()> {
        let mut detail = detail;
        detail["by"] = json!(actor.via);
        audit::record(db, event, user_id, None, &actor.client, detail).await?;
        Ok(())
    }

    pub async fn get_user(&self, id: Uuid) -> Result<User> {
        store::users::find_by_id(&self.pool, id)
            .await?
            .ok_or_else(Error::user_not_found)
    }

    /// A user by id or email (for the CLI).
    pub async fn find_user(&self, ident: &str) -> Result<User> {
        let found = match Uuid::parse_str(ident) {
            Ok(id) => store::users::find_by_id(&self.pool, id).await?,
            Err(_) => store::users::find_by_email(&self.pool, ident).await?,
        };
        found.ok_or_else(|| {
            Error::new(
                Code::UserNotFound,
                format!("no user with email or id {ident}"),
            )
        })
    }

    /// One page of users (1-based), newest first, with the total count.
    pub async fn list_users(&self, page: u32, per_page: u32) -> Result<(Vec<User>, i64)> {
        let users =
            store::users::list(&self.pool, i64::from(per_page), offset(page, per_page)).await?;
        let total = store::users::count(&self.pool).await?;
        Ok((users, total))
    }

    pub async fn list_sessions(&self, user_id: Uuid) -> Result<Vec<AdminSession>> {
        self.get_user(user_id).await?;
        let sessions = store::sessions::list_for_user(&self.pool, user_id).await?;
        Ok(sessions.into_iter().map(AdminSession::from).collect())
    }

    /// Revokes one session of the user, or all of them.
    pub async fn revoke_sessions(
        &self,
        user_id: Uuid,
        session_id: Option<Uuid>,
        actor: &Actor,
    ) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        let n = match session_id {
            Some(sid) => store::sessions::delete_of_user(&mut *tx, sid, user_id).await?,
            None => store::sessions::delete_for_user(&mut *tx, user_id, None).await?,
        };
        if session_id.is_some() && n == 0 {
            return Err(Error::no_such_session());
        }
        self.record(
            &mut *tx,
            event::ADMIN_SESSIONS_REVOKED,
            Some(user_id),
            actor,
            json!({"session_id": session_id, "sessions": n}),
        )
        .await?;
        tx.commit().await?;
        // The user's sessions are dropped here as a whole: one of them or all, alike.
        self.session_cache.user_changed(user_id);
        Ok(n)
    }

    /// One page of the audit log, newest first, optionally for one user.
    pub async fn audit_log(
        &self,
        page: u32,
        per_page: u32,
        user_id: Option<Uuid>,
    ) -> Result<(Vec<AuditEntry>, i64)> {
        let entries = store::audit::list(
            &self.pool,
            i64::from(per_page),
            offset(page, per_page),
            user_id,
        )
        .await?;
        let total = store::audit::count(&self.pool, user_id).await?;
        Ok((entries.into_iter().map(AuditEntry::from).collect(), total))
    }
}
