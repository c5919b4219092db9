//! Sessions: sign-up, sign-in, refresh (rotation, reuse and theft), sign-out and revocation.
//!
//! Refresh is the hot path: one query reads session and user together, one compare-and-set
//! `UPDATE` rotates (plus one query for custom claims when configured). Racing refreshes
//! are settled by that compare-and-set in PostgreSQL, so any number of instances can share
//! one database; the losers re-read and converge on the winner's token (see `refresh.rs`).

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    auth::{
        claims::{normalize_custom_claims, HasuraClaims},
        password::{check_new_password, PasswordHasher},
        refresh::{RefreshToken, Standing},
        tokens::{self, AccessTokens, Issued},
    },
    error::{Error, Result},
    secret::Secret,
    store::{
        self,
        audit::{self, event},
        users::{NewUser, User},
    },
};

/// Who is calling: recorded with sessions and audit events.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Session and account rules.
#[derive(Debug, Clone)]
pub struct Policy {
    pub reuse_interval: Duration,
    pub idle_timeout: Option<Duration>,
    pub max_lifetime: Option<Duration>,
    pub default_role: String,
    pub default_allowed_roles: Vec<String>,
    /// SQL taking the user id as `$1` and returning one JSON object of custom claims.
    pub custom_claims_sql: Option<String>,
    /// How long after sign-in a session may set a new password without the current one.
    pub reauthentication_window: Duration,
}

/// A signed-in session, as the token endpoint returns it.
pub struct Session {
    pub access: Issued,
    pub refresh_token: Secret,
    pub user: User,
    pub session_id: Uuid,
}

/// `POST /logout?scope=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogoutScope {
    /// This session only.
    Local,
    /// Every other session of the user.
    Others,
    /// All the user's sessions.
    #[default]
    Global,
}

/// The framework-free service behind the HTTP handlers.
#[derive(Clone, Debug)]
pub struct Auth {
    pub pool: PgPool,
    pub tokens: AccessTokens,
    pub hasher: PasswordHasher,
    pub policy: Arc<Policy>,
}

/// An access token that checked out, with its live session's user.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub user: User,
    pub token: tokens::Verified,
}

/// Where `token` stands in its session's chain. Recognising a token many rotations old means
/// walking the chain (up to `MAX_CHAIN` HMACs, a few milliseconds): that runs on a blocking
/// thread so a flood of old or forged tokens cannot stall the async workers.
async fn standing_of(token: &RefreshToken, row: &store::sessions::RefreshRow) -> Result<Standing> {
    let counter = row.token_counter as u64;
    if counter.saturating_sub(token.counter) <= 64 {
        return Ok(token.standing(counter, &row.token_hash, &row.token_salt));
    }
    let (token, hash, salt) = (
        token.clone(),
        row.token_hash.clone(),
        row.token_salt.clone(),
    );
    tokio::task::spawn_blocking(move || token.standing(counter, &hash, &salt))
        .await
        .map_err(|e| Error::internal(anyhow::anyhow!("refresh token check failed: {e}")))
}

fn elapsed(now: DateTime<Utc>, since: DateTime<Utc>) -> Duration {
    (now - since).to_std().unwrap_or_default()
}

/// Trims, lowercases and checks an email address.
pub fn normalize_email(raw: &str) -> Result<String> {
    let email = raw.trim().to_lowercase();
    let invalid = || {
        Error::validation(
            "email_address_invalid",
            "Unable to validate email address: invalid format",
        )
    };
    if email.is_empty()
        || email.len() > 254
        || email.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid());
    }
    let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
    let domain_ok = domain.contains('.')
        && !domain.contains('@')
        && domain
            .split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'));
    if local.is_empty() || local.len() > 64 || !domain_ok {
        return Err(invalid());
    }
    Ok(email)
}

/// Checks a new password against the length rules and hashes it with Argon2id.
pub async fn hash_new_password(hasher: &PasswordHasher, password: &Secret) -> Result<String> {
    check_new_password(password.expose())
        .map_err(|reason| Error::validation("weak_password", reason))?;
    Ok(hasher.hash(password).await?)
}

