//! Requests that send a message: recovery, sign-in links and codes, resends, email changes.
//! Each answers the same whether or not the address has an account (and counts against the
//! recipient's limits either way), and sends through the outbox, off the request path.

use serde_json::{json, Value};
use uuid::Uuid;

use super::{pkce::Challenge, TokenKind, TokenRequest};
use crate::{
    auth::{account::normalize_email, account::validate_metadata, Auth},
    client::Client,
    error::{code, Error, Result},
    store::{
        self,
        audit::{self, event},
        users::{NewUser, User},
    },
};

/// `POST /otp` (and `/magiclink`).
#[derive(Debug, Default)]
pub struct SignInLinkRequest {
    pub email: String,
    /// Create an account for an unknown address (when sign-up is allowed).
    pub create_user: bool,
    /// `user_metadata` of an account created this way.
    pub data: Option<Value>,
    pub redirect_to: Option<String>,
    pub challenge: Option<Challenge>,
}

/// What `PUT /user {email}` did.
pub enum EmailChangeOutcome {
    /// Confirmation messages are on their way; the user, with the address waiting.
    Requested(User),
    /// The new address is the current one: nothing to do.
    Unchanged(User),
}

impl Auth {
    /// The active user with this (normalised) address, if any.
    async fn active_user(&self, email: &str) -> Result<Option<User>> {
        let user = store::users::find_by_email(&self.pool, email).await?;
        Ok(user.filter(|u| u.is_active(chrono::Utc::now())))
    }

    /// `POST /recover`: sends a recovery message when the address has an active account.
    pub async fn request_recovery(
        &self,
        email: &str,
        redirect_to: Option<&str>,
        challenge: Option<Challenge>,
        client: &Client,
    ) -> Result<()> {
        self.limits.email.check(client).await?;
        let email = normalize_email(email)?;
        self.reserve_send(&email).await?;
        let Some(user) = self.active_user(&email).await? else {
            return Ok(());
        };
        let mut tx = self.pool.begin().await?;
        let req = TokenRequest {
            user: &user,
            kind: TokenKind::Recovery,
            recipient: &user.email,
            redirect_to,
            challenge: challenge.as_ref(),
        };
        self.issue_token(&mut tx, req, true).await?;
        audit::record(
            &mut *tx,
            event::RECOVERY_REQUESTED,
            Some(user.id),
            None,
            client,
            json!({}),
        )
        .await?;
        tx.commit().await?;
        self.mailer.wake();
        Ok(())
    }

    /// `POST /otp`: sends a message with a sign-in link and code; for an unknown address,
    /// creates the account first when asked to and sign-up is allowed (verifying the message
    /// then confirms the address).
    pub async fn request_sign_in_link(
        &self,
        req: SignInLinkRequest,
        client: &Client,
    ) -> Result<()> {
        self.limits.email.check(client).await?;
        let email = normalize_email(&req.email)?;
        let data = validate_metadata(req.data, "data")?;
        self.reserve_send(&email).await?;
        let user = match store::users::find_by_email(&self.pool, &email).await? {
            Some(user) if user.is_active(chrono::Utc::now()) => user,
            Some(_) => return Ok(()),
            None if req.create_user && !self.policy.disable_signup => {
                return self
                    .create_user_by_link(&email, data, &req.redirect_to, req.challenge, client)
                    .await
            }
            None => return Ok(()),
        };
        self.send_token(TokenRequest {
            user: &user,
            kind: TokenKind::MagicLink,
            recipient: &user.email,
            redirect_to: req.redirect_to.as_deref(),
            challenge: req.challenge.as_ref(),
        })
        .await
    }

    /// An account without a password, created by a sign-in link request; its link confirms it.
    async fn create_user_by_link(
        &self,
        email: &str,
        data: Option<Value>,
        redirect_to: &Option<String>,
        challenge: Option<Challenge>,
        client: &Client,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let new = NewUser {
            id: Uuid::new_v4(),
            email,
            default_role: &self.policy.default_role,
            allowed_roles: &self.policy.default_allowed_roles,
            user_metadata: &data.unwrap_or_else(|| json!({})),
            app_metadata: &json!({}),
            enabled: true,
            email_confirmed: false,
            email_verified: false,
            invited: false,
        };
        // Lost a race with another request for the same address: it sends the message.
        let Some(user) = store::users::insert(&mut *tx, &new).await? else {
            return Ok(());
        };
        let req = TokenRequest {
            user: &user,
            kind: TokenKind::MagicLink,
            recipient: &user.email,
            redirect_to: redirect_to.as_deref(),
            challenge: challenge.as_ref(),
        };
        self.issue_token(&mut tx, req, true).await?;
        audit::record(
            &mut *tx,
            event::SIGN_UP,
            Some(user.id),
            None,
            client,
            json!({"method": "otp"}),
        )
        .await?;
        tx.commit().await?;
        self.mailer.wake();
        Ok(())
    }

