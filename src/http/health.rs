//! `GET /health`: 200 when the database answers within a second, 503 otherwise.

use std::time::Duration;

use axum::{extract::State, http::StatusCode, routing::get, Json, Router};
use serde_json::{json, Value};

use crate::{app::App, store};

pub fn router() -> Router<App> {
    Router::new().route("/health", get(health))
}

async fn health(State(app): State<App>) -> (StatusCode, Json<Value>) {
    match tokio::time::timeout(Duration::from_secs(1), store::ping(app.pool())).await {
        Ok(Ok(())) => (
            StatusCode::OK,
            Json(json!({"status": "ok", "database": "ok"})),
        ),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: database error");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "unavailable", "database": "error"})),
            )
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "database": "timeout"})),
        ),
    }
}
