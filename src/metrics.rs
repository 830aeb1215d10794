//! What the server counts for `GET /metrics`, in Prometheus' text format
//! through `prometheus-client`: GraphQL requests by operation and outcome
//! code with their latency, login outcomes, rate-limit refusals by root
//! field, operations answered by compiled plans, session-cache hits and
//! misses, how far behind the change feed
//! this instance is, the password-hashing queue, the database pool (see
//! [`pool`] for why it reports an acquire time rather than waiters), the
//! outbox's backlog, build info.
//!
//! Label values are bounded, since each new one is a series kept forever:
//! root fields and codes come from the schema; operation names come from
//! clients, so only the first [`MAX_OPERATION_NAMES`] distinct ones (each
//! cut to 64 characters) get a series of their own, the rest count as
//! `other`.

mod pool;

use std::collections::HashSet;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use sea_orm::DatabaseConnection;

use crate::auth::SessionCache;
use crate::auth::password::HashingQueue;
use crate::db::inline::InlineReads;

/// Distinct operation names that get a series of their own.
pub const MAX_OPERATION_NAMES: usize = 200;
const MAX_OPERATION_NAME_CHARS: usize = 64;

type Labels<const N: usize> = [(&'static str, String); N];

/// How a login attempt ended (`usergraph_logins_total{outcome}`).
#[derive(Debug, Clone, Copy)]
pub enum LoginOutcome {
    Success,
    /// Wrong password, unknown account or an account out of attempts: the
    /// same answer to the client, one outcome here.
    InvalidCredentials,
    /// Refused by the client's or the identifier's login limit.
    Limited,
    Error,
}

impl LoginOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Limited => "limited",
            Self::Error => "error",
        }
    }
}

