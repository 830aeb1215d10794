//! Compiled queries: the listing and profile documents clients send all
//! day, answered without async-graphql's executor.
//!
//! async-graphql validates every document on every request and resolves
//! every field of every listed item through a boxed future and a map: on a
//! page of 100 users that machinery was about half of the request
//! (docs/performance.md, issue 16). Yet the documents a client sends are a
//! handful of texts repeated with new variables. So a document of a narrow
//! shape (`user(username:)` or `users(…)` selecting plain fields, see
//! [`plan`]) is compiled once, when the document cache first sees its text,
//! into a plan that calls the same services the resolvers call and writes
//! the JSON itself.
//!
//! async-graphql stays the reference, so a plan can never answer what the
//! schema would refuse:
//! - a plan answers only after async-graphql has run the same text without
//!   any error, and only for page sizes up to the largest it ran it with
//!   (complexity grows with the page size and nothing else here; depth and
//!   the document limits depend on the text alone);
//! - every argument value a plan is not sure of (wrong type, out of range,
//!   a foreign cursor, a missing required variable) sends the request the
//!   ordinary way, which gives the error;
//! - the root field is counted against the caller's rate limit exactly as
//!   [`super::guarded`] counts it, and the email address goes through the
//!   same [`crate::graphql::types::User`] methods as its resolver;
//! - `tests/api/compiled.rs` sends each shape both ways and compares the
//!   bodies byte for byte.
//!
//! Off with `GRAPHQL_COMPILED_QUERIES=false`, while resolver spans are
//! exported (a plan has no resolvers to time), and for an application's own
//! schema, whose `users` may mean something else.

mod answer;
mod arguments;
mod bind;
mod page_sql;
mod plan;

use std::sync::atomic::{AtomicU64, Ordering};

use async_graphql::{BatchRequest, BatchResponse};

pub use bind::{Bound, bind};
pub use plan::{Plan, compile};

use super::GraphqlExecutor;
use super::documents::Known;
use super::gate;
use super::rate_limiting::Counting;
use crate::auth::Authentication;

/// What a planned request gets.
pub enum Answer {
    /// The whole response body a plan wrote: `{"data":{…}}`.
    Json(Vec<u8>),
    /// An error from the plan, or the executor's response.
    Response(BatchResponse),
}

/// Answer `request` (a single request of `known`'s text, whose arguments
/// are `bound`) from the plan when async-graphql has vouched for it at this
/// page size; else run it through `executor`, and let an answer without an
/// error vouch for the plan.
pub async fn execute(
    known: &Known,
    bound: Bound,
    executor: &dyn GraphqlExecutor,
    counting: &Counting<'_>,
    viewer: &Authentication,
    request: BatchRequest,
) -> Answer {
    let size = bound.size();
    let Some(compiled) = known.compiled.as_ref() else {
        return Answer::Response(gate::execute_batch(executor, counting, request).await);
    };
    if compiled.admits(size) {
        counting.app().metrics.compiled_answer();
        return match answer::answer(&compiled.plan, bound, counting, viewer).await {
            Ok(body) => Answer::Json(body),
            Err(response) => Answer::Response(BatchResponse::Single(response)),
        };
    }
    let response = gate::execute_batch(executor, counting, request).await;
    if let BatchResponse::Single(single) = &response
        && single.errors.is_empty()
    {
        compiled.admit(size);
    }
    Answer::Response(response)
}

/// A document's plan and how far async-graphql has vouched for it.
#[derive(Debug)]
pub struct Compiled {
    pub plan: Plan,
    /// The largest page size async-graphql ran this text with, without an
    /// error; 0 until it has.
    admitted: AtomicU64,
}

impl Compiled {
    #[must_use]
    pub fn new(plan: Plan) -> Self {
        Self {
            plan,
            admitted: AtomicU64::new(0),
        }
    }

    /// Whether the plan may answer a request of page size `size`.
    #[must_use]
    pub fn admits(&self, size: u64) -> bool {
        size >= 1 && size <= self.admitted.load(Ordering::Relaxed)
    }

    /// async-graphql ran the text with page size `size` without an error.
    pub fn admit(&self, size: u64) {
        self.admitted.fetch_max(size, Ordering::Relaxed);
    }
}
