//! Which user an external identity belongs to (found, linked or created), and unlinking.

use serde_json::json;
use uuid::Uuid;

use super::ExternalUser;
use crate::{
    auth::{account, proven::Proof, Auth},
    client::Client,
    error::{Code, ConstraintExt, Error, Result},
    store::{
        self,
        audit::{self, event},
        identities::NewIdentity,
        users::{NewUser, User},
    },
};

impl Auth {
    /// 404 `manual_linking_disabled` unless users may link and unlink identities on request
    /// (`AUTH_MANUAL_LINKING`).
    pub fn check_manual_linking(&self) -> Result<()> {
        if self.config.anonymous.manual_linking {
            return Ok(());
        }
        Err(Error::new(
            Code::ManualLinkingDisabled,
            "Manual linking is disabled",
        ))
    }

    /// The user `external` signs in as: the one its identity belongs to; or, for a new
    /// identity, the user linking it (`link_user_id`), the account of the address it proves,
    /// or a new account. A new identity is recorded and audited.
    pub(super) async fn resolve_external_user(
        &self,
        tx: &mut sqlx::PgConnection,
        external: &ExternalUser,
        link_user_id: Option<Uuid>,
        client: &Client,
    ) -> Result<User> {
        let email = external
            .email
            .as_deref()
            .and_then(|e| account::normalize_email(e).ok());
        if let Some((identity_id, user_id)) =
            store::identities::find_user(&mut *tx, &external.provider, &external.subject).await?
        {
            if link_user_id.is_some_and(|l| l != user_id) {
                return Err(Error::new(
                    Code::IdentityAlreadyExists,
                    "This identity is already linked to another user",
                ));
            }
            store::identities::signed_in(&mut *tx, identity_id, &external.data, email.as_deref())
                .await?;
            self.keep_provider_tokens(&mut *tx, identity_id, external)
                .await?;
            return store::users::find_by_id(&mut *tx, user_id)
                .await?
                .ok_or_else(Error::user_not_found);
        }
        let existing = match (&email, link_user_id) {
            (Some(e), None) => store::users::find_by_email(&mut *tx, e).await?,
            _ => None,
        };
        let (user, event) = match (link_user_id, existing) {
            (Some(user_id), _) => {
                let user = store::users::find_by_id(&mut *tx, user_id)
                    .await?
                    .ok_or_else(Error::session_not_found)?;
                (user, event::IDENTITY_LINKED)
            }
            (None, Some(existing)) => {
                let user = self
                    .claim_account(tx, existing, external, email.as_deref(), client)
                    .await?;
                (user, event::IDENTITY_LINKED)
            }
            (None, None) => (
                self.open_account(tx, external, email.as_deref()).await?,
                event::SIGN_UP,
            ),
        };
        self.attach_identity(tx, &user, external, email.as_deref(), event, client)
            .await?;
        if user.is_anonymous {
            return self
                .convert_by_identity(tx, user, external, email.as_deref(), client)
                .await;
        }
        store::users::find_by_id(&mut *tx, user.id)
            .await?
            .ok_or_else(Error::user_not_found)
    }

    /// An anonymous user that linked an identity becomes a full user, with the identity's
    /// address when its provider verified it (refused if another account has it: nothing is
    /// merged).
    async fn convert_by_identity(
        &self,
        tx: &mut sqlx::PgConnection,
        user: User,
        external: &ExternalUser,
        email: Option<&str>,
        client: &Client,
    ) -> Result<User> {
        let user = match email.filter(|_| external.email_verified) {
            Some(address) => store::users::set_proven_email(&mut *tx, user.id, address)
                .await
                .on_constraint("users_email_key", || {
                    Error::new(
                        Code::EmailExists,
                        "A user with this email address has already been registered",
                    )
                })?
                .ok_or_else(Error::user_not_found)?,
            None => user,
        };
        self.convert_if_anonymous(tx, user, false, "identity", client)
            .await
    }

    /// The account of the address a new identity comes with, if its provider verified the
    /// address: a proof of the address, which removes whatever was set up in the account
    /// before (perhaps by someone else) unless the address was proven already.
    async fn claim_account(
        &self,
        tx: &mut sqlx::PgConnection,
        existing: User,
        external: &ExternalUser,
        email: Option<&str>,
        client: &Client,
    ) -> Result<User> {
        if !external.email_verified {
            // Never link on an address the provider has not verified: that would hand the
            // account to whoever typed it there.
            return Err(Error::new(
                Code::EmailExists,
                "An account with this email address exists; sign in to it and link this provider",
            ));
        }
        let existing = store::users::find_by_id_for_update(&mut *tx, existing.id)
            .await?
            .filter(|u| Some(u.email.as_str()) == email)
            // Changed address (or gone) since it was looked up: nothing vouched for.
            .ok_or_else(|| {
                Error::new(Code::Conflict, "The account changed meanwhile; try again")
            })?;
        self.address_proven(&mut *tx, existing, Proof::Provider, client)
            .await
    }

    /// A new account for a new identity (sign-up rules apply).
    async fn open_account(
        &self,
        tx: &mut sqlx::PgConnection,
        external: &ExternalUser,
        email: Option<&str>,
    ) -> Result<User> {
        let address = email.ok_or_else(|| {
            Error::new(
                Code::EmailAddressInvalid,
                "The identity provider gave no usable email address",
            )
        })?;
        if !external.email_verified && self.config.mail.email_confirmation_required {
            // Addresses must be proven before an account opens; this provider did not.
            return Err(Error::new(
                Code::ProviderEmailNeedsVerification,
                "The identity provider has not verified this email address; verify it there, or sign up with it by email",
            ));
        }
        if self.config.accounts.disable_signup {
            return Err(Error::signup_disabled());
        }
        let new = NewUser {
            id: Uuid::new_v4(),
            email: address,
            default_role: &self.config.accounts.default_role,
            allowed_roles: &self.config.accounts.default_allowed_roles,
            user_metadata: &json!({}),
            app_metadata: &json!({}),
            enabled: true,
            email_confirmed: external.email_verified,
            email_verified: external.email_verified,
            invited: false,
        };
        let user = store::users::insert(&mut *tx, &new)
            .await?
            .ok_or_else(|| Error::new(Code::EmailExists, "Email address taken"))?;
        store::users::set_email_identity(&mut *tx, user.id, false).await?;
        Ok(user)
    }