    /// `POST /resend`: the sign-up confirmation again (`signup`), or the email-change
    /// confirmations (`email_change`), when there is one to resend.
    pub async fn resend(
        &self,
        verification_type: &str,
        email: &str,
        redirect_to: Option<&str>,
        client: &Client,
    ) -> Result<()> {
        if !matches!(verification_type, "signup" | "email_change") {
            return Err(Error::invalid("type must be signup or email_change"));
        }
        self.limits.email.check(client).await?;
        let email = normalize_email(email)?;
        self.reserve_send(&email).await?;
        let Some(user) = self.active_user(&email).await? else {
            return Ok(());
        };
        match verification_type {
            "signup" if user.email_confirmed_at.is_none() => {
                self.send_token(TokenRequest {
                    user: &user,
                    kind: TokenKind::Confirmation,
                    recipient: &user.email,
                    redirect_to,
                    challenge: None,
                })
                .await
            }
            "email_change" => match user.email_change.clone() {
                Some(new_email) => {
                    self.reserve_send(&new_email).await?;
                    self.send_email_change(&user, &new_email, redirect_to, None, client)
                        .await
                }
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// `PUT /user {email}` (after the caller's reauthentication, see `self_update.rs`): asks
    /// the new address (and in secure mode the current one) to confirm; the address changes
    /// only once confirmed. `new_email` is normalised.
    pub(crate) async fn request_email_change(
        &self,
        user: &User,
        new_email: &str,
        redirect_to: Option<&str>,
        challenge: Option<&Challenge>,
        client: &Client,
    ) -> Result<EmailChangeOutcome> {
        if user.email == new_email {
            // Back to the current address: whatever change was waiting is cancelled.
            if user.email_change.is_some() {
                let mut tx = self.pool.begin().await?;
                store::users::set_email_change(&mut *tx, user.id, None).await?;
                store::one_time_tokens::delete_for_user(
                    &mut *tx,
                    user.id,
                    &[
                        TokenKind::EmailChangeNew.name(),
                        TokenKind::EmailChangeCurrent.name(),
                    ],
                )
                .await?;
                tx.commit().await?;
                self.session_cache.user_changed(user.id);
            }
            return Ok(EmailChangeOutcome::Unchanged(self.reread(user.id).await?));
        }
        self.limits.email.check(client).await?;
        if store::users::find_by_email(&self.pool, new_email)
            .await?
            .is_some()
        {
            return Err(Error::validation(
                code::EMAIL_EXISTS,
                "A user with this email address has already been registered",
            ));
        }
        self.reserve_send(new_email).await?;
        if self.policy.email.secure_email_change {
            self.reserve_send(&user.email).await?;
        }
        self.send_email_change(user, new_email, redirect_to, challenge, client)
            .await?;
        Ok(EmailChangeOutcome::Requested(self.reread(user.id).await?))
    }

    /// The user as stored now (after a change of theirs).
    async fn reread(&self, user_id: Uuid) -> Result<User> {
        store::users::find_by_id(&self.pool, user_id)
            .await?
            .ok_or_else(Error::session_not_found)
    }

    async fn send_email_change(
        &self,
        user: &User,
        new_email: &str,
        redirect_to: Option<&str>,
        challenge: Option<&Challenge>,
        client: &Client,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        store::users::set_email_change(&mut *tx, user.id, Some(new_email)).await?;
        let user = User {
            email_change: Some(new_email.to_owned()),
            ..user.clone()
        };
        let mut recipients = vec![(TokenKind::EmailChangeNew, new_email)];
        if self.policy.email.secure_email_change {
            recipients.push((TokenKind::EmailChangeCurrent, user.email.as_str()));
        } else {
            store::one_time_tokens::delete_for_user(
                &mut *tx,
                user.id,
                &[TokenKind::EmailChangeCurrent.name()],
            )
            .await?;
        }
        for (kind, recipient) in recipients {
            let req = TokenRequest {
                user: &user,
                kind,
                recipient,
                redirect_to,
                challenge,
            };
            self.issue_token(&mut tx, req, true).await?;
        }
        audit::record(
            &mut *tx,
            event::EMAIL_CHANGE_REQUESTED,
            Some(user.id),
            None,
            client,
            json!({"secure": self.policy.email.secure_email_change}),
        )
        .await?;
        tx.commit().await?;
        self.session_cache.user_changed(user.id);
        self.mailer.wake();
        Ok(())
    }
}
