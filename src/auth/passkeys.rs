//! Passkeys: signing in with a WebAuthn credential instead of a password, in Supabase Auth's
//! shapes (`/passkeys/...`), by `webauthn-rs`. The relying party (id, name, origins) comes
//! from the settings, never from the request. Ceremonies are single-use and last five minutes;
//! their state waits in the database, so any instance can finish what another began.
//!
//! - Registration needs a signed-in session (aal2 once the user has a verified factor), at
//!   most [`MAX_PASSKEYS`] per user; credentials are made discoverable, so a sign-in needs no
//!   address first (and autofill works).
//! - A sign-in is public and counted against the client address's sign-in limit; it opens a
//!   session at aal1 with `amr` method `passkey`. A signature counter that went back (a
//!   cloned authenticator) is refused and audited.

mod manage;
mod sign_in;

use std::sync::Arc;

use serde_json::{json, Value};
use url::Url;
use uuid::Uuid;
use webauthn_rs::prelude::{
    Passkey, PasskeyRegistration, RegisterPublicKeyCredential, Webauthn, WebauthnBuilder,
};

use super::{authenticate::Caller, Auth};
use crate::{
    client::Client,
    config::Config,
    error::{Code, Error, Result},
    store::{
        self,
        audit::{self, event},
    },
};

/// Most passkeys a user may have.
pub const MAX_PASSKEYS: i64 = 10;

/// The relying party, when passkeys are on (`AUTH_WEBAUTHN_RP_ID`).
#[derive(Clone)]
pub struct Passkeys {
    webauthn: Arc<Webauthn>,
    /// Whether the hosted pages' origin (the public URL's) is one of the relying party's.
    on_pages: bool,
}

impl std::fmt::Debug for Passkeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passkeys")
    }
}

impl Passkeys {
    pub(crate) fn webauthn(&self) -> &Webauthn {
        &self.webauthn
    }

    /// Whether the hosted pages can use passkeys: their origin (the public URL's) is one of
    /// the relying party's origins.
    pub fn on_pages(&self) -> bool {
        self.on_pages
    }

