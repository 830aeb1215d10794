//! Limits on what a document may ask for, checked before anything expands
//! it, and a net under every resolver so a panic becomes `INTERNAL` instead
//! of a dropped connection.
//!
//! The document is parsed once when the request is prepared and sized by
//! [`super::document_limits`] in linear time: fragments, spreads,
//! directives, aliases (each alias of `login` is one more password tried),
//! root fields, and the number of fields it expands to. Only a document that
//! passes reaches async-graphql's validation, whose walks follow every spread.
//! Validation always measures a document's depth and complexity; the
//! validation hook compares them with `GRAPHQL_MAX_DEPTH` and
//! `GRAPHQL_MAX_COMPLEXITY` itself (the schema sets no limit of its own, whose
//! errors would carry no code), and refuses with `BAD_USER_INPUT` and
//! `extensions.limit`. Every refused document costs the caller one call of
//! their rate limit, so refusals cannot be sent for free.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextResolve, NextValidation,
    ResolveInfo,
};
use async_graphql::{
    ErrorExtensions, Pos, Request, ServerError, ServerResult, ValidationResult, Value,
};
use futures::FutureExt;

use super::document_limits::{self, DocumentLimits};
use super::rate_limiting;
use crate::config::LimitsConfig;
use crate::error::AppError;

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

/// The extension factory for the schema.
#[derive(Clone, Copy)]
pub struct Hardening {
    pub limits: DocumentLimits,
    /// `GRAPHQL_MAX_DEPTH`: deepest field nesting.
    pub max_depth: usize,
    /// `GRAPHQL_MAX_COMPLEXITY`: largest cost (see `graphql::complexity`).
    pub max_complexity: usize,
}

impl Hardening {
    #[must_use]
    pub fn from_config(config: &LimitsConfig) -> Self {
        Self {
            limits: DocumentLimits::from_config(config),
            max_depth: config.max_depth,
            max_complexity: config.max_complexity,
        }
    }
}

impl ExtensionFactory for Hardening {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(HardeningExtension(*self))
    }
}

struct HardeningExtension(Hardening);

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

#[async_graphql::async_trait::async_trait]
impl Extension for HardeningExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // A document that does not parse is left to async-graphql, which
        // reports the syntax error; the parsed one is kept on the request,
        // so it is parsed once.
        let refusal = match request.parsed_query() {
            Ok(document) => document_limits::check(document, &self.0.limits).err(),
            Err(_) => None,
        };
        if let Some(refusal) = refusal {
            let counting = rate_limiting::Counting::from_request(ctx, &request.data);
            return Err(rate_limiting::refused_document(counting)
                .await
                .unwrap_or_else(|| {
                    limit_exceeded(refusal.limit(), &refusal.message(&self.0.limits), None)
                }));
        }
        next.run(ctx, request).await
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        let refusal = if result.depth > self.0.max_depth {
            limit_exceeded(
                "depth",
                &format!(
                    "The document is nested {} deep; at most {} is allowed",
                    result.depth, self.0.max_depth
                ),
                None,
            )
        } else if result.complexity > self.0.max_complexity {
            limit_exceeded(
                "complexity",
                &format!(
                    "The document costs {}; at most {} is allowed",
                    result.complexity, self.0.max_complexity
                ),
                None,
            )
        } else {
            return Ok(result);
        };
        let counting = rate_limiting::Counting::from_extension(ctx);
        match rate_limiting::refused_document(counting).await {
            Some(rate_limited) => Err(vec![rate_limited]),
            None => Err(vec![refusal]),
        }
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let path_node = info.path_node;
        match AssertUnwindSafe(next.run(ctx, info)).catch_unwind().await {
            Ok(result) => result,
            Err(panic) => {
                // The path is only spelled out when something went wrong.
                let path = path_node.to_string_vec().join(".");
                let detail = panic_detail(panic.as_ref());
                let request_id = ctx.data_opt::<RequestId>().map(|id| id.0.as_str());
                tracing::error!(?request_id, %path, %detail, "a resolver panicked");
                Err(AppError::internal("resolver panicked")
                    .extend()
                    .into_server_error(Pos::default()))
            }
        }
    }
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
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    use super::*;

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

    fn schema() -> Schema<Query, EmptyMutation, EmptySubscription> {
        Schema::build(Query, EmptyMutation, EmptySubscription)
            .extension(Hardening {
                limits: DocumentLimits {
                    max_expanded_fields: 100,
                    max_fragments: 10,
                    max_spreads: 10,
                    max_directives: 10,
                    max_aliases: 2,
                    max_root_fields: 3,
                },
                max_depth: 10,
                max_complexity: 100,
            })
            .finish()
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

    #[tokio::test]
    async fn fragments_do_not_hide_root_fields_or_aliases() {
        let spread = schema()
            .execute("{ ...F fine } fragment F on Query { fine broken(explode: false) ... on Query { fine } }")
            .await;
        let code = spread.errors[0]
            .extensions
            .as_ref()
            .and_then(|e| e.get("limit"))
            .cloned();
        assert_eq!(code, Some(Value::from("rootFields")));
        let aliases = schema()
            .execute("{ ...F } fragment F on Query { a: fine b: fine c: fine }")
            .await;
        let code = aliases.errors[0]
            .extensions
            .as_ref()
            .and_then(|e| e.get("limit"))
            .cloned();
        assert_eq!(code, Some(Value::from("aliases")));
    }
}
