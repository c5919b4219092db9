//! Background housekeeping while the server runs: deleting sessions past their idle timeout
//! or lifetime, audit entries past their retention, expired email tokens and PKCE codes, and
//! unverified second factors and challenges, passkey ceremonies, imported refresh tokens of
//! ended sessions, and forgetting idle rate-limit, lockout and send-limit state.

use std::time::Duration;

use crate::{auth::Auth, store};

/// How often housekeeping runs.
pub const INTERVAL: Duration = Duration::from_secs(600);

/// Runs [`run_once`] every [`INTERVAL`], forever (spawn it).
pub async fn run(auth: Auth) {
    let mut tick = tokio::time::interval(INTERVAL);
    loop {
        tick.tick().await;
        run_once(&auth).await;
    }
}

/// One round of housekeeping; failures are logged and retried at the next round.
pub async fn run_once(auth: &Auth) {
    for (what, result) in [
        (
            "expired email tokens",
            store::one_time_tokens::prune_expired(&auth.pool).await,
        ),
        (
            "expired PKCE codes",
            store::auth_codes::prune_expired(&auth.pool).await,
        ),
        (
            "expired external sign-in states",
            store::oauth_states::prune_expired(&auth.pool).await,
        ),
        (
            "unverified second factors and challenges past five minutes",
            store::mfa::prune_expired(&auth.pool).await,
        ),
        (
            "passkey ceremonies past five minutes",
            store::passkeys::prune_challenges(&auth.pool).await,
        ),
        (
            "imported refresh tokens of ended sessions",
            store::imported_tokens::prune_orphans(&auth.pool).await,
        ),
        (
            "expired organization invitations",
            store::organization_invitations::prune_expired(&auth.pool).await,
        ),
        (
            "expired OAuth authorization requests",
            store::oauth_authorizations::prune_expired(&auth.pool).await,
        ),
        ("idle rate-limit state", auth.limits.forget_idle().await),
        (
            "idle email send counts",
            store::email_send_limits::prune(&auth.pool).await,
        ),
    ] {
        match result {
            Ok(0) => {}
            Ok(n) => tracing::info!(entries = n, "pruned {what}"),
            Err(e) => tracing::warn!(error = %e, "pruning {what} failed"),
        }
    }
    prune_records(auth).await;
    let sessions = &auth.config.sessions;
    let idle = sessions.session_idle_timeout.0.map(|d| d.as_secs_f64());
    let max = sessions.session_max_lifetime.0.map(|d| d.as_secs_f64());
    if idle.is_none() && max.is_none() {
        return;
    }
    match store::sessions::prune_expired(&auth.pool, idle, max).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(sessions = n, "pruned expired sessions"),
        Err(e) => tracing::warn!(error = %e, "pruning expired sessions failed"),
    }
}

/// Old failed sign-in counts, audit entries past their retention, anonymous users past theirs.
async fn prune_records(auth: &Auth) {
    match store::sign_in_attempts::prune(&auth.pool, crate::auth::lockout::FORGET_AFTER).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(entries = n, "pruned old failed sign-in counts"),
        Err(e) => tracing::warn!(error = %e, "pruning failed sign-in counts failed"),
    }
    if let Some(retention) = auth.config.server.audit_retention.0 {
        match store::audit::prune(&auth.pool, retention).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(entries = n, "pruned old audit entries"),
            Err(e) => tracing::warn!(error = %e, "pruning the audit log failed"),
        }
    }
    match auth.delete_expired_anonymous_users().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            users = n,
            "deleted anonymous users past AUTH_ANONYMOUS_USERS_MAX_AGE"
        ),
        Err(e) => tracing::warn!(error = %e, "deleting old anonymous users failed"),
    }
}