impl Auth {
    /// The Hasura claims of `user`: roles from the user row, custom claims from the SQL query.
    pub async fn claims_for(
        &self,
        db: impl sqlx::PgExecutor<'_>,
        user: &User,
    ) -> Result<HasuraClaims> {
        let custom = match &self.policy.custom_claims_sql {
            None => Default::default(),
            Some(sql) => {
                let value: Option<Value> = sqlx::query_scalar(sql)
                    .bind(user.id)
                    .fetch_optional(db)
                    .await
                    .map_err(|e| {
                        Error::internal(anyhow::anyhow!("AUTH_CUSTOM_CLAIMS_SQL failed: {e}"))
                    })?;
                match value {
                    None | Some(Value::Null) => Default::default(),
                    Some(v) => normalize_custom_claims(&v).map_err(|e| {
                        Error::internal(anyhow::anyhow!("AUTH_CUSTOM_CLAIMS_SQL: {e}"))
                    })?,
                }
            }
        };
        Ok(HasuraClaims {
            user_id: user.id.to_string(),
            default_role: user.default_role.clone(),
            allowed_roles: user.allowed_roles.clone(),
            custom,
        })
    }

    fn issue(
        &self,
        claims: &HasuraClaims,
        user: User,
        session_id: Uuid,
        refresh: &RefreshToken,
    ) -> Result<Session> {
        let access = self.tokens.issue(claims, &user.email, session_id)?;
        Ok(Session {
            access,
            refresh_token: Secret::new(refresh.encode()),
            user,
            session_id,
        })
    }

    /// Creates a session for `user` inside `tx` and returns its first refresh token.
    async fn open_session(
        &self,
        tx: &mut sqlx::PgConnection,
        user_id: Uuid,
        client: &Client,
    ) -> sqlx::Result<RefreshToken> {
        let session_id = Uuid::new_v4();
        let chain = RefreshToken::new_chain(session_id);
        store::sessions::insert(
            &mut *tx,
            &store::sessions::NewSession {
                id: session_id,
                user_id,
                token_hash: &chain.token.hash(),
                token_salt: &chain.salt,
                client,
            },
        )
        .await?;
        Ok(chain.token)
    }

    /// `POST /signup`.
    pub async fn sign_up(
        &self,
        email: &str,
        password: &Secret,
        data: Option<Value>,
        client: &Client,
    ) -> Result<Session> {
        let email = normalize_email(email)?;
        let metadata = validate_metadata(data, "data")?.unwrap_or_else(|| json!({}));
        let hash = hash_new_password(&self.hasher, password).await?;
        let mut tx = self.pool.begin().await?;
        let new = NewUser {
            id: Uuid::new_v4(),
            email: &email,
            default_role: &self.policy.default_role,
            allowed_roles: &self.policy.default_allowed_roles,
            user_metadata: &metadata,
            app_metadata: &json!({}),
            enabled: true,
        };
        let Some(user) = store::users::insert(&mut *tx, &new).await? else {
            return Err(Error::validation(
                "user_already_exists",
                "User already registered",
            ));
        };
        store::users::set_password(&mut *tx, user.id, &hash).await?;
        let claims = self.claims_for(&mut *tx, &user).await?;
        let refresh = self.open_session(&mut tx, user.id, client).await?;
        audit::record(
            &mut *tx,
            event::SIGN_UP,
            Some(user.id),
            Some(refresh.session_id),
            client,
            json!({}),
        )
        .await?;
        tx.commit().await?;
        self.issue(&claims, user, refresh.session_id, &refresh)
    }

