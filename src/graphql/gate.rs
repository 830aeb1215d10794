//! Running GraphQL requests: every document passes the checks on the whole
//! document before it runs, the operations of a batch run one after
//! another, and the refusals of async-graphql's own depth and complexity
//! limits get the same codes as ours.
//!
//! These checks used to be schema extensions (`prepare_request` and
//! `validation` hooks). Any registered extension makes async-graphql take
//! its slow path for every field of every response (see
//! [`super::guarded`]), so the checks moved here, where the HTTP layer and
//! the WebSocket layer both call them.
//!
//! Before a document runs, in this order:
//! 1. the linear-time size checks of [`super::document_limits`] (fragments,
//!    spreads, directives, aliases, root fields, expanded fields), before
//!    anything expands the document;
//! 2. with `GRAPHQL_INTROSPECTION=false`, a query for `__schema` or `__type`
//!    is refused with `FORBIDDEN`.
//!
//! Depth and complexity are measured by async-graphql's validation, which
//! the schema runs with `GRAPHQL_MAX_DEPTH` and `GRAPHQL_MAX_COMPLEXITY`
//! ([`super::build_schema_with`]); its two refusals are recognised by their
//! exact text (pinned by the tests in `tests/api/hardening.rs`) and answered
//! as `BAD_USER_INPUT` with `extensions.limit`. Every refused document costs
//! the caller one call of their rate limit, so refusals are not free.

use async_graphql::{
    BatchRequest, BatchResponse, ErrorExtensions, Pos, Request, Response, ServerError,
};

use super::GraphqlExecutor;
use super::document_limits::{self, DocumentLimits};
use super::hardening::limit_exceeded;
use super::introspection::{INTROSPECTION_DISABLED, asks_for_introspection};
use super::rate_limiting::{Counting, refused_document};
use crate::config::LimitsConfig;
use crate::error::AppError;

/// async-graphql's refusal of a document nested deeper than `limit_depth`.
const TOO_DEEP: &str = "Query is nested too deep.";
/// async-graphql's refusal of a document over `limit_complexity`.
const TOO_COMPLEX: &str = "Query is too complex.";

/// Run every operation of `batch`, one after another: an operation that
/// ends the session (`logout`, `changePassword`) is then seen to have ended
/// it by every operation after it (async-graphql's own `execute_batch` runs
/// them concurrently).
pub async fn execute_batch(
    executor: &dyn GraphqlExecutor,
    counting: &Counting<'_>,
    batch: BatchRequest,
) -> BatchResponse {
    match batch {
        BatchRequest::Single(request) => {
            BatchResponse::Single(execute(executor, counting, request).await)
        }
        BatchRequest::Batch(requests) => {
            let mut responses = Vec::with_capacity(requests.len());
            for request in requests {
                responses.push(execute(executor, counting, request).await);
            }
            BatchResponse::Batch(responses)
        }
    }
}

/// Run one request if its document passes; the refusal otherwise.
pub async fn execute(
    executor: &dyn GraphqlExecutor,
    counting: &Counting<'_>,
    mut request: Request,
) -> Response {
    if let Err(refusal) = admit(counting, &mut request).await {
        return refusal;
    }
    let mut response = executor.execute(request).await;
    code_validation_limits(counting, &mut response).await;
    response
}

/// The checks a document must pass before it runs. A document that does
/// not parse passes: async-graphql then reports the syntax error. The
/// parsed document stays on the request, so it is parsed once.
pub async fn admit(counting: &Counting<'_>, request: &mut Request) -> Result<(), Response> {
    let limits = &counting.app().config.limits;
    let Ok(document) = request.parsed_query() else {
        return Ok(());
    };
    let document_limits = DocumentLimits::from_config(limits);
    if let Err(refusal) = document_limits::check(document, &document_limits) {
        let error = match refused_document(Some(counting)).await {
            Some(rate_limited) => rate_limited,
            None => limit_exceeded(refusal.limit(), &refusal.message(&document_limits), None),
        };
        return Err(Response::from_errors(vec![error]));
    }
    if !limits.introspection && asks_for_introspection(document) {
        let error = AppError::Forbidden(INTROSPECTION_DISABLED.to_owned())
            .extend()
            .into_server_error(Pos::default());
        return Err(Response::from_errors(vec![error]));
    }
    Ok(())
}

/// Give async-graphql's depth and complexity refusals our code and
/// `extensions.limit`, and count them against the caller.
pub async fn code_validation_limits(counting: &Counting<'_>, response: &mut Response) {
    let Some(coded) = coded_limit_refusal(&counting.app().config.limits, response) else {
        return;
    };
    let answer = refused_document(Some(counting)).await.unwrap_or(coded);
    response.errors = vec![answer];
}

/// Our refusal for `response` when it is async-graphql's refusal of a
/// document over the depth or complexity limit; `None` otherwise.
fn coded_limit_refusal(limits: &LimitsConfig, response: &Response) -> Option<ServerError> {
    let [error] = response.errors.as_slice() else {
        return None;
    };
    if error.extensions.is_some() {
        return None;
    }
    match error.message.as_str() {
        TOO_DEEP => Some(limit_exceeded(
            "depth",
            &format!(
                "The document is nested deeper than {} levels",
                limits.max_depth
            ),
            None,
        )),
        TOO_COMPLEX => Some(limit_exceeded(
            "complexity",
            &format!(
                "The document costs more than {}, the most allowed",
                limits.max_complexity
            ),
            None,
        )),
        _ => None,
    }
}
