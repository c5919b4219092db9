//! The organization actions: `createOrganization`, `myOrganizations`, `organizationMembers`,
//! `setOrganizationMemberRoles`, `removeOrganizationMember`, `leaveOrganization`,
//! `deleteOrganization`, `inviteToOrganization`, `organizationInvitations`,
//! `acceptInvitation`, `activateOrganization`. The core's rules (`auth::organizations`) apply
//! as for `/organizations`.

use axum::{
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::{optional_input, required_input, signed_in::Acting, unknown, Call};
use crate::{
    api::{Done, InvitationView, MemberView, OrganizationView},
    auth::{
        authenticate::Caller,
        organizations::{
            invitations::{Invite, Named},
            member_not_found, not_found, NewOrganization,
        },
    },
    error::{Error, Result},
    store::organizations::Membership,
};

pub(super) const ACTIONS: [&str; 11] = [
    "createOrganization",
    "myOrganizations",
    "organizationMembers",
    "setOrganizationMemberRoles",
    "removeOrganizationMember",
    "leaveOrganization",
    "deleteOrganization",
    "inviteToOrganization",
    "organizationInvitations",
    "acceptInvitation",
    "activateOrganization",
];

#[derive(Deserialize)]
struct CreateInput {
    name: String,
    slug: Option<String>,
}

#[derive(Deserialize, Default)]
struct OrganizationInput {
    organization_id: Option<String>,
}

#[derive(Deserialize)]
struct MemberInput {
    organization_id: String,
    user_id: String,
    #[serde(default)]
    roles: Vec<String>,
}

#[derive(Deserialize)]
struct InviteInput {
    organization_id: String,
    email: String,
    roles: Option<Vec<String>>,
    redirect_to: Option<String>,
}

#[derive(Deserialize, Default)]
struct AcceptInput {
    token: Option<String>,
    id: Option<String>,
}

fn org(id: Option<&str>) -> Result<Uuid> {
    id.and_then(|id| Uuid::parse_str(id.trim()).ok())
        .ok_or_else(not_found)
}

fn json(body: impl Serialize) -> Response {
    Json(body).into_response()
}

fn all<T, V: From<T> + Serialize>(items: Vec<T>) -> Response {
    json(items.into_iter().map(V::from).collect::<Vec<V>>())
}

/// An organization as the actions' `Organization` type has it: without `metadata` (an
/// object, which the actions' types cannot describe portably).
fn organization(m: Membership) -> Value {
    let mut view = serde_json::to_value(OrganizationView::from(m)).unwrap_or_default();
    if let Some(fields) = view.as_object_mut() {
        fields.remove("metadata");
    }
    view
}

pub(super) async fn run(
    call: &Call<'_>,
    who: Acting,
    name: &str,
    input: Value,
) -> Result<Response> {
    let caller = who.caller();
    let who = &caller;
    Ok(match name {
        "createOrganization" => {
            let c: CreateInput = required_input(input)?;
            let new = NewOrganization {
                name: c.name,
                slug: c.slug,
                metadata: None,
            };
            let made = call.app.auth.create_organization(who, new, call.client);
            json(organization(made.await?))
        }
        "myOrganizations" => {
            let mine = call.app.auth.own_organizations(who).await?;
            json(mine.into_iter().map(organization).collect::<Vec<_>>())
        }
        "organizationMembers" => {
            let o: OrganizationInput = required_input(input)?;
            let id = org(o.organization_id.as_deref())?;
            all::<_, MemberView>(call.app.auth.organization_members(who, id).await?)
        }
        "setOrganizationMemberRoles" | "removeOrganizationMember" => {
            member_action(call, who, name, required_input(input)?).await?
        }
        "leaveOrganization" | "deleteOrganization" => {
            let o: OrganizationInput = required_input(input)?;
            let id = org(o.organization_id.as_deref())?;
            let auth = &call.app.auth;
            match name {
                "leaveOrganization" => auth.leave_organization(who, id, call.client).await?,
                _ => auth.delete_organization(who, id, call.client).await?,
            }
            json(Done { ok: true })
        }
        _ => invitation_action(call, who, name, input).await?,
    })
}

async fn member_action(
    call: &Call<'_>,
    who: &Caller<'_>,
    name: &str,
    m: MemberInput,
) -> Result<Response> {
    let id = org(Some(&m.organization_id))?;
    let member = Uuid::parse_str(m.user_id.trim()).map_err(|_| member_not_found())?;
    let auth = &call.app.auth;
    Ok(match name {
        "setOrganizationMemberRoles" => {
            let set = auth.set_organization_member_roles(who, id, member, &m.roles, call.client);
            json(MemberView::from(set.await?))
        }
        _ => {
            auth.remove_organization_member(who, id, member, call.client)
                .await?;
            json(Done { ok: true })
        }
    })
}

async fn invitation_action(
    call: &Call<'_>,
    who: &Caller<'_>,
    name: &str,
    input: Value,
) -> Result<Response> {
    let auth = &call.app.auth;
    Ok(match name {
        "inviteToOrganization" => {
            let i: InviteInput = required_input(input)?;
            let invite = Invite {
                email: i.email,
                roles: i.roles,
                redirect_to: i.redirect_to,
            };
            let id = org(Some(&i.organization_id))?;
            let sent = auth.invite_to_organization(who, id, invite, call.client);
            json(InvitationView::from(sent.await?))
        }
        "organizationInvitations" => {
            let o: OrganizationInput = required_input(input)?;
            let id = org(o.organization_id.as_deref())?;
            all::<_, InvitationView>(auth.organization_invitations(who, id).await?)
        }
        "acceptInvitation" => {
            let a: AcceptInput = required_input(input)?;
            let named = match (a.token.as_deref(), a.id.as_deref()) {
                (Some(token), None) => Named::Token(token),
                (None, Some(id)) => Named::Id(Uuid::parse_str(id.trim()).map_err(|_| {
                    crate::auth::organizations::invitations::invitation_not_found()
                })?),
                _ => {
                    return Err(Error::validation_failed(
                        "name the invitation by token or id",
                    ))
                }
            };
            let joined = auth.accept_invitation(who, named, call.client).await?;
            json(organization(joined))
        }
        "activateOrganization" => {
            let o: OrganizationInput = optional_input(input)?;
            let id = match o.organization_id.as_deref() {
                Some(id) => Some(org(Some(id))?),
                None => None,
            };
            let active = auth.activate_organization(who, id).await?;
            json(active.map(organization))
        }
        _ => return Err(unknown(name)),
    })
}
