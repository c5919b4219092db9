//! Prometheus metrics (`AUTH_METRICS_LISTEN`). The core records through the `metrics` facade,
//! which costs next to nothing while no recorder is installed (the metrics listener off);
//! `serve` installs the Prometheus recorder when the listener is on, and the listener renders
//! it. The names are here, in one place, with their help texts (also in docs/operations.md).

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Mutex,
    },
    time::Duration,
};

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const HTTP_REQUESTS: &str = "http_requests_total";
pub const HTTP_DURATION: &str = "http_request_duration_seconds";
pub const SIGN_INS: &str = "auth_sign_ins_total";
pub const REFRESHES: &str = "auth_refreshes_total";
pub const RATE_LIMITED: &str = "auth_rate_limited_total";
pub const HASH_QUEUE_DEPTH: &str = "auth_password_hash_queue_depth";
pub const HASH_WAIT: &str = "auth_password_hash_wait_seconds";
pub const HASH_DURATION: &str = "auth_password_hash_seconds";
pub const HASH_REJECTED: &str = "auth_password_hash_rejected_total";
pub const POOL_CONNECTIONS: &str = "db_pool_connections";
pub const POOL_MAX: &str = "db_pool_max_connections";
pub const SESSIONS: &str = "auth_sessions";

/// Latency buckets (seconds): from a cached answer to a hash waiting in a full queue.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Whether a recorder is installed: without one, the per-request HTTP metric skips even
/// building its labels (the webhook and `GET /user` are hot paths).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Installs the Prometheus recorder (once per process) and returns its handle.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);
    let mut installed = HANDLE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(handle) = installed.as_ref() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &BUCKETS)?
        .install_recorder()?;
    describe();
    ENABLED.store(true, Ordering::Relaxed);
    *installed = Some(handle.clone());
    Ok(handle)
}

fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by method, route and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        "Time to answer HTTP requests, by method and route"
    );
    describe_counter!(
        SIGN_INS,
        "Password sign-ins by outcome: success, invalid_credentials, unconfirmed, locked, \
         unavailable, error"
    );
    describe_counter!(
        REFRESHES,
        "Refresh-token uses by outcome: rotated, converged (a racing or retried request within \
         the reuse interval), reuse_detected (theft: session revoked), not_found, expired, \
         disabled, conflict, error"
    );
    describe_counter!(
        RATE_LIMITED,
        "Requests refused by a per-client-address limit (sign_in, email)"
    );
    describe_gauge!(
        HASH_QUEUE_DEPTH,
        "Password hashes waiting for a hashing thread"
    );
    describe_histogram!(
        HASH_WAIT,
        "Time password hashes waited for a hashing thread"
    );
    describe_histogram!(HASH_DURATION, "Time to compute a password hash or check");
    describe_counter!(
        HASH_REJECTED,
        "Password checks refused because the queue was full"
    );
    describe_gauge!(
        POOL_CONNECTIONS,
        "Database connections, by state (idle, in_use)"
    );
    describe_gauge!(
        POOL_MAX,
        "Database connections allowed (AUTH_DB_MAX_CONNECTIONS)"
    );
    describe_gauge!(SESSIONS, "Sessions in the database (at the last scrape)");
}

pub fn http_request(method: &str, route: &str, status: u16, took: Duration) {
    let (method, route) = (method.to_owned(), route.to_owned());
    counter!(HTTP_REQUESTS, "method" => method.clone(), "route" => route.clone(), "status" => status.to_string())
        .increment(1);
    histogram!(HTTP_DURATION, "method" => method, "route" => route).record(took.as_secs_f64());
}

pub fn sign_in(outcome: &'static str) {
    counter!(SIGN_INS, "outcome" => outcome).increment(1);
}

pub fn refresh(outcome: &'static str) {
    counter!(REFRESHES, "outcome" => outcome).increment(1);
}

pub fn rate_limited(limit: &'static str) {
    counter!(RATE_LIMITED, "limit" => limit).increment(1);
}

pub fn hash_queued() {
    gauge!(HASH_QUEUE_DEPTH).increment(1.0);
}

pub fn hash_started(waited: Duration) {
    gauge!(HASH_QUEUE_DEPTH).decrement(1.0);
    histogram!(HASH_WAIT).record(waited.as_secs_f64());
}

/// A queued hash that was refused after all (the queue was full).
pub fn hash_unqueued() {
    gauge!(HASH_QUEUE_DEPTH).decrement(1.0);
}

pub fn hash_finished(took: Duration) {
    histogram!(HASH_DURATION).record(took.as_secs_f64());
}

pub fn hash_rejected() {
    counter!(HASH_REJECTED).increment(1);
}

/// The pool's state, set when metrics are scraped.
pub fn pool(size: u32, idle: usize, max: u32) {
    let idle = idle as f64;
    gauge!(POOL_CONNECTIONS, "state" => "idle").set(idle);
    gauge!(POOL_CONNECTIONS, "state" => "in_use").set((f64::from(size) - idle).max(0.0));
    gauge!(POOL_MAX).set(f64::from(max));
}

pub fn sessions(count: i64) {
    gauge!(SESSIONS).set(count as f64);
}
