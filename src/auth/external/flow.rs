//! The sign-in flows: browser (`/authorize` → provider → `/callback`) and ID token.

use serde_json::json;
use uuid::Uuid;

use super::{provider_down, sha256, ExternalOutcome, ExternalUser, Provider, STATE_TTL};
use crate::{
    auth::{email::pkce::Challenge, Auth, Opened, Session},
    client::Client,
    error::{Code, Error, Result},
    secret::Secret,
    store::{
        self,
        audit::{self, event},
    },
};

/// What an external sign-in ended in.
pub(super) enum Signed {
    Session(Box<Session>),
    Code(Secret),
}

/// What `GET /authorize` (or linking a provider) starts.
pub struct StartExternal<'a> {
    pub provider: &'a str,
    pub redirect_to: Option<&'a str>,
    pub scopes: &'a [String],
    pub challenge: Option<Challenge>,
    /// The value of the browser's state cookie.
    pub browser_secret: &'a str,
    /// Link the identity to this signed-in user (user and session ids) instead of signing in.
    pub link_to: Option<(Uuid, Uuid)>,
}

impl Auth {
    /// `GET /authorize`: stores the sign-in under way (bound to the browser by
    /// `browser_secret`) and returns the provider URL to send the browser to. Each call stores
    /// state: limited like the other credential attempts, per client address.
    pub async fn start_external(&self, req: StartExternal<'_>, client: &Client) -> Result<String> {
        self.limits.sign_in.check(client).await?;
        let StartExternal {
            provider,
            redirect_to,
            scopes,
            challenge,
            browser_secret,
            link_to,
        } = req;
        if let Some((user_id, session_id)) = link_to {
            self.check_manual_linking()?;
            self.require_step_up(
                &self.pool,
                user_id,
                Some(session_id),
                "link another identity",
            )
            .await?;
        }
        let link_user_id = link_to.map(|(user_id, _)| user_id);
        let providers = &self.providers;
        let started = match providers.get(provider)? {
            Provider::Oidc(p) => p
                .start(&providers.http, &providers.callback_url, scopes)
                .await
                .map_err(provider_down)?,
            Provider::GitHub(p) => p
                .start(&providers.callback_url, scopes)
                .map_err(provider_down)?,
        };
        let redirect_to = self.redirect_target(redirect_to);
        store::oauth_states::insert(
            &self.pool,
            &store::oauth_states::NewState {
                state_hash: &sha256(&started.state),
                browser_hash: &sha256(browser_secret),
                provider,
                nonce: &started.nonce,
                pkce_verifier: &started.pkce_verifier,
                redirect_to: &redirect_to,
                code_challenge: challenge.as_ref().map(|c| c.challenge.as_str()),
                code_challenge_method: challenge.as_ref().map(|c| c.method.as_str()),
                link_user_id,
                ttl: STATE_TTL,
            },
        )
        .await?;
        Ok(started.url)
    }

    /// `GET /callback`: checks `state` (live, single-use, this browser's: one of
    /// `browser_secrets` is the one it was started with), exchanges the code,
    /// and signs the user in (or links the identity). Errors carry the `redirect_to` to send
    /// the browser back to, when it is known.
    pub async fn finish_external(
        &self,
        state: &str,
        code: &str,
        iss: Option<&str>,
        browser_secrets: &[String],
        client: &Client,
    ) -> std::result::Result<ExternalOutcome, (Error, Option<String>)> {
        let found = self.take_state(state, browser_secrets).await?;
        let back = || Some(found.redirect_to.clone());
        let external = self
            .exchange_code(&found, code, iss, client)
            .await
            .map_err(|e| (e, back()))?;
        let challenge = match (found.code_challenge, found.code_challenge_method) {
            (Some(challenge), Some(method)) => Some(Challenge { challenge, method }),
            _ => None,
        };
        let redirect_to = found.redirect_to;
        match self
            .sign_in_external(external, found.link_user_id, challenge, client)
            .await
        {
            Ok(Signed::Session(session)) => Ok(ExternalOutcome::Session {
                session,
                redirect_to,
            }),
            Ok(Signed::Code(code)) => Ok(ExternalOutcome::Code { code, redirect_to }),
            Err(e) => Err((e, Some(redirect_to))),
        }
    }

    /// Uses up `state`: it must be live and, for a sign-in, this browser's.
    async fn take_state(
        &self,
        state: &str,
        browser_secrets: &[String],
    ) -> std::result::Result<store::oauth_states::State, (Error, Option<String>)> {
        let invalid_state = || {
            Error::new(
                Code::BadOauthState,
                "OAuth state is invalid, expired or not for this browser",
            )
        };
        let found = store::oauth_states::take(&self.pool, &sha256(state))
            .await
            .map_err(|e| (e.into(), None))?
            .ok_or_else(|| (invalid_state(), None))?;
        let same_browser = browser_secrets
            .iter()
            .any(|b| sha256(b)[..] == found.browser_hash[..]);
        // Linking starts with an API call (no cookie reaches the browser); the state is the
        // signed-in user's, so only sign-ins are bound to the browser.
        if !found.live || (found.link_user_id.is_none() && !same_browser) {
            return Err((invalid_state(), Some(found.redirect_to)));
        }
        Ok(found)
    }

