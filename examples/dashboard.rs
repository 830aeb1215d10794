//! An application built on usergraph: it mounts usergraph's whole API and
//! adds two queries of its own, protected by usergraph's guards.
//!
//! - `dashboard`: the caller and how many posts they have (logged-in users).
//! - `premiumFeature`: only for callers on the `pro` tier.
//!
//! Run it like the server (same settings): `cargo run --example dashboard`.

use async_graphql::{Context, MergedObject, Object, ResultExt, Schema, SimpleObject};
use usergraph::auth::guards::require_caller;
use usergraph::auth::{LoggedIn, RequireTier};
use usergraph::graphql::types::User;
use usergraph::graphql::{MutationRoot, SubscriptionRoot, UsergraphQuery, build_schema_with};
use usergraph::services::relations;
use usergraph::{AppContext, AppState};

/// The application's own queries.
#[derive(Default)]
pub struct DashboardQuery;

#[derive(SimpleObject)]
pub struct Dashboard {
    pub me: User,
    pub post_count: i64,
}

#[Object]
impl DashboardQuery {
    /// The caller and their number of posts.
    #[graphql(guard = "LoggedIn")]
    async fn dashboard(&self, ctx: &Context<'_>) -> async_graphql::Result<Dashboard> {
        let caller = require_caller(ctx)?;
        let app = ctx.data::<AppContext>()?;
        let counts = relations::live_post_counts(&app.db, &[caller.user.id])
            .await
            .extend()?;
        let posts = counts.get(&caller.user.id).copied().unwrap_or(0);
        Ok(Dashboard {
            me: User::seen_by_owner(caller.user.clone()),
            post_count: i64::try_from(posts).unwrap_or(i64::MAX),
        })
    }

    /// Something only paying customers get.
    #[graphql(guard = "RequireTier(\"pro\")")]
    async fn premium_feature(&self) -> &'static str {
        "Welcome to the pro features"
    }
}

/// usergraph's queries and the application's, in one root.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct AppQuery(UsergraphQuery, DashboardQuery);

pub type AppSchema = Schema<AppQuery, MutationRoot, SubscriptionRoot>;

#[must_use]
pub fn schema(app: AppContext) -> AppSchema {
    build_schema_with(app, AppQuery::default(), MutationRoot::default())
}

/// The application's router: usergraph's routes serving the extended schema.
pub fn router(app: AppContext) -> axum::Router {
    let schema = schema(app.clone());
    usergraph::app(AppState::with_schema(app, schema))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    use clap::Parser;

    #[derive(Parser)]
    struct Settings {
        #[command(flatten)]
        config: usergraph::Config,
    }

    tracing_subscriber::fmt().init();
    let settings = Settings::parse();
    let bind_addr = settings.config.bind_addr;
    let outcome = async {
        let state = usergraph::prepare(settings.config).await?;
        // The change-feed poller keeps the session cache honest.
        let _tasks = usergraph::tasks::Tasks::start(&state.app).await?;
        let listener = tokio::net::TcpListener::bind(bind_addr)
            .await
            .map_err(usergraph::AppError::internal)?;
        tracing::info!("dashboard example listening on http://{bind_addr}/graphql");
        axum::serve(listener, router(state.app))
            .await
            .map_err(usergraph::AppError::internal)
    }
    .await;
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
