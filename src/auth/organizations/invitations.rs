//! Invitations to join an organization, by email. An administrator invites an address with
//! roles; the message carries a link whose token is stored only as its SHA-256. The invitation
//! is accepted once, before it expires, and only by the account of that address: signed in
//! (`accept_invitation`), or, for an address with no account yet, by creating one on
//! acceptance (`accept_invitation_as_new_user`: the link proves the address).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use rand::{rngs::OsRng, RngCore};
use serde_json::json;
use uuid::Uuid;

use super::not_found;
use crate::{
    auth::{
        account::{normalize_email, validate_metadata},
        authenticate::Caller,
        email::{sha256, url_encode},
        Auth,
    },
    client::Client,
    error::{Code, Error, Result},
    mail::templates::{MessageKind, Variables},
    secret::Secret,
    store::{
        self,
        audit::{self, event},
        organization_invitations::{Found, Invitation, NewInvitation},
        organizations::Membership,
        users::{NewUser, User},
    },
};

/// What `POST /organizations/{id}/invitations` takes.
#[derive(Debug, Default)]
pub struct Invite {
    pub email: String,
    /// `AUTH_ORGANIZATION_DEFAULT_ROLE` when absent.
    pub roles: Option<Vec<String>>,
    /// Where the invitee lands after accepting (an allowed redirect, else the site URL).
    pub redirect_to: Option<String>,
}

/// How an invitation is named when accepted: its link's token, or (signed in, from the
/// account page) its id.
pub enum Named<'a> {
    Token(&'a str),
    Id(Uuid),
}

pub fn invitation_not_found() -> Error {
    Error::new(
        Code::InvitationNotFound,
        "Invitation not found: it may have been used, withdrawn or have expired",
    )
}

fn already_member() -> Error {
    Error::new(
        Code::AlreadyOrganizationMember,
        "This address already belongs to a member of the organization",
    )
}

fn for_another_account() -> Error {
    Error::new(
        Code::InvitationForAnotherAccount,
        "This invitation was sent to another address: sign in with the account it was sent to",
    )
}

impl Auth {
    /// `POST /organizations/{id}/invitations`, by an administrator: stores the invitation
    /// (replacing an earlier one to that address) and queues its message, in one transaction.
    /// The message counts against the address's send limits.
    pub async fn invite_to_organization(
        &self,
        who: &Caller<'_>,
        id: Uuid,
        invite: Invite,
        client: &Client,
    ) -> Result<Invitation> {
        let email = normalize_email(&invite.email)?;
        let roles = match &invite.roles {
            Some(roles) => self.organization_roles(roles)?,
            None => vec![self.config.organizations.organization_default_role.clone()],
        };
        // Only administrators, and only for addresses that are no member's, use up the
        // client's and the address's allowances of messages.
        self.as_organization_admin(&self.pool, who, id).await?;
        if store::organizations::has_member_with_email(&self.pool, id, &email).await? {
            return Err(already_member());
        }
        self.limits.email.check(client).await?;
        self.reserve_send(&email).await?;
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let token = Secret::new(B64.encode(bytes));
        let mut tx = self.pool.begin().await?;
        if !store::organizations::lock(&mut *tx, id).await? {
            return Err(not_found());
        }
        let membership = self.as_organization_admin(&mut *tx, who, id).await?;
        if store::organizations::has_member_with_email(&mut *tx, id, &email).await? {
            return Err(already_member());
        }
        let new = NewInvitation {
            organization_id: id,
            email: &email,
            roles: &roles,
            token_hash: &sha256(token.expose().as_bytes()),
            invited_by: who.user.id,
            ttl_secs: self
                .config
                .organizations
                .organization_invitation_ttl
                .as_secs_f64(),
        };
        let invitation = store::organization_invitations::put(&mut *tx, &new).await?;
        let redirect_to = self.redirect_target(invite.redirect_to.as_deref());
        let link = self.invitation_link(token.expose(), &redirect_to);
        self.queue_invitation(&mut tx, &email, &membership.organization.name, &link)
            .await?;
        let detail = json!({"organization_id": id, "email": email, "roles": roles,
                            "invitation_id": invitation.id});
        audit::record(
            &mut *tx,
            event::ORGANIZATION_MEMBER_INVITED,
            Some(who.user.id),
            Some(who.session_id),
            client,
            detail,
        )
        .await?;
        tx.commit().await?;
        self.mailer.wake();
        Ok(invitation)
    }

