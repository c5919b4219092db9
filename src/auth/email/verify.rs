//! Checking a link or a code from a message, and what it then does: confirm the address,
//! sign in, change the address, or (for a PKCE client following a link) hand out a one-time
//! code for the session instead.

use serde_json::json;

use super::{kinds_for_type, pkce::Challenge, sha256, TokenKind};
use crate::{
    auth::{account::normalize_email, proven::Proof, Auth, Session},
    client::Client,
    error::{code, ConstraintExt, Error, Result},
    secret::Secret,
    store::{
        self,
        audit::{self, event},
        one_time_tokens::TokenRow,
    },
};

/// What the user presents.
pub enum Verification<'a> {
    /// The link's token (`token` of the link, `token_hash` of auth-js's `verifyOtp`).
    Link {
        token: &'a str,
        verification_type: &'a str,
    },
    /// The 6-digit code, with the address it was sent to.
    Code {
        email: &'a str,
        code: &'a str,
        verification_type: &'a str,
    },
}

/// What a successful verification gives.
pub enum VerifyOutcome {
    /// Signed in.
    Session {
        session: Box<Session>,
        redirect_to: String,
        verification_type: &'static str,
    },
    /// Signed in, for a PKCE client: the code to exchange (with the verifier) for the session.
    Code { code: Secret, redirect_to: String },
    /// One of the two confirmations of a secure email change; the other is still to come.
    Pending { redirect_to: String },
}

impl Auth {
    /// Verifies a link or code. `following_link` is true when the user follows a link in a
    /// browser: a token requested with a PKCE challenge then yields a code, not a session.
    pub async fn verify(
        &self,
        presented: Verification<'_>,
        following_link: bool,
        client: &Client,
    ) -> Result<VerifyOutcome> {
        let mut tx = self.pool.begin().await?;
        let row = match presented {
            Verification::Link {
                token,
                verification_type,
            } => {
                let kinds = kind_names(verification_type)?;
                let row = store::one_time_tokens::take_by_token_hash(
                    &mut *tx,
                    &sha256(token.trim().as_bytes()),
                    &kinds,
                )
                .await?
                .ok_or_else(Error::otp_expired)?;
                if row.expires_at <= row.db_now {
                    tx.commit().await?;
                    return Err(Error::otp_expired());
                }
                row
            }
            Verification::Code {
                email,
                code,
                verification_type,
            } => {
                let kinds = kind_names(verification_type)?;
                let email = normalize_email(email).map_err(|_| Error::otp_expired())?;
                let guess = self.start_code_guess(&email, client).await?;
                let found = self
                    .take_by_code(&mut tx, &email, code.trim(), &kinds)
                    .await?;
                let Some(row) = found else {
                    // Keep the counted attempts.
                    tx.commit().await?;
                    self.wrong_code(&email, client).await?;
                    return Err(Error::otp_expired());
                };
                self.right_code(&email, guess).await?;
                row
            }
        };
        let user_id = row.user_id;
        let outcome = self.apply(&mut tx, row, following_link, client).await?;
        tx.commit().await?;
        self.session_cache.user_changed(user_id);
        // A verification may have queued a message (the notice of an email change).
        self.mailer.wake();
        Ok(match outcome {
            Applied::Session {
                opened,
                redirect_to,
                verification_type,
            } => VerifyOutcome::Session {
                session: Box::new(opened.finish(self)?),
                redirect_to,
                verification_type,
            },
            Applied::Code { code, redirect_to } => VerifyOutcome::Code { code, redirect_to },
            Applied::Pending { redirect_to } => VerifyOutcome::Pending { redirect_to },
        })
    }

    /// What a verified token does.
    async fn apply(
        &self,
        tx: &mut sqlx::PgConnection,
        row: TokenRow,
        following_link: bool,
        client: &Client,
    ) -> Result<Applied> {
        let kind = TokenKind::from_name(&row.kind).ok_or_else(Error::otp_expired)?;
        let redirect_to = self.redirect_target(row.redirect_to.as_deref());
        let user = store::users::find_by_id_for_update(&mut *tx, row.user_id)
            .await?
            .ok_or_else(Error::otp_expired)?;
        if !user.is_active(chrono::Utc::now()) {
            return Err(Error::user_banned());
        }
        let user = match kind {
            TokenKind::EmailChangeNew | TokenKind::EmailChangeCurrent => {
                // The token must be for the change waiting now, sent to the address it names.
                let new = kind == TokenKind::EmailChangeNew;
                let expected = if new {
                    user.email_change.as_deref()
                } else {
                    Some(user.email.as_str())
                };
                if expected.map(str::to_lowercase) != Some(row.recipient.to_lowercase())
                    || user.email_change.is_none()
                {
                    return Err(Error::otp_expired());
                }
                let (confirmed_new, confirmed_current) =
                    store::users::confirm_email_change(&mut *tx, user.id, new).await?;
                let complete =
                    confirmed_new && (confirmed_current || !self.policy.email.secure_email_change);
                if !complete {
                    return Ok(Applied::Pending { redirect_to });
                }
                let from = user.email.clone();
                let changed = store::users::apply_email_change(&mut *tx, user.id)
                    .await
                    .on_constraint("users_email_key", || {
                        Error::validation(
                            code::EMAIL_EXISTS,
                            "A user with this email address has already been registered",
                        )
                    })?
                    .ok_or_else(Error::otp_expired)?;
                // Messages sent to the old address must not work any more; the old address
                // is told, whoever made the change.
                store::one_time_tokens::delete_all_for_user(&mut *tx, user.id).await?;
                self.notify_email_changed(tx, &from, &changed.email).await?;
                audit::record(
                    &mut *tx,
                    event::EMAIL_CHANGED,
                    Some(user.id),
                    None,
                    client,
                    json!({"from": from, "to": changed.email}),
                )
                .await?;
                changed
            }
            _ => {
                self.address_proven(tx, user, Proof::Email(kind), client)
                    .await?
            }
        };
        let verification_type = kind.verification_type();
        if following_link {
            if let (Some(challenge), Some(method)) = (row.code_challenge, row.code_challenge_method)
            {
                let challenge = Challenge { challenge, method };
                let code = self
                    .issue_auth_code(tx, user.id, &challenge, verification_type, None)
                    .await?;
                return Ok(Applied::Code { code, redirect_to });
            }
        }
        let opened = self
            .open_session_for(tx, user, client, verification_type)
            .await?;
        Ok(Applied::Session {
            opened: Box::new(opened),
            redirect_to,
            verification_type,
        })
    }
}

enum Applied {
    Session {
        opened: Box<crate::auth::Opened>,
        redirect_to: String,
        verification_type: &'static str,
    },
    Code {
        code: Secret,
        redirect_to: String,
    },
    Pending {
        redirect_to: String,
    },
}

fn kind_names(verification_type: &str) -> Result<Vec<&'static str>> {
    let kinds = kinds_for_type(verification_type).ok_or_else(|| {
        Error::invalid(
            "type must be one of signup, invite, magiclink, recovery, email_change, email",
        )
    })?;
    Ok(kinds.iter().map(|k| k.name()).collect())
}
