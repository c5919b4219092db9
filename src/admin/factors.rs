//! A user's second factors and passkeys, for administrators: list them, and remove one (a
//! user who lost their device). Removing a factor brings the sessions it raised back to aal1.

use serde_json::json;
use uuid::Uuid;

use super::{Actor, Admin};
use crate::{
    auth::mfa::factor_not_found,
    error::Result,
    store::{self, audit::event, mfa::Factor},
};

impl Admin {
    /// The user's factors (verified, or unverified and not yet expired).
    pub async fn list_factors(&self, user_id: Uuid) -> Result<Vec<Factor>> {
        let user = self.get_user(user_id).await?;
        Ok(user.factors.0)
    }

    /// Removes factor `factor_id` of user `user_id` (audited).
    pub async fn delete_factor(
        &self,
        user_id: Uuid,
        factor_id: Uuid,
        actor: &Actor,
    ) -> Result<Factor> {
        self.get_user(user_id).await?;
        let mut tx = self.pool.begin().await?;
        let factor = store::mfa::delete(&mut tx, user_id, factor_id)
            .await?
            .ok_or_else(factor_not_found)?;
        let detail = json!({"factor_id": factor_id, "factor_status": factor.status});
        self.record(
            &mut *tx,
            event::ADMIN_FACTOR_DELETED,
            Some(user_id),
            actor,
            detail,
        )
        .await?;
        tx.commit().await?;
        self.session_cache.user_changed(user_id);
        Ok(factor)
    }
}

impl Admin {
    /// The user's passkeys.
    pub async fn list_passkeys(&self, user_id: Uuid) -> Result<Vec<store::passkeys::PasskeyInfo>> {
        self.get_user(user_id).await?;
        Ok(store::passkeys::list(&self.pool, user_id).await?)
    }

    /// Removes passkey `passkey_id` of user `user_id` (audited).
    pub async fn delete_passkey(
        &self,
        user_id: Uuid,
        passkey_id: Uuid,
        actor: &Actor,
    ) -> Result<()> {
        self.get_user(user_id).await?;
        let mut tx = self.pool.begin().await?;
        if !store::passkeys::delete(&mut *tx, user_id, passkey_id).await? {
            return Err(crate::error::Error::new(
                crate::error::Code::PasskeyNotFound,
                "Passkey not found",
            ));
        }
        let detail = json!({"passkey_id": passkey_id});
        self.record(
            &mut *tx,
            event::ADMIN_PASSKEY_DELETED,
            Some(user_id),
            actor,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
