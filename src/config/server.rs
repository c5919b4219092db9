//! The HTTP server: address, public URL, proxies, browsers, the admin API, logs.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use clap::{Args, ValueEnum};
use ipnet::IpNet;

use super::parse::{parse_duration, parse_optional_duration, OptionalDuration};
use crate::secret::Secret;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Server")]
pub struct ServerArgs {
    /// Address the HTTP server listens on.
    #[arg(long, env = "AUTH_LISTEN", default_value = "127.0.0.1:9999")]
    pub listen: SocketAddr,

    /// Serve Prometheus metrics at `/metrics` on this separate address (e.g. `127.0.0.1:9100`;
    /// keep it off the public network). Off by default.
    #[arg(long, env = "AUTH_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Public base URL of this server, used in the OAuth metadata and Hasura's `jwk_url`.
    /// Defaults to `http://<AUTH_LISTEN>`.
    #[arg(long, env = "AUTH_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Browser origins allowed to call the API with credentials (CORS), comma-separated,
    /// e.g. `https://app.example.com`. Empty: no CORS headers.
    #[arg(long, env = "AUTH_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Networks of your reverse proxies (and of Hasura, for the actions handler), as CIDRs or
    /// addresses, comma-separated. A request from one of them takes its client address from
    /// `X-Forwarded-For` (the rightmost entry that is not itself a proxy); any other request
    /// uses its peer address. Empty: `X-Forwarded-For` is never trusted.
    #[arg(long, env = "AUTH_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_network)]
    pub trusted_proxies: Vec<IpNet>,

    /// Replaced by AUTH_TRUSTED_PROXIES (which names the proxies instead of trusting every
    /// peer); setting it stops the server with a message saying so.
    #[arg(long, env = "AUTH_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,

    /// Bearer secret of the admin API (`Authorization: Bearer <secret>`, at least 32 bytes).
    /// Without it there is no admin API.
    #[arg(long, env = "AUTH_ADMIN_SECRET", hide_env_values = true)]
    pub admin_secret: Option<Secret>,

    /// Audit-log entries older than this are deleted (`off` keeps them forever).
    #[arg(long, env = "AUTH_AUDIT_RETENTION", default_value = "90d", value_parser = parse_optional_duration)]
    pub audit_retention: OptionalDuration,

    /// A connection must send a request's headers within this time (also while it idles
    /// between keep-alive requests), or it is closed: slow clients cannot hold connections.
    #[arg(long, env = "AUTH_HTTP_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub http_header_timeout: Duration,

    /// Connections served at once; further ones wait until one closes. Keep it below the
    /// process's open-file limit (`ulimit -n`).
    #[arg(long, env = "AUTH_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,

    /// Log format.
    #[arg(long, env = "AUTH_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}

/// An IP network (`10.0.0.0/8`, `fd00::/8`) or a single address.
fn parse_network(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{s:?} is not an IP network such as 10.0.0.0/8 or an address"))
}

impl ServerArgs {
    /// Whether `peer` is one of the trusted proxies.
    pub fn is_trusted_proxy(&self, peer: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&peer))
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        use anyhow::ensure;
        ensure!(
            self.http_header_timeout >= Duration::from_secs(1),
            "AUTH_HTTP_HEADER_TIMEOUT must be at least 1 second"
        );
        ensure!(
            self.max_connections >= 1,
            "AUTH_MAX_CONNECTIONS must be at least 1"
        );
        ensure!(
            !self.trust_forwarded_for,
            "AUTH_TRUST_FORWARDED_FOR was replaced by AUTH_TRUSTED_PROXIES: set it to the networks \
             of your reverse proxies (e.g. AUTH_TRUSTED_PROXIES=10.0.0.0/8), whose X-Forwarded-For \
             is then trusted"
        );
        for origin in &self.cors_origins {
            ensure!(
                (origin.starts_with("http://") || origin.starts_with("https://")) && !origin.ends_with('/'),
                "AUTH_CORS_ORIGINS entries must be origins such as https://app.example.com (got {origin})"
            );
        }
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
}
