//! `PUT /user` (and the `changePassword` action): what a signed-in user may change about
//! themselves.
//!
//! A new password and a new address are account takeovers in the hands of whoever stole an
//! access token, so both need the user to show they are the user again: `current_password`,
//! a `nonce` from `GET /reauthenticate`, or a session signed in within the reauthentication
//! window. Metadata needs neither. An anonymous user has nothing to show (its session is its
//! only credential): it may add an address (with a password, or not), never a password
//! alone.

use serde_json::{json, Value};
use uuid::Uuid;

use super::{
    account::{merge_metadata, normalize_email, validate_metadata},
    email::{pkce::Challenge, EmailChangeOutcome},
    Auth,
};
use crate::{
    client::Client,
    error::{Code, Error, Result},
    secret::Secret,
    store::{
        self,
        audit::{self, event},
        users::User,
    },
};

/// What a signed-in user may change about themselves.
#[derive(Debug, Default)]
pub struct SelfUpdate {
    pub password: Option<Secret>,
    pub current_password: Option<Secret>,
    /// A reauthentication code (`GET /reauthenticate`), in place of `current_password`.
    pub nonce: Option<Secret>,
    /// Merged into `user_metadata` (see [`merge_metadata`]).
    pub data: Option<Value>,
    /// A new address: it changes once confirmed (see the email flows).
    pub email: Option<String>,
    /// Where the email-change links lead.
    pub redirect_to: Option<String>,
    /// A PKCE client's challenge, for the email-change links.
    pub challenge: Option<Challenge>,
}

impl SelfUpdate {
    /// Whether the change takes proof that the caller is the user (see the module).
    fn needs_reauthentication(&self) -> bool {
        self.password.is_some() || self.email.is_some()
    }
}

fn reauthentication_needed() -> Error {
    Error::new(
        Code::ReauthenticationNeeded,
        "Changing the password or the email address needs current_password (or a fresh sign-in)",
    )
}

impl Auth {
    /// Sets a new password and/or merges `data` into `user_metadata`, in one transaction, then
    /// asks for the confirmations of a new address. A new password signs out every session but
    /// the caller's. A password or address change needs `current_password` unless the caller's
    /// session was opened within the reauthentication window.
    pub async fn update_self(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        update: SelfUpdate,
        client: &Client,
    ) -> Result<User> {
        let data = validate_metadata(update.data.clone(), "data")?;
        if let Some(new) = &update.password {
            self.hasher.check_new(new.expose())?;
        }
        let new_email = update.email.as_deref().map(normalize_email).transpose()?;
        let proven = self
            .prove_it_is_them(user_id, session_id, &update, new_email.is_some(), client)
            .await?;
        let hash = match &update.password {
            Some(new) => Some(self.hasher.hash(new).await?),
            None => None,
        };
        let user = self
            .apply_self_update(user_id, session_id, proven, hash, data, client)
            .await?;
        let Some(new_email) = new_email else {
            return Ok(user);
        };
        let outcome = self
            .request_email_change(
                &user,
                &new_email,
                update.redirect_to.as_deref(),
                update.challenge.as_ref(),
                client,
            )
            .await?;
        Ok(match outcome {
            EmailChangeOutcome::Requested(user) | EmailChangeOutcome::Unchanged(user) => user,
        })
    }

    /// Checks what [`Self::update_self`] needs the caller to show (see the module): whether
    /// they showed it already (a current password, a nonce, or nothing to show); `false`
    /// leaves it to the session's age.
    async fn prove_it_is_them(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        update: &SelfUpdate,
        new_email: bool,
        client: &Client,
    ) -> Result<bool> {
        if !update.needs_reauthentication() {
            return Ok(true);
        }
        let user = store::users::find_by_id(&self.pool, user_id)
            .await?
            .ok_or_else(Error::session_not_found)?;
        if user.is_anonymous {
            if update.password.is_some() && !new_email {
                return Err(Error::validation_failed(
                    "Updating password of an anonymous user without an email or phone is not allowed",
                ));
            }
            return Ok(true);
        }
        self.require_step_up(
            &self.pool,
            user_id,
            Some(session_id),
            "change the password or email address",
        )
        .await?;
        // Refused before any hashing work when reauthentication is missing.
        match (&update.current_password, &update.nonce) {
            (Some(current), _) => {
                self.check_current_password(user_id, session_id, current, client)
                    .await?;
                Ok(true)
            }
            (None, Some(nonce)) => {
                self.check_nonce(&user, nonce.expose(), client).await?;
                Ok(true)
            }
            (None, None)
                if self
                    .session_is_recent(&self.pool, user_id, session_id, false)
                    .await? =>
            {
                Ok(false)
            }
            (None, None) => Err(reauthentication_needed()),
        }
    }

