//! Anonymous users: an account made with nothing (`POST /signup` with no address and no
//! password, Supabase Auth's `signInAnonymously`), so that people can try an app before
//! signing up and keep what they made. Off unless `AUTH_ANONYMOUS_USERS`.
//!
//! - An anonymous user has no address (`email` is ''), no password and one role,
//!   `AUTH_ANONYMOUS_ROLE`; tokens say `is_anonymous: true` and `amr` method `anonymous`.
//! - It converts, keeping its id (so the app's rows stay its own), when it proves an address
//!   (`PUT /user {email}` then the link sent there) or links an identity: it then gets the
//!   default roles. An address or identity that belongs to another account is refused;
//!   nothing is merged.
//! - Until then it cannot use what needs an address or guards one: a password alone,
//!   reauthentication, second factors, passkeys.
//! - Anonymous users who never convert are deleted after `AUTH_ANONYMOUS_USERS_MAX_AGE`
//!   (housekeeping), with their sessions, and audited.

use serde_json::{json, Value};
use uuid::Uuid;

use super::{account::validate_metadata, email::pkce::Challenge, mfa::HandOff, Auth, Session};
use crate::{
    client::Client,
    error::{Code, Error, Result},
    store::{
        self,
        audit::{self, event},
        users::User,
    },
};

/// What the app gets from the page, before the commit.
enum ForApp {
    Code(crate::secret::Secret),
    Opened(Box<super::Opened>),
}

/// Most anonymous users one housekeeping pass deletes.
const DELETE_BATCH: i64 = 500;

impl Auth {
    /// Creates an anonymous user with `data` as `user_metadata`, and its first session.
    /// Counted against the client address's hourly allowance (`AUTH_RATE_LIMIT_ANONYMOUS_USERS`).
    pub async fn sign_in_anonymously(
        &self,
        data: Option<Value>,
        client: &Client,
    ) -> Result<Session> {
        let mut tx = self.pool.begin().await?;
        let user = self.new_anonymous_user(&mut tx, data, client).await?;
        let opened = self
            .open_session_for(&mut tx, user, client, "anonymous")
            .await?;
        tx.commit().await?;
        opened.finish(self)
    }

    /// The hosted sign-in page's "Continue without an account": an anonymous user with a
    /// session for the pages (where the visitor may save the account later) and, when an app
    /// asked (`for_app`), what the app gets: a session of its own, or a PKCE code with
    /// `challenge`.
    pub async fn sign_in_anonymously_on_page(
        &self,
        for_app: bool,
        challenge: Option<&Challenge>,
        client: &Client,
    ) -> Result<(Session, Option<HandOff>)> {
        let mut tx = self.pool.begin().await?;
        let user = self.new_anonymous_user(&mut tx, None, client).await?;
        let user_id = user.id;
        let pages = self
            .open_session_for(&mut tx, user.clone(), client, "anonymous")
            .await?;
        let app = match (for_app, challenge) {
            (false, _) => None,
            (true, Some(challenge)) => Some(ForApp::Code(
                self.issue_auth_code(&mut tx, user_id, challenge, "anonymous", None)
                    .await?,
            )),
            (true, None) => Some(ForApp::Opened(Box::new(
                self.open_session_for(&mut tx, user, client, "anonymous")
                    .await?,
            ))),
        };
        tx.commit().await?;
        let app = match app {
            None => None,
            Some(ForApp::Code(code)) => Some(HandOff::Code(code)),
            Some(ForApp::Opened(opened)) => Some(HandOff::Session(Box::new(opened.finish(self)?))),
        };
        Ok((pages.finish(self)?, app))
    }

    /// In `tx`: a new anonymous user, if anonymous sign-ups are allowed and this client has
    /// not used up its allowance.
    async fn new_anonymous_user(
        &self,
        tx: &mut sqlx::PgConnection,
        data: Option<Value>,
        client: &Client,
    ) -> Result<User> {
        self.check_sign_up_allowed()?;
        if !self.config.anonymous.anonymous_users {
            return Err(Error::new(
                Code::AnonymousProviderDisabled,
                "Anonymous sign-ins are disabled",
            ));
        }
        self.limits.anonymous.check(client).await?;
        let metadata = validate_metadata(data, "data")?.unwrap_or_else(|| json!({}));
        Ok(store::users::insert_anonymous(
            &mut *tx,
            Uuid::new_v4(),
            &self.config.anonymous.anonymous_role,
            &metadata,
        )
        .await?)
    }

    /// In `tx`, after `user` proved an address (`email_identity`) or linked an identity: if it
    /// was anonymous, it is no longer, with the default roles; audited with `how`. The user as
    /// it now is.
    pub(crate) async fn convert_if_anonymous(
        &self,
        tx: &mut sqlx::PgConnection,
        user: User,
        email_identity: bool,
        how: &str,
        client: &Client,
    ) -> Result<User> {
        if !user.is_anonymous {
            return Ok(user);
        }
        let accounts = &self.config.accounts;
        let Some(converted) = store::users::convert_anonymous(
            &mut *tx,
            user.id,
            &accounts.default_role,
            &accounts.default_allowed_roles,
            email_identity,
        )
        .await?
        else {
            return Ok(user);
        };
        audit::record(
            &mut *tx,
            event::ANONYMOUS_CONVERTED,
            Some(user.id),
            None,
            client,
            json!({"by": how}),
        )
        .await?;
        Ok(converted)
    }

    /// Deletes the anonymous users older than `AUTH_ANONYMOUS_USERS_MAX_AGE` (one batch),
    /// each audited; how many went.
    pub async fn delete_expired_anonymous_users(&self) -> Result<usize> {
        let Some(max_age) = self.config.anonymous.anonymous_users_max_age.0 else {
            return Ok(0);
        };
        let mut tx = self.pool.begin().await?;
        let gone =
            store::users::delete_old_anonymous(&mut *tx, max_age.as_secs_f64(), DELETE_BATCH)
                .await?;
        for id in &gone {
            audit::record(
                &mut *tx,
                event::ANONYMOUS_USER_EXPIRED,
                Some(*id),
                None,
                &Client::default(),
                json!({"max_age_secs": max_age.as_secs()}),
            )
            .await?;
        }
        tx.commit().await?;
        for id in &gone {
            self.session_cache.user_changed(*id);
        }
        Ok(gone.len())
    }
}