    /// From the settings; `None` without `AUTH_WEBAUTHN_RP_ID`, an error for settings that do
    /// not fit together (an origin outside the relying party id, say).
    pub fn from_config(config: &Config) -> anyhow::Result<Option<Self>> {
        let args = &config.webauthn;
        let Some(rp_id) = args.webauthn_rp_id.as_deref().map(str::trim) else {
            return Ok(None);
        };
        let origins: Vec<String> = if args.webauthn_origins.is_empty() {
            let mut both = vec![
                origin_of(&config.site_url()),
                origin_of(&config.public_url()),
            ];
            both.dedup();
            both
        } else {
            args.webauthn_origins.clone()
        };
        let urls = origins
            .iter()
            .map(|o| {
                Url::parse(o.trim()).map_err(|e| anyhow::anyhow!("AUTH_WEBAUTHN_ORIGINS: {o}: {e}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let fits = |u: &Url| {
            u.domain()
                .is_some_and(|d| d == rp_id || d.ends_with(&format!(".{rp_id}")))
        };
        if let Some(bad) = urls.iter().find(|u| !fits(u)) {
            anyhow::bail!(
                "AUTH_WEBAUTHN_ORIGINS: {bad} is not on AUTH_WEBAUTHN_RP_ID {rp_id:?} (nor a subdomain of it); \
                 set AUTH_WEBAUTHN_ORIGINS to the app's origins"
            );
        }
        let name = args
            .webauthn_rp_name
            .clone()
            .unwrap_or_else(|| config.ui.ui_app_name.clone());
        let mut builder = WebauthnBuilder::new(rp_id, &urls[0])
            .map_err(|e| anyhow::anyhow!("AUTH_WEBAUTHN_RP_ID {rp_id:?}: {e}"))?
            .rp_name(&name);
        for url in &urls[1..] {
            builder = builder.append_allowed_origin(url);
        }
        let webauthn = builder
            .build()
            .map_err(|e| anyhow::anyhow!("passkey settings: {e}"))?;
        let pages = origin_of(&config.public_url());
        let on_pages = urls
            .iter()
            .any(|u| u.origin().ascii_serialization() == pages);
        Ok(Some(Self {
            webauthn: Arc::new(webauthn),
            on_pages,
        }))
    }
}

fn origin_of(url: &str) -> String {
    Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

/// A ceremony begun: its id, the options for the browser, and when it expires.
pub struct Begun {
    pub challenge_id: Uuid,
    pub options: Value,
    pub expires_at: i64,
}

pub(crate) fn not_configured() -> Error {
    Error::not_found("Passkeys are not enabled (AUTH_WEBAUTHN_RP_ID)")
}

fn verification_failed(message: &'static str) -> Error {
    Error::new(Code::WebauthnVerificationFailed, message)
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::internal(anyhow::anyhow!("webauthn: {e}"))
}

impl Auth {
    fn passkeys(&self) -> Result<&Passkeys> {
        self.passkeys.as_ref().ok_or_else(not_configured)
    }

    /// Stores a ceremony's state; what the browser gets.
    async fn begin(
        &self,
        user_id: Option<Uuid>,
        kind: &str,
        state: Value,
        options: Value,
    ) -> Result<Begun> {
        let challenge_id = Uuid::new_v4();
        let made =
            store::passkeys::insert_challenge(&self.pool, challenge_id, user_id, kind, &state)
                .await?;
        Ok(Begun {
            challenge_id,
            options,
            expires_at: made.timestamp() + store::passkeys::CHALLENGE_SECS as i64,
        })
    }

    /// Takes (single use) the state of ceremony `challenge_id`.
    async fn take(&self, challenge_id: Uuid, kind: &str, user_id: Option<Uuid>) -> Result<Value> {
        let taken = store::passkeys::take_challenge(&self.pool, challenge_id, kind, user_id)
            .await?
            .ok_or_else(|| {
                Error::new(
                    Code::WebauthnChallengeNotFound,
                    "Challenge not found or already used",
                )
            })?;
        if taken.expired {
            return Err(Error::new(
                Code::WebauthnChallengeExpired,
                "Challenge has expired",
            ));
        }
        Ok(taken.state)
    }

    /// `POST /passkeys/registration/options`: begins adding a passkey to the caller's account.
    pub async fn passkey_registration_options(&self, who: &Caller<'_>) -> Result<Begun> {
        let webauthn = &self.passkeys()?.webauthn;
        super::account::refuse_anonymous(who.user)?;
        self.require_step_up(
            &self.pool,
            who.user.id,
            Some(who.session_id),
            "register a passkey",
        )
        .await?;
        let existing = store::passkeys::credentials_of(&self.pool, who.user.id).await?;
        if existing.len() as i64 >= MAX_PASSKEYS {
            return Err(Error::new(
                Code::TooManyPasskeys,
                "Maximum number of passkeys reached",
            ));
        }
        let exclude = existing
            .into_iter()
            .filter_map(|c| serde_json::from_value::<Passkey>(c).ok())
            .map(|p| p.cred_id().clone())
            .collect();
        let name = if who.user.email.is_empty() {
            who.user.id.to_string()
        } else {
            who.user.email.clone()
        };
        let (options, state) = webauthn
            .start_passkey_registration(who.user.id, &name, &name, Some(exclude))
            .map_err(internal)?;
        let mut options = serde_json::to_value(options).map_err(internal)?;
        // A discoverable credential: a sign-in then needs no address first.
        options["publicKey"]["authenticatorSelection"]["residentKey"] = json!("required");
        options["publicKey"]["authenticatorSelection"]["requireResidentKey"] = json!(true);
        let state = serde_json::to_value(state).map_err(internal)?;
        self.begin(
            Some(who.user.id),
            "registration",
            state,
            options["publicKey"].take(),
        )
        .await
    }

    /// `POST /passkeys/registration/verify`: the authenticator's answer; the new passkey,
    /// named `friendly_name` (cut to 100 characters; may be empty).
    pub async fn passkey_registration_verify(
        &self,
        who: &Caller<'_>,
        challenge_id: Uuid,
        credential: Value,
        friendly_name: &str,
        client: &Client,
    ) -> Result<store::passkeys::PasskeyInfo> {
        let webauthn = &self.passkeys()?.webauthn;
        let state = self
            .take(challenge_id, "registration", Some(who.user.id))
            .await?;
        let state: PasskeyRegistration = serde_json::from_value(state).map_err(internal)?;
        let credential: RegisterPublicKeyCredential = serde_json::from_value(credential)
            .map_err(|_| verification_failed("Invalid credential response"))?;
        let passkey = webauthn
            .finish_passkey_registration(&credential, &state)
            .map_err(|_| verification_failed("Credential verification failed"))?;
        let name: String = friendly_name.trim().chars().take(100).collect();
        self.store_passkey(who, &passkey, &name, client).await
    }

    async fn store_passkey(
        &self,
        who: &Caller<'_>,
        passkey: &Passkey,
        friendly_name: &str,
        client: &Client,
    ) -> Result<store::passkeys::PasskeyInfo> {
        let mut tx = self.pool.begin().await?;
        store::users::find_by_id_for_update(&mut *tx, who.user.id).await?;
        if store::passkeys::count(&mut *tx, who.user.id).await? >= MAX_PASSKEYS {
            return Err(Error::new(
                Code::TooManyPasskeys,
                "Maximum number of passkeys reached",
            ));
        }
        let credential = serde_json::to_value(passkey).map_err(internal)?;
        let new = store::passkeys::NewPasskey {
            id: Uuid::new_v4(),
            user_id: who.user.id,
            credential_id: passkey.cred_id().as_ref(),
            credential: &credential,
            friendly_name,
        };
        let info = store::passkeys::insert(&mut *tx, &new)
            .await?
            .ok_or_else(|| {
                Error::new(
                    Code::WebauthnCredentialExists,
                    "This credential is already registered",
                )
            })?;
        let detail = json!({"passkey_id": info.id});
        audit::record(
            &mut *tx,
            event::PASSKEY_REGISTERED,
            Some(who.user.id),
            Some(who.session_id),
            client,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(info)
    }
}
