//! API keys: machines authenticate as a user with a subset of that user's roles, optionally
//! acting in one of the user's organizations. A key is `hja_` and the URL-safe base64 of its
//! id and a 256-bit secret; only the secret's SHA-256 is stored, and the key is shown once,
//! when created or rotated. Creating or rotating one needs an aal2 session once the user has a
//! verified second factor, and the key keeps the level of the session that made it.
//!
//! Presenting a key ([`present`]) goes through the session cache like a session: revoking or
//! rotating a key notifies every instance exactly as a deleted session does.

pub mod present;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use chrono::{DateTime, Utc};
use rand::{rngs::OsRng, RngCore};
use serde_json::json;
use uuid::Uuid;

use super::{account::refuse_anonymous, assurance::Aal, authenticate::Caller, organizations, Auth};
use crate::{
    client::Client,
    error::{Code, Error, Result},
    secret::Secret,
    store::{
        self,
        api_keys::{ApiKey, NewKey},
        audit::{self, event},
        organizations::ActiveOrg,
        session_events::SessionEvent,
    },
};

/// What every key starts with, so that a bearer token is recognisably a key.
pub const PREFIX: &str = "hja_";

/// The longest a key may live (ten years).
const MAX_LIFETIME_SECS: u64 = 10 * 365 * 24 * 3600;

/// What `POST /api-keys` takes.
#[derive(Debug, Default)]
pub struct NewApiKey {
    pub name: String,
    /// All the roles the caller has (in the organization too) when absent.
    pub roles: Option<Vec<String>>,
    pub organization_id: Option<Uuid>,
    /// Seconds from now; no expiry when absent.
    pub expires_in: Option<u64>,
}

/// A key just made (or rotated), with its secret: shown this once.
pub struct IssuedKey {
    pub key: ApiKey,
    pub secret: Secret,
}

/// The key's text: the prefix and the URL-safe base64 of id and secret.
fn encode(id: Uuid, secret: &[u8; 32]) -> Secret {
    let mut raw = [0u8; 48];
    raw[..16].copy_from_slice(id.as_bytes());
    raw[16..].copy_from_slice(secret);
    Secret::new(format!("{PREFIX}{}", B64.encode(raw)))
}

/// The id and secret of a key's text; `None` when it is not one.
pub(crate) fn decode(presented: &str) -> Option<(Uuid, [u8; 32])> {
    let raw = B64.decode(presented.trim().strip_prefix(PREFIX)?).ok()?;
    if raw.len() != 48 {
        return None;
    }
    let id = Uuid::from_slice(&raw[..16]).ok()?;
    Some((id, raw[16..].try_into().ok()?))
}

fn new_secret() -> [u8; 32] {
    let mut secret = [0u8; 32];
    OsRng.fill_bytes(&mut secret);
    secret
}

pub fn api_key_not_found() -> Error {
    Error::new(Code::ApiKeyNotFound, "API key not found")
}

