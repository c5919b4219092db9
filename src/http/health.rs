//! Probes. `GET /live`: the process serves requests (no I/O; for liveness probes, which must
//! not restart the server because the database is away). `GET /health`: the database answers
//! within a second. `GET /ready`: the database answers and every migration this binary knows
//! is applied (for readiness probes and load balancers).

use std::time::Duration;

use crate::{
    api::{Health, Migrations, Readiness},
    app::App,
    store,
};
use axum::{extract::State, http::StatusCode, routing::get, Json, Router};

pub fn router() -> Router<App> {
    Router::new()
        .route("/live", get(live))
        .route("/health", get(health))
        .route("/ready", get(ready))
}

const LIMIT: Duration = Duration::from_secs(1);

/// "ok", or why the database did not answer.
async fn database(app: &App) -> &'static str {
    match tokio::time::timeout(LIMIT, store::ping(app.pool())).await {
        Ok(Ok(())) => "ok",
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: database error");
            "error"
        }
        Err(_) => "timeout",
    }
}

/// `body` with 200, or 503 when `ok` is false.
fn answer<T>(ok: bool, body: T) -> (StatusCode, Json<T>) {
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// The process serves requests (no I/O).
#[utoipa::path(get, path = "/live", tag = "probes", responses((status = 200, body = Health)))]
async fn live() -> Json<Health> {
    Json(Health {
        status: "ok",
        database: None,
    })
}

/// The database answers within a second.
#[utoipa::path(get, path = "/health", tag = "probes",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
async fn health(State(app): State<App>) -> (StatusCode, Json<Health>) {
    let db = database(&app).await;
    let ok = db == "ok";
    let status = if ok { "ok" } else { "unavailable" };
    answer(
        ok,
        Health {
            status,
            database: Some(db),
        },
    )
}

/// The database answers and every migration is applied.
#[utoipa::path(get, path = "/ready", tag = "probes",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
async fn ready(State(app): State<App>) -> (StatusCode, Json<Readiness>) {
    let unavailable = |database| Readiness {
        status: "unavailable",
        database,
        migrations: None,
    };
    let db = database(&app).await;
    if db != "ok" {
        return answer(false, unavailable(db));
    }
    let applied = match tokio::time::timeout(LIMIT, store::applied_migrations(app.pool())).await {
        Ok(Ok(applied)) => applied,
        _ => return answer(false, unavailable("error")),
    };
    let known = store::known_migrations();
    let pending: Vec<i64> = known
        .iter()
        .filter(|v| !applied.contains(v))
        .copied()
        .collect();
    // Migrations this binary does not know come from a newer release (a rolling update):
    // still ready, and said.
    let newer = applied.iter().filter(|v| !known.contains(v)).count();
    let ready = pending.is_empty();
    let migrations = Migrations {
        applied: applied.len(),
        pending,
        newer,
    };
    answer(
        ready,
        Readiness {
            status: if ready { "ready" } else { "unavailable" },
            database: "ok",
            migrations: Some(migrations),
        },
    )
}
