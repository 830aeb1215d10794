//! The GraphQL schema: types, the query and mutation roots merged from one
//! object per area, and the limits every document is checked against.
//!
//! Resolvers stay thin: they read the caller, call a function in
//! `services`, and wrap the result in a GraphQL type.

pub mod account;
pub mod admin;
pub mod audit;
pub mod complexity;
pub mod document_limits;
pub mod email;
pub mod hardening;
pub mod introspection;
pub mod keys;
pub mod loaders;
pub mod password_reset;
pub mod passwords;
pub mod posts;
pub mod rate_limiting;
pub mod session;
pub mod session_management;
pub mod tiers;
pub mod types;
pub mod users;
pub mod webhooks;

use std::sync::{Arc, OnceLock};

use async_graphql::futures_util::future::BoxFuture;
use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
use async_graphql::{
    BatchRequest, BatchResponse, Context, EmptySubscription, ErrorExtensions, MergedObject,
    ObjectType, Schema, SchemaBuilder, SubscriptionType,
};

use self::loaders::Loaders;

use crate::auth::guards::authentication;
use crate::error::AppError;
use crate::services::write::{Actor, Origin};
use crate::state::AppContext;

/// Declares, from one list of parts, usergraph's own root (named `Query` or
/// `Mutation`) and a twin under another name that an application merges into
/// its own root (two merged objects cannot share a GraphQL name).
macro_rules! merged_roots {
    ($(#[$doc:meta])* $root:ident = $root_name:literal,
     $(#[$twin_doc:meta])* $twin:ident = $twin_name:literal:
     $($part:ty),+ $(,)?) => {
        $(#[$doc])*
        #[derive(MergedObject, Default)]
        #[graphql(name = $root_name)]
        pub struct $root($($part),+);

        $(#[$twin_doc])*
        #[derive(MergedObject, Default)]
        #[graphql(name = $twin_name)]
        pub struct $twin($($part),+);
    };
}

merged_roots!(
    /// usergraph's query root.
    QueryRoot = "Query",
    /// The same queries, for an application to merge into its own `Query`.
    UsergraphQuery = "UsergraphQuery":
    account::AccountQuery,
    passwords::PasswordQuery,
    users::UserQuery,
    admin::AdminQuery,
    session_management::SessionQuery,
    tiers::TierQuery,
    posts::PostQuery,
    audit::AuditQuery,
    webhooks::WebhookQuery,
);

merged_roots!(
    /// usergraph's mutation root.
    MutationRoot = "Mutation",
    /// The same mutations, for an application to merge into its own
    /// `Mutation`.
    UsergraphMutation = "UsergraphMutation":
    account::AccountMutation,
    email::EmailMutation,
    password_reset::PasswordResetMutation,
    session::SessionMutation,
    session_management::SessionManagementMutation,
    users::UserMutation,
    admin::AdminMutation,
    tiers::TierMutation,
    posts::PostMutation,
    keys::KeyMutation,
    webhooks::WebhookMutation,
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

/// usergraph's own schema over `app`.
#[must_use]
pub fn build_schema(app: AppContext) -> AppSchema {
    build_schema_with(app, QueryRoot::default(), MutationRoot::default())
}

/// A schema whose roots an application chose (usually usergraph's roots
/// merged with its own, see `examples/dashboard.rs`), with everything
/// usergraph's resolvers and guards need attached.
pub fn build_schema_with<Q, M>(
    app: AppContext,
    query: Q,
    mutation: M,
) -> Schema<Q, M, EmptySubscription>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
{
    let limits = &app.config.limits;
    let root_fields = RootFields::default();
    let mut builder = Schema::build(query, mutation, EmptySubscription)
        // Outermost first: the panic net also covers the rate limiter. The
        // hardening extension also enforces the depth and complexity limits.
        .extension(hardening::Hardening::from_config(limits))
        .extension(rate_limiting::RootFieldLimits);
    if !limits.introspection {
        // Refused with a code rather than answered with `null`, and no
        // "Did you mean …" in validation errors: field names stay unlisted.
        builder = builder
            .extension(introspection::IntrospectionDisabled)
            .disable_introspection()
            .disable_suggestions();
    }
    // Innermost, and only while traces are exported (see its module doc).
    if let Some(spans) = crate::telemetry::resolver_spans::ResolverSpans::when_tracing(&app.config)
    {
        builder = builder.extension(spans);
    }
    let schema = builder
        .data(Loaders::new(&app.db))
        .data(root_fields.clone())
        .data(app)
        .finish();
    root_fields.fill_from(&schema.sdl());
    schema
}

/// Anything that executes GraphQL batches: lets the HTTP layer serve
/// usergraph's schema or an application's extended one alike.
pub trait GraphqlExecutor: Send + Sync {
    fn execute_batch(&self, request: BatchRequest) -> BoxFuture<'_, BatchResponse>;
}

impl<Q, M, S> GraphqlExecutor for Schema<Q, M, S>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    /// The operations of a batch run one after another, not concurrently as
    /// async-graphql's own `execute_batch` runs them: an operation that ends
    /// the session (`logout`, `changePassword`) is then seen to have ended it
    /// by every operation after it.
    fn execute_batch(&self, request: BatchRequest) -> BoxFuture<'_, BatchResponse> {
        Box::pin(async move {
            match request {
                BatchRequest::Single(request) => BatchResponse::Single(self.execute(request).await),
                BatchRequest::Batch(requests) => {
                    let mut responses = Vec::with_capacity(requests.len());
                    for request in requests {
                        responses.push(self.execute(request).await);
                    }
                    BatchResponse::Batch(responses)
                }
            }
        })
    }
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

/// Who makes this request's changes, and from where: what every service
/// that writes is handed (see `services::write`).
#[must_use]
pub fn actor(ctx: &Context<'_>) -> Actor {
    Actor::new(
        authentication(ctx).caller().cloned(),
        ctx.data_opt::<Origin>().cloned().unwrap_or_default(),
    )
}