    /// The transaction of [`Self::update_self`]: the new password (`hash`) and metadata
    /// (`proven`: the caller showed who they are; else their session must still be recent).
    async fn apply_self_update(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        proven: bool,
        hash: Option<String>,
        data: Option<Value>,
        client: &Client,
    ) -> Result<User> {
        let mut tx = self.pool.begin().await?;
        // Lock the caller's session: it must still be live, and its age decides on
        // reauthentication (it may have aged while the password was hashed).
        let recent = self
            .session_is_recent(&mut *tx, user_id, session_id, true)
            .await?;
        if !proven && !recent {
            return Err(reauthentication_needed());
        }
        if let Some(hash) = &hash {
            store::passwords::set(&mut *tx, user_id, hash).await?;
            let n = store::sessions::delete_for_user(&mut *tx, user_id, Some(session_id)).await?;
            audit::record(
                &mut *tx,
                event::PASSWORD_CHANGED,
                Some(user_id),
                Some(session_id),
                client,
                json!({"other_sessions_revoked": n}),
            )
            .await?;
        }
        let user_gone = || Error::new(Code::UserNotFound, "User no longer exists");
        let user = match data {
            Some(patch) => {
                let current = store::users::find_by_id_for_update(&mut *tx, user_id)
                    .await?
                    .ok_or_else(user_gone)?;
                let merged = merge_metadata(&current.user_metadata, patch, "data")?;
                store::users::set_user_metadata(&mut *tx, user_id, &merged).await?
            }
            None => store::users::find_by_id(&mut *tx, user_id).await?,
        }
        .ok_or_else(user_gone)?;
        tx.commit().await?;
        self.session_cache.user_changed(user_id);
        Ok(user)
    }

    /// Verifies `current` against the user's password; a wrong one is audited and refused.
    async fn check_current_password(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        current: &Secret,
        client: &Client,
    ) -> Result<()> {
        // Guessing the current password with a stolen access token counts like sign-in
        // attempts: per client address, and towards the account's lockout.
        self.limits.sign_in.check(client).await?;
        let found = store::passwords::find_user_by_id(&self.pool, user_id).await?;
        let email = found
            .as_ref()
            .map(|f| f.user.email.clone())
            .unwrap_or_default();
        let failures = self.check_not_locked(&email).await?;
        let stored = found.as_ref().and_then(|f| f.password_hash.as_deref());
        if self.hasher.verify(current, stored).await?.ok {
            return self.note_successful_check(&email, failures).await;
        }
        self.note_failed_check(&email, Some(user_id), client)
            .await?;
        audit::record(
            &self.pool,
            event::PASSWORD_CHANGE_FAILED,
            Some(user_id),
            Some(session_id),
            client,
            json!({"reason": "wrong_current_password"}),
        )
        .await?;
        Err(Error::new(
            Code::InvalidCredentials,
            "current_password is wrong",
        ))
    }

    /// Whether the caller's session was opened within the reauthentication window; 401 when
    /// the session is gone. `lock` takes a row lock (inside a transaction).
    async fn session_is_recent(
        &self,
        db: impl sqlx::PgExecutor<'_>,
        user_id: Uuid,
        session_id: Uuid,
        lock: bool,
    ) -> Result<bool> {
        let age = store::sessions::age_secs(db, session_id, user_id, lock)
            .await?
            .ok_or_else(Error::session_not_found)?;
        Ok(age <= self.config.sessions.reauthentication_window.as_secs_f64())
    }
}
