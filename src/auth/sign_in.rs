//! Password sign-in.

use serde_json::json;
use uuid::Uuid;

use super::{
    account::normalize_email, email::pkce::Challenge, mfa::HandOff, password::MAX_PASSWORD_CHARS,
    Auth, Session,
};
use crate::{
    client::Client,
    error::{Code, Error, Kind, Result},
    secret::Secret,
    store::{
        self,
        audit::{self, event},
        users::User,
    },
};

/// What the hosted sign-in page's password step gives.
pub enum PageSignIn {
    /// What the app gets.
    Done(HandOff),
    /// The page's own session, to take the second factor in before the app gets its own.
    SecondFactor(Box<Session>),
}

/// A password that checked out: its user, and the hash it was checked against (the session
/// opens only if the password is still that one).
struct Checked {
    user: User,
    password_hash: String,
}

impl Auth {
    /// `POST /token?grant_type=password`: checks the password (upgrading an old hash on
    /// success), records the sign-in and opens a session. Unknown email, wrong password and
    /// disabled user all fail the same way, after the same hashing work.
    ///
    /// With `org`, the session acts in that organization from its first access token (see
    /// [`Auth::activate_organization`]); 404 `organization_not_found`, and no session, when
    /// the user is not a member there. The password is checked first, so the answer tells
    /// nobody else about memberships.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &Secret,
        org: Option<Uuid>,
        client: &Client,
    ) -> Result<Session> {
        let checked = self.counted_sign_in(email, password, client).await?;
        let Some(org) = org else {
            return self.session_for(checked, client).await;
        };
        let mut tx = self.pool.begin().await?;
        let opened = self
            .open_session_checked(
                &mut tx,
                checked.user,
                client,
                "password",
                Some(&checked.password_hash),
            )
            .await?
            .in_organization(self, &mut tx, org)
            .await?;
        tx.commit().await?;
        opened.finish(self)
    }

    /// The session of a password that checked out.
    async fn session_for(&self, checked: Checked, client: &Client) -> Result<Session> {
        // One statement opens the session and records the sign-in, if the password is still
        // the one checked: no transaction needed.
        let mut db = self.pool.acquire().await?;
        let opened = self
            .open_session_checked(
                &mut db,
                checked.user,
                client,
                "password",
                Some(&checked.password_hash),
            )
            .await?;
        opened.finish(self)
    }

    /// The hosted sign-in page's password step: what the app gets (a session, or a code with
    /// `challenge`), or, for a user with a verified factor or who must use one
    /// (`AUTH_MFA_REQUIRED`), a session for the page to take the second factor in first (see
    /// [`Auth::hand_off`]).
    pub async fn sign_in_on_page(
        &self,
        email: &str,
        password: &Secret,
        challenge: Option<&Challenge>,
        client: &Client,
    ) -> Result<PageSignIn> {
        let checked = self.counted_sign_in(email, password, client).await?;
        let user = &checked.user;
        let second_factor = user.has_verified_factor()
            || self.config.mfa.mfa_required.applies_to(&user.allowed_roles);
        Ok(match (second_factor, challenge) {
            (true, _) => {
                PageSignIn::SecondFactor(Box::new(self.session_for(checked, client).await?))
            }
            (false, Some(c)) => PageSignIn::Done(HandOff::Code(self.code_for(checked, c).await?)),
            (false, None) => PageSignIn::Done(HandOff::Session(Box::new(
                self.session_for(checked, client).await?,
            ))),
        })
    }

    /// Password sign-in for a PKCE client (the hosted sign-in page with a `code_challenge`):
    /// the same checks, then an authorization code instead of a session; the session opens
    /// when the client exchanges the code with its verifier.
    pub async fn sign_in_for_code(
        &self,
        email: &str,
        password: &Secret,
        challenge: &Challenge,
        client: &Client,
    ) -> Result<Secret> {
        let checked = self.counted_sign_in(email, password, client).await?;
        self.code_for(checked, challenge).await
    }

    /// The PKCE code of a password that checked out.
    async fn code_for(&self, checked: Checked, challenge: &Challenge) -> Result<Secret> {
        let Checked {
            user,
            password_hash,
        } = checked;
        let mut tx = self.pool.begin().await?;
        // The password must still be the one checked (see `store::sessions::open`).
        if !store::passwords::hold(&mut *tx, user.id, &password_hash).await? {
            return Err(Error::invalid_credentials());
        }
        let code = self
            .issue_auth_code(&mut tx, user.id, challenge, "password", None)
            .await?;
        tx.commit().await?;
        Ok(code)
    }

    /// [`Self::check_sign_in`], counted by outcome in the metrics.
    async fn counted_sign_in(
        &self,
        email: &str,
        password: &Secret,
        client: &Client,
    ) -> Result<Checked> {
        let result = self.check_sign_in(email, password, client).await;
        crate::metrics::sign_in(match &result {
            Ok(_) => "success",
            Err(e) if e.code == Code::InvalidCredentials => "invalid_credentials",
            Err(e) if e.code == Code::EmailNotConfirmed => "unconfirmed",
            Err(e) if e.kind == Kind::RateLimited => "locked",
            Err(e) if e.kind == Kind::InvalidRequest => "invalid_request",
            Err(e) if e.kind == Kind::Unavailable => "unavailable",
            Err(_) => "error",
        });
        result
    }

    /// The checks of a password sign-in: the user whose password this is, if they may sign in.
    async fn check_sign_in(
        &self,
        email: &str,
        password: &Secret,
        client: &Client,
    ) -> Result<Checked> {
        self.limits.sign_in.check(client).await?;
        if email.trim().is_empty() || password.expose().is_empty() {
            return Err(Error::validation_failed(
                "email (or username) and password are required",
            ));
        }
        // Look the address up as it is stored; one that no longer passes the rules (stored
        // before they were tightened) is looked up as it was stored then.
        let email = normalize_email(email).unwrap_or_else(|_| email.trim().to_lowercase());
        if email.len() > 254 || email.chars().any(char::is_control) {
            // Cannot be an account's email; fail like any unknown one (after the same work).
            self.hasher.verify(password, None).await?;
            return Err(Error::invalid_credentials());
        }
        if password.expose().chars().count() > MAX_PASSWORD_CHARS {
            return Err(Error::invalid_credentials());
        }
        // Locked after too many failures: refused before any work, known account or not.
        let failures = self.check_not_locked(&email).await?;
        let found = store::passwords::find_user_by_email(&self.pool, &email).await?;
        let stored = found.as_ref().and_then(|f| f.password_hash.as_deref());
        let check = self.hasher.verify(password, stored).await?;
        let Some(found) = found else {
            self.note_failed_check(&email, None, client).await?;
            self.record_failed_sign_in(None, "unknown_email", client)
                .await?;
            return Err(Error::invalid_credentials());
        };
        let user = found.user;
        if check.ok {
            self.note_successful_check(&email, failures).await?;
        } else {
            self.note_failed_check(&email, Some(user.id), client)
                .await?;
        }
        if !check.ok || !user.is_active(found.db_now) {
            let reason = if check.ok {
                "disabled"
            } else {
                "wrong_password"
            };
            self.record_failed_sign_in(Some(user.id), reason, client)
                .await?;
            return Err(Error::invalid_credentials());
        }
        if self.config.mail.email_confirmation_required && user.email_confirmed_at.is_none() {
            // Only after the right password: nothing is revealed to a guesser.
            return Err(Error::new(Code::EmailNotConfirmed, "Email not confirmed"));
        }
        let mut password_hash = found.password_hash.unwrap_or_default();
        if check.needs_rehash {
            let new_hash = self.hasher.hash(password).await?;
            store::passwords::upgrade(&self.pool, user.id, &password_hash, &new_hash).await?;
            password_hash = new_hash;
        }
        Ok(Checked {
            user,
            password_hash,
        })
    }

    async fn record_failed_sign_in(
        &self,
        user_id: Option<Uuid>,
        reason: &str,
        client: &Client,
    ) -> Result<()> {
        audit::record(
            &self.pool,
            event::SIGN_IN_FAILED,
            user_id,
            None,
            client,
            json!({ "reason": reason }),
        )
        .await?;
        Ok(())
    }
}
