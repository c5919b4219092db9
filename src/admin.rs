//! Administration: the operations behind both the admin HTTP API and the CLI, so the two
//! behave the same. Every change is audited; disabling, banning, deleting a user or setting
//! their password revokes all their sessions in the same transaction.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

use crate::{
    auth::{
        password::PasswordHasher,
        roles::validate_roles,
        sessions::{hash_new_password, normalize_email, validate_metadata, Client},
    },
    error::{Error, Result},
    secret::Secret,
    store::{
        self,
        audit::{self, event},
        users::{NewUser, User, USER_COLUMNS},
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
            client: Client {
                ip: None,
                user_agent: Some("hasura-jwt-auth cli".into()),
            },
        }
    }
}

/// `ban_duration`, as Supabase Auth names it: `none` lifts a ban, a duration bans until then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ban {
    Lift,
    For(Duration),
}

/// Longest ban accepted (a thousand years is "forever" for any account).
const MAX_BAN: Duration = Duration::from_secs(1000 * 365 * 86_400);

impl Ban {
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim() {
            "none" | "0" | "" => Ok(Self::Lift),
            other => {
                let d = crate::config::parse_duration(other).map_err(|e| {
                    Error::validation("validation_failed", format!("invalid ban_duration: {e}"))
                })?;
                if d > MAX_BAN {
                    return Err(Error::validation(
                        "validation_failed",
                        "ban_duration is at most 8760000h (1000 years)",
                    ));
                }
                Ok(Self::For(d))
            }
        }
    }

    /// When the ban ends (`None`: no ban).
    fn until(self) -> Option<DateTime<Utc>> {
        match self {
            Self::Lift => None,
            Self::For(d) => chrono::Duration::from_std(d.min(MAX_BAN))
                .ok()
                .and_then(|d| Utc::now().checked_add_signed(d)),
        }
    }
}

/// Merges `patch` into `current` key by key, as Supabase Auth does: a `null` removes the key.
fn merge_object(current: &Value, patch: Value) -> Value {
    let mut merged = match current {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    if let Value::Object(patch) = patch {
        for (k, v) in patch {
            if v.is_null() {
                merged.remove(&k);
            } else {
                merged.insert(k, v);
            }
        }
    }
    Value::Object(merged)
}

#[derive(Debug, Default)]
pub struct NewUserInput {
    pub email: String,
    pub password: Option<Secret>,
    pub user_metadata: Option<Value>,
    pub app_metadata: Option<Value>,
    pub enabled: bool,
    pub ban: Option<Ban>,
}

#[derive(Debug, Default)]
pub struct UserPatch {
    pub email: Option<String>,
    pub password: Option<Secret>,
    pub user_metadata: Option<Value>,
    pub app_metadata: Option<Value>,
    pub enabled: Option<bool>,
    pub ban: Option<Ban>,
}

/// Keys of `app_metadata` that are not stored as they are.
const COMPUTED_APP_METADATA: [&str; 4] = ["default_role", "allowed_roles", "provider", "providers"];

/// Splits `app_metadata` into roles and the rest; roles are validated against each other.
fn split_app_metadata(
    app_metadata: Option<&Value>,
    current_default: &str,
    current_allowed: &[String],
) -> Result<(String, Vec<String>, Option<Value>)> {
    let Some(app) = app_metadata else {
        return Ok((current_default.to_owned(), current_allowed.to_vec(), None));
    };
    let Value::Object(map) = app else {
        return Err(Error::validation(
            "validation_failed",
            "app_metadata must be a JSON object",
        ));
    };
    let default_role = match map.get("default_role") {
        None => current_default.to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(Error::validation(
                "validation_failed",
                "app_metadata.default_role must be a string",
            ))
        }
    };
    let allowed_roles = match map.get("allowed_roles") {
        None => current_allowed.to_vec(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                Error::validation(
                    "validation_failed",
                    "app_metadata.allowed_roles must be an array of strings",
                )
            })?,
        Some(_) => {
            return Err(Error::validation(
                "validation_failed",
                "app_metadata.allowed_roles must be an array of strings",
            ))
        }
    };
    validate_roles(&default_role, &allowed_roles)
        .map_err(|e| Error::validation("invalid_roles", e))?;
    let rest: Map<String, Value> = map
        .iter()
        .filter(|(k, _)| !COMPUTED_APP_METADATA.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok((default_role, allowed_roles, Some(Value::Object(rest))))
}

fn email_taken(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::Database(db) if db.constraint() == Some("users_email_key") => {
            Error::validation(
                "email_exists",
                "A user with this email address has already been registered",
            )
        }
        _ => e.into(),
    }
}

