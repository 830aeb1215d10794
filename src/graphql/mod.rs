//! The GraphQL schema: types, the query and mutation roots merged from one
//! object per area, and the limits every document is checked against.
//!
//! Resolvers stay thin: they read the caller, call a function in
//! `services`, and wrap the result in a GraphQL type.

pub mod account;
pub mod admin;
pub mod loaders;
pub mod posts;
pub mod session;
pub mod tiers;
pub mod types;
pub mod users;

use std::sync::{Arc, OnceLock};

use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
use async_graphql::{
    Context, EmptySubscription, ErrorExtensions, MergedObject, Schema, SchemaBuilder,
};

use self::loaders::Loaders;

use crate::error::AppError;
use crate::state::AppContext;

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    account::AccountQuery,
    users::UserQuery,
    admin::AdminQuery,
    tiers::TierQuery,
    posts::PostQuery,
);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    account::AccountMutation,
    session::SessionMutation,
    users::UserMutation,
    admin::AdminMutation,
    tiers::TierMutation,
    posts::PostMutation,
);

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
    let root_fields = RootFields::default();
    let schema = schema_builder()
        .data(Loaders::new(&app.db))
        .data(root_fields.clone())
        .data(app)
        .finish();
    root_fields.fill_from(&schema.sdl());
    schema
}

/// The names of the schema's root fields: what a rate-limit rule's `path`
/// may name. Filled once the schema is built, from its own SDL, so fields an
/// application adds are included.
#[derive(Clone, Default)]
pub struct RootFields(Arc<OnceLock<Vec<String>>>);

impl RootFields {
    pub fn fill_from(&self, sdl: &str) {
        let _ = self.0.set(root_field_names(sdl));
    }
}

fn root_field_names(sdl: &str) -> Vec<String> {
    let Ok(document) = async_graphql::parser::parse_schema(sdl) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    for definition in document.definitions {
        if let TypeSystemDefinition::Type(definition) = definition
            && matches!(definition.node.name.node.as_str(), "Query" | "Mutation")
            && let TypeKind::Object(object) = definition.node.kind
        {
            names.extend(
                object
                    .fields
                    .into_iter()
                    .map(|field| field.node.name.node.to_string()),
            );
        }
    }
    names
}

/// The root field names of the running schema.
pub fn root_fields<'a>(ctx: &'a Context<'_>) -> &'a [String] {
    ctx.data_opt::<RootFields>()
        .and_then(|fields| fields.0.get())
        .map_or(&[], Vec::as_slice)
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
