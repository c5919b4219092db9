//! Changing who is in an organization, and with which roles: in one transaction with the
//! organization locked, so that it always keeps an administrator.

use serde_json::json;
use uuid::Uuid;

use super::{last_admin, not_found};
use crate::{
    auth::{authenticate::Caller, Auth},
    client::Client,
    error::{Code, Error, Result},
    store::{
        self,
        audit::{self, event},
        organizations::Member,
    },
};

/// What happens to a member.
enum Change {
    Roles(Vec<String>),
    Remove,
    Leave,
}

impl Auth {
    /// `PUT /organizations/{id}/members/{user_id}` `{roles}`, by an administrator.
    pub async fn set_organization_member_roles(
        &self,
        who: &Caller<'_>,
        id: Uuid,
        member: Uuid,
        roles: &[String],
        client: &Client,
    ) -> Result<Member> {
        let roles = self.organization_roles(roles)?;
        self.change_member(who, id, member, Change::Roles(roles), client)
            .await?;
        store::organizations::members(&self.pool, id)
            .await?
            .into_iter()
            .find(|m| m.user_id == member)
            .ok_or_else(member_not_found)
    }

    /// `DELETE /organizations/{id}/members/{user_id}`, by an administrator.
    pub async fn remove_organization_member(
        &self,
        who: &Caller<'_>,
        id: Uuid,
        member: Uuid,
        client: &Client,
    ) -> Result<()> {
        self.change_member(who, id, member, Change::Remove, client)
            .await
    }

    /// `POST /organizations/{id}/leave`, by any member.
    pub async fn leave_organization(
        &self,
        who: &Caller<'_>,
        id: Uuid,
        client: &Client,
    ) -> Result<()> {
        self.change_member(who, id, who.user.id, Change::Leave, client)
            .await
    }

    async fn change_member(
        &self,
        who: &Caller<'_>,
        id: Uuid,
        member: Uuid,
        change: Change,
        client: &Client,
    ) -> Result<()> {
        let admin_role = &self.config.organizations.organization_admin_role;
        let mut tx = self.pool.begin().await?;
        if !store::organizations::lock(&mut *tx, id).await? {
            return Err(not_found());
        }
        if !matches!(change, Change::Leave) {
            self.as_organization_admin(&mut *tx, who, id).await?;
        }
        let current = store::organizations::membership(&mut *tx, id, member)
            .await?
            .ok_or_else(|| match change {
                Change::Leave => not_found(),
                _ => member_not_found(),
            })?;
        let keeps_admin = matches!(&change, Change::Roles(r) if r.contains(admin_role));
        if current.roles.contains(admin_role)
            && !keeps_admin
            && store::organizations::count_with_role(&mut *tx, id, admin_role).await? <= 1
        {
            return Err(last_admin());
        }
        let (what, detail) = match &change {
            Change::Roles(roles) => {
                store::organizations::put_member(&mut *tx, id, member, roles).await?;
                let detail = json!({"organization_id": id, "by": who.user.id,
                                    "from": current.roles, "roles": roles});
                (event::ORGANIZATION_MEMBER_ROLES_CHANGED, detail)
            }
            Change::Remove | Change::Leave => {
                store::organizations::remove_member(&mut *tx, id, member).await?;
                let detail = json!({"organization_id": id, "by": who.user.id,
                                    "roles": current.roles});
                let what = match change {
                    Change::Leave => event::ORGANIZATION_LEFT,
                    _ => event::ORGANIZATION_MEMBER_REMOVED,
                };
                (what, detail)
            }
        };
        audit::record(
            &mut *tx,
            what,
            Some(member),
            Some(who.session_id),
            client,
            detail,
        )
        .await?;
        tx.commit().await?;
        // Other instances hear it from the database; this one forgets at once.
        self.session_cache.user_changed(member);
        Ok(())
    }
}

pub fn member_not_found() -> Error {
    Error::new(
        Code::OrganizationMemberNotFound,
        "No such member of this organization",
    )
}
