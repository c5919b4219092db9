//! Signing in with a passkey: the API's ceremony (`/passkeys/authentication/...`) and the
//! hosted sign-in page's, which lands like its password step ([`Auth::sign_in_on_page`]).

use serde_json::{json, Value};
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PublicKeyCredential, WebauthnError,
};

use super::{internal, verification_failed, Begun};
use crate::{
    auth::{email::pkce::Challenge, mfa::HandOff, sign_in::PageSignIn, Auth, Session},
    client::Client,
    error::{Error, Result},
    store::{
        self,
        audit::{self, event},
        users::User,
    },
};

impl Auth {
    /// `POST /passkeys/authentication/options`: begins a sign-in with any passkey of this
    /// relying party (discoverable: no address needed). Counted against the address's limit.
    pub async fn passkey_authentication_options(&self, client: &Client) -> Result<Begun> {
        let webauthn = &self.passkeys()?.webauthn;
        self.limits.sign_in.check(client).await?;
        let (options, state) = webauthn
            .start_discoverable_authentication()
            .map_err(internal)?;
        let mut options = serde_json::to_value(options).map_err(internal)?;
        let state = serde_json::to_value(state).map_err(internal)?;
        self.begin(None, "authentication", state, options["publicKey"].take())
            .await
    }

    /// `POST /passkeys/authentication/verify`: the authenticator's assertion; a new session
    /// (aal1, `amr` method `passkey`).
    pub async fn passkey_authentication_verify(
        &self,
        challenge_id: Uuid,
        credential: Value,
        client: &Client,
    ) -> Result<Session> {
        let asserted = self
            .check_assertion(challenge_id, credential, client)
            .await?;
        let mut tx = self.pool.begin().await?;
        let user = self.use_passkey(&mut tx, &asserted).await?;
        let opened = self
            .open_session_for(&mut tx, user, client, "passkey")
            .await?;
        tx.commit().await?;
        opened.finish(self)
    }

    /// Checks a sign-in's assertion against its ceremony (taken, so used once) and the stored
    /// passkey; a signature counter that went back is refused and audited. Counted against
    /// the address's sign-in limit.
    async fn check_assertion(
        &self,
        challenge_id: Uuid,
        credential: Value,
        client: &Client,
    ) -> Result<Asserted> {
        let webauthn = &self.passkeys()?.webauthn;
        self.limits.sign_in.check(client).await?;
        let state = self.take(challenge_id, "authentication", None).await?;
        let state: DiscoverableAuthentication = serde_json::from_value(state).map_err(internal)?;
        let credential: PublicKeyCredential = serde_json::from_value(credential)
            .map_err(|_| verification_failed("Invalid credential response"))?;
        let (user_id, credential_id) =
            webauthn
                .identify_discoverable_authentication(&credential)
                .map_err(|_| verification_failed("Invalid user handle in assertion"))?;
        let row = store::passkeys::find_by_credential(&self.pool, user_id, credential_id)
            .await?
            .ok_or_else(|| verification_failed("Credential verification failed"))?;
        let mut passkey: Passkey = serde_json::from_value(row.credential).map_err(internal)?;
        let result =
            match webauthn.finish_discoverable_authentication_v2(&credential, state, &passkey) {
                Ok(result) => result,
                Err(WebauthnError::CredentialPossibleCompromise) => {
                    let detail = json!({"passkey_id": row.id, "reason": "counter_went_back"});
                    audit::record(
                        &self.pool,
                        event::PASSKEY_CLONE_DETECTED,
                        Some(user_id),
                        None,
                        client,
                        detail,
                    )
                    .await?;
                    return Err(verification_failed("Credential verification failed"));
                }
                Err(_) => return Err(verification_failed("Credential verification failed")),
            };
        passkey.update_credential(&result);
        Ok(Asserted {
            passkey_id: row.id,
            user_id,
            passkey,
        })
    }

    /// In `tx`: the asserted passkey's user, if still allowed in, with the passkey's new
    /// counter and last use stored.
    async fn use_passkey(&self, tx: &mut sqlx::PgConnection, asserted: &Asserted) -> Result<User> {
        let user = store::users::find_by_id(&mut *tx, asserted.user_id)
            .await?
            .ok_or_else(|| verification_failed("Credential verification failed"))?;
        if !user.is_active(chrono::Utc::now()) {
            return Err(Error::user_banned_grant());
        }
        let credential = serde_json::to_value(&asserted.passkey).map_err(internal)?;
        store::passkeys::used(&mut *tx, asserted.passkey_id, &credential).await?;
        Ok(user)
    }

    /// Signs in with a passkey on the hosted page: what the app gets (a session, or a PKCE
    /// code with `challenge`), or, for a user with a verified factor or who must use one
    /// (`AUTH_MFA_REQUIRED`), a session (aal1, `amr` method `passkey`) for the page to take
    /// the second factor in first. A passkey is one factor here, as in Supabase Auth.
    pub async fn passkey_sign_in_on_page(
        &self,
        challenge_id: Uuid,
        credential: Value,
        challenge: Option<&Challenge>,
        client: &Client,
    ) -> Result<PageSignIn> {
        let asserted = self
            .check_assertion(challenge_id, credential, client)
            .await?;
        let mut tx = self.pool.begin().await?;
        let user = self.use_passkey(&mut tx, &asserted).await?;
        let second_factor = user.has_verified_factor()
            || self.config.mfa.mfa_required.applies_to(&user.allowed_roles);
        if let (false, Some(challenge)) = (second_factor, challenge) {
            let code = self
                .issue_auth_code(&mut tx, user.id, challenge, "passkey", None)
                .await?;
            tx.commit().await?;
            return Ok(PageSignIn::Done(HandOff::Code(code)));
        }
        let opened = self
            .open_session_for(&mut tx, user, client, "passkey")
            .await?;
        tx.commit().await?;
        let session = Box::new(opened.finish(self)?);
        Ok(if second_factor {
            PageSignIn::SecondFactor(session)
        } else {
            PageSignIn::Done(HandOff::Session(session))
        })
    }
}

/// A sign-in's assertion that checked out: whose passkey, updated by it.
struct Asserted {
    passkey_id: Uuid,
    user_id: Uuid,
    passkey: Passkey,
}
