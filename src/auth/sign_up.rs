//! Sign-up: a new account with a password. Without email confirmation it opens the first
//! session at once; with it, it sends the confirmation message instead and answers the same
//! whether or not the address was free.

use chrono::Utc;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{
    account::{normalize_email, validate_metadata},
    email::{pkce::Challenge, TokenKind, TokenRequest},
    Auth, Session,
};
use crate::{
    client::Client,
    config::AccountArgs,
    error::{Code, Error, Result},
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
        if self.config.accounts.disable_signup {
            return Err(Error::signup_disabled());
        }
        Ok(())
    }

    /// `POST /signup`: creates a user with `data` as `user_metadata`.
    pub async fn sign_up(&self, mut req: SignUpRequest, client: &Client) -> Result<SignedUp> {
        self.check_sign_up_allowed()?;
        self.limits.sign_in.check(client).await?;
        let email = normalize_email(&req.email)?;
        let metadata = validate_metadata(req.data.take(), "data")?.unwrap_or_else(|| json!({}));
        let confirm = self.config.mail.email_confirmation_required;
        // A refused password must not use up the address's allowance of messages.
        self.hasher.check_new(req.password.expose())?;
        if confirm {
            self.reserve_send(&email).await?;
        }
        let hash = self.hasher.hash_new(&req.password).await?;
        let mut tx = self.pool.begin().await?;
        let new = NewUser {
            id: Uuid::new_v4(),
            email: &email,
            default_role: &self.config.accounts.default_role,
            allowed_roles: &self.config.accounts.default_allowed_roles,
            user_metadata: &metadata,
            app_metadata: &json!({}),
            enabled: true,
            // Signing in may not wait for the address; the address is still unproven.
            email_confirmed: !confirm,
            email_verified: false,
            invited: false,
        };
        let Some(user) = store::users::insert(&mut *tx, &new).await? else {
            drop(tx);
            if confirm {
                return self
                    .sign_up_taken_address(&email, metadata, req.redirect_to.as_deref(), client)
                    .await;
            }
            return Err(Error::new(
                Code::UserAlreadyExists,
                "User already registered",
            ));
        };
        store::passwords::set(&mut *tx, user.id, &hash).await?;
        self.welcome(tx, user, &req, client).await
    }

    /// What a new account gets, in the transaction that created it: the message confirming
    /// its address, a code for its PKCE client, or a session.
    async fn welcome(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
        user: User,
        req: &SignUpRequest,
        client: &Client,
    ) -> Result<SignedUp> {
        let confirm = self.config.mail.email_confirmation_required;
        let code_challenge = req
            .challenge
            .as_ref()
            .filter(|_| req.code_instead_of_session);
        let user_id = user.id;
        let answer = match (confirm, code_challenge) {
            (true, _) => {
                let token = TokenRequest::to_user(
                    &user,
                    TokenKind::Confirmation,
                    req.redirect_to.as_deref(),
                    req.challenge.as_ref(),
                );
                self.issue_token(&mut tx, token, true).await?;
                SignedUp::ConfirmationSent(user)
            }
            (false, Some(challenge)) => {
                let code = self
                    .issue_auth_code(&mut tx, user.id, challenge, "password", None)
                    .await?;
                SignedUp::Code(code)
            }
            (false, None) => {
                let opened = self
                    .open_session_for(&mut tx, user, client, "sign_up")
                    .await?;
                tx.commit().await?;
                return Ok(SignedUp::Session(opened.finish(self)?));
            }
        };
        audit::record(
            &mut *tx,
            event::SIGN_UP,
            Some(user_id),
            None,
            client,
            json!({}),
        )
        .await?;
        tx.commit().await?;
        if confirm {
            self.mailer.wake();
        }
        Ok(answer)
    }

    /// With confirmation required, a sign-up for an address that has an account answers as
    /// if it had not, so sign-up cannot be used to find out who has an account here. An
    /// account still waiting for its confirmation gets the confirmation again, but no
    /// password: two sign-ups for one unproven address cannot both be its owner, and the
    /// confirmation must not activate a password the owner may not have chosen. The password
    /// of the earlier sign-up goes too; the confirmation then signs the owner in, and they
    /// choose one.
    async fn sign_up_taken_address(
        &self,
        email: &str,
        metadata: Value,
        redirect_to: Option<&str>,
        client: &Client,
    ) -> Result<SignedUp> {
        if let Some(found) = store::users::find_by_email(&self.pool, email).await? {
            let mut tx = self.pool.begin().await?;
            // Read again under the row lock: a confirmation may have landed meanwhile.
            let user = store::users::find_by_id_for_update(&mut *tx, found.id).await?;
            if let Some(user) =
                user.filter(|u| u.email_confirmed_at.is_none() && u.is_active(Utc::now()))
            {
                store::passwords::delete(&mut *tx, user.id).await?;
                let token = TokenRequest {
                    user: &user,
                    kind: TokenKind::Confirmation,
                    recipient: &user.email,
                    redirect_to,
                    challenge: None,
                };
                self.issue_token(&mut tx, token, true).await?;
                audit::record(
                    &mut *tx,
                    event::SIGN_UP_REPEATED,
                    Some(user.id),
                    None,
                    client,
                    json!({"password_removed": true}),
                )
                .await?;
                tx.commit().await?;
                self.mailer.wake();
            }
        }
        Ok(SignedUp::ConfirmationSent(made_up_user(
            &self.config.accounts,
            email,
            metadata,
        )))
    }
}

/// The answer to a sign-up for a taken address: a new-looking user, as the database would
/// have made it (its times in microseconds, like PostgreSQL's).
fn made_up_user(accounts: &AccountArgs, email: &str, metadata: Value) -> User {
    use chrono::SubsecRound;
    let now = Utc::now().trunc_subsecs(6);
    User {
        id: Uuid::new_v4(),
        email: email.to_owned(),
        enabled: true,
        banned_until: None,
        default_role: accounts.default_role.clone(),
        allowed_roles: accounts.default_allowed_roles.clone(),
        user_metadata: metadata,
        app_metadata: json!({}),
        last_sign_in_at: None,
        created_at: now,
        updated_at: now,
        email_confirmed_at: None,
        email_verified_at: None,
        invited_at: None,
        email_change: None,
        email_identity: true,
        external_identities: Default::default(),
        factors: Default::default(),
        is_anonymous: false,
    }
}
