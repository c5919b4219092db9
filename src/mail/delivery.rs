//! The delivery worker: takes due messages from the outbox, sends them over SMTP, deletes
//! what was delivered and schedules retries (30 s, then doubling up to 10 minutes) for what
//! was not. Several instances share the outbox safely: a message is leased to one worker at a
//! time. A message is sent at least once; after a crash between sending and deleting it,
//! possibly twice. Messages still undelivered after 24 hours are dropped, with an error.
//!
//! Without `AUTH_SMTP_HOST` (development), messages are written to the log instead, links
//! and codes included, and marked as not delivered.

use std::{sync::Arc, time::Duration};

use anyhow::Context;
use lettre::{
    message::{header::ContentType, Mailbox, MultiPart, SinglePart},
    transport::smtp::{
        authentication::Credentials,
        client::{Certificate, Tls, TlsParameters},
    },
    AsyncSmtpTransport, AsyncTransport, Tokio1Executor,
};
use sqlx::PgPool;
use tokio::sync::Notify;

use crate::{
    config::{MailArgs, SmtpTls},
    store::{self, outbox::Message},
};

/// Undelivered messages are dropped after this long.
pub const KEEP_UNDELIVERED: Duration = Duration::from_secs(24 * 3600);
/// Longest wait between two attempts.
const MAX_RETRY: Duration = Duration::from_secs(600);
/// How long a claimed message is held by one worker.
const LEASE: Duration = Duration::from_secs(120);
/// How often the outbox is looked at without being woken (messages of other instances,
/// retries).
const POLL: Duration = Duration::from_secs(2);

/// The SMTP transport for the settings: STARTTLS (required), TLS, or none; the public roots
/// plus `AUTH_SMTP_CA_FILE`; authentication when a user is set.
fn smtp_transport(
    settings: &MailArgs,
    host: &str,
) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let tls = |_: ()| -> anyhow::Result<TlsParameters> {
        let mut params = TlsParameters::builder(host.to_owned());
        if let Some(path) = &settings.smtp_ca_file {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read AUTH_SMTP_CA_FILE {}", path.display()))?;
            let cert = Certificate::from_pem(&pem).with_context(|| {
                format!(
                    "AUTH_SMTP_CA_FILE {} is not a PEM certificate",
                    path.display()
                )
            })?;
            params = params.add_root_certificate(cert);
        }
        params.build_rustls().context("SMTP TLS settings")
    };
    let mode = match settings.smtp_tls {
        SmtpTls::Starttls => Tls::Required(tls(())?),
        SmtpTls::Tls => Tls::Wrapper(tls(())?),
        SmtpTls::None => Tls::None,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(settings.smtp_port())
        .tls(mode)
        .timeout(Some(Duration::from_secs(30)));
    if let (Some(user), Some(pass)) = (&settings.smtp_user, &settings.smtp_pass) {
        builder = builder.credentials(Credentials::new(user.clone(), pass.expose().to_owned()));
    }
    Ok(builder.build())
}

/// Sends what the outbox holds.
#[derive(Clone)]
pub struct Delivery {
    pool: PgPool,
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    sender: Mailbox,
    retry: Duration,
    wake: Arc<Notify>,
}

impl Delivery {
    pub fn new(settings: &MailArgs, pool: PgPool, wake: Arc<Notify>) -> anyhow::Result<Self> {
        let sender: Mailbox = settings
            .smtp_sender
            .parse()
            .context("AUTH_SMTP_SENDER is not an address")?;
        let transport = match &settings.smtp_host {
            None => None,
            Some(host) => Some(smtp_transport(settings, host)?),
        };
        Ok(Self {
            pool,
            transport,
            sender,
            retry: settings.smtp_retry_interval,
            wake,
        })
    }

    /// Delivers until the process ends: whenever woken, and every couple of seconds.
    pub async fn run(self) {
        loop {
            match self.deliver_due().await {
                Ok(_) => {}
                Err(e) => tracing::warn!(error = format!("{e:#}"), "outbox delivery failed"),
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// One pass over the due messages; returns how many were handled.
    pub async fn deliver_due(&self) -> anyhow::Result<usize> {
        let dropped = store::outbox::drop_older_than(&self.pool, KEEP_UNDELIVERED).await?;
        if dropped > 0 {
            tracing::error!(
                messages = dropped,
                "email messages undelivered for 24 hours were dropped"
            );
        }
        // One message at a time: its lease (2 min) outlasts one send (30 s at most), so no
        // other worker takes it over while this one is still sending it.
        let mut n = 0;
        while let Some(message) = store::outbox::claim_due(&self.pool, 1, LEASE).await?.pop() {
            n += 1;
            match self.send(&message).await {
                Ok(()) => store::outbox::delete(&self.pool, message.id).await?,
                Err(e) => {
                    let wait = self
                        .retry
                        .saturating_mul(1 << message.attempts.clamp(0, 16))
                        .min(MAX_RETRY);
                    let error = format!("{e:#}");
                    tracing::warn!(
                        id = message.id,
                        kind = %message.kind,
                        attempts = message.attempts + 1,
                        retry_in_s = wait.as_secs(),
                        error = %error,
                        "email not delivered; will retry"
                    );
                    store::outbox::failed(&self.pool, message.id, wait, &error).await?;
                }
            }
        }
        Ok(n)
    }

    async fn send(&self, message: &Message) -> anyhow::Result<()> {
        let Some(transport) = &self.transport else {
            tracing::warn!(
                to = %message.recipient,
                kind = %message.kind,
                subject = %message.subject,
                body = %message.text_body,
                "EMAIL NOT DELIVERED (no AUTH_SMTP_HOST configured; development only)"
            );
            return Ok(());
        };
        let to: Mailbox = message
            .recipient
            .parse()
            .with_context(|| format!("recipient {} is not an address", message.recipient))?;
        let email = lettre::Message::builder()
            .from(self.sender.clone())
            .to(to)
            .subject(&message.subject)
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(message.text_body.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(message.html_body.clone()),
                    ),
            )
            .context("building the message")?;
        transport.send(email).await.context("SMTP")?;
        tracing::info!(id = message.id, kind = %message.kind, "email delivered");
        Ok(())
    }
}
