//! Requests that send a message: recovery, sign-in links and codes, resends, email changes.
//! Each answers the same whether or not the address has an account (and counts against the
//! recipient's limits either way), and sends through the outbox, off the request path.

use serde_json::{json, Value};
use uuid::Uuid;

use super::{pkce::Challenge, queue::Requested, TokenKind, TokenRequest};
use crate::{
    auth::{account::normalize_email, account::validate_metadata, Auth},
    client::Client,
    error::{Code, Error, Result},
    store::{
        self,
        audit::{self, event},
        users::User,
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
    /// `POST /recover`: a recovery message, when the address has an active account.
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
        let request = Requested::Recovery {
            redirect_to: redirect_to.map(str::to_owned),
            challenge,
        };
        self.queue_request(&email, request, client).await
    }

    /// `POST /otp`: a message with a sign-in link and code; for an unknown address, the
    /// account is created first when asked to and sign-up is allowed (verifying the message
    /// then proves the address).
    pub async fn request_sign_in_link(
        &self,
        req: SignInLinkRequest,
        client: &Client,
    ) -> Result<()> {
        self.limits.email.check(client).await?;
        let email = normalize_email(&req.email)?;
        let data = validate_metadata(req.data, "data")?;
        self.reserve_send(&email).await?;
        let request = Requested::SignInLink {
            create_user: req.create_user,
            data,
            redirect_to: req.redirect_to,
            challenge: req.challenge,
        };
        self.queue_request(&email, request, client).await
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
        let redirect_to = redirect_to.map(str::to_owned);
        let request = match verification_type {
            "signup" => Requested::ResendConfirmation { redirect_to },
            "email_change" => Requested::ResendEmailChange { redirect_to },
            _ => {
                return Err(Error::validation_failed(
                    "type must be signup or email_change",
                ))
            }
        };
        self.limits.email.check(client).await?;
        let email = normalize_email(email)?;
        self.reserve_send(&email).await?;
        self.queue_request(&email, request, client).await
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
            return Err(Error::new(
                Code::EmailExists,
                "A user with this email address has already been registered",
            ));
        }
        self.reserve_send(new_email).await?;
        if self.secure_email_change(user) {
            self.reserve_send(&user.email).await?;
        }
        let mut tx = self.pool.begin().await?;
        self.queue_email_change(&mut tx, user, new_email, redirect_to, challenge, client)
            .await?;
        tx.commit().await?;
        self.session_cache.user_changed(user.id);
        self.mailer.wake();
        Ok(EmailChangeOutcome::Requested(self.reread(user.id).await?))
    }

    /// The user as stored now (after a change of theirs).
    async fn reread(&self, user_id: Uuid) -> Result<User> {
        store::users::find_by_id(&self.pool, user_id)
            .await?
            .ok_or_else(Error::session_not_found)
    }

    /// Records `new_email` as the user's waiting address and queues its confirmations (to the
    /// new address, and in secure mode to the current one), inside `tx`.
    pub(super) async fn queue_email_change(
        &self,
        tx: &mut sqlx::PgConnection,
        user: &User,
        new_email: &str,
        redirect_to: Option<&str>,
        challenge: Option<&Challenge>,
        client: &Client,
    ) -> Result<()> {
        store::users::set_email_change(&mut *tx, user.id, Some(new_email)).await?;
        let user = User {
            email_change: Some(new_email.to_owned()),
            ..user.clone()
        };
        let mut recipients = vec![(TokenKind::EmailChangeNew, new_email)];
        if self.secure_email_change(&user) {
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
            self.issue_token(tx, req, true).await?;
        }
        audit::record(
            &mut *tx,
            event::EMAIL_CHANGE_REQUESTED,
            Some(user.id),
            None,
            client,
            json!({"secure": self.secure_email_change(&user)}),
        )
        .await?;
        Ok(())
    }

    /// Whether `user`'s email change needs its current address's confirmation too: in secure
    /// mode, when there is a current address (an anonymous user has none).
    pub(super) fn secure_email_change(&self, user: &User) -> bool {
        self.config.mail.secure_email_change && !user.email.is_empty()
    }
}
