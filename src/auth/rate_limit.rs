//! Per-client-address rate limits. [`SharedLimiter`] guards the credential endpoints
//! (password sign-in and sign-up, against password guessing and sign-up floods) and keeps its
//! state in PostgreSQL, so several instances behind one load balancer enforce one limit.
//! [`LocalLimiter`] is the in-memory, per-instance kind (the email-sending requests). IPv6
//! clients count by /64 (see `Client::rate_limit_key`); requests whose address is unknown
//! (in-process calls) are not limited. The per-account limit is in `lockout.rs`.

use std::{num::NonZeroU32, sync::Arc};

use std::time::Duration;

use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota, RateLimiter};
use sqlx::PgPool;

use crate::{client::Client, error::Error, store};

/// A per-client-address limit shared by every instance on the database: `per_minute`
/// requests per address and minute (a burst of that many, then one every 60/N seconds), by
/// the generic cell rate algorithm, one statement per request.
#[derive(Clone)]
pub struct SharedLimiter {
    pool: PgPool,
    name: &'static str,
    per_minute: u32,
}

impl SharedLimiter {
    /// `per_minute` 0: no limit.
    pub fn new(pool: PgPool, name: &'static str, per_minute: u32) -> Self {
        Self {
            pool,
            name,
            per_minute,
        }
    }

    /// Counts one attempt from `client`; past the limit, 429 with `Retry-After`.
    pub async fn check(&self, client: &Client) -> Result<(), Error> {
        let (Some(n), Some(key)) = (
            std::num::NonZeroU32::new(self.per_minute),
            client.rate_limit_key(),
        ) else {
            return Ok(());
        };
        let interval = Duration::from_secs(60) / n.get();
        let burst = interval * (n.get() - 1);
        match store::rate_limits::take(&self.pool, self.name, &key, interval, burst).await? {
            None => Ok(()),
            Some(wait) => {
                tracing::warn!(ip = %key, limit = self.name, "rate limit reached");
                crate::metrics::rate_limited(self.name);
                Err(Error::rate_limited(
                    wait.as_secs_f64().ceil().max(1.0) as u64
                ))
            }
        }
    }

    /// Forgets addresses that are back to a full allowance (run periodically).
    pub async fn forget_idle(&self) -> sqlx::Result<u64> {
        store::rate_limits::prune(&self.pool).await
    }
}

#[derive(Clone)]
pub struct LocalLimiter {
    limiter: Option<Arc<DefaultKeyedRateLimiter<String>>>,
    /// What it limits, in logs and metrics (`sign_in`, `email`).
    name: &'static str,
}

impl LocalLimiter {
    /// `per_minute` attempts per address and minute (a burst of that many, then one every
    /// 60/N seconds); 0: no limit.
    pub fn new(name: &'static str, per_minute: u32) -> Self {
        Self {
            limiter: NonZeroU32::new(per_minute)
                .map(|n| Arc::new(RateLimiter::keyed(Quota::per_minute(n)))),
            name,
        }
    }

    /// `per_hour` requests per address and hour (a burst of that many, then one every
    /// 3600/N seconds); 0: no limit.
    pub fn per_hour(name: &'static str, per_hour: u32) -> Self {
        Self {
            limiter: NonZeroU32::new(per_hour)
                .map(|n| Arc::new(RateLimiter::keyed(Quota::per_hour(n)))),
            name,
        }
    }

    /// Counts one attempt from `client`; past the limit, 429 with `Retry-After`.
    pub fn check(&self, client: &Client) -> Result<(), Error> {
        let (Some(limiter), Some(ip)) = (&self.limiter, client.rate_limit_key()) else {
            return Ok(());
        };
        limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            tracing::warn!(ip = %ip, limit = self.name, "rate limit reached");
            crate::metrics::rate_limited(self.name);
            Error::rate_limited(wait.as_secs().max(1))
        })
    }

    /// Forgets addresses that are back to a full allowance (run periodically).
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.limiter {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}
