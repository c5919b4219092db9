//! Invitations: an account for an address, without a password, and the message that lets its
//! owner in (`POST /invite`, `hasura-jwt-auth user invite`). Accepting it proves the address
//! and signs in; the user then sets a password.

use serde_json::{json, Value};
use uuid::Uuid;

use super::{TokenKind, TokenRequest};
use crate::{
    auth::{
        account::{normalize_email, validate_metadata},
        Auth,
    },
    client::Client,
    error::{Code, Error, Result},
    store::{
        self,
        audit::{self, event},
        users::{NewUser, User},
    },
};

/// 422 `email_exists`.
pub(super) fn email_exists() -> Error {
    Error::new(
        Code::EmailExists,
        "A user with this email address has already been registered",
    )
}

impl Auth {
    /// A new account that has not confirmed its address, inside `tx`; `None` if the address
    /// is taken.
    pub(super) async fn insert_unconfirmed(
        &self,
        tx: &mut sqlx::PgConnection,
        email: &str,
        data: Option<Value>,
        invited: bool,
    ) -> Result<Option<User>> {
        let metadata = validate_metadata(data, "data")?.unwrap_or_else(|| json!({}));
        let new = NewUser {
            id: Uuid::new_v4(),
            email,
            default_role: &self.config.accounts.default_role,
            allowed_roles: &self.config.accounts.default_allowed_roles,
            user_metadata: &metadata,
            app_metadata: &json!({}),
            enabled: true,
            email_confirmed: false,
            email_verified: false,
            invited,
        };
        Ok(store::users::insert(&mut *tx, &new).await?)
    }

    /// `POST /invite`: an account for `email` without a password, and the invitation message.
    /// Accepting it confirms the address and signs in; the user then sets a password.
    pub async fn invite(
        &self,
        email: &str,
        data: Option<Value>,
        redirect_to: Option<&str>,
        client: &Client,
    ) -> Result<User> {
        let email = normalize_email(email)?;
        self.reserve_send(&email).await?;
        let mut tx = self.pool.begin().await?;
        let user = match store::users::find_by_email(&mut *tx, &email).await? {
            Some(u) if u.email_confirmed_at.is_some() => return Err(email_exists()),
            Some(u) => u,
            None => self
                .insert_unconfirmed(&mut tx, &email, data, true)
                .await?
                .ok_or_else(email_exists)?,
        };
        let token = TokenRequest::to_user(&user, TokenKind::Invite, redirect_to, None);
        self.issue_token(&mut tx, token, true).await?;
        audit::record(
            &mut *tx,
            event::USER_INVITED,
            Some(user.id),
            None,
            client,
            json!({}),
        )
        .await?;
        tx.commit().await?;
        self.mailer.wake();
        Ok(user)
    }
}