    /// `POST /token?grant_type=password`. Unknown email, wrong password and disabled user all
    /// fail the same way, after the same hashing work.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &Secret,
        client: &Client,
    ) -> Result<Session> {
        let email = email.trim();
        if email.is_empty() || password.expose().is_empty() {
            return Err(Error::invalid_request(
                "email (or username) and password are required",
            ));
        }
        if email.len() > 254 || email.chars().any(char::is_control) {
            // Cannot be an account's email; fail like any unknown one (after the same work).
            self.hasher.verify(password, None).await?;
            return Err(Error::invalid_credentials());
        }
        if password.expose().chars().count() > crate::auth::password::MAX_PASSWORD_CHARS {
            return Err(Error::invalid_credentials());
        }
        let found = store::users::find_by_email_with_hash(&self.pool, email).await?;
        let stored = found.as_ref().and_then(|f| f.password_hash.as_deref());
        let verified = self.hasher.verify(password, stored).await?;
        let Some(found) = found else {
            audit::record(
                &self.pool,
                event::SIGN_IN_FAILED,
                None,
                None,
                client,
                json!({"reason": "unknown_email"}),
            )
            .await?;
            return Err(Error::invalid_credentials());
        };
        let user = found.user;
        if !verified.ok || !user.is_active(found.db_now) {
            let reason = if verified.ok {
                "disabled"
            } else {
                "wrong_password"
            };
            audit::record(
                &self.pool,
                event::SIGN_IN_FAILED,
                Some(user.id),
                None,
                client,
                json!({"reason": reason}),
            )
            .await?;
            return Err(Error::invalid_credentials());
        }
        if verified.needs_rehash {
            let new_hash = self.hasher.hash(password).await?;
            let old = found.password_hash.as_deref().unwrap_or_default();
            store::users::upgrade_password_hash(&self.pool, user.id, old, &new_hash).await?;
        }
        let claims = self.claims_for(&self.pool, &user).await?;
        let mut tx = self.pool.begin().await?;
        let refresh = self.open_session(&mut tx, user.id, client).await?;
        let mut user = user;
        user.last_sign_in_at = sqlx::query_scalar(
            "UPDATE users SET last_sign_in_at = now() WHERE id = $1 RETURNING last_sign_in_at",
        )
        .bind(user.id)
        .fetch_one(&mut *tx)
        .await?;
        audit::record(
            &mut *tx,
            event::SIGN_IN,
            Some(user.id),
            Some(refresh.session_id),
            client,
            json!({}),
        )
        .await?;
        tx.commit().await?;
        self.issue(&claims, user, refresh.session_id, &refresh)
    }

    /// `POST /token?grant_type=refresh_token`.
    pub async fn refresh(&self, presented: &str, client: &Client) -> Result<Session> {
        let invalid = || {
            Error::invalid_grant(
                "refresh_token_not_found",
                "Invalid Refresh Token: Refresh Token Not Found",
            )
        };
        let token = RefreshToken::parse(presented).ok_or_else(invalid)?;
        // A lost compare-and-set means another request rotated first; the next pass sees the
        // token as superseded and converges. Three passes cover any realistic race.
        for _ in 0..3 {
            let row = store::sessions::find_for_refresh(&self.pool, token.session_id)
                .await?
                .ok_or_else(invalid)?;
            let standing = standing_of(&token, &row).await?;
            if standing == Standing::Unknown {
                return Err(invalid());
            }
            // From here on the presenter holds a genuine token of this session.
            let now = row.db_now;
            let idle = self
                .policy
                .idle_timeout
                .is_some_and(|d| elapsed(now, row.refreshed_at) > d);
            let old = self
                .policy
                .max_lifetime
                .is_some_and(|d| elapsed(now, row.session_created_at) > d);
            if idle || old {
                store::sessions::delete(&self.pool, row.session_id).await?;
                return Err(Error::invalid_grant(
                    "session_expired",
                    "Session expired; sign in again",
                ));
            }
            if !row.user.is_active(now) {
                let mut tx = self.pool.begin().await?;
                store::sessions::delete_for_user(&mut *tx, row.user.id, None).await?;
                audit::record(
                    &mut *tx,
                    event::DISABLED_USER_REFRESH,
                    Some(row.user.id),
                    Some(row.session_id),
                    client,
                    json!({}),
                )
                .await?;
                tx.commit().await?;
                return Err(Error::invalid_grant("user_banned", "User is disabled"));
            }
            match standing {
                Standing::Unknown => unreachable!("handled above"),
                Standing::Current => {
                    let next = token.next(&row.token_salt);
                    let claims = self.claims_for(&self.pool, &row.user).await?;
                    if store::sessions::rotate(
                        &self.pool,
                        row.session_id,
                        row.token_counter,
                        &next.hash(),
                        client,
                    )
                    .await?
                    {
                        return self.issue(&claims, row.user, row.session_id, &next);
                    }
                }
                Standing::Superseded { lag, current } => {
                    // When was the presented token superseded? Exact for the last two rotations.
                    let superseded_at = match lag {
                        1 => Some(row.rotated_at),
                        2 => row.prev_rotated_at,
                        _ => None,
                    };
                    let within = superseded_at
                        .is_some_and(|at| elapsed(now, at) <= self.policy.reuse_interval);
                    if within {
                        // Converge on the current token, but only while the session is
                        // unchanged (not revoked or rotated again meanwhile).
                        let claims = self.claims_for(&self.pool, &row.user).await?;
                        if store::sessions::touch(&self.pool, row.session_id, row.token_counter)
                            .await?
                        {
                            return self.issue(&claims, row.user, row.session_id, &current);
                        }
                        continue;
                    }
                    let mut tx = self.pool.begin().await?;
                    store::sessions::delete(&mut *tx, row.session_id).await?;
                    let detail = json!({
                        "rotations_behind": lag,
                        "superseded_seconds_ago": superseded_at.map(|at| elapsed(now, at).as_secs()),
                    });
                    audit::record(
                        &mut *tx,
                        event::REFRESH_TOKEN_REUSE,
                        Some(row.user.id),
                        Some(row.session_id),
                        client,
                        detail,
                    )
                    .await?;
                    tx.commit().await?;
                    tracing::warn!(session_id = %row.session_id, user_id = %row.user.id, lag, "refresh token reuse: session revoked");
                    return Err(Error::invalid_grant(
                        "refresh_token_already_used",
                        "Invalid Refresh Token: Already Used; the session has been revoked",
                    ));
                }
            }
        }
        Err(Error::conflict(
            "conflict",
            "Too many concurrent token refresh requests; retry",
        ))
    }

    /// Verifies an access token and checks that its session is still live and its user active.
    pub async fn authenticate(&self, access_token: &str) -> Result<Authenticated> {
        let token = self.tokens.verify(access_token).map_err(|e| match e {
            tokens::VerifyError::Expired => {
                Error::unauthorized("bad_jwt", "invalid JWT: token is expired")
            }
            tokens::VerifyError::Invalid => {
                Error::unauthorized("bad_jwt", "invalid JWT: unable to verify the token")
            }
        })?;
        let user = store::sessions::find_user(&self.pool, token.session_id, token.user_id)
            .await?
            .ok_or_else(|| {
                Error::unauthorized(
                    "session_not_found",
                    "Session from session_id claim in JWT does not exist",
                )
            })?;
        if !user.is_active(Utc::now()) {
            return Err(Error::unauthorized("user_banned", "User is disabled"));
        }
        Ok(Authenticated { user, token })
    }

    /// `POST /logout`: ends sessions of `user_id`. `session_id` is the caller's session; scopes
    /// `local` and `others` need it.
    pub async fn logout(
        &self,
        user_id: Uuid,
        session_id: Option<Uuid>,
        scope: LogoutScope,
        client: &Client,
    ) -> Result<()> {
        let needs_session = || {
            Error::bad_request(
                "session_not_found",
                "scope local and others need the caller's session id",
            )
        };
        let mut tx = self.pool.begin().await?;
        let n = match scope {
            LogoutScope::Local => {
                let sid = session_id.ok_or_else(needs_session)?;
                sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
                    .bind(sid)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
            }
            LogoutScope::Others => {
                let sid = session_id.ok_or_else(needs_session)?;
                store::sessions::delete_for_user(&mut *tx, user_id, Some(sid)).await?
            }
            LogoutScope::Global => {
                store::sessions::delete_for_user(&mut *tx, user_id, None).await?
            }
        };
        let scope_name = format!("{scope:?}").to_lowercase();
        audit::record(
            &mut *tx,
            event::LOGOUT,
            Some(user_id),
            session_id,
            client,
            json!({"scope": scope_name, "sessions": n}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// `POST /revoke` (RFC 7009): revokes the session of a refresh token (current or a
    /// genuine old one) or of a valid access token. Anything else is silently ignored.
    pub async fn revoke(&self, presented: &str, client: &Client) -> Result<()> {
        let target = if let Some(token) = RefreshToken::parse(presented) {
            match store::sessions::find_for_refresh(&self.pool, token.session_id).await? {
                Some(row) if standing_of(&token, &row).await? != Standing::Unknown => {
                    Some((row.session_id, row.user.id))
                }
                _ => None,
            }
        } else {
            self.tokens
                .verify(presented)
                .ok()
                .map(|t| (t.session_id, t.user_id))
        };
        if let Some((session_id, user_id)) = target {
            let mut tx = self.pool.begin().await?;
            if store::sessions::delete(&mut *tx, session_id).await? > 0 {
                audit::record(
                    &mut *tx,
                    event::TOKEN_REVOKED,
                    Some(user_id),
                    Some(session_id),
                    client,
                    json!({}),
                )
                .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// Whether the caller's session was opened within the reauthentication window; 401 when
    /// the session is gone. `lock` takes a row lock (inside a transaction).
    async fn session_is_recent(
        &self,
        db: impl sqlx::PgExecutor<'_>,
        user_id: Uuid,
        session_id: Uuid,
        lock: bool,
    ) -> Result<bool> {
        let sql = if lock {
            "SELECT extract(epoch FROM now() - created_at)::float8 FROM sessions WHERE id = $1 AND user_id = $2 FOR UPDATE"
        } else {
            "SELECT extract(epoch FROM now() - created_at)::float8 FROM sessions WHERE id = $1 AND user_id = $2"
        };
        let age: Option<f64> = sqlx::query_scalar(sql)
            .bind(session_id)
            .bind(user_id)
            .fetch_optional(db)
            .await?;
        let age = age.ok_or_else(|| {
            Error::unauthorized(
                "session_not_found",
                "Session from session_id claim in JWT does not exist",
            )
        })?;
        Ok(age <= self.policy.reauthentication_window.as_secs_f64())
    }

    /// `PUT /user` (and the `changePassword` action): sets a new password and/or merges
    /// `data` into `user_metadata`, in one transaction. A new password signs out every
    /// session but the caller's, and needs `current_password` unless the caller's session was
    /// opened within the reauthentication window: a stolen access token of an older session
    /// cannot take the account over.
    pub async fn update_self(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        update: SelfUpdate,
        client: &Client,
    ) -> Result<User> {
        let data = validate_metadata(update.data, "data")?;
        let reauth_needed = || {
            Error::bad_request(
                "reauthentication_needed",
                "Changing the password needs current_password (or a fresh sign-in)",
            )
        };
        let hash = match &update.password {
            None => None,
            Some(new) => {
                check_new_password(new.expose())
                    .map_err(|reason| Error::validation("weak_password", reason))?;
                match &update.current_password {
                    // Refuse before any hashing work when reauthentication is missing.
                    None if !self
                        .session_is_recent(&self.pool, user_id, session_id, false)
                        .await? =>
                    {
                        return Err(reauth_needed());
                    }
                    None => {}
                    Some(current) => {
                        let found = store::users::find_by_id_with_hash(&self.pool, user_id).await?;
                        let stored = found.as_ref().and_then(|f| f.password_hash.as_deref());
                        if !self.hasher.verify(current, stored).await?.ok {
                            audit::record(
                                &self.pool,
                                event::PASSWORD_CHANGE_FAILED,
                                Some(user_id),
                                Some(session_id),
                                client,
                                json!({"reason": "wrong_current_password"}),
                            )
                            .await?;
                            return Err(Error::bad_request(
                                "invalid_credentials",
                                "current_password is wrong",
                            ));
                        }
                    }
                }
                Some(self.hasher.hash(new).await?)
            }
        };
        let mut tx = self.pool.begin().await?;
        // Lock the caller's session: it must still be live, and its age decides on reauthentication.
        let recent = self
            .session_is_recent(&mut *tx, user_id, session_id, true)
            .await?;
        if let Some(hash) = &hash {
            if update.current_password.is_none() && !recent {
                return Err(reauth_needed());
            }
            store::users::set_password(&mut *tx, user_id, hash).await?;
            let n = store::sessions::delete_for_user(&mut *tx, user_id, Some(session_id)).await?;
            audit::record(
                &mut *tx,
                event::PASSWORD_CHANGED,
                Some(user_id),
                Some(session_id),
                client,
                json!({"other_sessions_revoked": n}),
            )
            .await?;
        }
        let user = match &data {
            Some(patch) => store::users::merge_user_metadata(&mut *tx, user_id, patch).await?,
            None => store::users::find_by_id(&mut *tx, user_id).await?,
        }
        .ok_or_else(|| Error::unauthorized("user_not_found", "User no longer exists"))?;
        tx.commit().await?;
        Ok(user)
    }
}

/// What a signed-in user may change about themselves.
#[derive(Debug, Default)]
pub struct SelfUpdate {
    pub password: Option<Secret>,
    pub current_password: Option<Secret>,
    pub data: Option<Value>,
}

/// Checks user-supplied metadata: a JSON object of at most 16 KiB that PostgreSQL's `jsonb`
/// can store (no `\u0000`). `None` and JSON `null` mean "none given".
pub fn validate_metadata(value: Option<Value>, name: &str) -> Result<Option<Value>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => {
            let text = v.to_string();
            if text.len() > 16 * 1024 {
                Err(Error::validation(
                    "validation_failed",
                    format!("{name} must be at most 16 KiB"),
                ))
            } else if has_nul(&v) {
                Err(Error::validation(
                    "validation_failed",
                    format!("{name} must not contain NUL characters"),
                ))
            } else {
                Ok(Some(v))
            }
        }
        Some(_) => Err(Error::validation(
            "validation_failed",
            format!("{name} must be a JSON object"),
        )),
    }
}

fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}