fn user_not_found() -> Error {
    Error::new(
        axum::http::StatusCode::NOT_FOUND,
        "user_not_found",
        "User not found",
    )
}

/// One audit-log entry.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub event: String,
    pub user_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Value,
}

/// The administration service.
#[derive(Clone, Debug)]
pub struct Admin {
    pub pool: PgPool,
    pub hasher: PasswordHasher,
    pub default_role: String,
    pub default_allowed_roles: Vec<String>,
}

impl Admin {
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

    /// Creates a user. Without a password the user cannot sign in until one is set.
    pub async fn create_user(&self, input: NewUserInput, actor: &Actor) -> Result<User> {
        let email = normalize_email(&input.email)?;
        let app_metadata = validate_metadata(input.app_metadata, "app_metadata")?;
        let (default_role, allowed_roles, app_rest) = split_app_metadata(
            app_metadata.as_ref(),
            &self.default_role,
            &self.default_allowed_roles,
        )?;
        let user_metadata =
            validate_metadata(input.user_metadata, "user_metadata")?.unwrap_or_else(|| json!({}));
        let hash = match &input.password {
            Some(pw) => Some(hash_new_password(&self.hasher, pw).await?),
            None => None,
        };
        let mut tx = self.pool.begin().await?;
        let new = NewUser {
            id: Uuid::new_v4(),
            email: &email,
            default_role: &default_role,
            allowed_roles: &allowed_roles,
            user_metadata: &user_metadata,
            app_metadata: &app_rest.unwrap_or_else(|| json!({})),
            enabled: input.enabled,
        };
        let user = store::users::insert(&mut *tx, &new)
            .await
            .map_err(email_taken)?
            .ok_or_else(|| {
                Error::validation(
                    "email_exists",
                    "A user with this email address has already been registered",
                )
            })?;
        if let Some(hash) = hash {
            store::users::set_password(&mut *tx, user.id, &hash).await?;
        }
        self.record(
            &mut *tx,
            event::ADMIN_USER_CREATED,
            Some(user.id),
            actor,
            json!({}),
        )
        .await?;
        let user = match input.ban.and_then(Ban::until) {
            None => user,
            Some(until) => {
                let sql = format!("UPDATE users AS u SET banned_until = $2 WHERE u.id = $1 RETURNING {USER_COLUMNS}");
                sqlx::query_as(&sql)
                    .bind(user.id)
                    .bind(until)
                    .fetch_one(&mut *tx)
                    .await?
            }
        };
        tx.commit().await?;
        Ok(user)
    }

