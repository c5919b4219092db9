//! Access tokens and sessions.

use std::time::Duration;

use clap::Args;

use super::parse::{parse_duration, parse_optional_duration, OptionalDuration};

/// Access tokens: what they say and how long they live.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Access tokens")]
pub struct TokenArgs {
    /// `iss` of access tokens. Defaults to AUTH_PUBLIC_URL.
    #[arg(long, env = "AUTH_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,

    /// `aud` of access tokens (optional). Set Hasura's `audience` to the same value.
    #[arg(long, env = "AUTH_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,

    /// Lifetime of access tokens: seconds, or a duration such as `15m`.
    #[arg(long, env = "AUTH_ACCESS_TOKEN_TTL", default_value = "15m", value_parser = parse_duration)]
    pub access_token_ttl: Duration,

    /// `Cache-Control: max-age` of the JWKS. Hasura refetches the key set after this long.
    #[arg(long, env = "AUTH_JWKS_MAX_AGE", default_value = "5m", value_parser = parse_duration)]
    pub jwks_max_age: Duration,
}

/// Sessions and their refresh tokens.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Sessions")]
pub struct SessionArgs {
    /// How long a rotated refresh token still converges on the current one (racing tabs, lost
    /// responses). Presented later, it counts as theft and revokes the session.
    #[arg(long, env = "AUTH_REFRESH_TOKEN_REUSE_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub refresh_token_reuse_interval: Duration,

    /// A session unused for this long can no longer be refreshed (`off` to disable).
    #[arg(long, env = "AUTH_SESSION_IDLE_TIMEOUT", default_value = "7d", value_parser = parse_optional_duration)]
    pub session_idle_timeout: OptionalDuration,

    /// Live sessions each instance keeps in memory, so that the Hasura webhook and `GET /user`
    /// need no database round trip (changes reach every instance through PostgreSQL
    /// `LISTEN/NOTIFY`); as many token salts, so that a refresh is one statement; and as many
    /// verified access tokens, so that a token presented again is not verified again (`0`:
    /// all off).
    #[arg(long, env = "AUTH_SESSION_CACHE_SIZE", default_value_t = 10_000)]
    pub session_cache_size: usize,

    /// Refreshes merged into one database statement and transaction when they arrive
    /// together (while earlier ones are still being written): under load, one commit then
    /// serves many refreshes. `1` runs every refresh on its own.
    #[arg(long, env = "AUTH_REFRESH_BATCH_MAX", default_value_t = 64)]
    pub refresh_batch_max: usize,

    /// A session older than this can no longer be refreshed (`off` to disable).
    #[arg(long, env = "AUTH_SESSION_MAX_LIFETIME", default_value = "30d", value_parser = parse_optional_duration)]
    pub session_max_lifetime: OptionalDuration,

    /// How long after signing in a session may set a new password without giving
    /// `current_password` (`0`: always required).
    #[arg(long, env = "AUTH_REAUTHENTICATION_WINDOW", default_value = "10m", value_parser = parse_duration)]
    pub reauthentication_window: Duration,
}
