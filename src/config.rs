//! Typed settings. Every setting is a command-line flag with an `AUTH_*` environment variable;
//! `--help` documents them all. Values are checked when the server starts, and an invalid one
//! stops it with a message that names the setting and what it accepts.

use std::{net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

use clap::{Args, Parser, ValueEnum};

use crate::secret::Secret;

/// Where the data lives.
#[derive(Args, Clone, Debug)]
pub struct DbArgs {
    /// PostgreSQL connection URL. Falls back to `DATABASE_URL` when unset.
    #[arg(long, env = "AUTH_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<Secret>,

    /// Schema that holds the server's tables; created by the migrations.
    #[arg(long, env = "AUTH_DB_SCHEMA", default_value = "auth", value_parser = parse_identifier)]
    pub db_schema: String,

    /// Maximum number of pooled database connections.
    #[arg(long, env = "AUTH_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
}

impl DbArgs {
    /// The database URL: `AUTH_DATABASE_URL`, else `DATABASE_URL`.
    pub fn url(&self) -> anyhow::Result<Secret> {
        if let Some(url) = &self.database_url {
            return Ok(url.clone());
        }
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => Ok(Secret::new(url)),
            _ => anyhow::bail!(
                "AUTH_DATABASE_URL (--database-url) is not set, and neither is DATABASE_URL: \
                 give a PostgreSQL URL such as postgres://postgres@127.0.0.1:5432/postgres"
            ),
        }
    }
}

/// Signing algorithm of access tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum JwtAlgorithm {
    #[value(name = "HS256")]
    Hs256,
    #[value(name = "HS384")]
    Hs384,
    #[value(name = "HS512")]
    Hs512,
    #[value(name = "RS256")]
    Rs256,
    #[value(name = "ES256")]
    Es256,
    #[value(name = "EdDSA")]
    EdDsa,
}

impl JwtAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Hs384 => "HS384",
            Self::Hs512 => "HS512",
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    pub fn is_hmac(self) -> bool {
        matches!(self, Self::Hs256 | Self::Hs384 | Self::Hs512)
    }

    /// Minimum HMAC key length that Hasura accepts (bits / 8).
    pub fn min_hmac_key_len(self) -> usize {
        match self {
            Self::Hs256 => 32,
            Self::Hs384 => 48,
            Self::Hs512 => 64,
            _ => 0,
        }
    }

    pub fn jsonwebtoken(self) -> jsonwebtoken::Algorithm {
        use jsonwebtoken::Algorithm as A;
        match self {
            Self::Hs256 => A::HS256,
            Self::Hs384 => A::HS384,
            Self::Hs512 => A::HS512,
            Self::Rs256 => A::RS256,
            Self::Es256 => A::ES256,
            Self::EdDsa => A::EdDSA,
        }
    }
}

/// Shape of the Hasura claims value in the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ClaimsFormat {
    /// A JSON object (Hasura's default).
    Json,
    /// A string holding the JSON object (`claims_format: stringified_json`).
    #[value(name = "stringified_json", alias = "stringified-json")]
    StringifiedJson,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Signing keys.
#[derive(Args, Clone, Debug)]
pub struct KeyArgs {
    /// Access-token signing algorithm. Defaults to HS256 with AUTH_JWT_SECRET, to the key's
    /// own algorithm with AUTH_JWT_PRIVATE_KEY_FILE, and to EdDSA with a development key.
    #[arg(long, env = "AUTH_JWT_ALGORITHM", value_enum, ignore_case = true)]
    pub jwt_algorithm: Option<JwtAlgorithm>,

    /// HMAC secret for HS256/384/512, used as its raw UTF-8 bytes exactly as Hasura does
    /// (at least 32/48/64 bytes).
    #[arg(long, env = "AUTH_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,

    /// PEM private key that signs access tokens (RSA, P-256 or Ed25519; PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "AUTH_JWT_PRIVATE_KEY_FILE")]
    pub jwt_private_key_file: Option<PathBuf>,

    /// Further PEM keys (public or private), comma-separated, that are published in the JWKS
    /// and accepted, but never sign: the next key during a rotation, or the previous one.
    #[arg(long, env = "AUTH_JWT_ADDITIONAL_KEY_FILES", value_delimiter = ',')]
    pub jwt_additional_key_files: Vec<PathBuf>,

    /// Directory for the development signing key that is created when no key is configured.
    #[arg(long, env = "AUTH_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
}

