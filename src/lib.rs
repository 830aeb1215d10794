//! usergraph: a self-hostable user-management backend with a GraphQL API.
//!
//! The crate is both the `usergraph` binary and a library, so applications
//! can mount the router or extend the schema.

/// Passwords, tokens, the current caller and guards.
pub mod auth;
/// The command line: `serve`, `migrate`, `create-superuser`, `export-schema`,
/// `keys`, `import-users`, `doctor`.
pub mod cli;
/// Every setting, its default and its meaning.
pub mod config;
/// Connecting and migrating.
pub mod db;
/// SeaORM entities: the tables.
pub mod entities;
/// The one error type and its GraphQL codes.
pub mod error;
/// The GraphQL schema and its resolvers.
pub mod graphql;
/// Routes and the request handler.
pub mod http;
/// Mail: messages, templates, SMTP and the file mailbox.
pub mod mail;
/// What `/metrics` counts.
pub mod metrics;
/// IP addresses and networks, shared by settings and the rate limiter.
pub mod net;
/// Rate limits per root field, per login target and per IP, in memory or Redis.
pub mod ratelimit;
/// The domain rules as plain functions.
pub mod services;
/// The shared context of every request.
pub mod state;
/// Background work: the outbox worker, the change-feed poller and listener,
/// purging, signing-key reloads.
pub mod tasks;
/// Log lines and OpenTelemetry traces.
pub mod telemetry;
/// Sending webhooks: the HTTP client, signatures, which URLs may be called.
pub mod webhooks;

use std::time::Duration;

use axum::Router;

pub use crate::config::Config;
pub use crate::error::{AppError, AppResult};
pub use crate::http::AppState;
pub use crate::state::AppContext;

/// Longest wait, after SIGTERM and the last response, for background tasks
/// to finish the step they are in.
const TASKS_GRACE: Duration = Duration::from_secs(5);

/// Connect, migrate, and load the signing keys (creating the first one):
/// everything a server needs before it can answer. Starts no background work: `serve` does that
/// ([`tasks::Tasks::start`]), and command-line commands need none.
pub async fn prepare(config: Config) -> AppResult<AppState> {
    let hmac_secret = auth::keys::hmac_secret(&config)?;
    let limiter = ratelimit::RateLimiter::from_config(&config.limits)?;
    let (db, sql_statements) = db::connect_counted(&config).await?;
    db::migrate(&db).await?;
    let keys = auth::keys::prepare(&db, &config, hmac_secret).await?;
    let templates = mail::Templates::load(config.mail.templates_dir.as_deref())?;
    let generic_reads = db::connect_generic_reads(&config).await?;
    let app = AppContext::new(db, sql_statements, config, keys)
        .with_generic_reads(generic_reads)
        .with_limiter(limiter)
        .with_templates(templates);
    Ok(AppState::new(app))
}

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    http::router(state)
}

/// Serve until Ctrl-C or SIGTERM, then stop in order: stop accepting
/// connections, let the requests in flight finish (for up to
/// `SHUTDOWN_GRACE`, after which they are cut off), stop the background
/// tasks between two steps, and return, so the process exits 0.
pub async fn serve(config: Config) -> AppResult<()> {
    let bind_addr = config.bind_addr;
    let grace = config.shutdown_grace;
    let state = prepare(config).await?;
    let tasks = tasks::Tasks::start(&state.app).await?;
    let listener = tokio::net::TcpListener::bind(bind_addr)
        .await
        .map_err(|error| AppError::Config(format!("cannot listen on {bind_addr}: {error}")))?;
    let local_addr = listener.local_addr().unwrap_or(bind_addr);
    tracing::info!(
        "usergraph listening on http://{local_addr} (GraphQL and playground at /graphql)"
    );
    let stopping = tokio_util::sync::CancellationToken::new();
    let signalled = stopping.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!(
            ?grace,
            "shutting down: no new connections; finishing requests in flight"
        );
        signalled.cancel();
    });
    let server = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(stopping.clone().cancelled_owned());
    let cut_off = async {
        stopping.cancelled().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        served = server => {
            served.map_err(|error| AppError::internal(format!("server: {error}")))?;
        }
        () = cut_off => {
            tracing::warn!(?grace, "requests still running after SHUTDOWN_GRACE; cutting them off");
        }
    }
    tasks.shutdown(TASKS_GRACE).await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
