//! `GET /metrics`: Prometheus text (see `crate::metrics` for what is
//! counted). Off unless `METRICS_ENABLED` or `METRICS_TOKEN`, since it tells
//! outsiders how busy the server is; with `METRICS_TOKEN` set, only a
//! scraper sending `Authorization: Bearer <token>` is answered.

use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::AppState;

pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let config = &state.app.config;
    match &config.metrics_token {
        None if !config.metrics_enabled => return StatusCode::NOT_FOUND.into_response(),
        Some(token) if !presents(&headers, token) => {
            return (
                StatusCode::UNAUTHORIZED,
                [(WWW_AUTHENTICATE, "Bearer realm=\"metrics\"")],
            )
                .into_response();
        }
        _ => {}
    }
    let body = state.app.metrics.render(&state.app.db).await;
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Whether the request carries `Bearer <token>`, compared through SHA-256
/// digests so the time taken does not depend on how much of it matched.
fn presents(headers: &HeaderMap, token: &str) -> bool {
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    let (presented, expected) = (Sha256::digest(presented), Sha256::digest(token));
    presented
        .iter()
        .zip(expected.iter())
        .fold(0u8, |difference, (a, b)| difference | (a ^ b))
        == 0
}
