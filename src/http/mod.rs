//! HTTP: the router, application state, and one module per route group.

mod admin;
mod cookie;
mod extract;
mod hasura;
mod health;
pub mod rate_limit;
mod token;
pub mod user;
mod well_known;

pub use extract::Payload;
pub use hasura::ACTIONS_SECRET_HEADER;

use std::{sync::Arc, time::Duration};

use axum::{
    extract::DefaultBodyLimit,
    http::{Request, StatusCode},
    response::{IntoResponse, Response},
    Router,
};
use sqlx::PgPool;
use tower_http::{
    catch_panic::CatchPanicLayer,
    cors::{AllowOrigin, CorsLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::{
    admin::Admin,
    auth::{
        keys::KeySet,
        password::PasswordHasher,
        sessions::{Auth, Policy},
        tokens::AccessTokens,
    },
    config::Config,
    error::Error,
};

/// Largest request body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Everything a handler needs; cheap to clone. No global state: tests build as many as they like.
#[derive(Clone)]
pub struct AppState {
    pub auth: Auth,
    pub admin: Admin,
    pub sign_in_limiter: rate_limit::SignInLimiter,
    pub config: Arc<Config>,
}

impl AppState {
    /// Builds the state from validated settings, a pool and loaded keys.
    pub fn new(config: Config, pool: PgPool, keys: KeySet) -> anyhow::Result<Self> {
        config.validate()?;
        let tokens = AccessTokens {
            keys: Arc::new(keys),
            issuer: config.issuer(),
            audience: config.jwt_audience.clone(),
            ttl: config.access_token_ttl,
            namespace: config.hasura_claims_namespace.clone(),
            format: config.hasura_claims_format,
        };
        let concurrency = config.password_hash_concurrency.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        });
        let hasher = PasswordHasher::new(
            config.argon2_memory_kib,
            config.argon2_iterations,
            config.argon2_parallelism,
            concurrency,
            config.legacy_hmac_secret.clone(),
        )?;
        let policy = Policy {
            reuse_interval: config.refresh_token_reuse_interval,
            idle_timeout: config.session_idle_timeout.0,
            max_lifetime: config.session_max_lifetime.0,
            default_role: config.default_role.clone(),
            default_allowed_roles: config.default_allowed_roles.clone(),
            custom_claims_sql: config.custom_claims_sql.clone(),
            reauthentication_window: config.reauthentication_window,
        };
        let admin = Admin {
            pool: pool.clone(),
            hasher: hasher.clone(),
            default_role: config.default_role.clone(),
            default_allowed_roles: config.default_allowed_roles.clone(),
        };
        Ok(Self {
            auth: Auth {
                pool,
                tokens,
                hasher,
                policy: Arc::new(policy),
            },
            admin,
            sign_in_limiter: rate_limit::SignInLimiter::new(config.rate_limit_sign_in),
            config: Arc::new(config),
        })
    }
}

/// The whole HTTP API.
pub fn app(state: AppState) -> Router {
    Router::new()
        .merge(token::router())
        .merge(user::router())
        .merge(well_known::router())
        .merge(health::router())
        .merge(hasura::router())
        .merge(admin::router())
        .fallback(|| async { Error::not_found("No such endpoint") })
        .method_not_allowed_fallback(|| async {
            Error::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed",
            )
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(cors(&state.config))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::custom(|_| {
            Error::internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                // Method and path only: never headers (Authorization) or query strings.
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
            }),
        )
        .with_state(state)
}

/// CORS for `AUTH_CORS_ORIGINS`, with credentials (the refresh-token cookie). None when unset.
fn cors(config: &Config) -> CorsLayer {
    use axum::http::{header, HeaderName, HeaderValue, Method};
    let origins: Vec<HeaderValue> = config
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
        .max_age(Duration::from_secs(3600))
}

/// Serves `app` until Ctrl-C or SIGTERM.
pub async fn serve(state: AppState) -> anyhow::Result<()> {
    let addr = state.config.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on AUTH_LISTEN={addr}: {e}"))?;
    tracing::info!(%addr, "listening");
    serve_on(listener, state, shutdown_signal()).await
}

/// Serves `app` on `listener` until `shutdown` completes. Connections carry their peer
/// address, which becomes the client address of sessions, audit entries and rate limits.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let router = app(state);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    Ok(())
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
