//! The GraphQL schema: types, the query and mutation roots merged from one
//! object per area, and the limits every document is checked against.
//!
//! Resolvers stay thin: they read the caller, call a function in
//! `services`, and wrap the result in a GraphQL type.

pub mod account;
pub mod hardening;
pub mod rate_limiting;
pub mod session;
pub mod types;

use async_graphql::{
    Context, EmptySubscription, ErrorExtensions, MergedObject, Schema, SchemaBuilder,
};

use crate::error::AppError;
use crate::state::AppContext;

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(account::AccountQuery);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(account::AccountMutation, session::SessionMutation);

pub type AppSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// The schema without runtime data: enough to print the SDL.
#[must_use]
pub fn schema_builder() -> SchemaBuilder<QueryRoot, MutationRoot, EmptySubscription> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
}

#[must_use]
pub fn build_schema(app: AppContext) -> AppSchema {
    let limits = &app.config.limits;
    let mut builder = schema_builder()
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity)
        // Outermost first: the panic net also covers the rate limiter.
        .extension(hardening::Hardening {
            max_aliases: limits.max_aliases,
            max_root_fields: limits.max_root_fields,
        })
        .extension(rate_limiting::RootFieldLimits);
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    builder.data(app).finish()
}

/// The SDL that `schema.graphql` must match.
#[must_use]
pub fn export_sdl() -> String {
    schema_builder().finish().sdl()
}

/// The shared application context, from inside a resolver.
pub fn app_context<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a AppContext> {
    ctx.data::<AppContext>()
        .map_err(|_| AppError::internal("AppContext missing from schema data").extend())
}
