//! HTTP routes: `POST /graphql` answers GraphQL, `GET /graphql` shows the
//! GraphiQL playground (unless `GRAPHQL_PLAYGROUND=false`), `GET /health`
//! checks the database.
//!
//! The caller is authenticated here, once per request, and attached to the
//! GraphQL request for guards and resolvers to read, together with the
//! client IP and the request's rate-limit state. Limits that need no parsing
//! (body size, batch size, time) are enforced here too.

mod headers;
mod metrics;

use std::net::SocketAddr;
use std::sync::Arc;

use async_graphql::http::GraphiQLSource;
use async_graphql::{BatchRequest, BatchResponse};
use async_graphql::{ErrorExtensions, Pos};
use async_graphql_axum::GraphQLResponse;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use sea_orm::ConnectionTrait;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use tracing::Instrument;

pub use self::headers::API_CSP;
use crate::auth::caller::authenticate;
use crate::auth::cookie::RefreshCookie;
use crate::graphql::hardening::{LIMIT_EXCEEDED, RequestId, panic_detail};
use crate::graphql::{GraphqlExecutor, build_schema};
use crate::ratelimit::RequestLimits;
use crate::ratelimit::client_ip::client_ip;
use crate::ratelimit::request::Report;
use crate::state::AppContext;

/// Default of `MAX_BODY_BYTES`: the largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The router's state: the shared context and the schema built over it.
#[derive(Clone)]
pub struct AppState {
    pub app: AppContext,
    pub schema: Arc<dyn GraphqlExecutor>,
}

impl AppState {
    #[must_use]
    pub fn new(app: AppContext) -> Self {
        let schema = Arc::new(build_schema(app.clone()));
        Self { app, schema }
    }

    /// Serve another schema (an application's, extending usergraph's) over
    /// the same context.
    #[must_use]
    pub fn with_schema(app: AppContext, schema: impl GraphqlExecutor + 'static) -> Self {
        Self {
            app,
            schema: Arc::new(schema),
        }
    }
}

pub fn router(state: AppState) -> Router {
    let limits = &state.app.config.limits;
    let graphql_route = if limits.playground {
        get(playground).post(graphql)
    } else {
        post(graphql)
    };
    let mut router = Router::new()
        .route("/graphql", graphql_route)
        .route("/health", get(health))
        .route("/metrics", get(metrics::metrics))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes));
    for layer in headers::security_layers() {
        router = router.layer(layer);
    }
    router = router
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(TraceLayer::new_for_http());
    if let Some(cors) = headers::cors(&limits.cors_origins) {
        router = router.layer(cors);
    }
    router.with_state(state)
}

/// `POST /graphql`, within `REQUEST_TIMEOUT`, under a request id that is
/// in every log line of the request and in the `X-Request-Id` header.
async fn graphql(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request_id = RequestId(uuid::Uuid::new_v4().simple().to_string());
    let span = tracing::info_span!("graphql", request_id = %request_id.0);
    let timeout = state.app.config.limits.request_timeout;
    let peer = peer.map(|Extension(ConnectInfo(address))| address);
    let serving = serve_graphql(&state, peer, &headers, body, request_id.clone());
    let mut response = match tokio::time::timeout(timeout, serving.instrument(span.clone())).await {
        Ok(response) => response,
        Err(_) => {
            span.in_scope(|| tracing::warn!(?timeout, "request timed out"));
            plain_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "INTERNAL",
                "The request took too long",
            )
        }
    };
    if let Ok(value) = HeaderValue::from_str(&request_id.0) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(headers::REQUEST_ID), value);
    }
    response
}

