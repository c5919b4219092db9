//! Administrators' side of the email flows: `generate_link` (a link and code for a user,
//! without sending anything: the administrator delivers it) and invitations.

use serde_json::{json, Value};
use uuid::Uuid;

use super::{IssuedToken, TokenKind, TokenRequest};
use crate::{
    auth::{
        account::{normalize_email, validate_metadata},
        Auth,
    },
    client::Client,
    error::{code, Error, Result},
    secret::Secret,
    store::{
        self,
        audit::{self, event},
        users::{NewUser, User},
    },
};

/// `POST /admin/generate_link`.
#[derive(Debug, Default)]
pub struct LinkRequest {
    /// `signup`, `invite`, `magiclink`, `recovery`, `email_change_current`, `email_change_new`.
    pub link_type: String,
    pub email: String,
    /// `signup`: the new account's password.
    pub password: Option<Secret>,
    /// `signup`, `invite`: `user_metadata` of a new account.
    pub data: Option<Value>,
    /// `email_change_*`: the new address.
    pub new_email: Option<String>,
    pub redirect_to: Option<String>,
}

fn email_exists() -> Error {
    Error::validation(
        code::EMAIL_EXISTS,
        "A user with this email address has already been registered",
    )
}

impl Auth {
    /// A new account that has not confirmed its address, inside `tx`; `None` if the address
    /// is taken.
    async fn insert_unconfirmed(
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
            default_role: &self.policy.default_role,
            allowed_roles: &self.policy.default_allowed_roles,
            user_metadata: &metadata,
            app_metadata: &json!({}),
            enabled: true,
            email_confirmed: false,
            email_verified: false,
            invited,
        };
        Ok(store::users::insert(&mut *tx, &new).await?)
    }

    /// Creates the token an administrator asked for and returns it with its user; nothing is
    /// sent.
    pub async fn generate_link(&self, req: LinkRequest) -> Result<(User, IssuedToken)> {
        let email = normalize_email(&req.email)?;
        let mut tx = self.pool.begin().await?;
        let existing = store::users::find_by_email(&mut *tx, &email).await?;
        let (user, kind, recipient) = match req.link_type.as_str() {
            "signup" => {
                let password = req
                    .password
                    .ok_or_else(|| Error::invalid("password is required for a signup link"))?;
                let hash = self.hasher.hash_new(&password).await?;
                let user = match existing {
                    Some(_) => return Err(email_exists()),
                    None => self
                        .insert_unconfirmed(&mut tx, &email, req.data, false)
                        .await?
                        .ok_or_else(email_exists)?,
                };
                store::passwords::set(&mut *tx, user.id, &hash).await?;
                (user, TokenKind::Confirmation, email.clone())
            }
            "invite" => {
                let user = match existing {
                    Some(u) if u.email_confirmed_at.is_some() => return Err(email_exists()),
                    Some(u) => u,
                    None => self
                        .insert_unconfirmed(&mut tx, &email, req.data, true)
                        .await?
                        .ok_or_else(email_exists)?,
                };
                (user, TokenKind::Invite, email.clone())
            }
            "magiclink" | "recovery" => {
                let user = existing.ok_or_else(Error::user_not_found)?;
                let kind = if req.link_type == "recovery" {
                    TokenKind::Recovery
                } else {
                    TokenKind::MagicLink
                };
                (user, kind, email.clone())
            }
            "email_change_current" | "email_change_new" => {
                let user = existing.ok_or_else(Error::user_not_found)?;
                let new_email = normalize_email(
                    req.new_email
                        .as_deref()
                        .ok_or_else(|| Error::invalid("new_email is required"))?,
                )?;
                if store::users::find_by_email(&mut *tx, &new_email)
                    .await?
                    .is_some()
                {
                    return Err(email_exists());
                }
                store::users::set_email_change(&mut *tx, user.id, Some(&new_email)).await?;
                let user = User {
                    email_change: Some(new_email.clone()),
                    ..user
                };
                if req.link_type == "email_change_new" {
                    (user, TokenKind::EmailChangeNew, new_email)
                } else {
                    (user, TokenKind::EmailChangeCurrent, email.clone())
                }
            }
            _ => {
                return Err(Error::invalid(
                    "type must be signup, invite, magiclink, recovery, email_change_current or email_change_new",
                ))
            }
        };
        let token = TokenRequest {
            user: &user,
            kind,
            recipient: &recipient,
            redirect_to: req.redirect_to.as_deref(),
            challenge: None,
        };
        let issued = self.issue_token(&mut tx, token, false).await?;
        tx.commit().await?;
        Ok((user, issued))
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
        let token = TokenRequest {
            user: &user,
            kind: TokenKind::Invite,
            recipient: &user.email,
            redirect_to,
            challenge: None,
        };
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
