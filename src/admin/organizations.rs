//! Organizations for administrators: putting a user in an organization with given roles (or
//! changing a member's roles), whatever the organization's own administrators think. The
//! organization still keeps an administrator. Audited with `by: admin_api|cli`.

use serde_json::json;
use uuid::Uuid;

use super::{Actor, Admin};
use crate::{
    auth::organizations::{check_roles, last_admin, member_not_found, not_found},
    error::Result,
    store::{self, audit::event, organizations::Member},
};

impl Admin {
    /// Adds user `user_id` to organization `id` with `roles`, or sets a member's roles.
    pub async fn put_organization_member(
        &self,
        id: Uuid,
        user_id: Uuid,
        roles: &[String],
        actor: &Actor,
    ) -> Result<Member> {
        let orgs = &self.config.organizations;
        let roles = check_roles(&orgs.organization_roles, roles)?;
        self.get_user(user_id).await?;
        let mut tx = self.pool.begin().await?;
        if !store::organizations::lock(&mut *tx, id).await? {
            return Err(not_found());
        }
        let before = store::organizations::membership(&mut *tx, id, user_id).await?;
        let admin = &orgs.organization_admin_role;
        if let Some(before) = &before {
            if before.roles.contains(admin)
                && !roles.contains(admin)
                && store::organizations::count_with_role(&mut *tx, id, admin).await? <= 1
            {
                return Err(last_admin());
            }
        }
        store::organizations::put_member(&mut *tx, id, user_id, &roles).await?;
        let (what, detail) = match before {
            Some(b) => (
                event::ORGANIZATION_MEMBER_ROLES_CHANGED,
                json!({"organization_id": id, "from": b.roles, "roles": roles}),
            ),
            None => (
                event::ORGANIZATION_MEMBER_ADDED,
                json!({"organization_id": id, "roles": roles}),
            ),
        };
        self.record(&mut *tx, what, Some(user_id), actor, detail)
            .await?;
        tx.commit().await?;
        self.session_cache.user_changed(user_id);
        store::organizations::members(&self.pool, id)
            .await?
            .into_iter()
            .find(|m| m.user_id == user_id)
            .ok_or_else(member_not_found)
    }
}
