//! Connecting to the database and bringing its schema up to date.
//!
//! SQLite runs in WAL mode with a busy timeout so concurrent writers queue
//! instead of failing with "database is locked", and with a real pool (SeaORM
//! defaults SQLite to one connection). On PostgreSQL, migrations run inside a
//! transaction holding an advisory lock, so instances starting together apply
//! each migration once.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use prometheus_client::metrics::counter::Counter;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, TransactionTrait,
};

use crate::config::Config;
use crate::error::{AppError, AppResult};

pub mod arg;
pub mod direct;
pub mod inline;

/// Arbitrary, fixed key of the advisory lock that serialises migrations.
const MIGRATION_LOCK_KEY: i64 = 0x7573_6572_6772_6170;

/// How many SQL statements this process has sent: the benchmark reports it
/// per request and tests prove batched loading with it. It is also
/// `usergraph_sql_statements_total` of `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct StatementCounter(Counter);

impl StatementCounter {
    #[must_use]
    pub fn get(&self) -> u64 {
        self.0.get()
    }

    /// Count one statement sent around SeaORM (see `direct`).
    pub fn record(&self) {
        self.0.inc();
    }

    /// The counter itself, for the metrics registry.
    #[must_use]
    pub fn counter(&self) -> Counter {
        self.0.clone()
    }
}

/// Open the pool and count every statement sent through it.
pub async fn connect_counted(config: &Config) -> AppResult<(DatabaseConnection, StatementCounter)> {
    let mut db = connect(config).await?;
    let counter = StatementCounter::default();
    let inner = counter.0.clone();
    db.set_metric_callback(move |_| {
        inner.inc();
    });
    Ok((db, counter))
}

pub async fn connect(config: &Config) -> AppResult<DatabaseConnection> {
    connect_sized(config, config.pool_size()).await
}

/// A pool of at most `size` connections.
pub async fn connect_sized(config: &Config, size: u32) -> AppResult<DatabaseConnection> {
    probe(config).await?;
    connect_more(config, size).await
}

/// A further pool of at most `size` connections, for a process whose main
/// pool is already connected: no probe first (on PostgreSQL over TLS each
/// connection took about 100 ms of start-up on the benchmark's machine).
pub async fn connect_more(config: &Config, size: u32) -> AppResult<DatabaseConnection> {
    Database::connect(pool_options(config, size))
        .await
        .map_err(|error| cannot_connect(config, &error))
}

/// On PostgreSQL, a pool for the hand-written hot reads (`direct`) whose
/// sessions always use the generic plan of a prepared statement.
///
/// PostgreSQL plans a prepared statement afresh on each run while the
/// generic plan looks dearer than the custom ones so far; for a page with
/// a bound OFFSET it assumes a tenth of the table is skipped, so past a few
/// thousand users every page was planned again, each time. The generic
/// plans of these statements are the custom ones (an index scan, whatever
/// the values), and with them a page of 10 over 100,000 users ran 1.6
/// times as often (docs/performance.md, issue 16). Every other statement
/// keeps PostgreSQL's choice: for a filter such as `is_deleted = $1`, the
/// value decides between an index and a scan.
///
/// Lazy: it connects on its first read. Half the main pool's size, at
/// least 2.
pub async fn connect_generic_reads(config: &Config) -> AppResult<Option<sea_orm::sqlx::PgPool>> {
    if config.is_sqlite() {
        return Ok(None);
    }
    let mut options = pool_options(config, (config.pool_size() / 2).max(2));
    options
        .min_connections(0)
        .connect_lazy(true)
        .map_sqlx_postgres_opts(|postgres| {
            postgres.options([("plan_cache_mode", "force_generic_plan")])
        });
    let db = Database::connect(options)
        .await
        .map_err(|error| cannot_connect(config, &error))?;
    Ok(Some(db.get_postgres_connection_pool().clone()))
}