/// Only `application/json` bodies are read: the form-encodable content
/// types (`multipart/form-data`, `application/x-www-form-urlencoded`,
/// `text/plain`) are what a cross-site form can send without a CORS
/// preflight, so refusing them closes that door.
async fn serve_graphql(
    state: &AppState,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    request_id: RequestId,
) -> Response {
    let config = &state.app.config.limits;
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return limit_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body",
                &format!("The body is larger than {} bytes", config.max_body_bytes),
            );
        }
        Err(rejection) => {
            return plain_error(
                rejection.status(),
                "BAD_USER_INPUT",
                "The body could not be read",
            );
        }
    };
    if !is_json(headers) {
        return plain_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_USER_INPUT",
            "Content-Type must be application/json",
        );
    }
    let Ok(request) = serde_json::from_slice::<BatchRequest>(&body) else {
        return plain_error(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            "The body is not a GraphQL request in JSON",
        );
    };
    if let BatchRequest::Batch(operations) = &request
        && operations.len() > config.max_batch as usize
    {
        return limit_error(
            StatusCode::BAD_REQUEST,
            "batch",
            &format!("A batch may hold at most {} operations", config.max_batch),
        );
    }
    let authentication = match authenticate(&state.app.db, &state.app.tokens, headers).await {
        Ok(authentication) => authentication,
        Err(error) => {
            let mut response = async_graphql::Response::from_errors(vec![
                error.extend().into_server_error(Pos::default()),
            ]);
            mask_and_code_errors(&mut response, &request_id);
            return GraphQLResponse::from(response).into_response();
        }
    };
    let limits = Arc::new(RequestLimits::new(client_ip(
        peer,
        headers,
        &config.trusted_proxies,
    )));
    let request = request
        .data(authentication)
        .data(RefreshCookie::from_headers(headers))
        .data(Arc::clone(&limits))
        .data(request_id.clone());
    let mut response = state.schema.execute_batch(request).await;
    match &mut response {
        BatchResponse::Single(response) => mask_and_code_errors(response, &request_id),
        BatchResponse::Batch(responses) => responses
            .iter_mut()
            .for_each(|response| mask_and_code_errors(response, &request_id)),
    }
    let mut response = GraphQLResponse::from(response).into_response();
    add_rate_limit_headers(&mut response, limits.report());
    response
}

/// Our own errors always carry a code. The ones without are async-graphql's:
/// a document that does not parse or validate, an argument of the wrong
/// type. All are the client's input. Internal errors are reduced to the
/// generic message and given the request id, which the log line has too.
fn mask_and_code_errors(response: &mut async_graphql::Response, request_id: &RequestId) {
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", "BAD_USER_INPUT");
        }
        let internal = extensions
            .get("code")
            .is_some_and(|code| *code == async_graphql::Value::from("INTERNAL"));
        if internal {
            extensions.set("requestId", request_id.0.as_str());
            "Internal server error".clone_into(&mut error.message);
        }
    }
}

/// `RateLimit-*` for the first limited field; `Retry-After` and 429 when
/// every counted field was refused.
fn add_rate_limit_headers(response: &mut Response, report: Report) {
    let Some(shown) = report.shown else {
        return;
    };
    let values = [
        u64::from(shown.limit),
        u64::from(shown.remaining),
        shown.retry_after(),
    ];
    let response_headers = response.headers_mut();
    for (name, value) in headers::RATE_LIMIT_HEADERS.iter().zip(values) {
        response_headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
    }
    if report.whole_request_refused() {
        response_headers.insert(RETRY_AFTER, HeaderValue::from(shown.retry_after()));
        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// A GraphQL-shaped error for requests refused before execution.
fn plain_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code } }]
    });
    (status, axum::Json(body)).into_response()
}

fn limit_error(status: StatusCode, limit: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": LIMIT_EXCEEDED, "limit": limit } }]
    });
    (status, axum::Json(body)).into_response()
}

/// The last net, for a panic outside any resolver: a generic 500, the
/// detail only in the log.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic_detail(panic.as_ref());
    drop(panic);
    tracing::error!(%detail, "a request handler panicked");
    plain_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL",
        "Internal server error",
    )
}

async fn playground() -> Response {
    let html = GraphiQLSource::build().endpoint("/graphql").finish();
    let csp = headers::playground_csp(&html);
    let mut response = Html(html).into_response();
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response
            .headers_mut()
            .insert(CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// `GET /health`: one real statement (`SELECT 1`) through the pool, so the
/// answer means queries work, not merely that a socket is open.
async fn health(State(state): State<AppState>) -> impl IntoResponse {
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
