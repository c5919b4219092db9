//! The applications a user has let act for them: listed and revoked by the user (the account
//! page, `/user/oauth/grants`), Revoking ends the
//! client's sessions for that user at once, on every instance.

use serde_json::json;
use uuid::Uuid;

use crate::{
    auth::Auth,
    client::Client,
    error::{Code, Error, Result},
    store::{
        self,
        audit::{self, event},
        oauth_grants::Grant,
        session_events::SessionEvent,
    },
};

impl Auth {
    /// The user's grants, newest first (`client_id`: only that client's).
    pub async fn user_oauth_grants(
        &self,
        user_id: Uuid,
        client_id: Option<Uuid>,
    ) -> Result<Vec<Grant>> {
        super::require_enabled(&self.config)?;
        Ok(store::oauth_grants::of_user(&self.pool, user_id, client_id).await?)
    }

    /// Revokes the user's consent to a client: its sessions for the user end now, and the next
    /// request asks again. 404 when there was none.
    pub async fn revoke_oauth_grant(
        &self,
        user_id: Uuid,
        client_id: Uuid,
        session_id: Option<Uuid>,
        client: &Client,
    ) -> Result<()> {
        super::require_enabled(&self.config)?;
        let mut tx = self.pool.begin().await?;
        let Some(ended) = store::oauth_grants::revoke(&mut tx, user_id, client_id).await? else {
            return Err(Error::new(
                Code::OAuthGrantNotFound,
                "No access granted to this application",
            ));
        };
        let detail = json!({"client_id": client_id});
        audit::record(
            &mut *tx,
            event::OAUTH_GRANT_REVOKED,
            Some(user_id),
            session_id,
            client,
            detail,
        )
        .await?;
        tx.commit().await?;
        // Seen here at once; other instances hear it from the database (milliseconds).
        for id in ended {
            self.session_cache.apply(SessionEvent::SessionDeleted(id));
        }
        Ok(())
    }
}