fn pool_options(config: &Config, size: u32) -> ConnectOptions {
    let mut options = ConnectOptions::new(config.database_url.clone());
    options
        .max_connections(size)
        .min_connections(1)
        .connect_timeout(CONNECT_TIMEOUT)
        .acquire_timeout(Duration::from_secs(10))
        // sqlx pings every connection it hands out by default: one more
        // round trip (on SQLite, one more hand-off to the connection's worker
        // thread) before every statement. Only connections that sat idle
        // long enough to have gone stale are checked.
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        .sqlx_logging(false);
    if config.is_sqlite() {
        options.map_sqlx_sqlite_opts(|sqlite| {
            sqlite
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // Half SQLite's default page cache: each pooled connection
                // has its own, they all count in the server's memory, and a
                // deep page reads more of the table than either would hold
                // (the operating system's cache serves it either way).
                .pragma("cache_size", SQLITE_CACHE_SIZE)
        });
    }
    options
}

/// Each pooled SQLite connection's page cache (negative: in KiB).
const SQLITE_CACHE_SIZE: &str = "-1024";

/// The longest a first connection may take at start-up before the server
/// gives up and says so.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One connection made directly with the driver, before the pool is built.
/// The pool retries a failing connection until its acquire timeout and
/// then reports only "pool timed out"; a single attempt reports the
/// driver's own reason (refused, unknown host, no such database, bad
/// password, unreadable file) within [`CONNECT_TIMEOUT`].
async fn probe(config: &Config) -> AppResult<()> {
    use sea_orm::sqlx::{Connection, PgConnection, SqliteConnection};
    use std::str::FromStr;

    let url = config.database_url.as_str();
    let attempt = async {
        if config.is_sqlite() {
            let options =
                sea_orm::sqlx::sqlite::SqliteConnectOptions::from_str(url)?.create_if_missing(true);
            SqliteConnection::connect_with(&options)
                .await?
                .close()
                .await
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            PgConnection::connect(url).await?.close().await
        } else {
            // Left to the pool, which names the unsupported scheme.
            Ok(())
        }
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(cannot_connect(config, &error)),
        Err(_) => Err(cannot_connect(
            config,
            &format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()),
        )),
    }
}

/// One line naming the database (its password hidden) and the cause.
fn cannot_connect(config: &Config, cause: &dyn std::fmt::Display) -> AppError {
    // A driver's message may span lines (PostgreSQL's detail and hint).
    let mut cause = cause.to_string().replace(['\n', '\r'], " ");
    if let Some(password) = password(&config.database_url) {
        cause = cause.replace(password, "***");
    }
    AppError::Config(format!(
        "cannot connect to the database at DATABASE_URL ({}): {cause}",
        redact(&config.database_url)
    ))
}

/// Apply every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> AppResult<()> {
    let failed = |error: sea_orm::DbErr| AppError::Config(format!("migration failed: {error}"));
    if db.get_database_backend() == DbBackend::Postgres {
        let transaction = db.begin().await.map_err(failed)?;
        transaction
            .execute_unprepared(&format!(
                "SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"
            ))
            .await
            .map_err(failed)?;
        Migrator::up(&transaction, None).await.map_err(failed)?;
        transaction.commit().await.map_err(failed)?;
    } else {
        Migrator::up(db, None).await.map_err(failed)?;
    }
    Ok(())
}

/// The password in a URL's credentials, if there is one.
fn password(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let (credentials, _) = rest.rsplit_once('@')?;
    let (_, password) = credentials.split_once(':')?;
    (!password.is_empty()).then_some(password)
}

/// The URL without its password, for messages.
#[must_use]
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            super::redact("postgres://app:hunter2@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(super::redact("sqlite://a.db"), "sqlite://a.db");
        assert_eq!(
            super::password("postgres://app:hunter2@db/x"),
            Some("hunter2")
        );
        assert_eq!(super::password("postgres://app@db/x"), None);
    }
}