    /// Records `external` as an identity of `user`, with its provider tokens, and audits it.
    async fn attach_identity(
        &self,
        tx: &mut sqlx::PgConnection,
        user: &User,
        external: &ExternalUser,
        email: Option<&str>,
        event: &'static str,
        client: &Client,
    ) -> Result<()> {
        let identity = NewIdentity {
            user_id: user.id,
            provider: &external.provider,
            provider_id: &external.subject,
            identity_data: &external.data,
            email,
        };
        let identity_id = store::identities::insert(&mut *tx, &identity)
            .await?
            .ok_or_else(|| {
                Error::new(
                    Code::IdentityAlreadyExists,
                    "This identity was linked at the same moment by another sign-in; try again",
                )
            })?;
        self.keep_provider_tokens(&mut *tx, identity_id, external)
            .await?;
        let detail = json!({"provider": external.provider});
        audit::record(&mut *tx, event, Some(user.id), None, client, detail).await?;
        Ok(())
    }

    /// `DELETE /user/identities/{id}`: unlinks one of the user's external identities, unless
    /// it is their last way to sign in; audited with the provider and the session that did it.
    pub async fn unlink_identity(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        identity_id: Uuid,
        client: &Client,
    ) -> Result<User> {
        self.check_manual_linking()?;
        let mut tx = self.pool.begin().await?;
        let user = store::users::find_by_id_for_update(&mut *tx, user_id)
            .await?
            .ok_or_else(Error::session_not_found)?;
        // Counted after the lock: two unlinks at once cannot both see a spare identity.
        let external = store::identities::count(&mut *tx, user_id).await?;
        let ways = external + i64::from(user.email_identity);
        if ways <= 1 {
            return Err(Error::new(
                Code::SingleIdentityNotDeletable,
                "User must have at least 1 identity after unlinking",
            ));
        }
        let Some(provider) = store::identities::delete(&mut *tx, user_id, identity_id).await?
        else {
            return Err(Error::new(Code::IdentityNotFound, "Identity doesn't exist"));
        };
        audit::record(
            &mut *tx,
            event::IDENTITY_UNLINKED,
            Some(user_id),
            Some(session_id),
            client,
            json!({"identity_id": identity_id, "provider": provider}),
        )
        .await?;
        let user = store::users::find_by_id(&mut *tx, user_id)
            .await?
            .ok_or_else(Error::session_not_found)?;
        tx.commit().await?;
        self.session_cache.user_changed(user_id);
        Ok(user)
    }

    /// At the exchange of a link's code: links the identity the provider vouched for.
    pub(crate) async fn link_pending(
        &self,
        tx: &mut sqlx::PgConnection,
        user_id: Uuid,
        pending: serde_json::Value,
        client: &Client,
    ) -> Result<User> {
        let external: ExternalUser = serde_json::from_value(pending)
            .map_err(|e| Error::internal(anyhow::anyhow!("pending identity: {e}")))?;
        self.resolve_external_user(tx, &external, Some(user_id), client)
            .await
    }

    /// With `AUTH_PROVIDER_TOKENS_KEY`, stores the provider's tokens, encrypted.
    async fn keep_provider_tokens(
        &self,
        tx: &mut sqlx::PgConnection,
        identity_id: Uuid,
        external: &ExternalUser,
    ) -> Result<()> {
        let (Some(vault), Some(tokens)) = (&self.providers.vault, &external.tokens) else {
            return Ok(());
        };
        let sealed = vault.seal(identity_id, tokens).map_err(Error::internal)?;
        store::identities::set_provider_tokens(&mut *tx, identity_id, &sealed, tokens.expires_at)
            .await?;
        Ok(())
    }

    /// `GET /admin/users/{id}/provider_tokens`: the stored provider tokens of the user's
    /// identities, decrypted (audited).
    pub async fn provider_tokens(
        &self,
        user_id: Uuid,
        client: &Client,
    ) -> Result<Vec<serde_json::Value>> {
        let Some(vault) = &self.providers.vault else {
            return Err(Error::not_found(
                "Provider tokens are not kept (AUTH_PROVIDER_TOKENS_KEY is not set)",
            ));
        };
        let mut out = Vec::new();
        for row in store::identities::provider_tokens(&self.pool, user_id).await? {
            // Sealed under another key (rotated since): reported as unreadable.
            let tokens = vault
                .open(row.id, &row.sealed)
                .inspect_err(|e| tracing::warn!(identity = %row.id, error = %e, "provider tokens unreadable"))
                .ok();
            out.push(json!({
                "identity_id": row.id,
                "provider": row.provider,
                "readable": tokens.is_some(),
                "provider_token": tokens.as_ref().map(|t| t.access_token.expose()),
                "provider_refresh_token": tokens
                    .as_ref()
                    .and_then(|t| t.refresh_token.as_ref())
                    .map(|t| t.expose()),
                "expires_at": row.expires_at,
            }));
        }
        audit::record(
            &self.pool,
            event::PROVIDER_TOKENS_READ,
            Some(user_id),
            None,
            client,
            json!({"identities": out.len()}),
        )
        .await?;
        Ok(out)
    }
}
