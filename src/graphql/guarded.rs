//! The schema's roots, wrapped: every root-field resolution is counted
//! against the caller's rate limit before it runs, and a panic anywhere
//! under a root field becomes that field's `INTERNAL` error while the other
//! fields still answer.
//!
//! Both jobs used to be schema extensions. But as soon as one extension is
//! registered, async-graphql sends *every* field and every list item of
//! every response through the extension chain (a boxed future and a type
//! look-up each), and both jobs only concern root fields: on a page of 100
//! users that chain was a third of the request's instructions
//! (docs/performance.md, issue 16). So they live here, the schema has no
//! extension at all, and the checks on the whole document run before it
//! executes (see [`super::gate`]).
//!
//! Counting per resolution keeps the old guarantees: each alias and each
//! operation of a batch is one call, fields spread in from fragments
//! included, and any root field added later is covered without a line of
//! its own.

use std::borrow::Cow;
use std::panic::AssertUnwindSafe;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::resolver_utils::resolve_container;
use async_graphql::{
    ContainerType, Context, ContextSelectionSet, ErrorExtensions, ObjectType, OutputType,
    PathSegment, Pos, Positioned, ServerError, ServerResult, Value,
};
use futures::FutureExt;

use super::hardening::{RequestId, panic_detail};
use super::rate_limiting::Counting;
use crate::error::AppError;

/// A root object (`Query` or `Mutation`) whose fields are rate limited and
/// panic-safe. It keeps the inner type's name and fields.
#[derive(Default)]
pub struct Guarded<T>(pub T);

impl<T: ContainerType> OutputType for Guarded<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve_container(ctx, self).await
    }
}

impl<T: ContainerType> ContainerType for Guarded<T> {
    async fn resolve_field(&self, ctx: &Context<'_>) -> ServerResult<Option<Value>> {
        let field = &ctx.item.node;
        let key = field.response_key().node.as_str();
        // `__schema`, `__type` and `__typename` are answered before the
        // root's own fields are asked, so introspection is never counted.
        if let Some(counting) = Counting::from_context(ctx) {
            let decision = counting.count(field.name.node.as_str()).await;
            if !decision.allowed {
                return Err(at_field(decision.to_error().extend(), key));
            }
        }
        match AssertUnwindSafe(self.0.resolve_field(ctx))
            .catch_unwind()
            .await
        {
            Ok(result) => result,
            Err(panic) => {
                let detail = panic_detail(panic.as_ref());
                let request_id = ctx.data_opt::<RequestId>().map(|id| id.0.as_str());
                tracing::error!(?request_id, field = key, %detail, "a resolver panicked");
                Err(at_field(
                    AppError::internal("resolver panicked").extend(),
                    key,
                ))
            }
        }
    }

    async fn find_entity(&self, ctx: &Context<'_>, params: &Value) -> ServerResult<Option<Value>> {
        self.0.find_entity(ctx, params).await
    }
}

impl<T: ObjectType> ObjectType for Guarded<T> {}

/// `error` as the answer of root field `key`.
pub(crate) fn at_field(error: async_graphql::Error, key: &str) -> ServerError {
    let mut error = error.into_server_error(Pos::default());
    error.path = vec![PathSegment::Field(key.to_owned())];
    error
}