/// Everything the HTTP server and the token machinery need.
#[derive(Args, Clone, Debug)]
pub struct Config {
    #[command(flatten)]
    pub db: DbArgs,

    #[command(flatten)]
    pub keys: KeyArgs,

    /// Address the HTTP server listens on.
    #[arg(long, env = "AUTH_LISTEN", default_value = "127.0.0.1:9999")]
    pub listen: SocketAddr,

    /// Public base URL of this server, used in the OAuth metadata and Hasura's `jwk_url`.
    /// Defaults to `http://<AUTH_LISTEN>`.
    #[arg(long, env = "AUTH_PUBLIC_URL")]
    pub public_url: Option<String>,

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

    /// How long a rotated refresh token still converges on the current one (racing tabs, lost
    /// responses). Presented later, it counts as theft and revokes the session.
    #[arg(long, env = "AUTH_REFRESH_TOKEN_REUSE_INTERVAL", default_value = "10s", value_parser = parse_duration)]
    pub refresh_token_reuse_interval: Duration,

    /// A session unused for this long can no longer be refreshed (`off` to disable).
    #[arg(long, env = "AUTH_SESSION_IDLE_TIMEOUT", default_value = "7d", value_parser = parse_optional_duration)]
    pub session_idle_timeout: OptionalDuration,

    /// A session older than this can no longer be refreshed (`off` to disable).
    #[arg(long, env = "AUTH_SESSION_MAX_LIFETIME", default_value = "30d", value_parser = parse_optional_duration)]
    pub session_max_lifetime: OptionalDuration,

