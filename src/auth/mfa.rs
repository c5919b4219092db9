//! Second factors, in Supabase Auth's (GoTrue's) dialect: a signed-in user enrols a TOTP
//! factor (`POST /factors`), asks for a challenge (`/challenge`) and answers it with a code
//! (`/verify`), which raises the session to aal2 (see [`super::assurance`]); a factor can be
//! removed (`DELETE /factors/{id}`). The rules live here, so every door (the API, the Hasura
//! actions, the pages) gets them:
//!
//! - once a user has a verified factor, enrolling another or removing a verified one needs an
//!   aal2 session (the session's level as stored, not as an older token says);
//! - a code is accepted once: never again, nor one of an earlier step (replay);
//! - wrong codes count towards the account's lockout and the client's sign-in limit;
//! - verifying restarts the session's refresh token chain: the aal1 refresh token can no
//!   longer refresh, so it cannot obtain aal2 tokens; sessions of the user still at aal1 end;
//! - removing a factor brings the sessions it raised back to aal1;
//! - secrets are sealed with `AUTH_MFA_KEY`, bound to their factor's id;
//! - recovery codes stand in for a lost factor (see `recovery.rs`).

mod hand_off;
mod key;
mod recovery;
pub mod totp;
mod verify;
mod webauthn;

pub use super::authenticate::Caller;
pub use hand_off::HandOff;
pub use key::load as load_key;
pub use verify::Answer;

use serde_json::json;
use uuid::Uuid;

use super::{assurance::Aal, authenticate::Authenticated, Auth};
use crate::{
    client::Client,
    error::{Code, Error, Result},
    store::{
        self,
        audit::{self, event},
        mfa::Factor,
        users::User,
    },
};
use totp::{Enrolment, TotpSecret};

/// A factor just enrolled, with what the authenticator app needs (shown once; none for a
/// WebAuthn factor).
pub struct Enrolled {
    pub factor: Factor,
    pub totp: Option<Enrolment>,
}

/// The factor types.
pub const TOTP: &str = "totp";
pub const WEBAUTHN: &str = "webauthn";

/// A challenge just made.
pub struct ChallengeMade {
    pub id: Uuid,
    pub factor_type: String,
    pub expires_at: i64,
    /// A WebAuthn factor's ceremony: `{type: create|request, credential_options}`.
    pub webauthn: Option<serde_json::Value>,
}

/// The longest friendly name accepted.
const MAX_NAME_CHARS: usize = 100;

fn insufficient_aal(message: &'static str) -> Error {
    Error::new(Code::InsufficientAal, message)
}

pub(crate) fn factor_not_found() -> Error {
    Error::new(Code::MfaFactorNotFound, "Factor not found")
}

impl Auth {
    /// The level of the caller's session as stored (401 when it has ended).
    async fn session_level(&self, db: impl sqlx::PgExecutor<'_>, who: &Caller<'_>) -> Result<Aal> {
        store::mfa::session_aal(db, who.session_id, who.user.id)
            .await?
            .map(Aal::from_level)
            .ok_or_else(Error::session_not_found)
    }

    /// Whether a session of `user` at `aal` still owes its second factor: the user must use
    /// one (`AUTH_MFA_REQUIRED`) and the session is at aal1. Such a session can only enrol and
    /// verify a factor, read the user and sign out.
    pub fn mfa_pending(&self, user: &User, aal: Aal) -> bool {
        aal < Aal::Aal2 && self.config.mfa.mfa_required.applies_to(&user.allowed_roles)
    }

    /// 403 `insufficient_aal` when the session of `who` still owes its second factor (see
    /// [`Self::mfa_pending`]): every call but the MFA steps checks this.
    pub fn require_no_pending_mfa(&self, who: &Authenticated) -> Result<()> {
        if self.mfa_pending(&who.user, who.token.aal) {
            return Err(insufficient_aal(
                "AAL2 required: verify a second factor first (AUTH_MFA_REQUIRED)",
            ));
        }
        Ok(())
    }