    /// Queues, inside `tx`, the invitation to `organization` with `link` to `email`.
    async fn queue_invitation(
        &self,
        tx: &mut sqlx::PgConnection,
        email: &str,
        organization: &str,
        link: &str,
    ) -> Result<()> {
        let vars = Variables {
            site_url: &self.config.site_url(),
            confirmation_url: link,
            token: "",
            token_hash: "",
            email,
            new_email: None,
            redirect_to: link,
            organization: Some(organization),
        };
        self.mailer
            .enqueue(tx, MessageKind::OrganizationInvitation, email, &vars)
            .await
    }

    /// The invitation message's link: the app's `redirect_to` with `invitation_token`, for
    /// the app to show the invitation (`POST /invitations/inspect`) and accept it.
    fn invitation_link(&self, token: &str, redirect_to: &str) -> String {
        let (base, fragment) = match redirect_to.split_once('#') {
            Some((base, fragment)) => (base, format!("#{fragment}")),
            None => (redirect_to, String::new()),
        };
        let sep = if base.contains('?') { '&' } else { '?' };
        format!(
            "{base}{sep}invitation_token={}{fragment}",
            url_encode(token)
        )
    }

    /// `GET /organizations/{id}/invitations`, for administrators: those not yet accepted.
    pub async fn organization_invitations(
        &self,
        who: &Caller<'_>,
        id: Uuid,
    ) -> Result<Vec<Invitation>> {
        self.as_organization_admin(&self.pool, who, id).await?;
        Ok(store::organization_invitations::pending(&self.pool, id).await?)
    }

    /// `DELETE /organizations/{id}/invitations/{invitation}`, by an administrator: its link
    /// stops working.
    pub async fn withdraw_invitation(
        &self,
        who: &Caller<'_>,
        id: Uuid,
        invitation: Uuid,
    ) -> Result<()> {
        self.as_organization_admin(&self.pool, who, id).await?;
        if !store::organization_invitations::delete(&self.pool, id, invitation).await? {
            return Err(invitation_not_found());
        }
        Ok(())
    }

    /// `POST /invitations/inspect`: what an invitation's link offers, for the page that
    /// accepts it (404 when it can no longer be accepted).
    pub async fn inspect_invitation(&self, token: &str) -> Result<Found> {
        let hash = sha256(token.as_bytes());
        store::organization_invitations::find(&self.pool, &hash)
            .await?
            .filter(|f| f.open)
            .ok_or_else(invitation_not_found)
    }

    /// `GET /invitations`: the open invitations to the caller's address, once the caller has
    /// proved it (`email_verified_at`: a link or code sent there; a sign-up alone proves
    /// nothing while confirmation is off).
    pub async fn own_invitations(&self, who: &Caller<'_>) -> Result<Vec<Found>> {
        if who.user.email_verified_at.is_none() {
            return Ok(Vec::new());
        }
        Ok(store::organization_invitations::open_for(&self.pool, &who.user.email).await?)
    }

    /// `POST /invitations/accept` with an access token: the caller joins the organization
    /// with the invitation's roles (added to any they have there). Only the account of the
    /// invited address may: by the link's token, which proves the address, or by id, once the
    /// account's address is confirmed.
    pub async fn accept_invitation(
        &self,
        who: &Caller<'_>,
        named: Named<'_>,
        client: &Client,
    ) -> Result<Membership> {
        let mut tx = self.pool.begin().await?;
        let found = match named {
            Named::Token(token) => self.open_invitation(&mut tx, token).await?,
            Named::Id(id) => {
                if who.user.email_verified_at.is_none() {
                    return Err(invitation_not_found());
                }
                let found = store::organization_invitations::find_by_id(&self.pool, id)
                    .await?
                    .filter(|f| f.invitation.email == who.user.email)
                    .ok_or_else(invitation_not_found)?;
                self.lock_open_invitation(&mut tx, found).await?
            }
        };
        if found.invitation.email != who.user.email {
            return Err(for_another_account());
        }
        self.join(
            &mut tx,
            &found.invitation,
            who.user,
            Some(who.session_id),
            client,
        )
        .await?;
        tx.commit().await?;
        self.session_cache.user_changed(who.user.id);
        store::organizations::membership(&self.pool, found.invitation.organization_id, who.user.id)
            .await?
            .ok_or_else(not_found)
    }

