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
    /// The lock earned by the `failures`-th consecutive failed check of an address, if any:
    /// 1 s at the threshold, then doubling up to `AUTH_ACCOUNT_LOCKOUT_MAX`.
    pub fn lock_after(&self, failures: u32) -> Option<Duration> {
        let threshold = self.account_lockout_threshold;
        if threshold == 0 || failures < threshold {
            return None;
        }
        let doublings = (failures - threshold).min(30);
        Some(Duration::from_secs(1u64 << doublings).min(self.account_lockout_max))
    }

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

/// Fewest characters `AUTH_PASSWORD_MIN_LENGTH` may say.
pub const LOWEST_MIN_LENGTH: usize = 6;
/// Longest password accepted (in characters); bounds the hashing work per request.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// The character sets of `AUTH_PASSWORD_REQUIRED_CHARACTERS`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CharacterSets(pub Vec<String>);

/// The character sets of `AUTH_PASSWORD_REQUIRED_CHARACTERS`: separated by `:`, where `\:`
/// stands for a colon inside a set (as Supabase Auth reads the setting).
pub fn parse_required_characters(value: &str) -> Result<CharacterSets, String> {
    let mut sets = Vec::new();
    let mut current = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.clone().next() == Some(':') => {
                current.push(':');
                chars.next();
            }
            ':' => sets.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    sets.push(current);
    Ok(CharacterSets(
        sets.into_iter().filter(|s| !s.is_empty()).collect(),
    ))
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
          value_parser = parse_required_characters)]
    pub password_required_characters: CharacterSets,

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_double_up_to_the_maximum() {
        let accounts = |threshold: &str| {
            crate::config::Config::from_args([
                "--account-lockout-threshold",
                threshold,
                "--account-lockout-max",
                "15m",
            ])
            .unwrap()
            .accounts
        };
        let rule = accounts("5");
        assert_eq!(rule.lock_after(4), None);
        assert_eq!(rule.lock_after(5), Some(Duration::from_secs(1)));
        assert_eq!(rule.lock_after(6), Some(Duration::from_secs(2)));
        assert_eq!(rule.lock_after(10), Some(Duration::from_secs(32)));
        assert_eq!(rule.lock_after(20), Some(Duration::from_secs(900)));
        assert_eq!(rule.lock_after(10_000), Some(Duration::from_secs(900)));
        assert_eq!(accounts("0").lock_after(100), None);
    }

    #[test]
    fn character_sets_split_on_unescaped_colons() {
        assert_eq!(
            parse_required_characters(r"abc:ABC:!\:?").unwrap().0,
            ["abc", "ABC", "!:?"]
        );
        assert!(parse_required_characters("").unwrap().0.is_empty());
    }
}
