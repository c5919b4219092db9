//! Organizations (tenants): any full user creates one and becomes its administrator
//! (`AUTH_ORGANIZATION_ADMIN_ROLE`); administrators list members, change their roles (among
//! `AUTH_ORGANIZATION_ROLES`), remove them and delete the organization; any member leaves.
//! An organization always keeps an administrator: the last one cannot be demoted, removed or
//! leave (delete the organization instead). Every change of membership is audited. To anyone
//! not a member, an organization does not exist (404).

mod active;
pub mod invitations;
mod members;

pub use members::member_not_found;

use serde_json::{json, Value};
use uuid::Uuid;

use super::{account::refuse_anonymous, authenticate::Caller, Auth};
use crate::{
    client::Client,
    error::{Code, Error, Result},
    store::{
        self,
        audit::{self, event},
        organizations::{Member, Membership},
    },
};

/// What `POST /organizations` takes.
#[derive(Debug, Default)]
pub struct NewOrganization {
    pub name: String,
    /// Made from the name when absent.
    pub slug: Option<String>,
    pub metadata: Option<Value>,
}

pub fn not_found() -> Error {
    Error::new(Code::OrganizationNotFound, "Organization not found")
}

/// A slug from a name: lowercase letters and digits, words joined by `-`, at most 64.
fn slug_of(name: &str) -> String {
    let mut slug = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.truncate(64);
    slug.trim_end_matches('-').to_owned()
}

fn valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= 64
        && slug.split('-').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// `roles` checked against the configured organization roles (`allowed`): deduplicated, in
/// order, at least one.
pub fn check_roles(allowed: &[String], roles: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for role in roles.iter().map(|r| r.trim()) {
        if !allowed.iter().any(|a| a == role) {
            return Err(Error::validation_failed(format!(
                "role {role:?} is not an organization role (one of: {})",
                allowed.join(", ")
            )));
        }
        if !out.iter().any(|r| r == role) {
            out.push(role.to_owned());
        }
    }
    if out.is_empty() {
        return Err(Error::validation_failed(
            "roles must name at least one role",
        ));
    }
    Ok(out)
}

/// The error for an organization's last administrator losing the role.
pub fn last_admin() -> Error {
    Error::new(
        Code::LastOrganizationAdmin,
        "An organization keeps at least one administrator: name another first, or delete it",
    )
}

/// Inside `tx`: creates an organization from `new` (name 1 to 200 characters; the slug made
/// from the name when absent; metadata an object) with `founder` as its administrator (the
/// admin and default roles). 409 `organization_slug_taken`.
pub async fn found(
    tx: &mut sqlx::PgConnection,
    orgs: &crate::config::OrganizationArgs,
    new: NewOrganization,
    founder: Uuid,
) -> Result<Membership> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::validation_failed("name must be 1 to 200 characters"));
    }
    let slug = match new.slug.as_deref().map(str::trim) {
        Some(s) => s.to_owned(),
        None => slug_of(name),
    };
    if !valid_slug(&slug) {
        return Err(Error::validation_failed(
            "slug must be lowercase letters and digits in words joined by '-', at most 64",
        ));
    }
    let metadata = new.metadata.unwrap_or_else(|| json!({}));
    if !metadata.is_object() {
        return Err(Error::validation_failed("metadata must be an object"));
    }
    let mut roles = vec![orgs.organization_admin_role.clone()];
    if orgs.organization_default_role != orgs.organization_admin_role {
        roles.push(orgs.organization_default_role.clone());
    }
    let organization = store::organizations::create(&mut *tx, name, &slug, &metadata)
        .await?
        .ok_or_else(|| Error::new(Code::OrganizationSlugTaken, "An organization has this slug"))?;
    store::organizations::put_member(&mut *tx, organization.id, founder, &roles).await?;
    Ok(Membership {
        organization,
        roles,
    })
}

impl Auth {
    /// The roles named, checked against `AUTH_ORGANIZATION_ROLES` ([`check_roles`]).
    fn organization_roles(&self, roles: &[String]) -> Result<Vec<String>> {
        check_roles(&self.config.organizations.organization_roles, roles)
    }

    /// `POST /organizations`: the caller becomes its administrator.
    pub async fn create_organization(
        &self,
        who: &Caller<'_>,
        new: NewOrganization,
        client: &Client,
    ) -> Result<Membership> {
        refuse_anonymous(who.user)?;
        let mut tx = self.pool.begin().await?;
        let founded = found(&mut tx, &self.config.organizations, new, who.user.id).await?;
        let (organization, roles) = (&founded.organization, &founded.roles);
        let slug = &organization.slug;
        let detail = json!({"organization_id": organization.id, "slug": slug, "roles": roles});
        audit::record(
            &mut *tx,
            event::ORGANIZATION_CREATED,
            Some(who.user.id),
            Some(who.session_id),
            client,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(founded)
    }

    /// `GET /organizations`: the caller's organizations, with the caller's roles in each.
    pub async fn own_organizations(&self, who: &Caller<'_>) -> Result<Vec<Membership>> {
        Ok(store::organizations::memberships(&self.pool, who.user.id).await?)
    }

    /// `GET /organizations/{id}`, for its members.
    pub async fn organization(&self, who: &Caller<'_>, id: Uuid) -> Result<Membership> {
        store::organizations::membership(&self.pool, id, who.user.id)
            .await?
            .ok_or_else(not_found)
    }

    /// The caller's membership, which must hold the administrator role.
    pub(crate) async fn as_organization_admin(
        &self,
        db: impl sqlx::PgExecutor<'_>,
        who: &Caller<'_>,
        id: Uuid,
    ) -> Result<Membership> {
        let membership = store::organizations::membership(db, id, who.user.id)
            .await?
            .ok_or_else(not_found)?;
        let admin = &self.config.organizations.organization_admin_role;
        if !membership.roles.contains(admin) {
            return Err(Error::new(
                Code::OrganizationAdminRequired,
                format!("Only members with the role {admin} may do this"),
            ));
        }
        Ok(membership)
    }

    /// `GET /organizations/{id}/members`, for its administrators.
    pub async fn organization_members(&self, who: &Caller<'_>, id: Uuid) -> Result<Vec<Member>> {
        self.as_organization_admin(&self.pool, who, id).await?;
        Ok(store::organizations::members(&self.pool, id).await?)
    }

    /// `DELETE /organizations/{id}`, by an administrator.
    pub async fn delete_organization(
        &self,
        who: &Caller<'_>,
        id: Uuid,
        client: &Client,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        if !store::organizations::lock(&mut *tx, id).await? {
            return Err(not_found());
        }
        let membership = self.as_organization_admin(&mut *tx, who, id).await?;
        store::organizations::delete(&mut *tx, id).await?;
        let detail = json!({"organization_id": id, "slug": membership.organization.slug});
        audit::record(
            &mut *tx,
            event::ORGANIZATION_DELETED,
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
