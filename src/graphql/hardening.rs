//! The pieces every refusal of a document shares: the code, the error that
//! names the limit, the request id, and what a panic said.
//!
//! The document is parsed once when the request arrives and sized by
//! [`super::document_limits`] in linear time: fragments, spreads,
//! directives, aliases (each alias of `login` is one more password tried),
//! root fields, and the number of fields it expands to. Only a document that
//! passes reaches async-graphql's validation, whose walks follow every
//! spread; that validation measures depth and complexity against
//! `GRAPHQL_MAX_DEPTH` and `GRAPHQL_MAX_COMPLEXITY`. [`super::gate`] runs
//! those checks and codes the refusals; [`super::guarded`] keeps a panic
//! from taking more than its root field down.

use async_graphql::{ErrorExtensions, Pos, ServerError};

use super::document_limits::DocumentLimits;
use crate::config::LimitsConfig;

/// The code of every "document too big" refusal.
/// Over a limit is bad input: the client can send a smaller document.
pub const LIMIT_EXCEEDED: &str = "BAD_USER_INPUT";

/// The id of the HTTP request being served, for logs and `extensions.requestId`.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl DocumentLimits {
    #[must_use]
    pub fn from_config(config: &LimitsConfig) -> Self {
        Self {
            max_expanded_fields: config.max_expanded_fields,
            max_fragments: config.max_fragments,
            max_spreads: config.max_spreads,
            max_directives: config.max_directives,
            max_aliases: config.max_aliases,
            max_root_fields: config.max_root_fields,
        }
    }
}

/// A `BAD_USER_INPUT` error naming the limit in `extensions.limit`.
#[must_use]
pub fn limit_exceeded(limit: &str, message: &str, pos: Option<Pos>) -> ServerError {
    let limit = limit.to_owned();
    async_graphql::Error::new(message)
        .extend_with(|_, extensions| {
            extensions.set("code", LIMIT_EXCEEDED);
            extensions.set("limit", limit.as_str());
        })
        .into_server_error(pos.unwrap_or_default())
}

/// The message a panic carried, for the log only.
#[must_use]
pub fn panic_detail(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema, Value};

    use super::*;
    use crate::graphql::guarded::Guarded;

    struct Query;

    #[Object]
    impl Query {
        async fn fine(&self) -> i32 {
            1
        }

        async fn broken(&self, explode: bool) -> i32 {
            assert!(!explode, "secret detail from the resolver");
            2
        }
    }

    fn schema() -> Schema<Guarded<Query>, EmptyMutation, EmptySubscription> {
        Schema::build(Guarded(Query), EmptyMutation, EmptySubscription).finish()
    }

    #[tokio::test]
    async fn a_panicking_resolver_is_internal_and_the_schema_keeps_serving() {
        let response = schema().execute("{ fine broken(explode: true) }").await;
        assert_eq!(response.errors.len(), 1);
        let error = &response.errors[0];
        assert_eq!(error.message, "Internal server error");
        let code = error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .cloned();
        assert_eq!(code, Some(Value::from("INTERNAL")));
        assert!(!format!("{error:?}").contains("secret"));
        // The server (and this schema) keeps serving.
        let again = schema().execute("{ fine }").await;
        assert!(again.errors.is_empty());
    }

    fn refusal(query: &str) -> Option<&'static str> {
        let limits = DocumentLimits {
            max_expanded_fields: 100,
            max_fragments: 10,
            max_spreads: 10,
            max_directives: 10,
            max_aliases: 2,
            max_root_fields: 3,
        };
        let document = async_graphql::parser::parse_query(query).ok()?;
        crate::graphql::document_limits::check(&document, &limits)
            .err()
            .map(|refusal| refusal.limit())
    }

    #[test]
    fn fragments_do_not_hide_root_fields_or_aliases() {
        assert_eq!(
            refusal(
                "{ ...F fine } fragment F on Query { fine broken(explode: false) ... on Query { fine } }"
            ),
            Some("rootFields")
        );
        assert_eq!(
            refusal("{ ...F } fragment F on Query { a: fine b: fine c: fine }"),
            Some("aliases")
        );
        assert_eq!(
            refusal("{ ...F } fragment F on Query { a: fine fine }"),
            None
        );
    }
}
