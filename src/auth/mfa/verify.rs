//! `POST /factors/{id}/verify`: a code that answers a challenge raises the session to aal2.

use serde_json::{json, Value};
use uuid::Uuid;

use super::{factor_not_found, totp::TotpSecret, Caller};
use crate::{
    auth::{
        assurance::{Aal, Assurance},
        refresh::token::RefreshToken,
        Auth, Session,
    },
    client::Client,
    error::{Code, Error, Result},
    store::{
        self,
        audit::{self, event},
        mfa::FactorSecret,
    },
};

/// The `amr` method of a TOTP code.
const TOTP: &str = "totp";
/// The `amr` method of a WebAuthn factor (Supabase Auth's name).
const WEBAUTHN: &str = "mfa/webauthn";

fn wrong_code() -> Error {
    Error::new(Code::MfaVerificationFailed, "Invalid TOTP code entered")
}

fn wrong_webauthn() -> Error {
    Error::new(Code::MfaVerificationFailed, "WebAuthn verification failed")
}

/// What answers a challenge.
pub enum Answer<'a> {
    /// A TOTP code.
    Code(&'a str),
    /// A WebAuthn factor's browser answer (`kind`: `create` or `request`, as the challenge
    /// said).
    Webauthn { kind: &'a str, response: Value },
}

/// How a guess went, before anything is written.
enum Outcome {
    /// A right TOTP code, of this time step.
    Right(i64),
    /// A right WebAuthn answer: the factor's credential to store.
    Registered(Value),
    Wrong(&'static str),
}

impl Auth {
    /// Checks `code` against challenge `challenge_id` of the caller's factor `factor_id`; on
    /// success the session is at aal2, with a new refresh token (the old one no longer
    /// refreshes), and the factor is verified.
    pub async fn verify_factor(
        &self,
        who: &Caller<'_>,
        factor_id: Uuid,
        challenge_id: Uuid,
        answer: Answer<'_>,
        client: &Client,
    ) -> Result<Session> {
        if matches!(answer, Answer::Code(code) if code.trim().is_empty()) {
            return Err(Error::validation_failed("Code needs to be non-empty"));
        }
        let account = lockout_account(who);
        self.limits.sign_in.check(client).await?;
        let failures = self.check_not_locked(&account).await?;
        let mut tx = self.pool.begin().await?;
        let factor = store::mfa::find_secret_for_update(&mut *tx, who.user.id, factor_id)
            .await?
            .ok_or_else(factor_not_found)?;
        let state = match self
            .take_challenge(&mut tx, factor_id, challenge_id, client)
            .await
        {
            Ok(state) => state,
            Err(e) => {
                tx.commit().await?;
                return Err(e);
            }
        };
        let webauthn = factor.factor_type == super::WEBAUTHN;
        let outcome = match (answer, state) {
            (Answer::Code(code), _) if !webauthn => self.check_code(&factor, code)?,
            (Answer::Webauthn { kind, response }, Some(state)) if webauthn => {
                match self.webauthn_answer(&factor, state, kind, response)? {
                    Some(credential) => Outcome::Registered(credential),
                    None => Outcome::Wrong("webauthn_failed"),
                }
            }
            _ => {
                return Err(Error::validation_failed(
                    "The answer does not fit the factor's type",
                ))
            }
        };
        if let Outcome::Wrong(reason) = outcome {
            tx.rollback().await?;
            self.wrong_factor_code(who, Some(factor_id), &account, reason, client)
                .await?;
            return Err(if webauthn {
                wrong_webauthn()
            } else {
                wrong_code()
            });
        }
        let session = self
            .raise(tx, who, &factor, outcome, challenge_id, client)
            .await?;
        // A right answer clears the lockout's count, as a right password does.
        self.note_successful_check(&account, failures).await?;
        Ok(session)
    }

    /// Checks the challenge (this factor's, from this client address, unanswered, not
    /// expired); an expired one is removed. A WebAuthn challenge's ceremony state.
    async fn take_challenge(
        &self,
        tx: &mut sqlx::PgConnection,
        factor_id: Uuid,
        challenge_id: Uuid,
        client: &Client,
    ) -> Result<Option<Value>> {
        let challenge = store::mfa::find_challenge_for_update(&mut *tx, factor_id, challenge_id)
            .await?
            .ok_or_else(|| {
                Error::new(
                    Code::MfaFactorNotFound,
                    "MFA factor with the provided challenge ID not found",
                )
            })?;
        if challenge.verified || challenge.ip.as_deref() != client.ip.as_deref() {
            return Err(Error::new(
                Code::MfaIpAddressMismatch,
                "Challenge and verify IP addresses mismatch.",
            ));
        }
        if challenge.expired {
            store::mfa::delete_challenge(&mut *tx, challenge_id).await?;
            return Err(Error::new(
                Code::MfaChallengeExpired,
                format!("MFA challenge {challenge_id} has expired, verify against another challenge or create a new challenge."),
            ));
        }
        Ok(challenge.webauthn_state)
    }

    /// Whether `code` is the factor's current code, not accepted before.
    fn check_code(&self, factor: &FactorSecret, code: &str) -> Result<Outcome> {
        let secret = self
            .mfa_key
            .open(
                factor.id.as_bytes(),
                factor.secret.as_deref().unwrap_or_default(),
            )
            .map_err(|e| {
                Error::internal(e.context("a TOTP secret does not open with AUTH_MFA_KEY"))
            })?;
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        Ok(match TotpSecret::from_bytes(secret).check(code, now) {
            None => Outcome::Wrong("wrong_code"),
            Some(step)
                if factor
                    .last_used_step
                    .is_some_and(|used| step as i64 <= used) =>
            {
                Outcome::Wrong("code_reused")
            }
            Some(step) => Outcome::Right(step as i64),
        })
    }

    /// A wrong (or replayed) code: audited, and counted towards the account's lockout.
    pub(super) async fn wrong_factor_code(
        &self,
        who: &Caller<'_>,
        factor_id: Option<Uuid>,
        account: &str,
        reason: &str,
        client: &Client,
    ) -> Result<()> {
        let detail = json!({"factor_id": factor_id, "reason": reason});
        audit::record(
            &self.pool,
            event::MFA_VERIFICATION_FAILED,
            Some(who.user.id),
            Some(who.session_id),
            client,
            detail,
        )
        .await?;
        self.note_failed_check(account, Some(who.user.id), client)
            .await
    }

    /// Writes a right code's effects in `tx` and signs the aal2 session.
    async fn raise(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
        who: &Caller<'_>,
        factor: &FactorSecret,
        outcome: Outcome,
        challenge_id: Uuid,
        client: &Client,
    ) -> Result<Session> {
        let method = match outcome {
            Outcome::Right(step) => {
                if !store::mfa::use_step(&mut *tx, factor.id, step).await? {
                    // A racing request took this step's code first.
                    return Err(wrong_code());
                }
                TOTP
            }
            Outcome::Registered(credential) => {
                store::mfa::set_webauthn_credential(&mut *tx, factor.id, &credential).await?;
                WEBAUTHN
            }
            Outcome::Wrong(_) => return Err(wrong_code()),
        };
        store::mfa::mark_challenge_verified(&mut *tx, challenge_id).await?;
        store::mfa::delete_unverified(&mut *tx, who.user.id).await?;
        let raise = Raise {
            factor_id: Some(factor.id),
            method,
            detail: json!({"factor_id": factor.id, "challenge_id": challenge_id,
                           "factor_type": factor.factor_type, "first": factor.status != "verified"}),
        };
        self.raise_session(tx, who, raise, client).await
    }

    /// Raises the caller's session to aal2 in `tx` (audited as `mfa_verified` with
    /// `raise.detail`), restarting its refresh token chain and ending the user's other aal1
    /// sessions; commits, and signs the session.
    pub(super) async fn raise_session(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
        who: &Caller<'_>,
        raise: Raise,
        client: &Client,
    ) -> Result<Session> {
        let (user_id, session_id) = (who.user.id, who.session_id);
        let restart = RefreshToken::restart(session_id, 0);
        let raised = store::mfa::raise_session(
            &mut *tx,
            session_id,
            user_id,
            raise.factor_id,
            raise.method,
            &restart.hash(),
        )
        .await?
        .ok_or_else(Error::session_not_found)?;
        let ended = store::mfa::end_aal1_sessions(&mut *tx, user_id, session_id).await?;
        let mut detail = raise.detail;
        detail["method"] = json!(raise.method);
        detail["sessions_ended"] = json!(ended.len());
        audit::record(
            &mut *tx,
            event::MFA_VERIFIED,
            Some(user_id),
            Some(session_id),
            client,
            detail,
        )
        .await?;
        let user = store::users::find_by_id(&mut *tx, user_id)
            .await?
            .ok_or_else(Error::session_not_found)?;
        let org = store::organizations::active(&mut *tx, session_id).await?;
        let claims = self.claims_for(&mut *tx, &user, &org, Aal::Aal2).await?;
        tx.commit().await?;
        self.session_cache.user_changed(user_id);
        let mut refresh = restart;
        refresh.counter = raised.token_counter as u64;
        let assurance = Assurance::stored(2, raised.amr);
        self.issue(&claims, user, session_id, &assurance, &refresh)
    }
}

/// What raised a session to aal2: a factor (none for a recovery code), the `amr` method, and
/// what the audit entry says.
pub(super) struct Raise {
    pub factor_id: Option<Uuid>,
    pub method: &'static str,
    pub detail: serde_json::Value,
}

/// What the lockout counts a user's wrong codes under: their address (as wrong passwords),
/// or their id when they have none.
pub(super) fn lockout_account(who: &Caller<'_>) -> String {
    if who.user.email.is_empty() {
        who.user.id.to_string()
    } else {
        who.user.email.clone()
    }
}
