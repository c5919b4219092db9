//! Reauthentication by email (Supabase Auth's `GET /reauthenticate`): a signed-in user asks
//! for a code sent to their address, then gives it as `nonce` with a sensitive change
//! (`PUT /user {password, nonce}`) in place of `current_password`. Useful to users who have
//! no password (they signed up by link or with a provider) or whose session is older than
//! the reauthentication window.
//!
//! The code is single-use, lives as long as email codes do (`AUTH_EMAIL_CODE_TTL`), and
//! guessing it is limited as every email code is (see `email::codes`).

use serde_json::json;
use uuid::Uuid;

use super::{
    email::{TokenKind, TokenRequest},
    Auth,
};
use crate::{
    client::Client,
    error::{Code, Error, Result},
    store::{
        self,
        audit::{self, event},
        users::User,
    },
};

impl Auth {
    /// `GET /reauthenticate`: sends the user a code for their next sensitive change. 400 for a
    /// user without an address (anonymous), 400 `email_not_confirmed` before the address is
    /// confirmed; the per-address and per-client email limits apply.
    pub async fn request_reauthentication(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        client: &Client,
    ) -> Result<()> {
        let user = store::users::find_by_id(&self.pool, user_id)
            .await?
            .ok_or_else(Error::session_not_found)?;
        if user.email.is_empty() {
            return Err(Error::validation_failed(
                "Reauthentication requires the user to have an email or a phone number",
            ));
        }
        if user.email_confirmed_at.is_none() {
            return Err(Error::new(
                Code::EmailNotConfirmed,
                "Please verify your email first.",
            ));
        }
        self.limits.email.check(client).await?;
        self.reserve_send(&user.email).await?;
        let mut tx = self.pool.begin().await?;
        let token = TokenRequest::to_user(&user, TokenKind::Reauthentication, None, None);
        self.issue_token(&mut tx, token, true).await?;
        audit::record(
            &mut *tx,
            event::REAUTHENTICATION_REQUESTED,
            Some(user.id),
            Some(session_id),
            client,
            json!({}),
        )
        .await?;
        tx.commit().await?;
        self.mailer.wake();
        Ok(())
    }

    /// Takes `user`'s reauthentication code `nonce` (once); 422 `reauthentication_not_valid`
    /// when it is wrong, used or expired. Counted as an email-code guess.
    pub(crate) async fn check_nonce(
        &self,
        user: &User,
        nonce: &str,
        client: &Client,
    ) -> Result<()> {
        let failures = self.start_code_guess(&user.email, client).await?;
        let mut tx = self.pool.begin().await?;
        let kinds = [TokenKind::Reauthentication.name()];
        let found = self
            .take_by_code(&mut tx, &user.email, nonce.trim(), &kinds)
            .await?
            .filter(|row| row.user_id == user.id);
        // The attempt counts are kept whether or not the code was right.
        tx.commit().await?;
        if found.is_some() {
            return self.right_code(&user.email, failures).await;
        }
        self.wrong_code(&user.email, client).await?;
        Err(Error::new(
            Code::ReauthenticationNotValid,
            "Nonce has expired or is invalid",
        ))
    }
}
