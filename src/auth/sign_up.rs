//! Sign-up: a new account with a password. Without email confirmation it opens the first
//! session at once; with it, it sends the confirmation message instead and answers the same
//! whether or not the address was free.

use chrono::Utc;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{
    account::{hash_new_password, normalize_email, validate_metadata},
    email::{pkce::Challenge, TokenKind, TokenRequest},
    Auth, Session,
};
use crate::{
    client::Client,
    error::{code, Error, Result},
    secret::Secret,
    store::{
        self,
        audit::{self, event},
        users::{NewUser, User},
    },
};

/// `POST /signup`.
#[derive(Debug, Default)]
pub struct SignUpRequest {
    pub email: String,
    pub password: Secret,
    /// `user_metadata`.
    pub data: Option<Value>,
    /// Where the confirmation link leads (when confirmation is required).
    pub redirect_to: Option<String>,
    pub challenge: Option<Challenge>,
    /// With a `challenge` and no confirmation required: answer with an authorization code
    /// for the challenge's client instead of opening a session here (the hosted sign-up page
    /// of a PKCE app).
    pub code_instead_of_session: bool,
}

/// What a sign-up gives.
pub enum SignedUp {
    /// Signed in (no confirmation required).
    Session(Session),
    /// The confirmation message is on its way; sign-in waits for it.
    ConfirmationSent(User),
    /// An authorization code for the PKCE client (see `code_instead_of_session`).
    Code(Secret),
}

impl Auth {
    /// 403 `signup_disabled` when self-service sign-up is off. Front ends call it before
    /// looking at the request, so a disabled sign-up answers the same whatever was sent.
    pub fn check_sign_up_allowed(&self) -> Result<()> {
        if self.policy.disable_signup {
            return Err(Error::signup_disabled());
        }
        Ok(())
    }

    /// `POST /signup`: creates a user with `data` as `user_metadata`.
    pub async fn sign_up(&self, req: SignUpRequest, client: &Client) -> Result<SignedUp> {
        self.check_sign_up_allowed()?;
        let email = normalize_email(&req.email)?;
        let metadata = validate_metadata(req.data, "data")?.unwrap_or_else(|| json!({}));
        let confirm = self.policy.email_confirmation_required;
        if confirm {
            self.reserve_send(&email).await?;
        }
        let hash = hash_new_password(&self.hasher, &req.password).await?;
        let mut tx = self.pool.begin().await?;
        let new = NewUser {
            id: Uuid::new_v4(),
            email: &email,
            default_role: &self.policy.default_role,
            allowed_roles: &self.policy.default_allowed_roles,
            user_metadata: &metadata,
            app_metadata: &json!({}),
            enabled: true,
            email_confirmed: !confirm,
            invited: false,
        };
        let Some(user) = store::users::insert(&mut *tx, &new).await? else {
            drop(tx);
            if confirm {
                return self
                    .sign_up_taken_address(&email, &hash, metadata, req.redirect_to.as_deref())
                    .await;
            }
            return Err(Error::validation(
                code::USER_ALREADY_EXISTS,
                "User already registered",
            ));
        };
        store::passwords::set(&mut *tx, user.id, &hash).await?;
        if confirm {
            let token = TokenRequest {
                user: &user,
                kind: TokenKind::Confirmation,
                recipient: &user.email,
                redirect_to: req.redirect_to.as_deref(),
                challenge: req.challenge.as_ref(),
            };
            self.issue_token(&mut tx, token, true).await?;
            audit::record(
                &mut *tx,
                event::SIGN_UP,
                Some(user.id),
                None,
                client,
                json!({}),
            )
            .await?;
            tx.commit().await?;
            self.mailer.wake();
            return Ok(SignedUp::ConfirmationSent(user));
        }
        if let (true, Some(challenge)) = (req.code_instead_of_session, &req.challenge) {
            let code = self
                .issue_auth_code(&mut tx, user.id, challenge, "password", None)
                .await?;
            audit::record(
                &mut *tx,
                event::SIGN_UP,
                Some(user.id),
                None,
                client,
                json!({}),
            )
            .await?;
            tx.commit().await?;
            return Ok(SignedUp::Code(code));
        }
        let opened = self
            .open_session_for(&mut tx, user, client, "sign_up")
            .await?;
        tx.commit().await?;
        Ok(SignedUp::Session(opened.finish(self)?))
    }

    /// With confirmation required, a sign-up for an address that has an account answers as
    /// if it had not (an unconfirmed account gets this password and its confirmation again),
    /// so sign-up cannot be used to find out who has an account here.
    async fn sign_up_taken_address(
        &self,
        email: &str,
        password_hash: &str,
        metadata: Value,
        redirect_to: Option<&str>,
    ) -> Result<SignedUp> {
        if let Some(user) = store::users::find_by_email(&self.pool, email).await? {
            if user.email_confirmed_at.is_none() && user.is_active(Utc::now()) {
                // The latest sign-up's password is the one the confirmation confirms: whoever
                // registered the address earlier (perhaps not its owner) loses theirs.
                store::passwords::set(&self.pool, user.id, password_hash).await?;
                self.send_token(TokenRequest {
                    user: &user,
                    kind: TokenKind::Confirmation,
                    recipient: &user.email,
                    redirect_to,
                    challenge: None,
                })
                .await?;
            }
        }
        let now = Utc::now();
        Ok(SignedUp::ConfirmationSent(User {
            id: Uuid::new_v4(),
            email: email.to_owned(),
            enabled: true,
            banned_until: None,
            default_role: self.policy.default_role.clone(),
            allowed_roles: self.policy.default_allowed_roles.clone(),
            user_metadata: metadata,
            app_metadata: json!({}),
            last_sign_in_at: None,
            created_at: now,
            updated_at: now,
            email_confirmed_at: None,
            invited_at: None,
            email_change: None,
            email_identity: true,
            external_identities: Default::default(),
        }))
    }
}
