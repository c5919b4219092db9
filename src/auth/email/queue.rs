//! Requests for a message to an address that may or may not have an account: recovery, a
//! sign-in link or code, a resend. The request path only checks the limits and stores the
//! request (the same statements whether or not the address has an account, so neither the
//! answer nor its timing tells); a worker in every running server then looks the address up
//! and, when there is someone to write to, issues the token and queues the message in one
//! transaction with the request's removal. A stored request survives a crash; several
//! instances share the queue (a request is locked by the worker that carries it out).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{pkce::Challenge, TokenKind, TokenRequest};
use crate::{
    auth::Auth,
    client::Client,
    error::Result,
    store::{
        self,
        audit::{self, event},
        users::{NewUser, User},
    },
};

/// How often the queue is looked at without being woken (other instances' requests, retries).
const POLL: Duration = Duration::from_secs(2);
/// Attempts before a request that keeps failing is dropped (with an error in the log).
const MAX_ATTEMPTS: i32 = 8;

/// What was asked for an address.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Requested {
    /// `POST /recover`.
    Recovery {
        redirect_to: Option<String>,
        challenge: Option<Challenge>,
    },
    /// `POST /otp`: for an unknown address, the account is created first when `create_user`
    /// and sign-up is allowed.
    SignInLink {
        create_user: bool,
        data: Option<Value>,
        redirect_to: Option<String>,
        challenge: Option<Challenge>,
    },
    /// `POST /resend` of the sign-up confirmation.
    ResendConfirmation { redirect_to: Option<String> },
    /// `POST /resend` of the email-change confirmations.
    ResendEmailChange { redirect_to: Option<String> },
}

impl Requested {
    fn name(&self) -> &'static str {
        match self {
            Self::Recovery { .. } => "recovery",
            Self::SignInLink { .. } => "sign_in_link",
            Self::ResendConfirmation { .. } => "resend_confirmation",
            Self::ResendEmailChange { .. } => "resend_email_change",
        }
    }
}

/// A request as stored: what was asked, and by whom (for the audit log).
#[derive(Serialize, Deserialize)]
struct Stored {
    request: Requested,
    client: Client,
}

impl Auth {
    /// Stores `request` for `email` (normalised, limits already counted) and wakes the worker.
    pub(super) async fn queue_request(
        &self,
        email: &str,
        request: Requested,
        client: &Client,
    ) -> Result<()> {
        let kind = request.name();
        let stored = Stored {
            request,
            client: client.clone(),
        };
        let params = serde_json::to_value(&stored).map_err(anyhow::Error::from)?;
        store::email_requests::insert(&self.pool, kind, email, &params).await?;
        self.mailer.wake_requests();
        Ok(())
    }

    /// Carries out the requests that are due; returns how many were handled. Each is carried
    /// out in the transaction that holds it and removes it, so it is done exactly once.
    pub async fn carry_out_email_requests(&self) -> Result<usize> {
        let mut n = 0;
        loop {
            let mut tx = self.pool.begin().await?;
            let Some(row) = store::email_requests::claim_due(&mut *tx).await? else {
                return Ok(n);
            };
            n += 1;
            let done = match serde_json::from_value::<Stored>(row.params.clone()) {
                Ok(stored) => self.carry_out(&mut tx, &row.email, stored).await,
                Err(e) => {
                    tracing::error!(id = row.id, kind = %row.kind, error = %e, "unreadable email request dropped");
                    Ok(())
                }
            };
            match done {
                Ok(()) => {
                    store::email_requests::delete(&mut *tx, row.id).await?;
                    tx.commit().await?;
                    self.mailer.wake();
                }
                Err(e) => {
                    drop(tx);
                    e.log_cause();
                    self.retry_later(&row).await?;
                }
            }
        }
    }

    /// A request whose carrying out failed: tried again later, or dropped (with an error in
    /// the log) after [`MAX_ATTEMPTS`].
    async fn retry_later(&self, row: &store::email_requests::Request) -> Result<()> {
        if row.attempts + 1 >= MAX_ATTEMPTS {
            tracing::error!(id = row.id, kind = %row.kind, "email request dropped after repeated failures");
            store::email_requests::delete(&self.pool, row.id).await?;
        } else {
            let wait = Duration::from_secs(2u64 << row.attempts.clamp(0, 8));
            store::email_requests::failed(&self.pool, row.id, wait).await?;
        }
        Ok(())
    }