    /// Key of the Hasura claims object in the token.
    #[arg(
        long,
        env = "AUTH_HASURA_CLAIMS_NAMESPACE",
        default_value = "https://hasura.io/jwt/claims"
    )]
    pub hasura_claims_namespace: String,

    /// `json` (an object) or `stringified_json` (a string holding the object).
    #[arg(
        long,
        env = "AUTH_HASURA_CLAIMS_FORMAT",
        value_enum,
        default_value = "json"
    )]
    pub hasura_claims_format: ClaimsFormat,

    /// SQL that returns custom claims: takes the user id as `$1` and returns one JSON object
    /// (e.g. `SELECT json_build_object('organization-id', org_id) FROM public.members WHERE user_id = $1`).
    /// Evaluated at sign-in and at every refresh.
    #[arg(long, env = "AUTH_CUSTOM_CLAIMS_SQL")]
    pub custom_claims_sql: Option<String>,

    /// JWT secret of the PL/pgSQL hasura-jwt-auth, needed to verify its imported password
    /// hashes (they are upgraded to Argon2id on the next sign-in).
    #[arg(long, env = "AUTH_LEGACY_HMAC_SECRET", hide_env_values = true)]
    pub legacy_hmac_secret: Option<Secret>,

    /// Shared secret that Hasura sends to `POST /hasura/actions` in the
    /// `x-auth-actions-secret` header. Without it the actions handler is off.
    #[arg(long, env = "AUTH_HASURA_ACTIONS_SECRET", hide_env_values = true)]
    pub hasura_actions_secret: Option<Secret>,

    /// Handler URL written into the generated actions metadata (Hasura expands `{{VAR}}`
    /// from its own environment).
    #[arg(
        long,
        env = "AUTH_HASURA_ACTIONS_HANDLER_URL",
        default_value = "{{HASURA_JWT_AUTH_URL}}/hasura/actions"
    )]
    pub hasura_actions_handler_url: String,

    /// Role for requests without a token (Hasura's HASURA_GRAPHQL_UNAUTHORIZED_ROLE): the
    /// webhook answers with it, the actions metadata grants it sign-up, login and refresh.
    #[arg(long, env = "AUTH_HASURA_UNAUTHORIZED_ROLE", default_value = "anonymous", value_parser = parse_role)]
    pub hasura_unauthorized_role: String,

    /// Also set the refresh token as an HttpOnly, Secure, SameSite cookie (for browsers);
    /// a refresh request without a token in its body then uses the cookie.
    #[arg(long, env = "AUTH_REFRESH_TOKEN_COOKIE")]
    pub refresh_token_cookie: bool,

    /// Name of the refresh-token cookie.
    #[arg(
        long,
        env = "AUTH_REFRESH_TOKEN_COOKIE_NAME",
        default_value = "hja_refresh_token"
    )]
    pub refresh_token_cookie_name: String,

    /// `Path` of the refresh-token cookie: the path refresh requests go to (`/token`, or
    /// Hasura's `/v1/graphql` when refreshing through actions).
    #[arg(long, env = "AUTH_REFRESH_TOKEN_COOKIE_PATH", default_value = "/token")]
    pub refresh_token_cookie_path: String,

    /// `SameSite` of the refresh-token cookie.
    #[arg(
        long,
        env = "AUTH_REFRESH_TOKEN_COOKIE_SAMESITE",
        value_enum,
        default_value = "strict"
    )]
    pub refresh_token_cookie_samesite: SameSite,

    /// `Domain` of the refresh-token cookie (default: none, the host only).
    #[arg(long, env = "AUTH_REFRESH_TOKEN_COOKIE_DOMAIN")]
    pub refresh_token_cookie_domain: Option<String>,

    /// Browser origins allowed to call the API with credentials (CORS), comma-separated,
    /// e.g. `https://app.example.com`. Empty: no CORS headers.
    #[arg(long, env = "AUTH_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// How long after signing in a session may set a new password without giving
    /// `current_password` (`0`: always required).
    #[arg(long, env = "AUTH_REAUTHENTICATION_WINDOW", default_value = "10m", value_parser = parse_duration)]
    pub reauthentication_window: Duration,

    /// Password sign-ins plus sign-ups allowed per client address and minute (a burst of
    /// that many, then one every 60/N seconds); `0` turns the limit off. Per instance.
    #[arg(long, env = "AUTH_RATE_LIMIT_SIGN_IN", default_value_t = 30)]
    pub rate_limit_sign_in: u32,

    /// Bearer secret of the admin API (`Authorization: Bearer <secret>`, at least 32 bytes).
    /// Without it there is no admin API.
    #[arg(long, env = "AUTH_ADMIN_SECRET", hide_env_values = true)]
    pub admin_secret: Option<Secret>,

    /// Audit-log entries older than this are deleted (`off` keeps them forever).
    #[arg(long, env = "AUTH_AUDIT_RETENTION", default_value = "90d", value_parser = parse_optional_duration)]
    pub audit_retention: OptionalDuration,

    /// Default role of new users.
    #[arg(long, env = "AUTH_DEFAULT_ROLE", default_value = "user", value_parser = parse_role)]
    pub default_role: String,

    /// Allowed roles of new users, comma-separated; must include AUTH_DEFAULT_ROLE.
    #[arg(long, env = "AUTH_DEFAULT_ALLOWED_ROLES", default_value = "user", value_delimiter = ',', value_parser = parse_role)]
    pub default_allowed_roles: Vec<String>,

    /// Refuse `POST /signup` (users are then created by an administrator).
    #[arg(long, env = "AUTH_DISABLE_SIGNUP")]
    pub disable_signup: bool,

    /// Argon2id memory cost in KiB (at least 19456, OWASP's minimum).
    #[arg(long, env = "AUTH_ARGON2_MEMORY_KIB", default_value_t = 19_456)]
    pub argon2_memory_kib: u32,

    /// Argon2id iterations (at least 2).
    #[arg(long, env = "AUTH_ARGON2_ITERATIONS", default_value_t = 2)]
    pub argon2_iterations: u32,

    /// Argon2id parallelism (at least 1).
    #[arg(long, env = "AUTH_ARGON2_PARALLELISM", default_value_t = 1)]
    pub argon2_parallelism: u32,

    /// Password hashes computed at once; further sign-ins wait. Defaults to the number of CPUs.
    #[arg(long, env = "AUTH_PASSWORD_HASH_CONCURRENCY")]
    pub password_hash_concurrency: Option<usize>,

    /// Take the client address from the rightmost `X-Forwarded-For` entry (the one your
    /// reverse proxy appends). Set it behind a proxy, or every client shares the proxy's address.
    #[arg(long, env = "AUTH_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,

    /// Log format.
    #[arg(long, env = "AUTH_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

#[derive(Parser)]
#[command(no_binary_name = true)]
struct ConfigOnly {
    #[command(flatten)]
    config: Config,
}

impl Config {
    /// Parses settings from flags (and the environment), as `serve` does. For tests and tools.
    pub fn from_args<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        ConfigOnly::try_parse_from(args).map(|c| c.config)
    }
}

