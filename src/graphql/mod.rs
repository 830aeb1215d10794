//! The GraphQL schema: types, the query and mutation roots merged from one
//! object per area, and the limits every document is checked against.
//!
//! Resolvers stay thin: they read the caller, call a function in
//! `services`, and wrap the result in a GraphQL type.

pub mod account;
pub mod admin;
pub mod audit;
pub mod compiled;
pub mod complexity;
pub mod document_limits;
pub mod documents;
pub mod email;
pub mod gate;
pub mod guarded;
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
pub mod subscriptions;
pub mod tiers;
pub mod types;
pub mod users;
pub mod webhooks;

use std::sync::{Arc, OnceLock};

use async_graphql::futures_util::future::BoxFuture;
use async_graphql::futures_util::stream::BoxStream;
use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
use async_graphql::{
    Context, Data, ErrorExtensions, MergedObject, ObjectType, Request, Response, Schema,
    SchemaBuilder, SubscriptionType,
};

use self::guarded::Guarded;
use self::loaders::Loaders;
pub use self::subscriptions::SubscriptionRoot;

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

pub type AppSchema = SchemaOf<QueryRoot, MutationRoot>;

/// The schema [`build_schema_with`] builds over roots `Q` and `M`.
pub type SchemaOf<Q, M> = Schema<Guarded<Q>, Guarded<M>, SubscriptionRoot>;

/// The schema without runtime data: enough to print the SDL.
#[must_use]
pub fn schema_builder() -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
}

/// usergraph's own schema over `app`.
#[must_use]
pub fn build_schema(app: AppContext) -> AppSchema {
    build_schema_with(app, QueryRoot::default(), MutationRoot::default())
}

/// A schema whose query and mutation roots an application chose (usually
/// usergraph's roots merged with its own, see `examples/dashboard.rs`),
/// with usergraph's subscriptions and everything usergraph's resolvers and
/// guards need attached.
///
/// The schema has no extension: the roots are [`Guarded`] (rate limits and
/// the panic net per root field) and whole-document checks run in
/// [`gate`] before a request executes. Depth and complexity are measured
/// by async-graphql's validation against the configured limits; [`gate`]
/// gives its refusals their codes.
pub fn build_schema_with<Q, M>(app: AppContext, query: Q, mutation: M) -> SchemaOf<Q, M>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
{
    let limits = &app.config.limits;
    let root_fields = RootFields::default();
    let mut builder = Schema::build(Guarded(query), Guarded(mutation), SubscriptionRoot)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity);
    if !limits.introspection {
        // Introspection documents are refused with a code by the gate; the
        // schema also answers none and suggests no field names ("Did you
        // mean …") in validation errors.
        builder = builder.disable_introspection().disable_suggestions();
    }
    // The only extension, and only while traces are exported: it puts every
    // field on async-graphql's slower path (see its module doc).
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

/// Anything that executes GraphQL requests and subscriptions: lets the HTTP
/// layer serve usergraph's schema or an application's extended one alike.
/// Batches and the checks before a request runs are [`gate`]'s.
pub trait GraphqlExecutor: Send + Sync {
    fn execute(&self, request: Request) -> BoxFuture<'_, Response>;

    /// Run a subscription with the data of its WebSocket connection.
    fn execute_stream(
        &self,
        request: Request,
        connection: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response>;
}

impl<Q, M, S> GraphqlExecutor for Schema<Q, M, S>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
    S: SubscriptionType + 'static,
{
    fn execute(&self, request: Request) -> BoxFuture<'_, Response> {
        Box::pin(Schema::execute(self, request))
    }

    fn execute_stream(
        &self,
        request: Request,
        connection: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        async_graphql::Executor::execute_stream(self, request, connection)
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