    /// Updates a user. Disabling, banning or setting the password revokes all their sessions.
    pub async fn update_user(&self, id: Uuid, patch: UserPatch, actor: &Actor) -> Result<User> {
        let email = patch.email.as_deref().map(normalize_email).transpose()?;
        let user_metadata = validate_metadata(patch.user_metadata, "user_metadata")?;
        let app_metadata = validate_metadata(patch.app_metadata, "app_metadata")?;
        let hash = match &patch.password {
            Some(pw) => Some(hash_new_password(&self.hasher, pw).await?),
            None => None,
        };
        let mut tx = self.pool.begin().await?;
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1 FOR UPDATE");
        let current: User = sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(user_not_found)?;
        let (default_role, allowed_roles, app_rest) = split_app_metadata(
            app_metadata.as_ref(),
            &current.default_role,
            &current.allowed_roles,
        )?;
        // Both metadata objects merge key by key into what is stored.
        let app_rest = app_rest.map(|rest| merge_object(&current.app_metadata, rest));
        let merged_user_metadata = user_metadata
            .clone()
            .map(|m| merge_object(&current.user_metadata, m));
        let (set_ban, banned_until) = match patch.ban {
            None => (false, None),
            Some(ban) => (true, ban.until()),
        };
        let sql = format!(
            "UPDATE users AS u SET email = coalesce($2, u.email), default_role = $3, allowed_roles = $4,
                    user_metadata = coalesce($5, u.user_metadata), app_metadata = coalesce($6, u.app_metadata),
                    enabled = coalesce($7, u.enabled),
                    banned_until = CASE WHEN $8 THEN $9 ELSE u.banned_until END,
                    updated_at = now()
             WHERE u.id = $1 RETURNING {USER_COLUMNS}"
        );
        let user: User = sqlx::query_as(&sql)
            .bind(id)
            .bind(&email)
            .bind(&default_role)
            .bind(&allowed_roles)
            .bind(&merged_user_metadata)
            .bind(&app_rest)
            .bind(patch.enabled)
            .bind(set_ban)
            .bind(banned_until)
            .fetch_one(&mut *tx)
            .await
            .map_err(email_taken)?;
        if let Some(hash) = &hash {
            store::users::set_password(&mut *tx, id, hash).await?;
        }
        let deactivated = !user.is_active(Utc::now());
        let revoked = if deactivated || hash.is_some() {
            store::sessions::delete_for_user(&mut *tx, id, None).await?
        } else {
            0
        };
        let mut changed = Vec::new();
        for (name, set) in [
            ("email", email.is_some()),
            ("password", hash.is_some()),
            ("user_metadata", user_metadata.is_some()),
            ("app_metadata", app_metadata.is_some()),
            ("enabled", patch.enabled.is_some()),
            ("ban", set_ban),
        ] {
            if set {
                changed.push(name);
            }
        }
        self.record(
            &mut *tx,
            event::ADMIN_USER_UPDATED,
            Some(id),
            actor,
            json!({"changed": changed, "sessions_revoked": revoked}),
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Deletes a user; their sessions go with them.
    /// Deletes a user (their sessions go with them) and returns what was deleted.
    pub async fn delete_user(&self, id: Uuid, actor: &Actor) -> Result<User> {
        let mut tx = self.pool.begin().await?;
        let sql = format!("DELETE FROM users AS u WHERE u.id = $1 RETURNING {USER_COLUMNS}");
        let user: User = sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(user_not_found)?;
        self.record(
            &mut *tx,
            event::ADMIN_USER_DELETED,
            Some(id),
            actor,
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    pub async fn get_user(&self, id: Uuid) -> Result<User> {
        store::users::find_by_id(&self.pool, id)
            .await?
            .ok_or_else(user_not_found)
    }

    /// A user by id or email (for the CLI).
    pub async fn find_user(&self, ident: &str) -> Result<User> {
        let found = match Uuid::parse_str(ident) {
            Ok(id) => store::users::find_by_id(&self.pool, id).await?,
            Err(_) => store::users::find_by_email(&self.pool, ident).await?,
        };
        found.ok_or_else(|| {
            Error::new(
                axum::http::StatusCode::NOT_FOUND,
                "user_not_found",
                format!("no user with email or id {ident}"),
            )
        })
    }

    /// One page of users (1-based), oldest first, with the total count.
    pub async fn list_users(&self, page: u32, per_page: u32) -> Result<(Vec<User>, i64)> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u ORDER BY u.created_at, u.id LIMIT $1 OFFSET $2"
        );
        let offset = i64::from(page.max(1) - 1) * i64::from(per_page);
        let users = sqlx::query_as(&sql)
            .bind(i64::from(per_page))
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok((users, total))
    }

    pub async fn list_sessions(&self, user_id: Uuid) -> Result<Vec<store::sessions::SessionInfo>> {
        self.get_user(user_id).await?;
        Ok(store::sessions::list_for_user(&self.pool, user_id).await?)
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
            Some(sid) => sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
                .bind(sid)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
            None => store::sessions::delete_for_user(&mut *tx, user_id, None).await?,
        };
        if session_id.is_some() && n == 0 {
            return Err(Error::new(
                axum::http::StatusCode::NOT_FOUND,
                "session_not_found",
                "Session not found",
            ));
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
        Ok(n)
    }

    /// One page of the audit log, newest first, optionally for one user.
    pub async fn audit_log(
        &self,
        page: u32,
        per_page: u32,
        user_id: Option<Uuid>,
    ) -> Result<(Vec<AuditEntry>, i64)> {
        let offset = i64::from(page.max(1) - 1) * i64::from(per_page);
        let entries = sqlx::query_as(
            "SELECT id, created_at, event, user_id, session_id, ip, user_agent, detail FROM audit_log
             WHERE $3::uuid IS NULL OR user_id = $3 ORDER BY id DESC LIMIT $1 OFFSET $2",
        )
        .bind(i64::from(per_page))
        .bind(offset)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        let total: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM audit_log WHERE $1::uuid IS NULL OR user_id = $1",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?;
        Ok((entries, total))
    }
}

/// Deletes audit entries older than `retention`; returns how many.
pub async fn prune_audit_log(pool: &PgPool, retention: Duration) -> sqlx::Result<u64> {
    let r =
        sqlx::query("DELETE FROM audit_log WHERE created_at < now() - make_interval(secs => $1)")
            .bind(retention.as_secs_f64())
            .execute(pool)
            .await?;
    Ok(r.rows_affected())
}