/// A duration that can be turned off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionalDuration(pub Option<Duration>);

impl Config {
    /// Checks the settings that clap cannot check alone.
    pub fn validate(&self) -> anyhow::Result<()> {
        use anyhow::ensure;
        ensure!(
            self.default_allowed_roles.contains(&self.default_role),
            "AUTH_DEFAULT_ROLE ({}) must be one of AUTH_DEFAULT_ALLOWED_ROLES ({})",
            self.default_role,
            self.default_allowed_roles.join(",")
        );
        ensure!(
            self.access_token_ttl >= Duration::from_secs(10),
            "AUTH_ACCESS_TOKEN_TTL must be at least 10 seconds"
        );
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
            !self.hasura_claims_namespace.is_empty(),
            "AUTH_HASURA_CLAIMS_NAMESPACE must not be empty"
        );
        for (name, secret) in [
            ("AUTH_ADMIN_SECRET", &self.admin_secret),
            ("AUTH_HASURA_ACTIONS_SECRET", &self.hasura_actions_secret),
        ] {
            if let Some(secret) = secret {
                ensure!(
                    secret.expose().len() >= 32,
                    "{name} must be at least 32 bytes (generate one with: openssl rand -hex 32)"
                );
            }
        }
        for origin in &self.cors_origins {
            ensure!(
                (origin.starts_with("http://") || origin.starts_with("https://")) && !origin.ends_with('/'),
                "AUTH_CORS_ORIGINS entries must be origins such as https://app.example.com (got {origin})"
            );
        }
        ensure!(
            self.refresh_token_cookie_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                && !self.refresh_token_cookie_name.is_empty(),
            "AUTH_REFRESH_TOKEN_COOKIE_NAME may only hold letters, digits, '-', '_' and '.'"
        );
        ensure!(
            self.refresh_token_cookie_path.starts_with('/')
                && !self.refresh_token_cookie_path.contains(';'),
            "AUTH_REFRESH_TOKEN_COOKIE_PATH must be a path starting with /"
        );
        if let Some(url) = &self.public_url {
            ensure!(
                url.starts_with("http://") || url.starts_with("https://"),
                "AUTH_PUBLIC_URL must start with http:// or https:// (got {url})"
            );
        }
        Ok(())
    }

    /// Public base URL without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    pub fn issuer(&self) -> String {
        self.jwt_issuer.clone().unwrap_or_else(|| self.public_url())
    }
}

/// Seconds (`900`) or a humantime duration (`15m`, `1h 30m`, `7d`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = u64::from_str(s) {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("{e}: use seconds (900) or a duration such as 15m, 12h or 7d"))
}

/// Like [`parse_duration`], plus `off` (or `0`) for no limit.
pub fn parse_optional_duration(s: &str) -> Result<OptionalDuration, String> {
    match s.trim() {
        "off" | "none" | "0" => Ok(OptionalDuration(None)),
        other => parse_duration(other).map(|d| OptionalDuration(Some(d))),
    }
}

fn parse_identifier(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(s.to_owned())
    } else {
        Err("expected a lowercase SQL identifier such as auth (letters, digits, _)".into())
    }
}

/// A role name as Hasura accepts it: non-empty, no surrounding whitespace.
pub fn parse_role(s: &str) -> Result<String, String> {
    crate::auth::roles::validate_role(s.trim()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_seconds_and_units() {
        assert_eq!(parse_duration("900"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert!(parse_duration("soon").unwrap_err().contains("15m"));
        assert_eq!(parse_optional_duration("off"), Ok(OptionalDuration(None)));
    }

    #[test]
    fn database_url_falls_back_to_database_url() {
        let explicit = Config::from_args(["--database-url", "postgres://a@h/x"]).unwrap();
        assert_eq!(explicit.db.url().unwrap().expose(), "postgres://a@h/x");
        let fallback = Config::from_args(Vec::<&str>::new()).unwrap();
        // DATABASE_URL is what `cargo test` sets (.cargo/config.toml) or the caller exported.
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => assert_eq!(fallback.db.url().unwrap().expose(), url),
            _ => assert!(fallback
                .db
                .url()
                .unwrap_err()
                .to_string()
                .contains("AUTH_DATABASE_URL")),
        }
    }

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(parse_identifier("auth").is_ok());
        assert!(parse_identifier("auth; drop").is_err());
        assert!(parse_identifier("Auth").is_err());
    }
}
