//! Creating, changing and deleting users. Disabling, banning, deleting a user or setting
//! their password revokes all their sessions in the same transaction.

use chrono::Utc;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{ban::Ban, metadata::split_app_metadata, Actor, Admin};
use crate::{
    auth::account::{merge_metadata, normalize_email, validate_metadata},
    error::{Code, ConstraintExt, Error, Result},
    secret::Secret,
    store::{
        self,
        audit::event,
        users::{NewUser, User, UserChanges},
    },
};

#[derive(Debug, Default)]
pub struct NewUserInput {
    pub email: String,
    pub password: Option<Secret>,
    pub user_metadata: Option<Value>,
    pub app_metadata: Option<Value>,
    pub enabled: bool,
    pub ban: Option<Ban>,
    /// The address counts as confirmed (auth-js's `email_confirm`).
    pub email_confirmed: bool,
}

#[derive(Debug, Default)]
pub struct UserPatch {
    pub email: Option<String>,
    pub password: Option<Secret>,
    pub user_metadata: Option<Value>,
    pub app_metadata: Option<Value>,
    pub enabled: Option<bool>,
    pub ban: Option<Ban>,
    /// `Some(true)`: mark the address confirmed.
    pub email_confirmed: Option<bool>,
}

impl UserPatch {
    /// The fields the patch sets, for the audit log.
    fn changed(&self) -> Vec<&'static str> {
        [
            ("email", self.email.is_some()),
            ("password", self.password.is_some()),
            ("user_metadata", self.user_metadata.is_some()),
            ("app_metadata", self.app_metadata.is_some()),
            ("enabled", self.enabled.is_some()),
            ("ban", self.ban.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }
}

fn email_exists() -> Error {
    Error::new(
        Code::EmailExists,
        "A user with this email address has already been registered",
    )
}

/// The unique index on `lower(email)`.
const EMAIL_KEY: &str = "users_email_key";

impl Admin {
    /// Creates a user. Without a password the user cannot sign in until one is set.
    pub async fn create_user(&self, input: NewUserInput, actor: &Actor) -> Result<User> {
        let email = normalize_email(&input.email)?;
        let app_metadata = validate_metadata(input.app_metadata, "app_metadata")?;
        let app = split_app_metadata(
            app_metadata.as_ref(),
            &self.config.accounts.default_role,
            &self.config.accounts.default_allowed_roles,
        )?;
        let user_metadata =
            validate_metadata(input.user_metadata, "user_metadata")?.unwrap_or_else(|| json!({}));
        let hash = match &input.password {
            Some(pw) => Some(self.hasher.hash_new(pw).await?),
            None => None,
        };
        let mut tx = self.pool.begin().await?;
        let new = NewUser {
            id: Uuid::new_v4(),
            email: &email,
            default_role: &app.default_role,
            allowed_roles: &app.allowed_roles,
            user_metadata: &user_metadata,
            app_metadata: &app.rest.unwrap_or_else(|| json!({})),
            enabled: input.enabled,
            email_confirmed: input.email_confirmed,
            // The administrator vouches for the address.
            email_verified: input.email_confirmed,
            invited: false,
        };
        let user = store::users::insert(&mut *tx, &new)
            .await
            .on_constraint(EMAIL_KEY, email_exists)?
            .ok_or_else(email_exists)?;
        if let Some(hash) = hash {
            store::passwords::set(&mut *tx, user.id, &hash).await?;
        }
        self.record(
            &mut *tx,
            event::ADMIN_USER_CREATED,
            Some(user.id),
            actor,
            json!({}),
        )
        .await?;
        let user = match input.ban.and_then(|b| b.until(Utc::now())) {
            None => user,
            Some(until) => store::users::set_banned_until(&mut *tx, user.id, until).await?,
        };
        tx.commit().await?;
        Ok(user)
    }

