//! Accounts: roles of new users, sign-up, sign-in limits, password hashing.

use clap::Args;

use std::time::Duration;

use super::parse::{parse_duration, parse_role};
use crate::secret::Secret;

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Accounts")]
pub struct AccountArgs {
    /// Default role of new users.
    #[arg(long, env = "AUTH_DEFAULT_ROLE", default_value = "user", value_parser = parse_role)]
    pub default_role: String,

    /// Allowed roles of new users, comma-separated; must include AUTH_DEFAULT_ROLE.
    #[arg(long, env = "AUTH_DEFAULT_ALLOWED_ROLES", default_value = "user", value_delimiter = ',', value_parser = parse_role)]
    pub default_allowed_roles: Vec<String>,

    /// Refuse `POST /signup` (users are then created by an administrator).
    #[arg(long, env = "AUTH_DISABLE_SIGNUP")]
    pub disable_signup: bool,

    /// Credential attempts allowed per client address and minute, counted together: password
    /// sign-ins, sign-ups, email codes, current-password checks, external sign-ins started (a
    /// burst of that many, then one every 60/N seconds); `0` turns the limit off. Kept in
    /// PostgreSQL: every instance on the database enforces the same limit.
    #[arg(long, env = "AUTH_RATE_LIMIT_SIGN_IN", default_value_t = 30)]
    pub rate_limit_sign_in: u32,

    /// Consecutive failed password or email-code checks for one email address (from any client address)
    /// before it is locked: 1 s, then 2 s, 4 s, … up to AUTH_ACCOUNT_LOCKOUT_MAX. Shared by
    /// every instance. `0` turns the lockout off.
    #[arg(long, env = "AUTH_ACCOUNT_LOCKOUT_THRESHOLD", default_value_t = 5)]
    pub account_lockout_threshold: u32,

    /// Longest lock of an email address after failed password checks.
    #[arg(long, env = "AUTH_ACCOUNT_LOCKOUT_MAX", default_value = "15m", value_parser = parse_duration)]
    pub account_lockout_max: Duration,
}

impl AccountArgs {
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.default_allowed_roles.contains(&self.default_role),
            "AUTH_DEFAULT_ROLE ({}) must be one of AUTH_DEFAULT_ALLOWED_ROLES ({})",
            self.default_role,
            self.default_allowed_roles.join(",")
        );
        Ok(())
    }
}

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Passwords")]
pub struct PasswordArgs {
    /// Fewest characters of a new password (at least 6).
    #[arg(long, env = "AUTH_PASSWORD_MIN_LENGTH", default_value_t = 8)]
    pub password_min_length: usize,

    /// Character sets of which a new password must hold at least one character each,
    /// separated by `:` (`\:` for a colon in a set), e.g.
    /// `abcdefghijklmnopqrstuvwxyz:ABCDEFGHIJKLMNOPQRSTUVWXYZ:0123456789`. Empty: none.
    #[arg(long, env = "AUTH_PASSWORD_REQUIRED_CHARACTERS", default_value = "",
          value_parser = crate::auth::password::policy::parse_required_characters)]
    pub password_required_characters: crate::auth::password::policy::CharacterSets,

    /// Argon2id memory cost in KiB (at least 19456, OWASP's minimum).
    #[arg(long, env = "AUTH_ARGON2_MEMORY_KIB", default_value_t = 19_456)]
    pub argon2_memory_kib: u32,

    /// Argon2id iterations (at least 2).
    #[arg(long, env = "AUTH_ARGON2_ITERATIONS", default_value_t = 2)]
    pub argon2_iterations: u32,

    /// Argon2id parallelism (at least 1).
    #[arg(long, env = "AUTH_ARGON2_PARALLELISM", default_value_t = 1)]
    pub argon2_parallelism: u32,

    /// Password hashes computed at once; further sign-ins wait. Defaults to one less than the
    /// number of CPUs (at least 1), so that a burst of sign-ins always leaves a core to the
    /// request handlers and the database.
    #[arg(long, env = "AUTH_PASSWORD_HASH_CONCURRENCY")]
    pub password_hash_concurrency: Option<usize>,

    /// Password checks that may wait for a hashing thread; beyond that, sign-ins are refused
    /// at once with 503 and `Retry-After` instead of queueing without bound.
    #[arg(long, env = "AUTH_PASSWORD_HASH_QUEUE", default_value_t = 64)]
    pub password_hash_queue: usize,

    /// Niceness added to the hashing threads (Linux, 0 to 19): under a burst of sign-ins the
    /// scheduler then serves the request handlers and the database first, so hashing never
    /// starves refresh, the webhook or `/user`. 0 keeps them at the server's priority.
    #[arg(long, env = "AUTH_PASSWORD_HASH_NICE", default_value_t = 10)]
    pub password_hash_nice: i32,

    /// JWT secret of the PL/pgSQL hasura-jwt-auth, needed to verify the password hashes
    /// imported from it (they are upgraded to Argon2id on the next sign-in).
    #[arg(long, env = "AUTH_LEGACY_HMAC_SECRET", hide_env_values = true)]
    pub legacy_hmac_secret: Option<Secret>,
}

impl PasswordArgs {
    /// What new passwords must be.
    pub fn policy(&self) -> crate::auth::password::PasswordPolicy {
        crate::auth::password::PasswordPolicy {
            min_length: self.password_min_length,
            required_characters: self.password_required_characters.0.clone(),
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        use anyhow::ensure;
        ensure!(
            self.argon2_memory_kib >= 19_456,
            "AUTH_ARGON2_MEMORY_KIB must be at least 19456 (OWASP's minimum for Argon2id)"
        );
        ensure!(
            self.argon2_iterations >= 2,
            "AUTH_ARGON2_ITERATIONS must be at least 2"
        );
        ensure!(
            (1..=64).contains(&self.argon2_parallelism),
            "AUTH_ARGON2_PARALLELISM must be between 1 and 64"
        );
        ensure!(
            (0..=19).contains(&self.password_hash_nice),
            "AUTH_PASSWORD_HASH_NICE must be between 0 and 19"
        );
        use crate::auth::password::policy::{LOWEST_MIN_LENGTH, MAX_PASSWORD_CHARS};
        ensure!(
            (LOWEST_MIN_LENGTH..=MAX_PASSWORD_CHARS).contains(&self.password_min_length),
            "AUTH_PASSWORD_MIN_LENGTH must be between {LOWEST_MIN_LENGTH} and {MAX_PASSWORD_CHARS}"
        );
        Ok(())
    }

    /// Hashing threads: the setting, else one less than the CPUs (at least 1).
    pub fn concurrency(&self) -> usize {
        self.password_hash_concurrency.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
                .saturating_sub(1)
                .max(1)
        })
    }
}
