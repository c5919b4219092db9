//! The user's answer to an authorization request (Supabase Auth's
//! `GET /oauth/authorizations/{id}` and `POST …/consent`, and the hosted consent page): the
//! request is bound to the first user who sees it, consent given before for no less is
//! remembered, and an approval returns the client's redirect with a single-use code.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use rand::{rngs::OsRng, RngCore};
use serde_json::json;
use uuid::Uuid;

use super::{token_roles, with_params};
use crate::{
    auth::{authenticate::Caller, Auth},
    client::Client,
    error::{Code, Error, Result},
    store::{
        self,
        audit::{self, event},
        oauth_authorizations::{Approval, Authorization},
        oauth_clients::OAuthClient,
        oauth_grants::Consent,
    },
};

/// How long a code is good for once issued.
const CODE_TTL_SECS: f64 = 120.0;

/// What the user is asked, or (consent remembered) where the browser goes at once.
pub enum Details {
    Ask(Box<Request>),
    Done(String),
}

/// A request as the user is asked about it.
pub struct Request {
    pub authorization: Authorization,
    pub client: OAuthClient,
    /// The Hasura roles the client's tokens would carry.
    pub roles: Vec<String>,
}

fn not_found() -> Error {
    Error::new(
        Code::OAuthAuthorizationNotFound,
        "Authorization not found, expired or already answered",
    )
}

/// Whether `held` includes every one of `wanted`.
fn covers(held: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|w| held.contains(w))
}

impl Auth {
    /// The request as the user should see it, bound to them; when they consented before to
    /// these scopes and roles, it is approved at once.
    pub async fn authorization_details(
        &self,
        id: Uuid,
        who: Caller<'_>,
        client: &Client,
    ) -> Result<Details> {
        super::require_enabled(&self.config)?;
        let mut tx = self.pool.begin().await?;
        let (authorization, oauth_client) = self.pending(&mut tx, id, who.user.id).await?;
        let roles = token_roles(oauth_client.allowed_roles.as_deref(), who.user);
        let grant = store::oauth_grants::find(&mut *tx, who.user.id, oauth_client.id).await?;
        // Consent given before to these scopes, roles and resource (or more) is not asked again.
        let remembered = grant.is_some_and(|g| {
            covers(&g.scopes, &authorization.scopes)
                && covers(&g.roles, &roles)
                && authorization
                    .resource
                    .as_ref()
                    .is_none_or(|r| g.resources.contains(r))
        });
        if remembered {
            let url = self
                .approve_locked(&mut tx, &authorization, &oauth_client, who, client)
                .await?;
            tx.commit().await?;
            return Ok(Details::Done(url));
        }
        tx.commit().await?;
        Ok(Details::Ask(Box::new(Request {
            authorization,
            client: oauth_client,
            roles,
        })))
    }

    /// The user approves or denies the request: where the browser goes next (the client's
    /// redirect URI with a code, or with `error=access_denied`).
    pub async fn answer_authorization(
        &self,
        id: Uuid,
        who: Caller<'_>,
        approve: bool,
        client: &Client,
    ) -> Result<String> {
        super::require_enabled(&self.config)?;
        let mut tx = self.pool.begin().await?;
        let (authorization, oauth_client) = self.pending(&mut tx, id, who.user.id).await?;
        let url = if approve {
            self.approve_locked(&mut tx, &authorization, &oauth_client, who, client)
                .await?
        } else {
            store::oauth_authorizations::deny(&mut *tx, id).await?;
            let detail = json!({"client_id": oauth_client.id});
            audit::record(
                &mut *tx,
                event::OAUTH_CONSENT_DENIED,
                Some(who.user.id),
                Some(who.session_id),
                client,
                detail,
            )
            .await?;
            self.refusal(&authorization, "The user denied the request")
        };
        tx.commit().await?;
        Ok(url)
    }

    /// The request, locked, while it waits for this user's answer (bound to them: no one
    /// else can see or answer it from now on); with its client.
    async fn pending(
        &self,
        tx: &mut sqlx::PgConnection,
        id: Uuid,
        user_id: Uuid,
    ) -> Result<(Authorization, OAuthClient)> {
        let mut a = store::oauth_authorizations::lock(&mut *tx, id)
            .await?
            .ok_or_else(not_found)?;
        let other_user = a.user_id.is_some_and(|u| u != user_id);
        if a.expired || a.status != "pending" || other_user {
            return Err(not_found());
        }
        if a.user_id.is_none() {
            store::oauth_authorizations::bind_user(&mut *tx, id, user_id).await?;
            a.user_id = Some(user_id);
        }
        let client = store::oauth_clients::find(&mut *tx, a.client_id)
            .await?
            .ok_or_else(not_found)?;
        Ok((a, client))
    }

    /// The client's redirect with `error=access_denied`.
    fn refusal(&self, a: &Authorization, why: &str) -> String {
        self.error_redirect(&a.redirect_uri, a.state.as_deref(), "access_denied", why)
    }

    /// Approves a locked, pending request: a code (stored as its hash), the consent
    /// remembered, the event audited; the client's redirect with the code. A client whose
    /// roles the user has none of is refused.
    async fn approve_locked(
        &self,
        tx: &mut sqlx::PgConnection,
        a: &Authorization,
        oauth_client: &OAuthClient,
        who: Caller<'_>,
        client: &Client,
    ) -> Result<String> {
        // The client's roles that the user has: what the user is shown and grants.
        let roles = token_roles(oauth_client.allowed_roles.as_deref(), who.user);
        if roles.is_empty() {
            store::oauth_authorizations::deny(&mut *tx, a.id).await?;
            return Ok(self.refusal(a, "The application needs a role this account does not have"));
        }
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let code = B64.encode(bytes);
        let code_hash = crate::auth::email::sha256(code.as_bytes());
        let approval = Approval {
            roles: &roles,
            code_hash: &code_hash,
            session_id: who.session_id,
            code_ttl_secs: CODE_TTL_SECS,
        };
        store::oauth_authorizations::approve(&mut *tx, a.id, &approval).await?;
        let consent = Consent {
            scopes: &a.scopes,
            roles: &roles,
            resource: a.resource.as_deref(),
        };
        store::oauth_grants::upsert(&mut *tx, who.user.id, oauth_client.id, &consent).await?;
        let detail = json!({"client_id": oauth_client.id, "scopes": a.scopes, "roles": roles,
                            "resource": a.resource});
        audit::record(
            &mut *tx,
            event::OAUTH_CONSENT_GRANTED,
            Some(who.user.id),
            Some(who.session_id),
            client,
            detail,
        )
        .await?;
        let mut params = vec![
            ("code", code.as_str()),
            ("iss", self.tokens.issuer.as_str()),
        ];
        if let Some(state) = a.state.as_deref() {
            params.push(("state", state));
        }
        Ok(with_params(&a.redirect_uri, &params))
    }
}
