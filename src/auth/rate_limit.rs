//! Rate limits, kept in PostgreSQL so that every instance on the database enforces one limit.
//! Each is checked inside the core operation it protects, so that every door (the HTTP API,
//! the Hasura actions, the hosted pages) gets the same limit.
//!
//! - per client address (IPv6 by /64, see `Client::rate_limit_key`; in-process calls with no
//!   address are not limited): credential attempts (password sign-in, sign-up, codes, the
//!   current password, starting an external sign-in) and requests that send email;
//! - per email address: code guesses, whatever client they come from.
//!
//! The per-account lockout after failed checks is in `lockout.rs`; the per-recipient limits
//! of messages in `email`.

use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::{client::Client, error::Error, store};

/// One limit shared by every instance: `limit` requests per key and `period` (a burst of that
/// many, then one every period/limit), by the generic cell rate algorithm, one statement per
/// request.
#[derive(Clone, Debug)]
pub struct SharedLimiter {
    pool: PgPool,
    /// What it limits, in the table, logs and metrics.
    name: &'static str,
    limit: u32,
    period: Duration,
}

impl SharedLimiter {
    /// `per_minute` 0: no limit.
    pub fn per_minute(pool: PgPool, name: &'static str, per_minute: u32) -> Self {
        Self::new(pool, name, per_minute, Duration::from_secs(60))
    }

    /// `per_hour` 0: no limit.
    pub fn per_hour(pool: PgPool, name: &'static str, per_hour: u32) -> Self {
        Self::new(pool, name, per_hour, Duration::from_secs(3600))
    }

    fn new(pool: PgPool, name: &'static str, limit: u32, period: Duration) -> Self {
        Self {
            pool,
            name,
            limit,
            period,
        }
    }

    /// Counts one attempt from `client`; past the limit, 429 with `Retry-After`.
    pub async fn check(&self, client: &Client) -> Result<(), Error> {
        let Some(key) = client.rate_limit_key() else {
            return Ok(());
        };
        match self.take(&key).await? {
            None => Ok(()),
            Some(wait) => {
                tracing::warn!(ip = %key, limit = self.name, "rate limit reached");
                Err(Error::rate_limited(wait))
            }
        }
    }

    /// Counts one attempt on `email` (kept as its SHA-256); past the limit, the seconds to
    /// wait.
    pub async fn check_address(&self, email: &str) -> Result<Option<u64>, Error> {
        let key = B64.encode(Sha256::digest(email.to_lowercase().as_bytes()));
        let wait = self.take(&key).await?;
        if wait.is_some() {
            tracing::warn!(limit = self.name, "rate limit of an address reached");
        }
        Ok(wait)
    }

    /// Counts one request with API key `id`; past the limit, 429 with `Retry-After`.
    pub async fn check_api_key(&self, id: uuid::Uuid) -> Result<(), Error> {
        match self.take(&id.to_string()).await? {
            None => Ok(()),
            Some(wait) => {
                tracing::warn!(api_key = %id, limit = self.name, "rate limit reached");
                Err(Error::rate_limited(wait))
            }
        }
    }

    async fn take(&self, key: &str) -> Result<Option<u64>, Error> {
        if self.limit == 0 {
            return Ok(None);
        }
        let interval = self.period / self.limit;
        let burst = interval * (self.limit - 1);
        let wait = store::rate_limits::take(&self.pool, self.name, key, interval, burst).await?;
        Ok(wait.map(|w| {
            crate::metrics::rate_limited(self.name);
            w.as_secs_f64().ceil().max(1.0) as u64
        }))
    }
}

/// The limits of the core, by what they protect.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Credential attempts per client address and minute.
    pub sign_in: SharedLimiter,
    /// Requests that send email, per client address and hour.
    pub email: SharedLimiter,
    /// Code guesses per email address and hour, from any client.
    pub code_guesses: SharedLimiter,
    /// Anonymous sign-ins per client address and hour.
    pub anonymous: SharedLimiter,
    /// Requests per API key and minute.
    pub api_key: SharedLimiter,
    /// Dynamic OAuth client registrations per client address and hour.
    pub oauth_registration: SharedLimiter,
    /// OAuth authorization requests per client address and minute.
    pub oauth_authorize: SharedLimiter,
}

impl Limits {
    /// Forgets keys that are back to a full allowance (run periodically).
    pub async fn forget_idle(&self) -> sqlx::Result<u64> {
        store::rate_limits::prune(&self.sign_in.pool).await
    }
}
