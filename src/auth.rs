//! The framework-free core of sessions: sign-up and sign-in, refresh (rotation, reuse and
//! theft), access-token checks, sign-out and revocation, and self-service account changes.
//! No HTTP in here: every operation takes plain values and returns a [`Session`], a user, or
//! a domain [`Error`]. Every service reads the settings it needs from the shared [`Config`].
//!
//! One file or folder per concept:
//! - the ways in: [`sign_up`], [`sign_in`] (password), [`email`] (confirmation, recovery,
//!   links and codes, email change, invitations), [`external`] (identity providers), and
//!   [`proven`] (what the first proof of an address removes);
//! - sessions: [`refresh`] (rotation, reuse and theft; its refresh tokens, salts and merged
//!   statements), [`authenticate`] (access token → live session), [`session_cache`] (live
//!   sessions in memory), [`sign_out`] (logout and RFC 7009 revocation), [`sessions`] (the
//!   user's own list);
//! - the account: [`self_update`] (`PUT /user`), [`account`] (input rules), [`password`]
//!   (hashing and rules for new passwords);
//! - tokens and keys: [`tokens`] (access tokens, and those verified already), [`claims`],
//!   [`keys`];
//! - protection: [`rate_limit`] (shared limits), [`lockout`] (per account), [`redirect`]
//!   (where links may lead).

pub mod account;
pub mod anonymous;
pub mod api_keys;
pub mod assurance;
pub mod authenticate;
mod bounded;
pub mod claims;
pub mod email;
pub mod external;
pub mod keys;
pub mod lockout;
pub mod mfa;
pub mod oauth_server;
pub mod organizations;
pub mod passkeys;
pub mod password;
pub mod proven;
pub mod rate_limit;
pub mod reauthenticate;
pub mod redirect;
pub mod refresh;
pub mod sealing;
pub mod self_update;
pub mod session_cache;
pub mod sessions;
pub mod sign_in;
pub mod sign_out;
pub mod sign_up;
pub mod tokens;

use std::sync::Arc;

use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    client::Client,
    config::Config,
    error::{Error, Result},
    secret::Secret,
    store::{self, organizations::ActiveOrg, users::User},
};
use assurance::{amr_method, Aal, Assurance};
use claims::{normalize_custom_claims, HasuraClaims};
use password::PasswordHasher;
use refresh::token::RefreshToken;
use tokens::{AccessTokens, Issued};

pub use authenticate::Authenticated;
pub use self_update::SelfUpdate;
pub use session_cache::LiveUser;
pub use sign_out::LogoutScope;
pub use sign_up::{SignUpRequest, SignedUp};

/// A signed-in session, as the token endpoint returns it.
pub struct Session {
    pub access: Issued,
    pub refresh_token: Secret,
    pub user: User,
    pub session_id: Uuid,
    /// The session's assurance level, as its access token says.
    pub aal: Aal,
}

/// The session service behind the HTTP handlers and the Hasura actions.
#[derive(Clone, Debug)]
pub struct Auth {
    pub pool: PgPool,
    pub tokens: AccessTokens,
    pub hasher: PasswordHasher,
    /// The settings: the core reads what it needs where it needs it.
    pub config: Arc<Config>,
    pub mailer: crate::mail::Mailer,
    pub providers: external::Providers,
    /// Live sessions recently checked (see [`session_cache`]).
    pub session_cache: Arc<session_cache::SessionCache>,
    /// Token salts of recent sessions, for the one-statement refresh (see [`refresh::salts`]).
    pub salt_cache: Arc<refresh::salts::SaltCache>,
    /// Merges concurrent refreshes into one statement (see [`refresh::batch`]).
    pub rotations: Arc<refresh::batch::RotationBatcher>,
    /// Rate limits shared by every instance (see [`rate_limit`]).
    pub limits: rate_limit::Limits,
    /// The key second factors' secrets are sealed with (see [`mfa`]).
    pub mfa_key: sealing::SealingKey,
    /// The relying party of passkeys, when they are on (see [`passkeys`]).
    pub passkeys: Option<passkeys::Passkeys>,
}

