//! Email: where links point, how messages are delivered, and the limits on sending them.

use std::{path::PathBuf, time::Duration};

use clap::{Args, ValueEnum};

use super::parse::parse_duration;
use crate::secret::Secret;

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on the same host or network, and for tests.
    None,
}

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Email")]
pub struct MailArgs {
    /// The app's URL: where email links send users after verifying (unless an allowed
    /// `redirect_to` says otherwise). Defaults to AUTH_PUBLIC_URL.
    #[arg(long, env = "AUTH_SITE_URL")]
    pub site_url: Option<String>,

    /// Further URLs that `redirect_to` may name, comma-separated; `*` matches within a path
    /// segment or host label, `**` matches anything (e.g. `https://*.example.com/**`).
    #[arg(long, env = "AUTH_REDIRECT_URLS", value_delimiter = ',')]
    pub redirect_urls: Vec<String>,

    /// Require new users to confirm their email address (by link or code) before they can
    /// sign in with a password. Off by default, as before this setting existed; turn it on in
    /// production, with SMTP configured.
    #[arg(long, env = "AUTH_EMAIL_CONFIRMATION_REQUIRED")]
    pub email_confirmation_required: bool,

    /// An email change needs a confirmation from the current address too, not only the new
    /// (on by default, as in Supabase Auth; `false` to need only the new address's).
    #[arg(long, env = "AUTH_SECURE_EMAIL_CHANGE", default_value_t = true,
          num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub secure_email_change: bool,

    /// How long an email link stays valid.
    #[arg(long, env = "AUTH_EMAIL_LINK_TTL", default_value = "1h", value_parser = parse_duration)]
    pub email_link_ttl: Duration,

    /// How long a 6-digit email code stays valid.
    #[arg(long, env = "AUTH_EMAIL_CODE_TTL", default_value = "10m", value_parser = parse_duration)]
    pub email_code_ttl: Duration,

    /// Wrong tries of a 6-digit code before it is void; a new code of the same kind does not
    /// start the count again while the previous token's link lives.
    #[arg(long, env = "AUTH_EMAIL_CODE_ATTEMPTS", default_value_t = 5)]
    pub email_code_attempts: u32,

    /// Shortest time between two messages to one address.
    #[arg(long, env = "AUTH_EMAIL_MIN_INTERVAL", default_value = "60s", value_parser = parse_duration)]
    pub email_min_interval: Duration,

    /// Messages to one address per hour at most.
    #[arg(long, env = "AUTH_EMAIL_HOURLY_LIMIT", default_value_t = 5)]
    pub email_hourly_limit: u32,

    /// Email-sending requests (recovery, sign-in links, resends, email changes) per client
    /// address and hour; `0`: no limit. Shared by every instance (kept in PostgreSQL).
    #[arg(long, env = "AUTH_RATE_LIMIT_EMAIL", default_value_t = 30)]
    pub rate_limit_email: u32,

    /// Guesses of 6-digit codes per email address and hour, from any client and through any
    /// way in (a burst of that many, then one every 3600/N seconds); `0`: no limit. Shared by
    /// every instance.
    #[arg(long, env = "AUTH_EMAIL_CODE_GUESSES_PER_HOUR", default_value_t = 10)]
    pub email_code_guesses_per_hour: u32,

    /// SMTP server host. Without it, messages are written to the log instead (development).
    #[arg(long, env = "AUTH_SMTP_HOST")]
    pub smtp_host: Option<String>,

    /// SMTP port (default: 587 with STARTTLS, 465 with TLS, 25 without).
    #[arg(long, env = "AUTH_SMTP_PORT")]
    pub smtp_port: Option<u16>,

    /// SMTP user name (with AUTH_SMTP_PASS).
    #[arg(long, env = "AUTH_SMTP_USER")]
    pub smtp_user: Option<String>,

    /// SMTP password.
    #[arg(long, env = "AUTH_SMTP_PASS", hide_env_values = true)]
    pub smtp_pass: Option<Secret>,

    /// `starttls` (default), `tls`, or `none`.
    #[arg(long, env = "AUTH_SMTP_TLS", value_enum, default_value = "starttls")]
    pub smtp_tls: SmtpTls,

    /// PEM certificates to trust for the SMTP server's TLS, besides the public roots (a relay
    /// with a private CA).
    #[arg(long, env = "AUTH_SMTP_CA_FILE")]
    pub smtp_ca_file: Option<PathBuf>,

    /// Sender of every message, e.g. `My App <no-reply@example.com>`.
    #[arg(
        long,
        env = "AUTH_SMTP_SENDER",
        default_value = "hasura-jwt-auth <no-reply@localhost>"
    )]
    pub smtp_sender: String,

    /// First retry of a message that could not be delivered; later retries wait twice as
    /// long each time, up to 10 minutes. Undelivered messages are kept 24 hours.
    #[arg(long, env = "AUTH_SMTP_RETRY_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    pub smtp_retry_interval: Duration,

    /// Directory of templates overriding the built-in ones: `<kind>.subject.txt`,
    /// `<kind>.txt`, `<kind>.html` (kinds: confirmation, recovery, magiclink, invite,
    /// email_change, email_changed).
    #[arg(long, env = "AUTH_EMAIL_TEMPLATES_DIR")]
    pub email_templates_dir: Option<PathBuf>,
}

impl MailArgs {
    pub fn validate(&self) -> anyhow::Result<()> {
        use anyhow::ensure;
        if let Some(url) = &self.site_url {
            ensure!(
                url.starts_with("http://") || url.starts_with("https://") || url.contains("://"),
                "AUTH_SITE_URL must be a URL such as https://app.example.com (got {url})"
            );
        }
        ensure!(
            (1..=20).contains(&self.email_code_attempts),
            "AUTH_EMAIL_CODE_ATTEMPTS must be between 1 and 20"
        );
        ensure!(
            self.smtp_user.is_some() == self.smtp_pass.is_some(),
            "AUTH_SMTP_USER and AUTH_SMTP_PASS go together"
        );
        ensure!(
            self.smtp_sender.parse::<lettre::message::Mailbox>().is_ok(),
            "AUTH_SMTP_SENDER must be an address such as \"My App <no-reply@example.com>\""
        );
        if let Some(dir) = &self.email_templates_dir {
            ensure!(
                dir.is_dir(),
                "AUTH_EMAIL_TEMPLATES_DIR {} is not a directory",
                dir.display()
            );
        }
        Ok(())
    }

    /// The SMTP port: the setting, else the usual one for the TLS mode.
    pub fn smtp_port(&self) -> u16 {
        self.smtp_port.unwrap_or(match self.smtp_tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        })
    }
}
