//! Recovery codes, for a user who lost the device of their factor. Supabase Auth has none, so
//! the shape is ours (`POST /factors/recovery_codes`, `.../verify`; see docs/mfa.md):
//!
//! - ten codes of 80 random bits (`xxxx-xxxx-xxxx-xxxx`, base32), shown once; only their
//!   SHA-256 (with the user's id) is stored;
//! - making them (again: the old set goes) needs an aal2 session;
//! - a code raises the session to aal2 like a TOTP code (`amr` method `recovery_code`), once;
//!   using one is audited with the number left; a wrong one counts like a wrong TOTP code;
//! - removing the user's last verified factor removes them.

use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{insufficient_aal, verify::Raise, Caller};
use crate::{
    auth::{assurance::Aal, Auth, Session},
    client::Client,
    error::{Code, Error, Result},
    store::{
        self,
        audit::{self, event},
    },
};

/// Codes in a set.
pub const CODES: usize = 10;
/// The `amr` method of a recovery code.
const RECOVERY_CODE: &str = "recovery_code";

/// A new code: 10 random bytes in lowercase base32, in four groups of four.
fn new_code() -> String {
    let mut bytes = [0u8; 10];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let text = totp_rs::Secret::from(bytes.to_vec())
        .to_base32()
        .to_lowercase();
    text.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// What is stored of `code` for `user_id`: it is compared without case, dashes or spaces.
fn code_hash(user_id: Uuid, code: &str) -> Vec<u8> {
    let normalized: String = code
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    let mut hasher = Sha256::new();
    hasher.update(user_id.as_bytes());
    hasher.update(normalized.as_bytes());
    hasher.finalize().to_vec()
}

impl Auth {
    /// `POST /factors/recovery_codes`: a new set of codes (the old set no longer works), from
    /// an aal2 session.
    pub async fn generate_recovery_codes(
        &self,
        who: &Caller<'_>,
        client: &Client,
    ) -> Result<Vec<String>> {
        let user_id = who.user.id;
        let mut tx = self.pool.begin().await?;
        if self.session_level(&mut *tx, who).await? < Aal::Aal2 {
            return Err(insufficient_aal(
                "AAL2 required to generate recovery codes: verify a factor first",
            ));
        }
        let codes: Vec<String> = (0..CODES).map(|_| new_code()).collect();
        let hashes: Vec<Vec<u8>> = codes.iter().map(|c| code_hash(user_id, c)).collect();
        store::mfa_recovery::replace(&mut tx, user_id, &hashes).await?;
        let detail = json!({"codes": CODES});
        audit::record(
            &mut *tx,
            event::MFA_RECOVERY_CODES_GENERATED,
            Some(user_id),
            Some(who.session_id),
            client,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(codes)
    }

    /// `GET /factors/recovery_codes`: how many codes are left, and when the set was made.
    pub async fn recovery_codes_left(
        &self,
        who: &Caller<'_>,
    ) -> Result<(i64, Option<DateTime<Utc>>)> {
        Ok(store::mfa_recovery::status(&self.pool, who.user.id).await?)
    }

    /// `POST /factors/recovery_codes/verify`: a recovery code in place of a TOTP code.
    pub async fn verify_recovery_code(
        &self,
        who: &Caller<'_>,
        code: &str,
        client: &Client,
    ) -> Result<Session> {
        if code.trim().is_empty() {
            return Err(Error::validation_failed("Code needs to be non-empty"));
        }
        let account = super::verify::lockout_account(who);
        self.limits.sign_in.check(client).await?;
        let failures = self.check_not_locked(&account).await?;
        let mut tx = self.pool.begin().await?;
        let Some(left) =
            store::mfa_recovery::take(&mut *tx, who.user.id, &code_hash(who.user.id, code)).await?
        else {
            tx.rollback().await?;
            self.wrong_factor_code(who, None, &account, "wrong_recovery_code", client)
                .await?;
            return Err(Error::new(
                Code::MfaVerificationFailed,
                "Invalid recovery code entered",
            ));
        };
        let raise = Raise {
            factor_id: None,
            method: RECOVERY_CODE,
            detail: json!({"recovery_codes_left": left}),
        };
        let session = self.raise_session(tx, who, raise, client).await?;
        self.note_successful_check(&account, failures).await?;
        Ok(session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_long_and_compare_loosely() {
        let code = new_code();
        assert_eq!(code.len(), 19, "{code}");
        assert_eq!(code.matches('-').count(), 3);
        let user = Uuid::new_v4();
        assert_eq!(
            code_hash(user, &code),
            code_hash(user, &code.to_uppercase().replace('-', " "))
        );
        assert_ne!(code_hash(user, &code), code_hash(Uuid::new_v4(), &code));
        assert_ne!(new_code(), code);
    }
}
