//! HTTP routes: `/graphql` answers GraphQL over HTTP as its specification
//! says (`POST` with a JSON body, `GET` for queries; see
//! `graphql_over_http`), and shows the GraphiQL playground to a browser
//! (unless `GRAPHQL_PLAYGROUND=false`); `/demo` serves the demo page and
//! `/` a landing page, all embedded in the executable (see `assets`);
//! `/health`, `/health/live` and `/health/ready` answer probes (see
//! `health`); `/.well-known/` publishes the keys that verify tokens. A
//! `GET /graphql` asking to upgrade to a WebSocket serves subscriptions
//! (see `subscriptions`).
//!
//! The caller is authenticated here, once per request, and attached to the
//! GraphQL request for guards and resolvers to read, together with the
//! client IP and the request's rate-limit state. Limits that need no parsing
//! (body size, batch size, time) are enforced here too.

pub mod assets;
mod graphql_over_http;
mod headers;
mod health;
mod metrics;
mod pages;
pub mod subscriptions;
pub mod well_known;

use std::net::SocketAddr;
use std::sync::Arc;

use async_graphql::parser::types::DocumentOperations;
use async_graphql::{BatchRequest, BatchResponse};
use async_graphql::{ErrorExtensions, Pos};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Query, State};
use axum::http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use tracing::Instrument;

pub use self::graphql_over_http::{GRAPHQL_RESPONSE_JSON, ResponseFormat};
use self::graphql_over_http::{
    GetParameters, MalformedRequest, is_json_body, may_write, parse_body, selects_mutation,
    status_and_body,
};
pub use self::headers::API_CSP;
use crate::auth::caller::{Freshness, authenticate};
use crate::auth::cookie::RefreshCookie;
use crate::config::LimitsConfig;
use crate::graphql::documents::DocumentCache;
use crate::graphql::hardening::{LIMIT_EXCEEDED, RequestId, limit_exceeded, panic_detail};
use crate::graphql::rate_limiting::Counting;
use crate::graphql::{GraphqlExecutor, build_schema, compiled, gate};
use crate::ratelimit::RequestLimits;
use crate::ratelimit::client_ip::client_ip;
use crate::ratelimit::request::Report;
use crate::services::write::Origin;
use crate::state::AppContext;

/// Default of `MAX_BODY_BYTES`: the largest request body accepted, in bytes.
pub use crate::config::DEFAULT_MAX_BODY_BYTES as MAX_BODY_BYTES;

/// The longest user agent kept for the audit trail; the rest is cut off.
const MAX_USER_AGENT_CHARS: usize = 256;

/// The router's state: the shared context and the schema built over it.
#[derive(Clone)]
pub struct AppState {
    pub app: AppContext,
    pub schema: Arc<dyn GraphqlExecutor>,
    /// Parsed documents, by their text (see `graphql::documents`).
    pub documents: Arc<DocumentCache>,
    /// Whether compiled plans may answer (see `graphql::compiled`): only
    /// over usergraph's own schema.
    pub compiled: bool,
}

impl AppState {
    #[must_use]
    pub fn new(app: AppContext) -> Self {
        let schema = Arc::new(build_schema(app.clone()));
        let compiled = app.config.limits.compiled_queries
            && crate::telemetry::resolver_spans::ResolverSpans::when_tracing(&app.config).is_none();
        Self {
            app,
            schema,
            documents: Arc::default(),
            compiled,
        }
    }

    /// Serve another schema (an application's, extending usergraph's) over
    /// the same context.
    #[must_use]
    pub fn with_schema(app: AppContext, schema: impl GraphqlExecutor + 'static) -> Self {
        Self {
            app,
            schema: Arc::new(schema),
            documents: Arc::default(),
            compiled: false,
        }
    }
}