    /// Updates a user. Disabling, banning or setting the password revokes all their sessions.
    pub async fn update_user(&self, id: Uuid, patch: UserPatch, actor: &Actor) -> Result<User> {
        let changed = patch.changed();
        let email = patch.email.as_deref().map(normalize_email).transpose()?;
        let user_metadata = validate_metadata(patch.user_metadata, "user_metadata")?;
        let app_metadata = validate_metadata(patch.app_metadata, "app_metadata")?;
        let hash = match &patch.password {
            Some(pw) => Some(self.hasher.hash_new(pw).await?),
            None => None,
        };
        let mut tx = self.pool.begin().await?;
        let current = store::users::find_by_id_for_update(&mut *tx, id)
            .await?
            .ok_or_else(Error::user_not_found)?;
        let app = split_app_metadata(
            app_metadata.as_ref(),
            &current.default_role,
            &current.allowed_roles,
        )?;
        // Both metadata objects merge key by key into what is stored.
        let app_rest = app
            .rest
            .map(|rest| merge_metadata(&current.app_metadata, rest, "app_metadata"))
            .transpose()?;
        let merged_user_metadata = user_metadata
            .map(|m| merge_metadata(&current.user_metadata, m, "user_metadata"))
            .transpose()?;
        let changes = UserChanges {
            email: email.as_deref(),
            default_role: &app.default_role,
            allowed_roles: &app.allowed_roles,
            user_metadata: merged_user_metadata.as_ref(),
            app_metadata: app_rest.as_ref(),
            enabled: patch.enabled,
            banned_until: patch.ban.map(|ban| ban.until(Utc::now())),
            confirm_email: patch.email_confirmed == Some(true),
        };
        let user = store::users::update(&mut *tx, id, &changes)
            .await
            .on_constraint(EMAIL_KEY, email_exists)?;
        let roles_given = app_metadata
            .as_ref()
            .and_then(Value::as_object)
            .is_some_and(|m| m.contains_key("default_role") || m.contains_key("allowed_roles"));
        let user = self
            .convert_confirmed_anonymous(&mut tx, &current, user, roles_given, actor)
            .await?;
        let new_email = email.filter(|e| *e != current.email);
        let revoked = self
            .after_update(&mut tx, &user, new_email.is_some(), hash.as_deref())
            .await?;
        self.record(
            &mut *tx,
            event::ADMIN_USER_UPDATED,
            Some(id),
            actor,
            json!({"changed": changed, "sessions_revoked": revoked}),
        )
        .await?;
        tx.commit().await?;
        self.session_cache.user_changed(id);
        Ok(user)
    }

    /// An anonymous user given a confirmed address (`email_confirm`) becomes a full user,
    /// with the default roles unless the update named roles; audited.
    async fn convert_confirmed_anonymous(
        &self,
        tx: &mut sqlx::PgConnection,
        before: &User,
        user: User,
        roles_given: bool,
        actor: &Actor,
    ) -> Result<User> {
        if !before.is_anonymous || user.email.is_empty() || user.email_confirmed_at.is_none() {
            return Ok(user);
        }
        let accounts = &self.config.accounts;
        let (default_role, allowed_roles) = if roles_given {
            (user.default_role.clone(), user.allowed_roles.clone())
        } else {
            (
                accounts.default_role.clone(),
                accounts.default_allowed_roles.clone(),
            )
        };
        let converted =
            store::users::convert_anonymous(&mut *tx, user.id, &default_role, &allowed_roles, true)
                .await?
                .unwrap_or(user);
        let detail = json!({"by": "admin"});
        self.record(
            &mut *tx,
            event::ANONYMOUS_CONVERTED,
            Some(converted.id),
            actor,
            detail,
        )
        .await?;
        Ok(converted)
    }

    /// What an update brings about: the new password stored; with a new address, links
    /// and codes sent to the old one stop working; when the user can no longer sign in, or
    /// has a new password, their sessions end (returns how many).
    async fn after_update(
        &self,
        tx: &mut sqlx::PgConnection,
        user: &User,
        new_email: bool,
        hash: Option<&str>,
    ) -> Result<u64> {
        if let Some(hash) = hash {
            store::passwords::set(&mut *tx, user.id, hash).await?;
        }
        if new_email {
            store::one_time_tokens::delete_all_for_user(&mut *tx, user.id).await?;
        }
        if !user.is_active(Utc::now()) || hash.is_some() {
            return Ok(store::sessions::delete_for_user(&mut *tx, user.id, None).await?);
        }
        Ok(0)
    }

    /// Deletes a user (their sessions go with them) and returns what was deleted.
    pub async fn delete_user(&self, id: Uuid, actor: &Actor) -> Result<User> {
        let mut tx = self.pool.begin().await?;
        let user = store::users::delete(&mut *tx, id)
            .await?
            .ok_or_else(Error::user_not_found)?;
        self.record(
            &mut *tx,
            event::ADMIN_USER_DELETED,
            Some(id),
            actor,
            json!({}),
        )
        .await?;
        tx.commit().await?;
        self.session_cache.user_changed(id);
        Ok(user)
    }
}
