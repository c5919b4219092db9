//! HTTP: the router and one module per route group. Handlers extract and check the request,
//! call the core (`auth`, `admin`) and shape the answer; errors become responses in
//! [`error`].

mod actions;
mod admin;
mod api_keys;

mod cookie;
mod email;
pub mod error;
mod external;
mod extract;
mod factors;
mod health;
pub mod metrics;
mod oauth;
pub mod openapi;
mod organizations;
pub mod origin;
mod passkeys;
mod redirect;
pub mod request_id;
pub mod server;
mod sessions;
mod token;
pub mod ui;
mod user;
mod webhook;
mod well_known;

pub use extract::Payload;

use std::{sync::Arc, time::Duration};

use axum::{
    extract::DefaultBodyLimit,
    http::{Request, StatusCode},
    response::{IntoResponse, Response},
    Router,
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    cors::{AllowOrigin, CorsLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::{
    app::App,
    config::Config,
    error::{Code, Error},
};

/// Largest request body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The whole HTTP API (with the hosted pages and the email link page, whose templates it
/// loads: an error if one does not parse).
pub fn router(app: App) -> anyhow::Result<Router> {
    let pages = Arc::new(ui::Pages::load(&app.config)?);
    let mut routes = Router::new();
    if !app.config.ui.disable_ui {
        routes = routes.nest("/ui", ui::router(&app, pages.clone()));
    }
    let router = routes
        .merge(api_routes(pages))
        .route("/openapi.json", axum::routing::get(openapi::openapi_json))
        // Every route is counted and timed by its pattern; unmatched paths are not.
        .route_layer(axum::middleware::from_fn(metrics::track))
        .fallback(|| async { Error::not_found("No such endpoint") })
        .method_not_allowed_fallback(|| async {
            Error::new(Code::MethodNotAllowed, "Method not allowed")
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(cors(&app.config))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::custom(|_| {
            Error::internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        // Outside the others, so their answers (a timeout, say) become JSON too.
        .layer(axum::middleware::from_fn(error::json_errors))
        .layer(axum::middleware::from_fn(extract::record_arrival))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                // Method, path and request id only: never headers (Authorization) or query
                // strings.
                let id = req
                    .extensions()
                    .get::<request_id::RequestId>()
                    .map(|id| id.0.as_str())
                    .unwrap_or_default();
                tracing::info_span!(
                    "request",
                    method = %req.method(),
                    path = %req.uri().path(),
                    request_id = %id,
                )
            }),
        )
        // Outermost: the id exists before the span and every answer carries it.
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            request_id::assign,
        ))
        .with_state(app);
    Ok(router)
}

/// Every route of the API (the pages and `/openapi.json` aside), one module each.
fn api_routes(pages: Arc<ui::Pages>) -> Router<App> {
    Router::new()
        .merge(token::router())
        .merge(user::router())
        .merge(email::router(pages))
        .merge(external::router())
        .merge(sessions::router())
        .merge(factors::router())
        .merge(organizations::router())
        .merge(api_keys::router())
        .merge(oauth::router())
        .merge(passkeys::router())
        .merge(actions::router())
        .merge(well_known::router())
        .merge(health::router())
        .merge(admin::router())
        .merge(webhook::router())
}

/// CORS for `AUTH_CORS_ORIGINS`, with credentials (the refresh-token cookie). None when unset.
fn cors(config: &Config) -> CorsLayer {
    use axum::http::{header, HeaderName, HeaderValue, Method};
    let origins: Vec<HeaderValue> = config
        .server
        .cors_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return CorsLayer::new();
    }
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-client-info"),
            HeaderName::from_static("x-supabase-api-version"),
            HeaderName::from_static("apikey"),
        ])
        .expose_headers([HeaderName::from_static(request_id::HEADER)])
        .max_age(Duration::from_secs(3600))
}

/// Serves the API of `app` until Ctrl-C or SIGTERM.
pub async fn serve(app: App) -> anyhow::Result<()> {
    let addr = app.config.server.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on AUTH_LISTEN={addr}: {e}"))?;
    tracing::info!(%addr, "listening");
    if let Some(metrics_addr) = app.config.server.metrics_listen {
        let handle = crate::metrics::install()?;
        let metrics_listener = tokio::net::TcpListener::bind(metrics_addr)
            .await
            .map_err(|e| {
                anyhow::anyhow!("cannot listen on AUTH_METRICS_LISTEN={metrics_addr}: {e}")
            })?;
        tracing::info!(addr = %metrics_addr, "metrics at /metrics");
        tokio::spawn(metrics::serve(
            metrics_listener,
            app.clone(),
            handle,
            shutdown_signal(),
        ));
    }
    serve_on(listener, app, shutdown_signal()).await
}

/// Serves `app` on `listener` until `shutdown` completes. Connections carry their peer
/// address, which becomes the client address of sessions, audit entries and rate limits.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let limits = server::Limits {
        header_timeout: app.config.server.http_header_timeout,
        max_connections: app.config.server.max_connections,
    };
    server::run(listener, router(app)?, limits, shutdown).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

/// Helper for handlers that answer with no body.
pub fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// `response`, never to be cached: it carries a secret shown once (RFC 6749 §5.1's rule for
/// tokens, kept for keys and client secrets too).
pub fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    headers.insert(
        axum::http::header::PRAGMA,
        axum::http::HeaderValue::from_static("no-cache"),
    );
    response
}
