//! The organization a session acts in: switched by the session itself
//! (`POST /organizations/{id}/activate`, `DELETE /organizations/active`), or chosen when it
//! opens (a password sign-in naming `organization_id`) or at a refresh that names one.

use uuid::Uuid;

use super::not_found;
use crate::{
    auth::{
        authenticate::Caller,
        refresh::{standing_of, token::RefreshToken, token::Standing},
        Auth, Opened,
    },
    client::Client,
    error::{Error, Result},
    store::{self, organizations::Membership},
};

impl Auth {
    /// `POST /organizations/{id}/activate` (`Some`), `DELETE /organizations/active` (`None`):
    /// the caller's session acts in that organization (of which the caller must be a
    /// member), or in none. Its id and the member's roles there are in the claims from the
    /// next refresh on, and in the webhook's answers at once.
    pub async fn activate_organization(
        &self,
        who: &Caller<'_>,
        id: Option<Uuid>,
    ) -> Result<Option<Membership>> {
        let membership = match id {
            Some(id) => Some(self.organization(who, id).await?),
            None => None,
        };
        let org = membership.as_ref().map(|m| m.organization.id);
        if !store::organizations::set_active(&self.pool, who.session_id, who.user.id, org).await? {
            return Err(Error::session_not_found());
        }
        // Other instances hear it from the database; this one forgets at once.
        self.session_cache.user_changed(who.user.id);
        Ok(membership)
    }

    /// The organization the caller's session acts in (while the caller is a member there).
    pub async fn active_organization(&self, who: &Caller<'_>) -> Result<Option<Uuid>> {
        let active = store::organizations::active(&self.pool, who.session_id).await?;
        Ok(active.membership().map(|(id, _)| id))
    }

    /// `POST /token?grant_type=refresh_token` naming `organization_id`: the session switches
    /// to that organization (its user must be a member: 404 otherwise, and nothing changes),
    /// then refreshes as usual, so the new access token already acts there. Only a genuine
    /// token of the session (current, or superseded: the refresh then applies its reuse
    /// rules) may switch it.
    pub async fn refresh_in_organization(
        &self,
        presented: &str,
        org: Uuid,
        client: &Client,
        arrived: std::time::Instant,
    ) -> Result<crate::auth::Session> {
        let Some(token) = RefreshToken::parse(presented) else {
            return Err(Error::validation_failed(
                "This refresh token cannot name an organization: refresh once without it",
            ));
        };
        let row = store::sessions::find_for_refresh(&self.pool, token.session_id, None)
            .await?
            .filter(|row| standing_of(&token, row) != Standing::Unknown)
            .ok_or_else(crate::auth::refresh::not_found)?;
        let already = row.org.membership().is_some_and(|(id, _)| id == org);
        if !already {
            let user_id = row.user.id;
            if !store::organizations::set_active_if_member(&self.pool, row.session_id, user_id, org)
                .await?
            {
                return Err(not_found());
            }
            self.session_cache.user_changed(user_id);
        }
        self.refresh(presented, client, arrived).await
    }
}

impl Opened {
    /// A session being opened on `db` (inside the caller's transaction) acts in organization
    /// `org` from the start: its first access token carries it. 404 when the user is not a
    /// member there.
    pub(crate) async fn in_organization(
        mut self,
        auth: &Auth,
        db: &mut sqlx::PgConnection,
        org: Uuid,
    ) -> Result<Self> {
        let session_id = self.refresh.session_id;
        if !store::organizations::set_active_if_member(&mut *db, session_id, self.user.id, org)
            .await?
        {
            return Err(not_found());
        }
        let active = store::organizations::active(&mut *db, session_id).await?;
        self.claims = auth
            .claims_for(&mut *db, &self.user, &active, self.assurance.aal)
            .await?;
        Ok(self)
    }
}
