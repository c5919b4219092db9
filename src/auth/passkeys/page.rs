//! The hosted sign-in page's passkey step: what the password step does
//! ([`Auth::sign_in_on_page`]), for a passkey.

use serde_json::Value;
use uuid::Uuid;

use crate::{
    auth::{email::pkce::Challenge, mfa::HandOff, sign_in::PageSignIn, Auth},
    client::Client,
    error::Result,
};

impl Auth {
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
