//! Email: rendering messages into the outbox (in the caller's transaction, so a message
//! exists exactly when what it carries does) and delivering them from there.
//!
//! `templates.rs` renders; `delivery.rs` is the worker that sends the outbox over SMTP (or,
//! without SMTP settings, writes messages to the log) with retries.

pub mod delivery;
pub mod templates;

use std::sync::Arc;

use tokio::sync::Notify;

use crate::{error::Result, store};
pub use templates::{MessageKind, Rendered, Templates, Variables};

/// Puts messages into the outbox and wakes the delivery worker. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Mailer {
    templates: Arc<Templates>,
    wake: Arc<Notify>,
    /// Wakes the worker that carries out requests for messages (`auth::email::queue`).
    requests: Arc<Notify>,
}

impl Mailer {
    pub fn new(templates: Templates) -> Self {
        Self {
            templates: Arc::new(templates),
            wake: Arc::new(Notify::new()),
            requests: Arc::new(Notify::new()),
        }
    }

    /// Renders a message of `kind` to `recipient` and queues it inside `tx`. Call
    /// [`Mailer::wake`] once the transaction has committed.
    pub async fn enqueue(
        &self,
        tx: &mut sqlx::PgConnection,
        kind: MessageKind,
        recipient: &str,
        vars: &Variables<'_>,
    ) -> Result<()> {
        let rendered = self.templates.render(kind, vars)?;
        store::outbox::insert(
            &mut *tx,
            &store::outbox::NewMessage {
                kind: kind.name(),
                recipient,
                subject: &rendered.subject,
                text_body: &rendered.text,
                html_body: &rendered.html,
            },
        )
        .await?;
        Ok(())
    }

    /// Tells this process's delivery worker that messages are waiting.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Tells this process's request worker that a request is waiting.
    pub fn wake_requests(&self) {
        self.requests.notify_one();
    }

    /// Completes when [`Mailer::wake_requests`] is called.
    pub async fn requests_notified(&self) {
        self.requests.notified().await
    }

    pub(crate) fn wake_handle(&self) -> Arc<Notify> {
        self.wake.clone()
    }
}