impl Auth {
    /// `POST /api-keys`: a key for the caller with `roles` among those the caller has (in the
    /// key's organization too, of which the caller must be a member).
    ///
    /// The key keeps `aal`, the level of the caller's session.
    pub async fn create_api_key(
        &self,
        who: &Caller<'_>,
        aal: Aal,
        new: NewApiKey,
        client: &Client,
    ) -> Result<IssuedKey> {
        let user = who.user;
        refuse_anonymous(user)?;
        self.require_step_up(&self.pool, user.id, Some(who.session_id), "create API keys")
            .await?;
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Error::validation_failed("name must be 1 to 100 characters"));
        }
        let roles = self
            .roles_for_key(who, aal, new.organization_id, new.roles)
            .await?;
        let expires_at = expiry(new.expires_in)?;
        let id = Uuid::new_v4();
        let secret = new_secret();
        let key = NewKey {
            id,
            user_id: user.id,
            organization_id: new.organization_id,
            name,
            roles: &roles,
            aal: aal.level(),
            secret_hash: &super::email::sha256(&secret),
            expires_at,
        };
        let mut tx = self.pool.begin().await?;
        // Counted with the user's row locked: concurrent requests cannot pass the limit.
        store::api_keys::lock_owner(&mut *tx, user.id).await?;
        self.check_key_count(&mut tx, user.id).await?;
        let Some(key) = store::api_keys::insert(&mut *tx, &key).await? else {
            return Err(Error::new(
                Code::ApiKeyNameTaken,
                "You already have an API key of that name",
            ));
        };
        let detail = json!({"api_key_id": id, "name": name, "roles": roles,
                            "organization_id": new.organization_id, "expires_at": expires_at});
        let session = Some(who.session_id);
        audit::record(
            &mut *tx,
            event::API_KEY_CREATED,
            Some(user.id),
            session,
            client,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(IssuedKey {
            key,
            secret: encode(id, &secret),
        })
    }

    /// 422 `too_many_api_keys` when the user has `AUTH_API_KEYS_PER_USER` keys already.
    async fn check_key_count(&self, tx: &mut sqlx::PgConnection, user_id: Uuid) -> Result<()> {
        let limit = self.config.organizations.api_keys_per_user;
        if store::api_keys::count(&mut *tx, user_id).await? >= i64::from(limit) {
            return Err(Error::new(
                Code::TooManyApiKeys,
                format!("A user may have at most {limit} API keys"),
            ));
        }
        Ok(())
    }

    /// The roles a key of the caller gets: `asked` (or, absent, all of them) among those the
    /// caller has at the session's level, plus the caller's in organization `org` (404 when
    /// not a member there).
    async fn roles_for_key(
        &self,
        who: &Caller<'_>,
        aal: Aal,
        org: Option<Uuid>,
        asked: Option<Vec<String>>,
    ) -> Result<Vec<String>> {
        let org = match org {
            Some(id) => store::organizations::membership(&self.pool, id, who.user.id)
                .await?
                .map(|m| ActiveOrg {
                    id: Some(id),
                    roles: Some(m.roles),
                })
                .ok_or_else(organizations::not_found)?,
            None => ActiveOrg::default(),
        };
        let (_, available) = self.session_roles(who.user, &org, aal);
        match asked {
            None => Ok(available.iter().map(|r| r.to_string()).collect()),
            Some(roles) => key_roles(&available, &roles),
        }
    }

    /// `GET /api-keys`: the caller's keys (never their secrets).
    pub async fn own_api_keys(&self, who: &Caller<'_>) -> Result<Vec<ApiKey>> {
        Ok(store::api_keys::of_user(&self.pool, who.user.id).await?)
    }

    /// `DELETE /api-keys/{id}`: the key stops working at once, on every instance.
    pub async fn revoke_api_key(&self, who: &Caller<'_>, id: Uuid, client: &Client) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let key = store::api_keys::delete(&mut *tx, who.user.id, id)
            .await?
            .ok_or_else(api_key_not_found)?;
        let detail = json!({"api_key_id": id, "name": key.name});
        let session = Some(who.session_id);
        audit::record(
            &mut *tx,
            event::API_KEY_REVOKED,
            Some(who.user.id),
            session,
            client,
            detail,
        )
        .await?;
        tx.commit().await?;
        // Other instances hear it from the database.
        self.session_cache.apply(SessionEvent::SessionDeleted(id));
        Ok(())
    }

    /// `GET /organizations/{id}/api-keys`, for the organization's administrators: the keys
    /// its members made to act in it.
    pub async fn organization_api_keys(&self, who: &Caller<'_>, org: Uuid) -> Result<Vec<ApiKey>> {
        self.as_organization_admin(&self.pool, who, org).await?;
        Ok(store::api_keys::of_organization(&self.pool, org).await?)
    }

    /// `DELETE /organizations/{id}/api-keys/{key_id}`, by an administrator of the
    /// organization: a key acting in it stops working at once, on every instance.
    pub async fn revoke_organization_api_key(
        &self,
        who: &Caller<'_>,
        org: Uuid,
        id: Uuid,
        client: &Client,
    ) -> Result<()> {
        self.as_organization_admin(&self.pool, who, org).await?;
        let mut tx = self.pool.begin().await?;
        let key = store::api_keys::delete_in_organization(&mut *tx, org, id)
            .await?
            .ok_or_else(api_key_not_found)?;
        let detail = json!({"api_key_id": id, "name": key.name, "organization_id": org,
                            "by": who.user.id});
        let session = Some(who.session_id);
        audit::record(
            &mut *tx,
            event::API_KEY_REVOKED,
            Some(key.user_id),
            session,
            client,
            detail,
        )
        .await?;
        tx.commit().await?;
        self.session_cache.apply(SessionEvent::SessionDeleted(id));
        Ok(())
    }

    /// `POST /api-keys/{id}/rotate`: a new secret for the key (same id, roles and expiry); the
    /// old one stops working at once, on every instance.
    ///
    /// A key made at aal2 is rotated only from an aal2 session (`aal`), factor or not.
    pub async fn rotate_api_key(
        &self,
        who: &Caller<'_>,
        aal: Aal,
        id: Uuid,
        client: &Client,
    ) -> Result<IssuedKey> {
        let user = who.user;
        self.require_step_up(&self.pool, user.id, Some(who.session_id), "rotate API keys")
            .await?;
        let secret = new_secret();
        let mut tx = self.pool.begin().await?;
        let hash = super::email::sha256(&secret);
        let key = store::api_keys::rotate(&mut *tx, user.id, id, &hash)
            .await?
            .ok_or_else(api_key_not_found)?;
        if Aal::from_level(key.aal) > aal {
            return Err(Error::new(
                Code::InsufficientAal,
                "AAL2 required to rotate a key made at aal2: verify a second factor first",
            ));
        }
        let detail = json!({"api_key_id": id, "name": key.name});
        let session = Some(who.session_id);
        audit::record(
            &mut *tx,
            event::API_KEY_ROTATED,
            Some(user.id),
            session,
            client,
            detail,
        )
        .await?;
        tx.commit().await?;
        self.session_cache.apply(SessionEvent::SessionDeleted(id));
        Ok(IssuedKey {
            key,
            secret: encode(id, &secret),
        })
    }
}

