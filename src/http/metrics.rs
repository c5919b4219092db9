//! Metrics over HTTP: a middleware that counts and times every request by route (the route's
//! pattern, such as `/sessions/{id}`, never the concrete path), and the separate listener
//! (`AUTH_METRICS_LISTEN`) that serves `GET /metrics` in Prometheus' text format.

use std::time::{Duration, Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::{app::App, metrics, store};

/// Middleware (a route layer, so the matched route is known): counts and times the request.
pub async fn track(request: Request, next: Next) -> Response {
    if !metrics::enabled() {
        return next.run(request).await;
    }
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    metrics::http_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// The metrics listener's routes.
pub fn router(app: App, handle: PrometheusHandle) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state((app, handle))
}

/// Sets the gauges read at scrape time (pool, sessions), then renders everything.
async fn scrape(State((app, handle)): State<(App, PrometheusHandle)>) -> Response {
    let pool = app.pool();
    metrics::pool(
        pool.size(),
        pool.num_idle(),
        app.config.db.db_max_connections,
    );
    match tokio::time::timeout(Duration::from_secs(1), store::sessions::count(pool)).await {
        Ok(Ok(n)) => metrics::sessions(n),
        Ok(Err(e)) => tracing::warn!(error = %e, "metrics: cannot count sessions"),
        Err(_) => tracing::warn!("metrics: counting sessions timed out"),
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}

/// Serves the metrics on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    handle: PrometheusHandle,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, router(app, handle))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