    /// The open invitation of `token`, locked in `tx` until it is accepted.
    pub(crate) async fn open_invitation(
        &self,
        tx: &mut sqlx::PgConnection,
        token: &str,
    ) -> Result<Found> {
        let hash = sha256(token.as_bytes());
        let found = store::organization_invitations::find(&self.pool, &hash)
            .await?
            .ok_or_else(invitation_not_found)?;
        self.lock_open_invitation(tx, found).await
    }

    /// Locks, in `tx`, the organization of invitation `found` and then the invitation itself
    /// (the order every change of an organization takes), which must still be open.
    async fn lock_open_invitation(
        &self,
        tx: &mut sqlx::PgConnection,
        found: Found,
    ) -> Result<Found> {
        if !store::organizations::lock(&mut *tx, found.invitation.organization_id).await? {
            return Err(invitation_not_found());
        }
        store::organization_invitations::find_by_id(&mut *tx, found.invitation.id)
            .await?
            .filter(|f| f.open)
            .ok_or_else(invitation_not_found)
    }

    /// Inside `tx`: `user` joins with the invitation's roles (added to any they have there),
    /// the invitation is used up, and the change audited.
    pub(crate) async fn join(
        &self,
        tx: &mut sqlx::PgConnection,
        invitation: &Invitation,
        user: &User,
        session_id: Option<Uuid>,
        client: &Client,
    ) -> Result<()> {
        let org = invitation.organization_id;
        if !store::organizations::lock(&mut *tx, org).await? {
            return Err(invitation_not_found());
        }
        let mut roles = store::organizations::membership(&mut *tx, org, user.id)
            .await?
            .map(|m| m.roles)
            .unwrap_or_default();
        let added = roles.is_empty();
        for role in &invitation.roles {
            if !roles.contains(role) {
                roles.push(role.clone());
            }
        }
        store::organizations::put_member(&mut *tx, org, user.id, &roles).await?;
        store::organization_invitations::accept(&mut *tx, invitation.id, user.id).await?;
        let event = match added {
            true => event::ORGANIZATION_MEMBER_ADDED,
            false => event::ORGANIZATION_MEMBER_ROLES_CHANGED,
        };
        let detail = json!({"organization_id": org, "roles": roles,
                            "invitation_id": invitation.id, "by": invitation.invited_by});
        audit::record(&mut *tx, event, Some(user.id), session_id, client, detail).await?;
        Ok(())
    }
}

impl Auth {
    /// `POST /invitations/accept` `{token, password, data?}` without an access token: an
    /// address with no account gets one on acceptance (its address confirmed: the link proves
    /// it), joins the organization and is signed in, its session acting there. An address
    /// that has an account signs in and accepts instead (422 `email_exists`). Counted like a
    /// sign-up.
    pub async fn accept_invitation_as_new_user(
        &self,
        token: &str,
        password: &Secret,
        data: Option<serde_json::Value>,
        client: &Client,
    ) -> Result<crate::auth::Session> {
        self.limits.sign_in.check(client).await?;
        // Refuse an unknown link and a refused password before the hashing work.
        self.inspect_invitation(token).await?;
        self.hasher.check_new(password.expose())?;
        let metadata = validate_metadata(data, "data")?.unwrap_or_else(|| json!({}));
        let hash = self.hasher.hash_new(password).await?;
        let mut tx = self.pool.begin().await?;
        let found = self.open_invitation(&mut tx, token).await?;
        let new = NewUser {
            id: Uuid::new_v4(),
            email: &found.invitation.email,
            default_role: &self.config.accounts.default_role,
            allowed_roles: &self.config.accounts.default_allowed_roles,
            user_metadata: &metadata,
            app_metadata: &json!({}),
            enabled: true,
            email_confirmed: true,
            email_verified: true,
            invited: true,
        };
        let Some(user) = store::users::insert(&mut *tx, &new).await? else {
            return Err(Error::new(
                Code::EmailExists,
                "An account with this address exists: sign in, then accept the invitation",
            ));
        };
        store::passwords::set(&mut *tx, user.id, &hash).await?;
        self.join(&mut tx, &found.invitation, &user, None, client)
            .await?;
        let opened = self
            .open_session_for(&mut tx, user, client, "sign_up")
            .await?
            .in_organization(self, &mut tx, found.invitation.organization_id)
            .await?;
        tx.commit().await?;
        opened.finish(self)
    }
}
