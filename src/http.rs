//! HTTP routes: `POST /graphql` answers GraphQL, `GET /graphql` shows the
//! GraphiQL playground, `GET /health` checks the database.
//!
//! The caller is authenticated here, once per request, and attached to the
//! GraphQL request for guards and resolvers to read.

use std::sync::Arc;

use async_graphql::http::GraphiQLSource;
use async_graphql::{BatchRequest, BatchResponse};
use async_graphql::{ErrorExtensions, Pos};
use async_graphql_axum::GraphQLResponse;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tower_http::trace::TraceLayer;

use crate::auth::caller::authenticate;
use crate::auth::cookie::RefreshCookie;
use crate::graphql::{GraphqlExecutor, build_schema};
use crate::state::AppContext;

/// Largest request body accepted, in bytes.
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
    Router::new()
        .route("/graphql", get(playground).post(graphql))
        .route("/health", get(health))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// `POST /graphql`. Only `application/json` bodies are read: the
/// form-encodable content types (`multipart/form-data`,
/// `application/x-www-form-urlencoded`, `text/plain`) are what a cross-site
/// form can send without a CORS preflight, so refusing them closes that door.
async fn graphql(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if !is_json(&headers) {
        return plain_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_USER_INPUT",
            "Content-Type must be application/json",
        );
    }
    let request: BatchRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(_) => {
            return plain_error(
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                "The body is not a GraphQL request in JSON",
            );
        }
    };
    let authentication = match authenticate(&state.app.db, &state.app.tokens, &headers).await {
        Ok(authentication) => authentication,
        Err(error) => {
            let error = error.extend().into_server_error(Pos::default());
            return GraphQLResponse::from(async_graphql::Response::from_errors(vec![error]))
                .into_response();
        }
    };
    let request = request
        .data(authentication)
        .data(RefreshCookie::from_headers(&headers));
    let mut response = state.schema.execute_batch(request).await;
    match &mut response {
        BatchResponse::Single(response) => give_every_error_a_code(response),
        BatchResponse::Batch(responses) => responses.iter_mut().for_each(give_every_error_a_code),
    }
    GraphQLResponse::from(response).into_response()
}

/// Our own errors always carry a code. The ones without are async-graphql's:
/// a document that does not parse or validate, an argument of the wrong
/// type, a limit exceeded. All are the client's input.
fn give_every_error_a_code(response: &mut async_graphql::Response) {
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", "BAD_USER_INPUT");
        }
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

async fn playground() -> Html<String> {
    Html(GraphiQLSource::build().endpoint("/graphql").finish())
}

async fn health(State(state): State<AppState>) -> impl IntoResponse {
    match state.app.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(error) => {
            tracing::warn!(%error, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
