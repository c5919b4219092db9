//! Guessing a 6-digit code is limited wherever the guess comes from (the API, the Hasura
//! actions, the pages), on every instance alike:
//!
//! - per client address, counted with the other credential attempts (`AUTH_RATE_LIMIT_SIGN_IN`);
//! - per email address and hour, from any client (`AUTH_EMAIL_CODE_GUESSES_PER_HOUR`);
//! - towards the address's lockout, as wrong passwords are (`lockout.rs`);
//! - per token: a few wrong codes void its code (its link keeps working), and a new code of
//!   the same kind does not bring new attempts while the token it replaces lives.

use subtle::ConstantTimeEq;

use super::code_hash;
use crate::{
    auth::{lockout::Failures, Auth},
    client::Client,
    error::{Error, Result},
    store::{self, one_time_tokens::TokenRow},
};

impl Auth {
    /// Counts a guess at a code sent to `email` against the limits; 429 past them. What the
    /// lockout found on record, for [`Self::right_code`].
    pub(crate) async fn start_code_guess(&self, email: &str, client: &Client) -> Result<Failures> {
        self.limits.sign_in.check(client).await?;
        let failures = self.check_not_locked(email).await?;
        if let Some(wait) = self.limits.code_guesses.check_address(email).await? {
            return Err(Error::too_many_guesses(wait));
        }
        Ok(failures)
    }

    /// A wrong code counts towards the address's lockout.
    pub(crate) async fn wrong_code(&self, email: &str, client: &Client) -> Result<()> {
        self.note_failed_check(email, None, client).await
    }

    /// A right code clears the lockout's count, as a right password does.
    pub(crate) async fn right_code(&self, email: &str, found: Failures) -> Result<()> {
        self.note_successful_check(email, found).await
    }

    /// The token whose code matches, removed; a wrong code counts against every candidate,
    /// and a candidate out of attempts loses its code (its link keeps working, so nobody can
    /// void someone else's link by guessing). A token out of attempts takes no code, not
    /// even the right one: its attempts carry over to the code that replaces it.
    pub(crate) async fn take_by_code(
        &self,
        tx: &mut sqlx::PgConnection,
        email: &str,
        code: &str,
        kinds: &[&str],
    ) -> Result<Option<TokenRow>> {
        let max = self.config.mail.email_code_attempts as i32;
        let candidates = store::one_time_tokens::find_for_code(&mut *tx, email, kinds).await?;
        let mut found = None;
        for row in candidates {
            let matches = code.len() == 6
                && row.code_attempts < max
                && bool::from(code_hash(row.id, code).ct_eq(&row.code_hash[..]));
            if matches && found.is_none() {
                store::one_time_tokens::delete(&mut *tx, row.id).await?;
                found = Some(row);
            } else if !matches {
                let attempts = store::one_time_tokens::count_wrong_code(&mut *tx, row.id).await?;
                if attempts >= max {
                    store::one_time_tokens::expire_code(&mut *tx, row.id).await?;
                }
            }
        }
        Ok(found)
    }
}
