//! `POST /admin/generate_link`: a link and code for a user, made for an administrator, who
//! delivers it; nothing is sent.

use serde_json::Value;

use super::{invite::email_exists, IssuedToken, TokenKind, TokenRequest};
use crate::{
    auth::{account::normalize_email, Auth},
    error::{Error, Required, Result},
    secret::Secret,
    store::{self, users::User},
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

impl Auth {
    /// Creates the token an administrator asked for and returns it with its user; nothing is
    /// sent.
    pub async fn generate_link(&self, req: LinkRequest) -> Result<(User, IssuedToken)> {
        let email = normalize_email(&req.email)?;
        let mut tx = self.pool.begin().await?;
        let existing = store::users::find_by_email(&mut *tx, &email).await?;
        let (user, kind, recipient) = match req.link_type.as_str() {
            "signup" => {
                if existing.is_some() {
                    return Err(email_exists());
                }
                let user = self
                    .new_signup(&mut tx, &email, req.password, req.data)
                    .await?;
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
                let new_email = req
                    .new_email
                    .as_deref()
                    .required("new_email")?;
                let (user, new_email) = self.start_email_change(&mut tx, user, new_email).await?;
                if req.link_type == "email_change_new" {
                    (user, TokenKind::EmailChangeNew, new_email)
                } else {
                    (user, TokenKind::EmailChangeCurrent, email.clone())
                }
            }
            _ => {
                return Err(Error::validation_failed(
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

    /// The unconfirmed account a signup link confirms, with its password.
    async fn new_signup(
        &self,
        tx: &mut sqlx::PgConnection,
        email: &str,
        password: Option<Secret>,
        data: Option<Value>,
    ) -> Result<User> {
        let password = password
            .ok_or_else(|| Error::validation_failed("password is required for a signup link"))?;
        let hash = self.hasher.hash_new(&password).await?;
        let user = self
            .insert_unconfirmed(&mut *tx, email, data, false)
            .await?
            .ok_or_else(email_exists)?;
        store::passwords::set(&mut *tx, user.id, &hash).await?;
        Ok(user)
    }

    /// Records `new_email` as the user's pending address change.
    async fn start_email_change(
        &self,
        tx: &mut sqlx::PgConnection,
        user: User,
        new_email: &str,
    ) -> Result<(User, String)> {
        let new_email = normalize_email(new_email)?;
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
        Ok((user, new_email))
    }
}
