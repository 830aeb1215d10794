//! What every request shares: the database pool, the settings, the token
//! keys, the password hasher, the session cache, the rate limiter and the
//! mail templates and the metrics. Cheap to clone.

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use crate::auth::keys::KeySet;
use crate::auth::password::formats::HashPolicy;
use crate::auth::{PasswordHasher, SessionCache, TokenKeys};
use crate::config::Config;
use crate::db::StatementCounter;
use crate::db::direct::{Direct, ReadRoutes, Via};
use crate::db::inline::InlineReads;
use crate::mail::Templates;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::services::audit_feed::AuditFeed;

#[derive(Clone)]
pub struct AppContext {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub tokens: Arc<TokenKeys>,
    pub passwords: Arc<PasswordHasher>,
    /// Sessions already checked against the database; see `auth::session_cache`.
    pub sessions: Arc<SessionCache>,
    pub sql_statements: StatementCounter,
    pub limiter: Arc<RateLimiter>,
    /// The mail templates (built in, or overridden by `MAIL_TEMPLATES_DIR`).
    pub templates: Arc<Templates>,
    /// Woken when a write on this instance adds outbox jobs, so the worker
    /// runs them at once instead of at its next poll.
    pub outbox_wakeup: Arc<Notify>,
    /// What `/metrics` reports.
    pub metrics: Arc<Metrics>,
    /// New audit events for this instance's GraphQL subscriptions.
    pub audit_feed: Arc<AuditFeed>,
    /// Where the hot reads go (`db::direct`): their own connections to
    /// the SQLite file (`db::inline`; none in memory or with
    /// `SQLITE_INLINE_READS=false`), or PostgreSQL sessions with generic
    /// plans.
    pub read_routes: ReadRoutes,
}

impl AppContext {
    #[must_use]
    pub fn new(
        db: DatabaseConnection,
        sql_statements: StatementCounter,
        config: Config,
        keys: KeySet,
    ) -> Self {
        let tokens = TokenKeys::new(keys, &config);
        let passwords = PasswordHasher::new(HashPolicy::from_config(&config));
        let sessions = Arc::new(SessionCache::new(
            config.session_cache_size,
            config.session_cache_ttl,
            config.change_poll_interval,
        ));
        let inline_reads = config
            .sqlite_file()
            .filter(|_| config.sqlite_inline_reads)
            .map(|file| Arc::new(InlineReads::new(file)));
        let metrics = Arc::new(Metrics::new(
            sql_statements.counter(),
            passwords.queue(),
            Arc::clone(&sessions),
            inline_reads.as_deref(),
        ));
        Self {
            db,
            read_routes: ReadRoutes {
                inline: inline_reads,
                generic: None,
            },
            config: Arc::new(config),
            tokens: Arc::new(tokens),
            passwords: Arc::new(passwords),
            sessions,
            sql_statements,
            limiter: Arc::new(RateLimiter::in_memory()),
            templates: Arc::new(Templates::built_in()),
            outbox_wakeup: Arc::new(Notify::new()),
            metrics,
            audit_feed: Arc::new(AuditFeed::new()),
        }
    }

    /// Where the hand-written hot reads run: straight on the pool when it
    /// is SQLite's or PostgreSQL's (see `db::direct`), on an SQLite file
    /// first on the request's own thread (`db::inline`).
    #[must_use]
    pub fn reads(&self) -> Via<'_, DatabaseConnection> {
        Direct::of(&self.db, &self.sql_statements, &self.read_routes)
            .map_or(Via::Orm(&self.db), Via::Pool)
    }

    /// Use `limiter` (e.g. one backed by Redis) instead of the in-memory one.
    #[must_use]
    pub fn with_limiter(mut self, limiter: RateLimiter) -> Self {
        self.limiter = Arc::new(limiter);
        self
    }

    /// Send PostgreSQL's hot reads to `pool` (`db::connect_generic_reads`).
    #[must_use]
    pub fn with_generic_reads(mut self, pool: Option<sea_orm::sqlx::PgPool>) -> Self {
        self.read_routes.generic = pool;
        self
    }

    /// Use `templates` instead of the built-in mail templates.
    #[must_use]
    pub fn with_templates(mut self, templates: Templates) -> Self {
        self.templates = Arc::new(templates);
        self
    }
}
