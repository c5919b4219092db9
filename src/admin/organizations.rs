//! Organizations for the server's administrators: listing, creating (with a user as its
//! administrator) and deleting them; putting a user in one with given roles (or changing a
//! member's roles) and removing members, whatever the organization's own administrators think.
//! An organization still always keeps an administrator. Audited with `by: admin_api|cli`.

use serde_json::json;
use uuid::Uuid;

use super::{offset, Actor, Admin};
use crate::{
    auth::organizations::{
        check_roles, found, last_admin, member_not_found, not_found, NewOrganization,
    },
    error::Result,
    store::{
        self,
        audit::event,
        organizations::{Listed, Member, Membership},
    },
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

    /// One page of organizations (1-based), by name, with their numbers of members, and how
    /// many there are.
    pub async fn list_organizations(&self, page: u32, per_page: u32) -> Result<(Vec<Listed>, i64)> {
        let limit = i64::from(per_page);
        Ok(store::organizations::all(&self.pool, limit, offset(page, per_page)).await?)
    }

    /// Creates an organization with user `admin_id` as its administrator.
    pub async fn create_organization(
        &self,
        new: NewOrganization,
        admin_id: Uuid,
        actor: &Actor,
    ) -> Result<Membership> {
        self.get_user(admin_id).await?;
        let mut tx = self.pool.begin().await?;
        let founded = found(&mut tx, &self.config.organizations, new, admin_id).await?;
        let org = &founded.organization;
        let detail = json!({"organization_id": org.id, "slug": org.slug, "roles": founded.roles});
        self.record(
            &mut *tx,
            event::ORGANIZATION_CREATED,
            Some(admin_id),
            actor,
            detail,
        )
        .await?;
        tx.commit().await?;
        self.session_cache.user_changed(admin_id);
        Ok(founded)
    }

    /// Deletes an organization; every session acting in it acts in none.
    pub async fn delete_organization(&self, id: Uuid, actor: &Actor) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        if !store::organizations::lock(&mut *tx, id).await? {
            return Err(not_found());
        }
        store::organizations::delete(&mut *tx, id).await?;
        let detail = json!({"organization_id": id});
        self.record(&mut *tx, event::ORGANIZATION_DELETED, None, actor, detail)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The organization's members.
    pub async fn organization_members(&self, id: Uuid) -> Result<Vec<Member>> {
        if store::organizations::find(&self.pool, id).await?.is_none() {
            return Err(not_found());
        }
        Ok(store::organizations::members(&self.pool, id).await?)
    }

    /// Removes a member (not the last administrator).
    pub async fn remove_organization_member(
        &self,
        id: Uuid,
        user_id: Uuid,
        actor: &Actor,
    ) -> Result<()> {
        let admin = &self.config.organizations.organization_admin_role;
        let mut tx = self.pool.begin().await?;
        if !store::organizations::lock(&mut *tx, id).await? {
            return Err(not_found());
        }
        let before = store::organizations::membership(&mut *tx, id, user_id)
            .await?
            .ok_or_else(member_not_found)?;
        if before.roles.contains(admin)
            && store::organizations::count_with_role(&mut *tx, id, admin).await? <= 1
        {
            return Err(last_admin());
        }
        store::organizations::remove_member(&mut *tx, id, user_id).await?;
        let detail = json!({"organization_id": id, "roles": before.roles});
        self.record(
            &mut *tx,
            event::ORGANIZATION_MEMBER_REMOVED,
            Some(user_id),
            actor,
            detail,
        )
        .await?;
        tx.commit().await?;
        self.session_cache.user_changed(user_id);
        Ok(())
    }
}