pub fn router(state: AppState) -> Router {
    let limits = &state.app.config.limits;
    let mut router = Router::new()
        .route("/", get(pages::landing))
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/health", get(health::health))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .route(well_known::JWKS_PATH, get(well_known::jwks))
        .route(
            well_known::DISCOVERY_PATH,
            get(well_known::openid_configuration),
        )
        .route("/metrics", get(metrics::metrics))
        .route("/demo", get(pages::demo))
        .route("/demo/", get(pages::demo))
        .route("/demo/{*path}", get(pages::demo));
    router = assets::mount::<assets::AccountFiles, _>(router, "/account");
    if limits.playground {
        router = router.route("/playground/{*path}", get(pages::playground_asset));
    }
    router = router.layer(DefaultBodyLimit::max(limits.max_body_bytes));
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

/// What arrived at `/graphql`, before it is known to be a GraphQL request.
enum Incoming {
    Post(Result<Bytes, BytesRejection>),
    Get(Result<Query<GetParameters>, QueryRejection>),
}

/// `POST /graphql`: a JSON body (one request or a batch).
async fn graphql_post(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    graphql(state, peer, headers, Incoming::Post(body)).await
}

/// `GET /graphql`: a WebSocket for subscriptions (see `subscriptions`), a
/// query in the URL, or, for a browser asking for HTML without one, the
/// GraphiQL page (unless `GRAPHQL_PLAYGROUND=false`).
async fn graphql_get(State(state): State<AppState>, request: axum::extract::Request) -> Response {
    let (mut parts, _) = request.into_parts();
    if subscriptions::is_upgrade(&parts.headers) {
        return subscriptions::upgrade(state, parts).await;
    }
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .cloned()
        .map(Extension);
    let parameters = Query::<GetParameters>::from_request_parts(&mut parts, &state).await;
    let headers = parts.headers;
    let has_query = matches!(&parameters, Ok(Query(GetParameters { query: Some(_), .. })));
    if !has_query && state.app.config.limits.playground && pages::wants_html(&headers) {
        return pages::playground(&state.app.config.clients, &headers).await;
    }
    graphql(state, peer, headers, Incoming::Get(parameters)).await
}

/// Any GraphQL request, within `REQUEST_TIMEOUT`, under a request id that
/// is in every log line of the request and in the `X-Request-Id` header.
async fn graphql(
    state: AppState,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    incoming: Incoming,
) -> Response {
    let request_id = RequestId(uuid::Uuid::new_v4().simple().to_string());
    let span = tracing::info_span!(
        "graphql",
        request_id = %request_id.0,
        operation = tracing::field::Empty
    );
    crate::telemetry::continue_trace(&span, &headers);
    let timeout = state.app.config.limits.request_timeout;
    let peer = peer.map(|Extension(ConnectInfo(address))| address);
    let serving = serve_graphql(&state, peer, &headers, incoming, request_id.clone());
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

/// Turn what arrived into a GraphQL request and the media type to answer
/// in, or into the refusal the GraphQL-over-HTTP spec prescribes: 413 for
/// a body over `MAX_BODY_BYTES`, 415 for a body that is not
/// `application/json`, 406 when `Accept` allows neither JSON type, 400 for
/// a malformed request, 405 (`Allow: POST`) for a mutation over GET.
fn read_request(
    limits: &LimitsConfig,
    headers: &HeaderMap,
    incoming: Incoming,
) -> Result<(ResponseFormat, BatchRequest), Box<Response>> {
    /// What is left to read once the body passed its checks.
    enum Source {
        Body(Bytes),
        Parameters(Result<Query<GetParameters>, QueryRejection>),
    }
    let source = match incoming {
        Incoming::Post(body) => Source::Body(read_json_body(limits, headers, body)?),
        Incoming::Get(parameters) => Source::Parameters(parameters),
    };
    let Some(format) = ResponseFormat::negotiate(headers) else {
        return Err(Box::new(plain_error(
            StatusCode::NOT_ACCEPTABLE,
            "BAD_USER_INPUT",
            "Accept must allow application/graphql-response+json or application/json",
        )));
    };
    let malformed = |MalformedRequest(message): MalformedRequest| {
        Box::new(format_error(
            format,
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            &message,
        ))
    };
    let request = match source {
        Source::Body(body) => parse_body(&body).map_err(malformed)?,
        Source::Parameters(Err(_)) => {
            return Err(malformed(MalformedRequest(
                "The URL parameters could not be read".to_owned(),
            )));
        }
        Source::Parameters(Ok(Query(parameters))) => {
            let mut request = parameters.into_request().map_err(malformed)?;
            if selects_mutation(&mut request) {
                let mut refusal = format_error(
                    format,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "BAD_USER_INPUT",
                    "Only queries may be sent with GET; send mutations with POST",
                );
                refusal
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("POST"));
                return Err(Box::new(refusal));
            }
            BatchRequest::Single(request)
        }
    };
    if let BatchRequest::Batch(operations) = &request
        && operations.len() > limits.max_batch as usize
    {
        return Err(Box::new(limit_error(
            StatusCode::BAD_REQUEST,
            "batch",
            &format!("A batch may hold at most {} operations", limits.max_batch),
        )));
    }
    Ok((format, request))
}

/// A `POST` body within `MAX_BODY_BYTES` and declared `application/json`.
fn read_json_body(
    limits: &LimitsConfig,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, Box<Response>> {
    match body {
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err(Box::new(limit_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body",
                &format!("The body is larger than {} bytes", limits.max_body_bytes),
            )))
        }
        Err(rejection) => Err(Box::new(plain_error(
            rejection.status(),
            "BAD_USER_INPUT",
            "The body could not be read",
        ))),
        Ok(_) if !is_json_body(headers) => Err(Box::new(plain_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_USER_INPUT",
            "Content-Type must be application/json",
        ))),
        Ok(body) => Ok(body),
    }
}

