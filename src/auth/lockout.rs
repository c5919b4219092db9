//! Per-account protection against password guessing: after `threshold` consecutive failed
//! password checks for one email address, from whatever client addresses, the address is
//! locked for 1 s, then 2 s, 4 s, … up to a maximum, and every check during a lock is refused
//! with 429 before any hashing. The state lives in PostgreSQL, so all instances share it.
//! Unknown addresses are counted exactly like real accounts: the answer never tells whether
//! an account exists. A successful check clears the failures that were on record when it
//! began (a failure recorded while its password was being hashed still counts).

use std::time::Duration;

use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Auth;
use crate::{
    client::Client,
    error::{Error, Result},
    store::{
        self,
        audit::{self, event},
    },
};

/// Failures older than this are forgotten.
pub const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Whether failed checks of an address were on record when a check began.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Failures(bool);

/// What the lockout table keys an address by: its SHA-256 (see the migration).
fn account_key(email: &str) -> [u8; 32] {
    Sha256::digest(email.as_bytes()).into()
}

impl Auth {
    /// 429 with `Retry-After` while `email` is locked; otherwise what a successful check
    /// must clear.
    pub(crate) async fn check_not_locked(&self, email: &str) -> Result<Failures> {
        if self.config.accounts.account_lockout_threshold == 0 {
            return Ok(Failures(false));
        }
        match store::sign_in_attempts::find(&self.pool, &account_key(email)).await? {
            Some(Some(secs)) => Err(Error::account_locked(secs.ceil().max(1.0) as u64)),
            Some(None) => Ok(Failures(true)),
            None => Ok(Failures(false)),
        }
    }

    /// Counts a failed password check for `email` and locks it when the rule says so (audited,
    /// with the user when the address is an account's).
    pub(crate) async fn note_failed_check(
        &self,
        email: &str,
        user_id: Option<Uuid>,
        client: &Client,
    ) -> Result<()> {
        let accounts = &self.config.accounts;
        if accounts.account_lockout_threshold == 0 {
            return Ok(());
        }
        let key = account_key(email);
        let failures =
            store::sign_in_attempts::record_failure(&self.pool, &key, FORGET_AFTER).await?;
        if let Some(lock) = accounts.lock_after(failures.max(0) as u32) {
            let mut tx = self.pool.begin().await?;
            store::sign_in_attempts::lock(&mut *tx, &key, lock).await?;
            audit::record(
                &mut *tx,
                event::SIGN_IN_LOCKED,
                user_id,
                None,
                client,
                json!({"failures": failures, "locked_seconds": lock.as_secs()}),
            )
            .await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Clears the failures of `email` after a successful check, when there were any on record
    /// as the check began (most sign-ins have none: no statement then).
    pub(crate) async fn note_successful_check(&self, email: &str, found: Failures) -> Result<()> {
        if self.config.accounts.account_lockout_threshold > 0 && found.0 {
            store::sign_in_attempts::clear(&self.pool, &account_key(email)).await?;
        }
        Ok(())
    }
}