/// A session opened inside a transaction; its tokens are signed once the transaction has
/// committed ([`Opened::finish`]).
pub struct Opened {
    claims: HasuraClaims,
    user: User,
    assurance: Assurance,
    refresh: RefreshToken,
}

impl Opened {
    /// After the commit: signs the tokens. Opening a session changed the user (its last
    /// sign-in, maybe a linked identity), which this instance sees at once.
    pub fn finish(self, auth: &Auth) -> Result<Session> {
        auth.session_cache.user_changed(self.user.id);
        auth.issue(
            &self.claims,
            self.user,
            self.refresh.session_id,
            &self.assurance,
            &self.refresh,
        )
    }
}

impl Auth {
    /// The default and allowed roles of a session of `user` at `aal`: the user's roles, less
    /// those that need aal2 in an aal1 session (`AUTH_MFA_AAL2_ROLES`, see
    /// [`assurance::roles_at`]), or only the unauthenticated role while the session owes a
    /// second factor ([`Self::mfa_pending`]). In a session that acts in an organization
    /// (`org`) the member's roles there join them, and the default role is
    /// `AUTH_ORGANIZATION_DEFAULT_ROLE` when the member has it, else the first of theirs.
    pub fn session_roles<'a>(
        &'a self,
        user: &'a User,
        org: &'a ActiveOrg,
        aal: Aal,
    ) -> (&'a str, Vec<&'a str>) {
        let fallback = self.config.hasura.hasura_unauthorized_role.as_str();
        if self.mfa_pending(user, aal) {
            return (fallback, vec![fallback]);
        }
        let (default, mut allowed) = assurance::roles_at(
            aal,
            &user.default_role,
            &user.allowed_roles,
            &self.config.mfa.mfa_aal2_roles,
            fallback,
        );
        let Some((_, roles)) = org.membership() else {
            return (default, allowed);
        };
        let org_default = self.config.organizations.organization_default_role.as_str();
        let default = match roles.iter().find(|r| *r == org_default) {
            Some(r) => r.as_str(),
            None => roles[0].as_str(),
        };
        for role in roles {
            if !allowed.contains(&role.as_str()) {
                allowed.push(role);
            }
        }
        (default, allowed)
    }

    /// The default and allowed roles of a live session at `aal`: a client's when it is bound
    /// to one (see [`Self::client_roles`]), else [`Self::session_roles`].
    pub fn live_roles<'a>(
        &'a self,
        user: &'a session_cache::LiveUser,
        aal: Aal,
    ) -> (&'a str, Vec<&'a str>) {
        match user.binding().oauth_client_id {
            Some(_) => self.client_roles(user, user.binding(), aal),
            None => self.session_roles(user, user.org(), aal),
        }
    }

    /// The Hasura claims of `user` in a session at `aal`, with `custom` claims beside the
    /// roles ([`Self::session_roles`]).
    fn claims_of(
        &self,
        user: &User,
        org: &ActiveOrg,
        aal: Aal,
        mut custom: serde_json::Map<String, Value>,
    ) -> HasuraClaims {
        let (default_role, allowed_roles) = self.session_roles(user, org, aal);
        if let Some((id, _)) = org.membership().filter(|_| !self.mfa_pending(user, aal)) {
            custom.insert(claims::ORG_ID.into(), Value::String(id.to_string()));
        }
        HasuraClaims {
            user_id: user.id.to_string(),
            default_role: default_role.to_owned(),
            allowed_roles: allowed_roles.into_iter().map(str::to_owned).collect(),
            aal,
            custom,
        }
    }

    /// The Hasura claims of `user` in a session at `aal` acting in `org`: roles from the user
    /// row and the membership, custom claims from the configured SQL.
    pub async fn claims_for(
        &self,
        db: impl sqlx::PgExecutor<'_>,
        user: &User,
        org: &ActiveOrg,
        aal: Aal,
    ) -> Result<HasuraClaims> {
        let custom = self.custom_claims(db, user.id).await?;
        Ok(self.claims_of(user, org, aal, custom))
    }

    /// The custom claims of user `user_id` from `AUTH_CUSTOM_CLAIMS_SQL` (none without it).
    pub(crate) async fn custom_claims(
        &self,
        db: impl sqlx::PgExecutor<'_>,
        user_id: Uuid,
    ) -> Result<serde_json::Map<String, Value>> {
        let Some(sql) = &self.config.hasura.custom_claims_sql else {
            return Ok(Default::default());
        };
        match store::claims::custom_claims(db, sql, user_id)
            .await
            .map_err(|e| Error::internal(anyhow::anyhow!("AUTH_CUSTOM_CLAIMS_SQL failed: {e}")))?
        {
            None | Some(Value::Null) => Ok(Default::default()),
            Some(v) => normalize_custom_claims(&v, self.config.hasura.session_values())
                .map_err(|e| Error::internal(anyhow::anyhow!("AUTH_CUSTOM_CLAIMS_SQL: {e}"))),
        }
    }

    /// Signs the access token of a session and packs it with the refresh token.
    fn issue(
        &self,
        claims: &HasuraClaims,
        user: User,
        session_id: Uuid,
        assurance: &Assurance,
        refresh: &RefreshToken,
    ) -> Result<Session> {
        let access = self.tokens.issue(
            claims,
            &user.email,
            user.is_anonymous,
            session_id,
            assurance,
        )?;
        Ok(Session {
            access,
            refresh_token: Secret::new(refresh.encode()),
            user,
            session_id,
            aal: assurance.aal,
        })
    }

    /// Signs `user` in on `db` (the caller's transaction, or any connection: the writes are one
    /// statement): a new session, the sign-in recorded (user row and audit log: `sign_in` with
    /// how they proved who they are, or `sign_up` for a new account).
    pub(crate) async fn open_session_for(
        &self,
        db: &mut sqlx::PgConnection,
        user: User,
        client: &Client,
        method: &str,
    ) -> Result<Opened> {
        self.open_session_checked(db, user, client, method, None)
            .await
    }

    /// [`Self::open_session_for`] after a password check against `password_hash`: refused
    /// (`invalid_credentials`) if the password changed or went while it was checked.
    pub(crate) async fn open_session_checked(
        &self,
        db: &mut sqlx::PgConnection,
        mut user: User,
        client: &Client,
        method: &str,
        password_hash: Option<&str>,
    ) -> Result<Opened> {
        let (event, detail) = match method {
            "sign_up" => (store::audit::event::SIGN_UP, serde_json::json!({})),
            "anonymous" => (
                store::audit::event::ANONYMOUS_SIGN_UP,
                serde_json::json!({}),
            ),
            _ => (
                store::audit::event::SIGN_IN,
                serde_json::json!({ "method": method }),
            ),
        };
        let claims = self
            .claims_for(&mut *db, &user, &ActiveOrg::default(), Aal::Aal1)
            .await?;
        let session_id = Uuid::new_v4();
        let chain = RefreshToken::new_chain(session_id);
        let new = store::sessions::NewSession {
            id: session_id,
            user_id: user.id,
            token_hash: &chain.token.hash(),
            token_salt: &chain.salt,
            client,
            password_hash,
            amr_method: amr_method(method),
        };
        let opened = store::sessions::open(&mut *db, &new, event, &detail).await?;
        let opened_at = opened.ok_or_else(Error::invalid_credentials)?;
        user.last_sign_in_at = Some(opened_at);
        let assurance = Assurance::one_factor(method, opened_at.timestamp());
        // Should the transaction roll back, the salt only takes room until it is evicted.
        self.salt_cache.insert(session_id, user.id, &chain.salt);
        let refresh = chain.token;
        Ok(Opened {
            claims,
            user,
            assurance,
            refresh,
        })
    }
}