async fn serve_graphql(
    state: &AppState,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
    incoming: Incoming,
    request_id: RequestId,
) -> Response {
    let started = std::time::Instant::now();
    let config = &state.app.config.limits;
    let (format, mut request) = match read_request(config, headers, incoming) {
        Ok(read) => read,
        Err(refusal) => return *refusal,
    };
    let planned = match &mut request {
        BatchRequest::Single(single) => state
            .documents
            .parse(single)
            .filter(|_| state.compiled)
            .and_then(|known| {
                let bound = compiled::bind(&known.compiled.as_ref()?.plan, single)?;
                Some((known, bound))
            }),
        BatchRequest::Batch(requests) => {
            for request in requests {
                state.documents.parse(request);
            }
            None
        }
    };
    let operations = operation_names(&mut request);
    if let [Some(name)] = operations.as_slice() {
        tracing::Span::current().record("operation", name.as_str());
    }
    let freshness = if may_write(&mut request) {
        Freshness::Database
    } else {
        Freshness::Cached
    };
    let authentication = match authenticate(&state.app, headers, freshness).await {
        Ok(authentication) => authentication,
        Err(error) => {
            let mut response = async_graphql::Response::from_errors(vec![
                error.extend().into_server_error(Pos::default()),
            ]);
            mask_and_code_errors(&mut response, &request_id, config.max_errors);
            let response = BatchResponse::Single(response);
            record_outcome(state, &operations, &response, None, started);
            return graphql_response(format, &response, config);
        }
    };
    let client = client_ip(peer, headers, &config.trusted_proxies);
    let origin = Origin {
        ip: Some(client.0),
        user_agent: headers
            .get(USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|agent| agent.chars().take(MAX_USER_AGENT_CHARS).collect()),
        request_id: Some(request_id.0.clone()),
    };
    let limits = Arc::new(RequestLimits::new(client, config.ipv6_prefix));
    let user_id = authentication.caller().map(|caller| caller.user.id);
    let request = request
        .data(authentication.clone())
        .data(RefreshCookie::from_headers(headers))
        .data(Arc::clone(&limits))
        .data(origin)
        .data(request_id.clone());
    let counting = Counting::new(&state.app, Arc::clone(&limits), authentication.caller());
    let mut response = match planned {
        Some((known, bound)) => {
            let executor = state.schema.as_ref();
            match compiled::execute(&known, bound, executor, &counting, &authentication, request)
                .await
            {
                compiled::Answer::Json(body) => {
                    let answered = BatchResponse::Single(async_graphql::Response::default());
                    record_outcome(state, &operations, &answered, user_id, started);
                    let mut http_response = compiled_response(format, body, config);
                    add_rate_limit_headers(&mut http_response, limits.report());
                    return http_response;
                }
                compiled::Answer::Response(response) => response,
            }
        }
        None => gate::execute_batch(state.schema.as_ref(), &counting, request).await,
    };
    match &mut response {
        BatchResponse::Single(response) => {
            mask_and_code_errors(response, &request_id, config.max_errors);
        }
        BatchResponse::Batch(responses) => responses
            .iter_mut()
            .for_each(|response| mask_and_code_errors(response, &request_id, config.max_errors)),
    }
    record_outcome(state, &operations, &response, user_id, started);
    let mut http_response = graphql_response(format, &response, config);
    add_rate_limit_headers(&mut http_response, limits.report());
    http_response
}