    /// The provider's user for the authorization `code` of the sign-in `found` started; a
    /// failure is audited.
    async fn exchange_code(
        &self,
        found: &store::oauth_states::State,
        code: &str,
        iss: Option<&str>,
        client: &Client,
    ) -> Result<ExternalUser> {
        let providers = &self.providers;
        let provider = providers.get(&found.provider)?;
        let external = match provider {
            // RFC 9207: an answer from another issuer than the one this sign-in went to is a
            // mix-up attack, or a misconfiguration; either way the code is not sent anywhere.
            Provider::Oidc(p)
                if iss
                    .is_some_and(|i| i.trim_end_matches('/') != p.issuer.trim_end_matches('/')) =>
            {
                Err(Error::new(
                    Code::BadOauthState,
                    "The answer comes from another issuer than the sign-in went to",
                ))
            }
            Provider::Oidc(p) => p
                .finish(
                    &providers.http,
                    &providers.callback_url,
                    code,
                    &found.pkce_verifier,
                    &found.nonce,
                )
                .await
                .map_err(provider_down),
            Provider::GitHub(p) => p
                .finish(
                    &providers.http,
                    &providers.callback_url,
                    code,
                    &found.pkce_verifier,
                )
                .await
                .map_err(provider_down),
        };
        if let Err(e) = &external {
            self.audit_external_failure(&found.provider, e, client)
                .await;
        }
        external
    }

    /// The provider sent the browser back without a code (refused or cancelled): uses up the
    /// state and returns where to send the browser.
    pub async fn abandon_external(&self, state: &str) -> Option<String> {
        store::oauth_states::take(&self.pool, &sha256(state))
            .await
            .inspect_err(|e| tracing::warn!(error = %e, "could not read an OAuth state"))
            .ok()
            .flatten()
            .map(|s| s.redirect_to)
    }

    /// `POST /token?grant_type=id_token`: signs in with an ID token of an OpenID Connect
    /// provider (checked against its keys and our client id).
    pub async fn sign_in_with_id_token(
        &self,
        provider: &str,
        id_token: &str,
        nonce: Option<&str>,
        client: &Client,
    ) -> Result<Session> {
        self.limits.sign_in.check(client).await?;
        let providers = &self.providers;
        let Provider::Oidc(p) = providers.get(provider)? else {
            return Err(Error::validation_failed(
                "this provider has no ID tokens: use the browser flow",
            ));
        };
        let external = match p.verify_id_token(&providers.http, id_token, nonce).await {
            Ok(e) => e,
            Err(e) if e.chain().any(|c| c.is::<super::Refused>()) => {
                tracing::info!(error = format!("{e:#}"), provider, "ID token refused");
                let error = Error::new(Code::BadIdToken, "The ID token is not valid");
                self.audit_external_failure(provider, &error, client).await;
                return Err(error);
            }
            Err(e) => {
                let error = provider_down(e);
                self.audit_external_failure(provider, &error, client).await;
                return Err(error);
            }
        };
        match self.sign_in_external(external, None, None, client).await? {
            Signed::Session(session) => Ok(*session),
            Signed::Code(_) => Err(Error::internal(anyhow::anyhow!(
                "an ID-token sign-in asked for no code"
            ))),
        }
    }

    async fn audit_external_failure(&self, provider: &str, e: &Error, client: &Client) {
        let detail = json!({"provider": provider, "error": e.code});
        let _ = audit::record(
            &self.pool,
            event::EXTERNAL_SIGN_IN_FAILED,
            None,
            None,
            client,
            detail,
        )
        .await;
    }

    /// Finds or creates the user of `external` (or links it to `link_user_id`), then opens a
    /// session, or with a client challenge issues the code for it.
    pub(super) async fn sign_in_external(
        &self,
        external: ExternalUser,
        link_user_id: Option<Uuid>,
        challenge: Option<Challenge>,
        client: &Client,
    ) -> Result<Signed> {
        let mut tx = self.pool.begin().await?;
        if let Some(user_id) = link_user_id {
            return self.start_link(tx, external, user_id, challenge).await;
        }
        let user = self
            .resolve_external_user(&mut tx, &external, None, client)
            .await?;
        if !user.is_active(chrono::Utc::now()) {
            return Err(Error::user_banned_grant());
        }
        if let Some(challenge) = challenge {
            let code = self
                .issue_auth_code(&mut tx, user.id, &challenge, &external.provider, None)
                .await?;
            tx.commit().await?;
            return Ok(Signed::Code(code));
        }
        let opened: Opened = self
            .open_session_for(&mut tx, user, client, &external.provider)
            .await?;
        tx.commit().await?;
        Ok(Signed::Session(Box::new(opened.finish(self)?)))
    }

    /// A link finishes at the code exchange, with the verifier of the app that started it: a
    /// link URL completed in someone else's browser links nothing.
    async fn start_link(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
        external: ExternalUser,
        user_id: Uuid,
        challenge: Option<Challenge>,
    ) -> Result<Signed> {
        let Some(challenge) = challenge else {
            return Err(link_needs_pkce());
        };
        if let Some((_, owner)) =
            store::identities::find_user(&mut *tx, &external.provider, &external.subject).await?
        {
            if owner != user_id {
                return Err(Error::new(
                    Code::IdentityAlreadyExists,
                    "This identity is already linked to another user",
                ));
            }
        }
        let pending = serde_json::to_value(&external)
            .map_err(|e| Error::internal(anyhow::anyhow!("pending identity: {e}")))?;
        let code = self
            .issue_auth_code(
                &mut tx,
                user_id,
                &challenge,
                &external.provider,
                Some(&pending),
            )
            .await?;
        tx.commit().await?;
        Ok(Signed::Code(code))
    }
}

/// Linking without a code challenge is refused: nothing would tie the provider's answer to
/// the app that asked.
pub fn link_needs_pkce() -> Error {
    Error::validation_failed("linking an identity needs the PKCE flow (code_challenge)")
}
