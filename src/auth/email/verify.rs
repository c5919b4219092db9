//! Checking a link or a code from a message, and what it then does: prove the address, sign
//! in, change the address, or (for a PKCE client following a link) hand out a one-time code
//! for the session instead.

use serde_json::json;

use super::{kinds_for_type, pkce::Challenge, sha256, TokenKind};
use crate::{
    auth::{account::normalize_email, lockout::Failures, proven::Proof, Auth, Session},
    client::Client,
    error::{Code, ConstraintExt, Error, Result},
    secret::Secret,
    store::{
        self,
        audit::{self, event},
        one_time_tokens::TokenRow,
        users::User,
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

impl Verification<'_> {
    fn verification_type(&self) -> &str {
        match self {
            Self::Link {
                verification_type, ..
            }
            | Self::Code {
                verification_type, ..
            } => verification_type,
        }
    }
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

/// A code guess under way: its address, and what the lockout found on record.
struct Guess {
    email: String,
    failures: Failures,
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
        let presented_type = presented.verification_type().to_owned();
        let kinds = kind_names(&presented_type)?;
        // The limits of a code guess run first, each on a connection of its own: never while
        // this request holds a transaction's connection, or guesses could starve the pool.
        let guess = match &presented {
            Verification::Code { email, .. } => {
                let email = normalize_email(email).map_err(|_| Error::otp_expired())?;
                let failures = self.start_code_guess(&email, client).await?;
                Some(Guess { email, failures })
            }
            Verification::Link { .. } => None,
        };
        let mut tx = self.pool.begin().await?;
        let row = match (&presented, &guess) {
            (Verification::Code { code, .. }, Some(guess)) => {
                self.take_by_code(&mut tx, &guess.email, code.trim(), &kinds)
                    .await?
            }
            (Verification::Link { token, .. }, _) => take_link(&mut tx, token, &kinds).await?,
            (Verification::Code { .. }, None) => None,
        };
        let Some(row) = row else {
            // Keep what the attempt used up (the link, the counted wrong code).
            tx.commit().await?;
            if let Some(guess) = &guess {
                self.wrong_code(&guess.email, client).await?;
            }
            return Err(Error::otp_expired());
        };
        let user_id = row.user_id;
        let outcome = self
            .apply(&mut tx, row, &presented_type, following_link, client)
            .await?;
        tx.commit().await?;
        if let Some(guess) = guess {
            self.right_code(&guess.email, guess.failures).await?;
        }
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

    /// What a verified token does: an email change goes on (or completes); anything else
    /// proves the address; then a session (or a code for a PKCE client following a link).
    async fn apply(
        &self,
        tx: &mut sqlx::PgConnection,
        row: TokenRow,
        presented_type: &str,
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
                match self
                    .email_change_confirmed(tx, user, &row, kind, client)
                    .await?
                {
                    Some(changed) => changed,
                    None => return Ok(Applied::Pending { redirect_to }),
                }
            }
            _ => {
                let proof = match (kind, presented_type) {
                    (TokenKind::Confirmation, "signup") => Proof::SignUpConfirmation,
                    _ => Proof::Email(kind),
                };
                self.address_proven(tx, user, proof, client).await?
            }
        };
        let verification_type = kind.verification_type();
        if let (true, Some(challenge), Some(method)) = (
            following_link,
            row.code_challenge,
            row.code_challenge_method,
        ) {
            let challenge = Challenge { challenge, method };
            let code = self
                .issue_auth_code(tx, user.id, &challenge, verification_type, None)
                .await?;
            return Ok(Applied::Code { code, redirect_to });
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

    /// One confirmation of the email change waiting now (the token must be for it, sent to
    /// the address it names). The changed user once the change is complete; `None` while the
    /// other confirmation is still to come (secure email change).
    async fn email_change_confirmed(
        &self,
        tx: &mut sqlx::PgConnection,
        user: User,
        row: &TokenRow,
        kind: TokenKind,
        client: &Client,
    ) -> Result<Option<User>> {
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
        if !(confirmed_new && (confirmed_current || !self.secure_email_change(&user))) {
            return Ok(None);
        }
        let changed = store::users::apply_email_change(&mut *tx, user.id)
            .await
            .on_constraint("users_email_key", || {
                Error::new(
                    Code::EmailExists,
                    "A user with this email address has already been registered",
                )
            })?
            .ok_or_else(Error::otp_expired)?;
        // An anonymous user's first proven address makes it a full user.
        let changed = self
            .convert_if_anonymous(tx, changed, true, "email", client)
            .await?;
        // Messages sent to the old address must not work any more; the old address (if any)
        // is told, whoever made the change.
        store::one_time_tokens::delete_all_for_user(&mut *tx, user.id).await?;
        if !user.email.is_empty() {
            self.notify_email_changed(tx, &user.email, &changed.email)
                .await?;
        }
        audit::record(
            &mut *tx,
            event::EMAIL_CHANGED,
            Some(user.id),
            None,
            client,
            json!({"from": user.email, "to": changed.email}),
        )
        .await?;
        Ok(Some(changed))
    }
}

/// The token of a link, removed (expired or not: whoever takes it is the only one to use it);
/// `None` when unknown or expired.
async fn take_link(
    tx: &mut sqlx::PgConnection,
    token: &str,
    kinds: &[&str],
) -> Result<Option<TokenRow>> {
    let row = store::one_time_tokens::take_by_token_hash(
        &mut *tx,
        &sha256(token.trim().as_bytes()),
        kinds,
    )
    .await?;
    Ok(row.filter(|row| row.expires_at > row.db_now))
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
        Error::validation_failed(
            "type must be one of signup, invite, magiclink, recovery, email_change, email",
        )
    })?;
    Ok(kinds.iter().map(|k| k.name()).collect())
}