pub struct Metrics {
    registry: Registry,
    requests: Family<Labels<2>, Counter>,
    compiled_answers: Counter,
    latency: Family<Labels<1>, Histogram, fn() -> Histogram>,
    logins: Family<Labels<1>, Counter>,
    refusals: Family<Labels<1>, Counter>,
    session_cache: Family<Labels<1>, Counter>,
    pool: Family<Labels<1>, Gauge>,
    pool_acquire_wait: Gauge<f64, AtomicU64>,
    /// Held by the scrape probing the pool: scrapes at the same time report
    /// its last figure instead of queueing more waiters on a busy pool.
    probing: tokio::sync::Mutex<()>,
    /// The lag gauge and the cache whose polls it reports; `None` when the
    /// session cache is off, since no change feed is followed then.
    change_feed_lag: Option<(Gauge<f64, AtomicU64>, Arc<SessionCache>)>,
    created: Instant,
    outbox_jobs: Gauge,
    outbox_oldest_age: Gauge,
    operation_names: Mutex<HashSet<String>>,
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

impl Metrics {
    /// The registry, with `sql_statements` (counted by the pool) in it and
    /// the change-feed lag of `sessions`.
    #[must_use]
    pub fn new(
        sql_statements: Counter,
        hashing: HashingQueue,
        sessions: Arc<SessionCache>,
        inline_reads: Option<&InlineReads>,
    ) -> Self {
        let mut registry = Registry::with_prefix("usergraph");
        if let Some(inline) = inline_reads {
            registry.register(
                "sqlite_inline_reads",
                "Hot reads (a profile, a page of users) run on the request's own thread through a read-only SQLite connection",
                inline.served.clone(),
            );
            registry.register(
                "sqlite_inline_reads_declined",
                "Hot reads an inline SQLite connection gave back to the pool (busy, unreadable or a value it does not decode); a few are normal, a steady stream is worth a look",
                inline.declined.clone(),
            );
        }
        registry.register(
            "hashing_waiting",
            "Password hashes and checks waiting for a hashing thread now",
            hashing.waiting,
        );
        registry.register(
            "hashing_wait_seconds",
            "How long each password hash or check waited for a hashing thread",
            hashing.wait_seconds,
        );
        let requests = Family::<Labels<2>, Counter>::default();
        registry.register(
            "graphql_requests",
            "GraphQL operations run, by operation name and outcome code (OK when no error)",
            requests.clone(),
        );
        let compiled_answers = Counter::default();
        registry.register(
            "graphql_compiled_answers",
            "GraphQL operations answered by a compiled plan rather than the executor",
            compiled_answers.clone(),
        );
        let latency = Family::<Labels<1>, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "graphql_request_duration_seconds",
            "Time to answer a GraphQL HTTP request, by operation name (batch for a batch)",
            latency.clone(),
        );
        let logins = Family::<Labels<1>, Counter>::default();
        registry.register("logins", "Login attempts by outcome", logins.clone());
        let refusals = Family::<Labels<1>, Counter>::default();
        registry.register(
            "rate_limit_refusals",
            "Calls refused by a rate limit, by root field",
            refusals.clone(),
        );
        let session_cache = Family::<Labels<1>, Counter>::default();
        registry.register(
            "session_cache_lookups",
            "Access-token checks answered from the session cache (hit) or the database (miss)",
            session_cache.clone(),
        );
        let pool = Family::<Labels<1>, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database pool connections: in_use, idle, max",
            pool.clone(),
        );
        let pool_acquire_wait = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "db_pool_acquire_wait_seconds",
            "How long this scrape waited to take a connection from the request pool (at most 1): about 0 while connections are free, about what requests wait when they queue for one (sqlx does not count its waiters)",
            pool_acquire_wait.clone(),
        );
        let change_feed_lag = sessions.is_enabled().then(|| {
            let lag = Gauge::<f64, AtomicU64>::default();
            registry.register(
                "change_feed_lag_seconds",
                "Time since the start of this instance's last successful read of the change feed: logouts and user changes made on other instances reach its session cache within this. Normally under CHANGE_POLL_INTERVAL; past 4 intervals (at least 2 s) the cache stops answering and every request reads the database",
                lag.clone(),
            );
            (lag, sessions)
        });
        let outbox_jobs = Gauge::default();
        registry.register(
            "outbox_jobs",
            "Outbox jobs (mail, webhook deliveries) waiting to be done, failed ones excluded; read by each instance's worker at every poll",
            outbox_jobs.clone(),
        );
        let outbox_oldest_age = Gauge::default();
        registry.register(
            "outbox_oldest_job_age_seconds",
            "Age of the oldest waiting outbox job (0 when none waits)",
            outbox_oldest_age.clone(),
        );
        registry.register(
            "sql_statements",
            "SQL statements sent to the database",
            sql_statements,
        );
        registry.register(
            "build",
            "The running build",
            Info::new([("version", env!("CARGO_PKG_VERSION"))]),
        );
        Self {
            registry,
            requests,
            compiled_answers,
            latency,
            logins,
            refusals,
            session_cache,
            pool,
            pool_acquire_wait,
            probing: tokio::sync::Mutex::new(()),
            change_feed_lag,
            created: Instant::now(),
            outbox_jobs,
            outbox_oldest_age,
            operation_names: Mutex::new(HashSet::new()),
        }
    }

    /// The label for a client-chosen operation name (see the module doc).
    fn operation_label(&self, name: Option<&str>) -> String {
        let Some(name) = name.filter(|name| !name.is_empty()) else {
            return "anonymous".to_owned();
        };
        let name: String = name.chars().take(MAX_OPERATION_NAME_CHARS).collect();
        let Ok(mut known) = self.operation_names.lock() else {
            return "other".to_owned();
        };
        if known.contains(&name) {
            return name;
        }
        if known.len() < MAX_OPERATION_NAMES {
            known.insert(name.clone());
            return name;
        }
        "other".to_owned()
    }

    /// One operation ran and ended with `code` (`OK` without errors).
    pub fn graphql_operation(&self, operation: Option<&str>, code: &str) {
        let operation = self.operation_label(operation);
        self.requests
            .get_or_create(&[("operation", operation), ("code", code.to_owned())])
            .inc();
    }

    /// A compiled plan answered one operation (see `graphql::compiled`).
    pub fn compiled_answer(&self) {
        self.compiled_answers.inc();
    }

    /// One GraphQL HTTP request was answered after `elapsed`.
    pub fn graphql_latency(&self, operation: Option<&str>, elapsed: Duration) {
        let operation = self.operation_label(operation);
        self.latency
            .get_or_create(&[("operation", operation)])
            .observe(elapsed.as_secs_f64());
    }

    pub fn login(&self, outcome: LoginOutcome) {
        self.logins
            .get_or_create(&[("outcome", outcome.label().to_owned())])
            .inc();
    }

    /// A call of root field `field` was refused by a rate limit.
    pub fn rate_limit_refusal(&self, field: &str) {
        self.refusals
            .get_or_create(&[("field", field.to_owned())])
            .inc();
    }

    pub fn session_cache_lookup(&self, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.session_cache
            .get_or_create(&[("result", result.to_owned())])
            .inc();
    }

    /// The outbox as its worker last saw it: `waiting` jobs, the oldest
    /// waiting for `oldest_age`.
    pub fn outbox_backlog(&self, waiting: u64, oldest_age: Duration) {
        self.outbox_jobs
            .set(i64::try_from(waiting).unwrap_or(i64::MAX));
        self.outbox_oldest_age
            .set(i64::try_from(oldest_age.as_secs()).unwrap_or(i64::MAX));
    }

    /// The whole text, with the pool and the change-feed lag read now.
    pub async fn render(&self, db: &DatabaseConnection) -> String {
        // The state first: the probe holds a connection for a moment.
        let (size, idle, max) = pool::state(db);
        let gauge = |state: &str, value: u64| {
            self.pool
                .get_or_create(&[("state", state.to_owned())])
                .set(i64::try_from(value).unwrap_or(i64::MAX));
        };
        gauge("in_use", size.saturating_sub(idle));
        gauge("idle", idle);
        gauge("max", max);
        if let Ok(_probing) = self.probing.try_lock() {
            let acquire_wait = pool::acquire_wait(db).await;
            self.pool_acquire_wait.set(acquire_wait.as_secs_f64());
        }
        if let Some((lag, sessions)) = &self.change_feed_lag {
            // Before the first successful read (never, once `serve` has
            // started), the whole life of the process.
            let since = sessions.synced_at().unwrap_or(self.created);
            lag.set(since.elapsed().as_secs_f64());
        }
        let mut text = String::new();
        if encode(&mut text, &self.registry).is_err() {
            tracing::warn!("could not encode the metrics");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_chosen_operation_names_are_bounded() {
        let hasher = crate::auth::PasswordHasher::new(
            crate::auth::password::formats::HashPolicy::from_config(
                &crate::config::Config::defaults(),
            ),
        );
        let sessions = SessionCache::new(0, Duration::from_secs(1), Duration::from_secs(1));
        let metrics = Metrics::new(Counter::default(), hasher.queue(), Arc::new(sessions), None);
        for index in 0..MAX_OPERATION_NAMES + 10 {
            metrics.graphql_operation(Some(&format!("Op{index}")), "OK");
        }
        metrics.graphql_operation(Some(&"x".repeat(500)), "OK");
        metrics.graphql_operation(None, "OK");
        let mut text = String::new();
        encode(&mut text, &metrics.registry).expect("encodes");
        let series = text
            .lines()
            .filter(|line| line.starts_with("usergraph_graphql_requests_total{"))
            .count();
        assert_eq!(
            series,
            MAX_OPERATION_NAMES + 2,
            "the named, other, anonymous"
        );
        assert!(
            text.contains(r#"operation="other",code="OK"} 11"#),
            "{text}"
        );
        assert!(text.contains(r#"operation="Op0""#));
        assert!(!text.contains(&"x".repeat(65)));
    }
}
