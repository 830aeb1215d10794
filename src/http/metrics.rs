//! `GET /metrics`: counters in Prometheus' text format, for the benchmark
//! (SQL statements per request) and for operators who want them. Off unless
//! `METRICS_ENABLED`, since it tells outsiders how busy the server is.

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use super::AppState;

pub async fn metrics(State(state): State<AppState>) -> Response {
    if !state.app.config.metrics_enabled {
        return StatusCode::NOT_FOUND.into_response();
    }
    let body = format!(
        "# HELP usergraph_sql_statements_total SQL statements sent to the database.\n\
         # TYPE usergraph_sql_statements_total counter\n\
         usergraph_sql_statements_total {}\n",
        state.app.sql_statements.get()
    );
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
