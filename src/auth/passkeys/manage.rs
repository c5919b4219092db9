//! A user's own passkeys: list, rename, remove.

use serde_json::json;
use uuid::Uuid;

use crate::{
    auth::{authenticate::Caller, Auth},
    client::Client,
    error::{Code, Error, Result},
    store::{
        self,
        audit::{self, event},
        passkeys::PasskeyInfo,
    },
};

fn not_found() -> Error {
    Error::new(Code::PasskeyNotFound, "Passkey not found")
}

impl Auth {
    /// `GET /passkeys`.
    pub async fn own_passkeys(&self, who: &Caller<'_>) -> Result<Vec<PasskeyInfo>> {
        self.passkeys()?;
        Ok(store::passkeys::list(&self.pool, who.user.id).await?)
    }

    /// `PATCH /passkeys/{id}`: a new friendly name (1 to 100 characters).
    pub async fn rename_passkey(
        &self,
        who: &Caller<'_>,
        id: Uuid,
        name: &str,
    ) -> Result<PasskeyInfo> {
        self.passkeys()?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Error::validation_failed(
                "friendly_name must be 1 to 100 characters",
            ));
        }
        store::passkeys::rename(&self.pool, who.user.id, id, name)
            .await?
            .ok_or_else(not_found)
    }

    /// `DELETE /passkeys/{id}` (aal2 once the user has a verified factor).
    pub async fn delete_passkey(&self, who: &Caller<'_>, id: Uuid, client: &Client) -> Result<()> {
        self.passkeys()?;
        self.require_step_up(
            &self.pool,
            who.user.id,
            Some(who.session_id),
            "remove a passkey",
        )
        .await?;
        let mut tx = self.pool.begin().await?;
        if !store::passkeys::delete(&mut *tx, who.user.id, id).await? {
            return Err(not_found());
        }
        let detail = json!({"passkey_id": id});
        audit::record(
            &mut *tx,
            event::PASSKEY_REMOVED,
            Some(who.user.id),
            Some(who.session_id),
            client,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