    /// 403 `insufficient_aal` when `user_id` has a verified factor and session `session_id`
    /// is below aal2: the steps that could lock a user out of their account, or keep an
    /// intruder in, need the second factor once there is one (`what` says which).
    pub(crate) async fn require_step_up(
        &self,
        db: impl sqlx::PgExecutor<'_>,
        user_id: Uuid,
        session_id: Option<Uuid>,
        what: &str,
    ) -> Result<()> {
        if store::mfa::needs_step_up(db, user_id, session_id).await? {
            return Err(Error::new(
                Code::InsufficientAal,
                format!("AAL2 required to {what}: verify a second factor first"),
            ));
        }
        Ok(())
    }

    /// `POST /factors` with `factor_type: totp`: a new unverified factor and its secret.
    pub async fn enroll_totp(
        &self,
        who: &Caller<'_>,
        friendly_name: Option<&str>,
        issuer: Option<&str>,
        client: &Client,
    ) -> Result<Enrolled> {
        self.enroll(who, TOTP, friendly_name, issuer, client).await
    }

    /// A new unverified factor of `factor_type` (`totp`: with its secret; `webauthn`: its
    /// credential comes with its first challenge).
    pub async fn enroll(
        &self,
        who: &Caller<'_>,
        factor_type: &'static str,
        friendly_name: Option<&str>,
        issuer: Option<&str>,
        client: &Client,
    ) -> Result<Enrolled> {
        if factor_type == WEBAUTHN && self.passkeys.is_none() {
            return Err(crate::auth::passkeys::not_configured());
        }
        crate::auth::account::refuse_anonymous(who.user)?;
        let name = friendly_name.unwrap_or("").trim();
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(Error::validation_failed(
                "friendly_name is too long (at most 100 characters)",
            ));
        }
        let issuer = self.totp_issuer(issuer)?;
        let user_id = who.user.id;
        let mut tx = self.pool.begin().await?;
        // The user row is locked, so racing enrolments count each other.
        let user = store::users::find_by_id_for_update(&mut *tx, user_id)
            .await?
            .ok_or_else(Error::session_not_found)?;
        self.check_can_enroll(&mut tx, who, &user).await?;
        let id = Uuid::new_v4();
        let (totp, sealed) = match factor_type {
            TOTP => {
                let (shown, sealed) = self.new_secret(id, &issuer, &user)?;
                (Some(shown), Some(sealed))
            }
            _ => (None, None),
        };
        let new = store::mfa::NewFactor {
            factor_type,
            id,
            user_id,
            friendly_name: name,
            sealed_secret: sealed.as_deref(),
        };
        let factor = store::mfa::insert(&mut *tx, &new).await?.ok_or_else(|| {
            Error::new(
                Code::MfaFactorNameConflict,
                format!("A factor with the friendly name {name:?} for this user already exists"),
            )
        })?;
        let detail = json!({"factor_id": id, "factor_type": factor_type});
        audit::record(
            &mut *tx,
            event::MFA_FACTOR_ENROLLED,
            Some(user_id),
            Some(who.session_id),
            client,
            detail,
        )
        .await?;
        tx.commit().await?;
        self.session_cache.user_changed(user_id);
        Ok(Enrolled { factor, totp })
    }

    /// Whether `user` may enrol another factor: an aal2 session once a factor is verified,
    /// and room under `AUTH_MFA_MAX_FACTORS` (expired unverified factors are removed first).
    async fn check_can_enroll(
        &self,
        tx: &mut sqlx::PgConnection,
        who: &Caller<'_>,
        user: &User,
    ) -> Result<()> {
        store::mfa::delete_expired(&mut *tx, user.id).await?;
        if user.has_verified_factor() && self.session_level(&mut *tx, who).await? < Aal::Aal2 {
            return Err(insufficient_aal("AAL2 required to enroll a new factor"));
        }
        if user.factors.len() >= self.config.mfa.mfa_max_factors as usize {
            return Err(Error::new(
                Code::TooManyEnrolledMfaFactors,
                "Maximum number of verified factors reached, unenroll to continue",
            ));
        }
        Ok(())
    }

    /// A new secret for factor `id` of `user`: what the app is shown, and the secret sealed.
    fn new_secret(&self, id: Uuid, issuer: &str, user: &User) -> Result<(Enrolment, Vec<u8>)> {
        let secret = TotpSecret::generate();
        let account = if user.email.is_empty() {
            user.id.to_string()
        } else {
            user.email.clone()
        };
        let shown = secret
            .enrolment(issuer, &account)
            .map_err(Error::internal)?;
        let sealed = self
            .mfa_key
            .seal(id.as_bytes(), secret.bytes())
            .map_err(Error::internal)?;
        Ok((shown, sealed))
    }

    /// The issuer authenticator apps show: the request's, else `AUTH_MFA_ISSUER`, else the
    /// host of `AUTH_SITE_URL`, else this server's name.
    fn totp_issuer(&self, requested: Option<&str>) -> Result<String> {
        if let Some(issuer) = requested.map(str::trim).filter(|s| !s.is_empty()) {
            if issuer.contains(':') || issuer.chars().count() > MAX_NAME_CHARS {
                return Err(Error::validation_failed(
                    "issuer may not contain ':' (at most 100 characters)",
                ));
            }
            return Ok(issuer.to_owned());
        }
        let site_host = self.config.mail.site_url.as_deref().and_then(|u| {
            url::Url::parse(u)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
        });
        Ok(self
            .config
            .mfa
            .mfa_issuer
            .clone()
            .or(site_host)
            .unwrap_or_else(|| "hasura-jwt-auth".to_owned()))
    }

    /// `POST /factors/{id}/challenge`: a challenge of the caller's factor, answerable for
    /// five minutes from the same client address.
    pub async fn challenge_factor(
        &self,
        who: &Caller<'_>,
        factor_id: Uuid,
        client: &Client,
    ) -> Result<ChallengeMade> {
        let factor = store::mfa::find_secret_for_update(&self.pool, who.user.id, factor_id)
            .await?
            .ok_or_else(factor_not_found)?;
        let ceremony = match factor.factor_type.as_str() {
            WEBAUTHN => Some(self.webauthn_ceremony(who, &factor)?),
            _ => None,
        };
        let id = Uuid::new_v4();
        let state = ceremony.as_ref().map(|c| &c.state);
        let made =
            store::mfa::insert_challenge(&self.pool, id, factor.id, client.ip.as_deref(), state)
                .await?;
        Ok(ChallengeMade {
            id,
            factor_type: factor.factor_type,
            expires_at: made.timestamp() + store::mfa::EXPIRY_SECS as i64,
            webauthn: ceremony.map(|c| webauthn::challenge_field(c.kind, c.options)),
        })
    }

    /// `DELETE /factors/{id}`: removes the caller's factor (a verified one only from an aal2
    /// session); the sessions it raised drop to aal1.
    pub async fn unenroll_factor(
        &self,
        who: &Caller<'_>,
        factor_id: Uuid,
        client: &Client,
    ) -> Result<Uuid> {
        let user_id = who.user.id;
        let mut tx = self.pool.begin().await?;
        let factor = store::mfa::find(&mut *tx, user_id, factor_id)
            .await?
            .ok_or_else(factor_not_found)?;
        if factor.is_verified() && self.session_level(&mut *tx, who).await? < Aal::Aal2 {
            return Err(insufficient_aal(
                "AAL2 required to unenroll verified factor",
            ));
        }
        store::mfa::delete(&mut tx, user_id, factor_id).await?;
        let detail = json!({"factor_id": factor_id, "factor_status": factor.status});
        audit::record(
            &mut *tx,
            event::MFA_FACTOR_UNENROLLED,
            Some(user_id),
            Some(who.session_id),
            client,
            detail,
        )
        .await?;
        tx.commit().await?;
        self.session_cache.user_changed(user_id);
        Ok(factor_id)
    }
}