    /// Carries out one request inside `tx`.
    async fn carry_out(
        &self,
        tx: &mut sqlx::PgConnection,
        email: &str,
        stored: Stored,
    ) -> Result<()> {
        let client = &stored.client;
        let existing = store::users::find_by_email(&mut *tx, email).await?;
        let found = existing.is_some();
        let user = existing.filter(|u| u.is_active(chrono::Utc::now()));
        match (stored.request, user) {
            (
                Requested::Recovery {
                    redirect_to,
                    challenge,
                },
                Some(user),
            ) => {
                self.recovery_for(tx, &user, redirect_to, challenge, client)
                    .await?
            }
            (
                Requested::SignInLink {
                    redirect_to,
                    challenge,
                    ..
                },
                Some(user),
            ) => {
                let token = TokenRequest::to_user(
                    &user,
                    TokenKind::MagicLink,
                    redirect_to.as_deref(),
                    challenge.as_ref(),
                );
                self.issue_token(tx, token, true).await?;
            }
            (
                Requested::SignInLink {
                    create_user: true,
                    data,
                    redirect_to,
                    challenge,
                },
                None,
            ) if !found && !self.config.accounts.disable_signup => {
                self.create_user_by_link(tx, email, data, redirect_to, challenge, client)
                    .await?
            }
            (Requested::ResendConfirmation { redirect_to }, Some(user))
                if user.email_confirmed_at.is_none() =>
            {
                let token = TokenRequest::to_user(
                    &user,
                    TokenKind::Confirmation,
                    redirect_to.as_deref(),
                    None,
                );
                self.issue_token(tx, token, true).await?;
            }
            (Requested::ResendEmailChange { redirect_to }, Some(user)) => {
                self.resend_email_change(tx, &user, redirect_to.as_deref(), client)
                    .await?
            }
            // Nobody to write to, or nothing to resend.
            _ => {}
        }
        Ok(())
    }

    /// The messages of a pending email change again, if the new address's allowance lets.
    async fn resend_email_change(
        &self,
        tx: &mut sqlx::PgConnection,
        user: &User,
        redirect_to: Option<&str>,
        client: &Client,
    ) -> Result<()> {
        let Some(new_email) = &user.email_change else {
            return Ok(());
        };
        if self.reserve_send(new_email).await.is_ok() {
            self.queue_email_change(tx, user, new_email, redirect_to, None, client)
                .await?;
        }
        Ok(())
    }

    async fn recovery_for(
        &self,
        tx: &mut sqlx::PgConnection,
        user: &User,
        redirect_to: Option<String>,
        challenge: Option<Challenge>,
        client: &Client,
    ) -> Result<()> {
        let token = TokenRequest::to_user(
            user,
            TokenKind::Recovery,
            redirect_to.as_deref(),
            challenge.as_ref(),
        );
        self.issue_token(tx, token, true).await?;
        audit::record(
            &mut *tx,
            event::RECOVERY_REQUESTED,
            Some(user.id),
            None,
            client,
            json!({}),
        )
        .await?;
        Ok(())
    }

    /// An account without a password, created by a sign-in link request; its link proves
    /// the address.
    async fn create_user_by_link(
        &self,
        tx: &mut sqlx::PgConnection,
        email: &str,
        data: Option<Value>,
        redirect_to: Option<String>,
        challenge: Option<Challenge>,
        client: &Client,
    ) -> Result<()> {
        let new = NewUser {
            id: Uuid::new_v4(),
            email,
            default_role: &self.config.accounts.default_role,
            allowed_roles: &self.config.accounts.default_allowed_roles,
            user_metadata: &data.unwrap_or_else(|| json!({})),
            app_metadata: &json!({}),
            enabled: true,
            email_confirmed: false,
            email_verified: false,
            invited: false,
        };
        // Lost a race with another request for the same address: that one writes.
        let Some(user) = store::users::insert(&mut *tx, &new).await? else {
            return Ok(());
        };
        let token = TokenRequest::to_user(
            &user,
            TokenKind::MagicLink,
            redirect_to.as_deref(),
            challenge.as_ref(),
        );
        self.issue_token(tx, token, true).await?;
        audit::record(
            &mut *tx,
            event::SIGN_UP,
            Some(user.id),
            None,
            client,
            json!({"method": "otp"}),
        )
        .await?;
        Ok(())
    }
}

/// Carries out email requests until the process ends: whenever woken, and every couple of
/// seconds (spawn it).
pub async fn run(auth: Auth) {
    loop {
        if let Err(e) = auth.carry_out_email_requests().await {
            e.log_cause();
            tracing::warn!(error = %e, "carrying out email requests failed");
        }
        tokio::select! {
            _ = auth.mailer.requests_notified() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}
