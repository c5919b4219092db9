//! The hosted sign-in page's last step after a second factor: the app gets a session of its
//! own at aal2, raised as the page's session was (or a PKCE code for one), never the page's
//! session itself.

use uuid::Uuid;

use super::{insufficient_aal, Caller};
use crate::{
    auth::{
        assurance::{Aal, Assurance},
        email::pkce::Challenge,
        refresh::token::RefreshToken,
        Auth, Opened, Session,
    },
    client::Client,
    error::{Error, Result},
    secret::Secret,
    store::{self, organizations::ActiveOrg},
};

/// What the app gets.
pub enum HandOff {
    /// A PKCE code (its session opens at aal2 when exchanged).
    Code(Secret),
    Session(Box<Session>),
}

impl Auth {
    /// A session for the app, at aal2 like the caller's (whose second factor is verified), or
    /// with `challenge` a PKCE code for one.
    pub async fn hand_off(
        &self,
        who: &Caller<'_>,
        challenge: Option<&Challenge>,
        client: &Client,
    ) -> Result<HandOff> {
        let mut tx = self.pool.begin().await?;
        let raised = store::mfa::raised_session(&mut *tx, who.session_id, who.user.id)
            .await?
            .ok_or_else(|| insufficient_aal("AAL2 required: verify a second factor first"))?;
        let user = store::users::find_by_id(&mut *tx, who.user.id)
            .await?
            .ok_or_else(Error::session_not_found)?;
        let first = raised.first_method.as_str();
        if let Some(challenge) = challenge {
            let by = (raised.raised_by.as_str(), raised.factor_id);
            let code = self
                .issue_raised_auth_code(&mut tx, user.id, challenge, first, by)
                .await?;
            tx.commit().await?;
            return Ok(HandOff::Code(code));
        }
        let opened = self.open_session_for(&mut tx, user, client, first).await?;
        let opened = self
            .raise_opened(&mut tx, opened, raised.factor_id, &raised.raised_by)
            .await?;
        tx.commit().await?;
        Ok(HandOff::Session(Box::new(opened.finish(self)?)))
    }

    /// Raises a session just opened in `tx` to aal2 (`method`, by `factor_id`), before its
    /// tokens are signed: its refresh token chain restarts, its claims are aal2's.
    pub(crate) async fn raise_opened(
        &self,
        tx: &mut sqlx::PgConnection,
        mut opened: Opened,
        factor_id: Option<Uuid>,
        method: &str,
    ) -> Result<Opened> {
        let session_id = opened.refresh.session_id;
        let restart = RefreshToken::restart(session_id, 0);
        let raised = store::mfa::raise_session(
            &mut *tx,
            session_id,
            opened.user.id,
            factor_id,
            method,
            &restart.hash(),
        )
        .await?
        .ok_or_else(Error::session_not_found)?;
        let mut refresh = restart;
        refresh.counter = raised.token_counter as u64;
        // A session the pages just opened acts in no organization yet.
        let org = ActiveOrg::default();
        opened.claims = self
            .claims_for(&mut *tx, &opened.user, &org, Aal::Aal2)
            .await?;
        opened.assurance = Assurance::stored(2, raised.amr);
        opened.refresh = refresh;
        Ok(opened)
    }
}