/// The operation name of each request of a batch: the one the client
/// chose, else the name of the document's only operation. (The document
/// is parsed once; async-graphql keeps the result on the request.)
fn operation_names(batch: &mut BatchRequest) -> Vec<Option<String>> {
    batch
        .iter_mut()
        .map(|request| {
            if let Some(name) = &request.operation_name {
                return Some(name.clone());
            }
            match &request.parsed_query().ok()?.operations {
                DocumentOperations::Multiple(operations) if operations.len() == 1 => {
                    operations.keys().next().map(ToString::to_string)
                }
                _ => None,
            }
        })
        .collect()
}

/// Count each operation by its outcome code (`OK` without errors, else the
/// first error's code), time the request, and write one access-log line
/// (`RUST_LOG=usergraph::access=debug`) in the request's span, so it
/// carries the request id.
fn record_outcome(
    state: &AppState,
    operations: &[Option<String>],
    response: &BatchResponse,
    user_id: Option<i32>,
    started: std::time::Instant,
) {
    let responses = match response {
        BatchResponse::Single(response) => std::slice::from_ref(response),
        BatchResponse::Batch(responses) => responses.as_slice(),
    };
    let metrics = &state.app.metrics;
    let elapsed = started.elapsed();
    for (operation, response) in operations.iter().zip(responses) {
        let code = response
            .errors
            .first()
            .and_then(|error| error.extensions.as_ref())
            .and_then(|extensions| extensions.get("code"))
            .and_then(|code| match code {
                async_graphql::Value::String(code) => Some(code.as_str()),
                _ => None,
            })
            .unwrap_or(if response.errors.is_empty() {
                "OK"
            } else {
                "BAD_USER_INPUT"
            });
        metrics.graphql_operation(operation.as_deref(), code);
        tracing::debug!(
            target: "usergraph::access",
            operation = operation.as_deref().unwrap_or("anonymous"),
            user_id,
            code,
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "graphql operation"
        );
    }
    let timed = match operations {
        [single] => single.as_deref(),
        _ => Some("batch"),
    };
    metrics.graphql_latency(timed, elapsed);
}

/// The HTTP response for an executed request: the status and body the spec
/// gives for `format` (within `GRAPHQL_MAX_RESPONSE_BYTES`), plus the
/// headers resolvers set (the refresh cookie).
fn graphql_response(
    format: ResponseFormat,
    response: &BatchResponse,
    limits: &LimitsConfig,
) -> Response {
    let (status, body) = status_and_body(format, response, limits.max_response_bytes);
    let mut http_response = (status, body).into_response();
    let response_headers = http_response.headers_mut();
    response_headers.insert(CONTENT_TYPE, format.content_type());
    response_headers.extend(response.http_headers());
    http_response
}

/// The HTTP response for a body a compiled plan wrote (always `data`, so
/// HTTP 200 in either format), within `GRAPHQL_MAX_RESPONSE_BYTES`.
fn compiled_response(format: ResponseFormat, body: Vec<u8>, limits: &LimitsConfig) -> Response {
    let body = if body.len() > limits.max_response_bytes {
        graphql_over_http::too_large(limits.max_response_bytes, None)
    } else {
        body
    };
    let mut http_response = (StatusCode::OK, body).into_response();
    http_response
        .headers_mut()
        .insert(CONTENT_TYPE, format.content_type());
    http_response
}

/// Our own errors always carry a code. The ones without are async-graphql's:
/// a document that does not parse or validate, an argument of the wrong
/// type. All are the client's input. Internal errors are reduced to the
/// generic message and given the request id, which the log line has too.
/// At most `max_errors` are sent: the rest are summed up in the last one,
/// so a flood of faults in one document cannot grow the answer without end.
fn mask_and_code_errors(
    response: &mut async_graphql::Response,
    request_id: &RequestId,
    max_errors: u32,
) {
    let max_errors = max_errors.max(1) as usize;
    if response.errors.len() > max_errors {
        let omitted = response.errors.len() - (max_errors - 1);
        response.errors.truncate(max_errors - 1);
        response.errors.push(limit_exceeded(
            "errors",
            &format!("{omitted} more errors were left out (at most {max_errors} are sent)"),
            None,
        ));
    }
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

/// A GraphQL-shaped error for requests refused before execution.
fn plain_error(status: StatusCode, code: &str, message: &str) -> Response {
    format_error(ResponseFormat::Json, status, code, message)
}

/// The same, sent as the negotiated media type.
fn format_error(format: ResponseFormat, status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code } }]
    });
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, format.content_type());
    response
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
