//! Limits on what a document may ask for, checked before any resolver runs,
//! and a net under every resolver so a panic becomes `INTERNAL` instead of a
//! dropped connection.
//!
//! async-graphql limits depth and complexity itself, but its errors carry no
//! code; the validation hook adds `BAD_USER_INPUT` and `extensions.limit`. Aliases and root fields
//! are counted here because each alias of `login` is one more password tried:
//! a document with hundreds of them is refused whole.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextResolve, NextValidation,
    ResolveInfo,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{
    ErrorExtensions, Pos, ServerError, ServerResult, ValidationResult, Value, Variables,
};
use futures::FutureExt;

use crate::error::AppError;

/// The code of every "document too big" refusal.
/// Over a limit is bad input: the client can send a smaller document.
pub const LIMIT_EXCEEDED: &str = "BAD_USER_INPUT";

/// The id of the HTTP request being served, for logs and `extensions.requestId`.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The extension factory for the schema.
pub struct Hardening {
    pub max_aliases: usize,
    pub max_root_fields: usize,
}

impl ExtensionFactory for Hardening {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(HardeningExtension {
            max_aliases: self.max_aliases,
            max_root_fields: self.max_root_fields,
        })
    }
}

struct HardeningExtension {
    max_aliases: usize,
    max_root_fields: usize,
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

#[async_graphql::async_trait::async_trait]
impl Extension for HardeningExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if count_aliases(&document) > self.max_aliases {
            return Err(limit_exceeded(
                "aliases",
                &format!("The document has more than {} aliases", self.max_aliases),
                None,
            ));
        }
        if most_root_fields(&document) > self.max_root_fields {
            return Err(limit_exceeded(
                "rootFields",
                &format!(
                    "An operation selects more than {} root fields",
                    self.max_root_fields
                ),
                None,
            ));
        }
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|error| match error.message.as_str() {
                    "Query is nested too deep." => limit_exceeded("depth", &error.message, None),
                    "Query is too complex." => limit_exceeded("complexity", &error.message, None),
                    _ => error,
                })
                .collect()
        })
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let path = info.path_node.to_string_vec().join(".");
        match AssertUnwindSafe(next.run(ctx, info)).catch_unwind().await {
            Ok(result) => result,
            Err(panic) => {
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

/// Aliased fields written anywhere in the document (operations and
/// fragment definitions, each once).
fn count_aliases(document: &ExecutableDocument) -> usize {
    fn in_set(set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|selection| match &selection.node {
                Selection::Field(field) => {
                    usize::from(field.node.alias.is_some()) + in_set(&field.node.selection_set.node)
                }
                Selection::InlineFragment(fragment) => in_set(&fragment.node.selection_set.node),
                Selection::FragmentSpread(_) => 0,
            })
            .sum()
    }
    let operations: usize = document
        .operations
        .iter()
        .map(|(_, operation)| in_set(&operation.node.selection_set.node))
        .sum();
    let fragments: usize = document
        .fragments
        .values()
        .map(|fragment| in_set(&fragment.node.selection_set.node))
        .sum();
    operations + fragments
}

/// The most root fields any one operation selects, fragments expanded (each
/// fragment once, so a cycle cannot loop: validation refuses cycles later).
fn most_root_fields(document: &ExecutableDocument) -> usize {
    fn in_set<'a>(
        document: &'a ExecutableDocument,
        set: &'a SelectionSet,
        seen: &mut HashSet<&'a str>,
    ) -> usize {
        let mut count = 0;
        for selection in &set.items {
            count += match &selection.node {
                Selection::Field(_) => 1,
                Selection::InlineFragment(fragment) => {
                    in_set(document, &fragment.node.selection_set.node, seen)
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    match document.fragments.get(name) {
                        Some(fragment) if seen.insert(name) => {
                            in_set(document, &fragment.node.selection_set.node, seen)
                        }
                        _ => 0,
                    }
                }
            };
        }
        count
    }
    document
        .operations
        .iter()
        .map(|(_, operation)| {
            in_set(
                document,
                &operation.node.selection_set.node,
                &mut HashSet::new(),
            )
        })
        .max()
        .unwrap_or(0)
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
                max_aliases: 2,
                max_root_fields: 3,
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
