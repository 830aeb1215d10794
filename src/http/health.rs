//! Probes for load balancers and orchestrators.
//!
//! - `GET /health/live`: the process answers HTTP. Nothing else is checked,
//!   so a slow database never gets a healthy process restarted.
//! - `GET /health/ready`: the database answers within `HEALTH_TIMEOUT`, its
//!   migrations are applied, Redis answers when configured. A JSON body
//!   names each check and its latency; 503 when any fails, so traffic goes
//!   elsewhere until it passes. Reasons stay in the log: the body says only
//!   which check failed, since the endpoint is public.
//! - `GET /health`: as before, `ok` when a statement runs through the pool.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use sea_orm::ConnectionTrait;
use serde_json::{Map, Value, json};

use super::AppState;
use crate::services::health;

/// `GET /health`: one real statement (`SELECT 1`) through the pool, so the
/// answer means queries work, not merely that a socket is open.
pub async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let backend = state.app.db.get_database_backend();
    let probe = sea_orm::Statement::from_string(backend, "SELECT 1");
    match state.app.db.query_one_raw(probe).await {
        Ok(_) => (StatusCode::OK, "ok"),
        Err(error) => {
            tracing::warn!(%error, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}

/// `GET /health/live`.
pub async fn live() -> impl IntoResponse {
    Json(json!({ "status": "live" }))
}

/// `GET /health/ready`.
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let checks = health::readiness(&state.app, state.app.config.health_timeout).await;
    let ready = checks.iter().all(health::Check::is_ok);
    let mut body = Map::new();
    for check in &checks {
        if let Err(reason) = &check.outcome {
            tracing::warn!(check = check.name, %reason, "readiness check failed");
        }
        body.insert(
            check.name.to_owned(),
            json!({
                "status": if check.is_ok() { "ok" } else { "failed" },
                "latencyMs": (check.latency.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
            }),
        );
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if ready { "ready" } else { "not ready" },
            "checks": Value::Object(body),
        })),
    )
}
