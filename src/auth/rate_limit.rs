//! Per-client-address rate limit of the credential endpoints (password sign-in and sign-up),
//! against password guessing and sign-up floods. In memory, per instance; IPv6 clients count
//! by /64 (see `Client::rate_limit_key`); requests whose address is unknown (in-process calls)
//! are not limited. The per-account limit is in `lockout.rs`.

use std::{num::NonZeroU32, sync::Arc};

use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::{client::Client, error::Error};

#[derive(Clone)]
pub struct SignInLimiter {
    limiter: Option<Arc<DefaultKeyedRateLimiter<String>>>,
    /// What it limits, in logs and metrics (`sign_in`, `email`).
    name: &'static str,
}

impl SignInLimiter {
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