/// The roles named for a key, each among those the caller has (`available`).
fn key_roles(available: &[&str], roles: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for role in roles.iter().map(|r| r.trim()) {
        if !available.contains(&role) {
            return Err(Error::validation_failed(format!(
                "role {role:?} is not one of yours (yours: {})",
                available.join(", ")
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

/// When a key made now with `expires_in` seconds expires.
fn expiry(expires_in: Option<u64>) -> Result<Option<DateTime<Utc>>> {
    let Some(secs) = expires_in else {
        return Ok(None);
    };
    if secs == 0 || secs > MAX_LIFETIME_SECS {
        return Err(Error::validation_failed(
            "expires_in must be 1 second to 10 years (in seconds)",
        ));
    }
    Ok(Some(Utc::now() + chrono::Duration::seconds(secs as i64)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_read_back_and_nothing_else_does() {
        let id = Uuid::new_v4();
        let secret = new_secret();
        let text = encode(id, &secret);
        assert!(text.expose().starts_with(PREFIX));
        assert_eq!(decode(text.expose()), Some((id, secret)));
        assert_eq!(decode("hja_short"), None);
        assert_eq!(decode(&text.expose()[PREFIX.len()..]), None);
        assert_eq!(decode("eyJhbGciOiJIUzI1NiJ9.e30.x"), None);
        assert!(!format!("{:?}", text).contains(&text.expose()[PREFIX.len()..]));
    }

    #[test]
    fn roles_are_a_subset_of_the_callers() {
        let mine = ["user", "org_member"];
        assert_eq!(
            key_roles(&mine, &["user".into(), "user".into()]).unwrap(),
            ["user"]
        );
        assert!(key_roles(&mine, &["admin".into()]).is_err());
        assert!(key_roles(&mine, &[]).is_err());
        assert!(expiry(Some(0)).is_err() && expiry(Some(3600)).unwrap().is_some());
    }
}
