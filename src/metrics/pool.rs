//! The request pool as a scrape sees it: connections open, idle and the
//! most allowed, read from sqlx, and how long taking a connection takes now.
//!
//! Why a probe rather than a count of waiters: sqlx (0.9) keeps its waiters
//! in a private semaphore and exposes no count, its `before_acquire` hook
//! only runs once a connection is found, and SeaORM acquires a connection
//! inside every statement, out of our reach. So each scrape takes a
//! connection itself, as a request would, and reports how long that took:
//! about zero while a connection is free, and about what requests are
//! waiting when they queue for one. No query is sent on it, and one scrape
//! probes at a time (`Metrics::render`), so a flood of scrapes adds one
//! waiter at most.

use std::time::{Duration, Instant};

use sea_orm::{DatabaseConnection, DbBackend};

/// The longest a scrape waits for its probe connection; the probe then
/// reports this (it stays under Prometheus' default scrape timeout).
pub const ACQUIRE_PROBE_LIMIT: Duration = Duration::from_secs(1);

/// `(open connections, idle ones, largest size)` of the pool.
pub fn state(db: &DatabaseConnection) -> (u64, u64, u64) {
    let as_u64 = |value: usize| u64::try_from(value).unwrap_or(u64::MAX);
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (
                u64::from(pool.size()),
                as_u64(pool.num_idle()),
                u64::from(pool.options().get_max_connections()),
            )
        }
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (
                u64::from(pool.size()),
                as_u64(pool.num_idle()),
                u64::from(pool.options().get_max_connections()),
            )
        }
        _ => (0, 0, 0),
    }
}

/// How long taking a connection from the pool took now, at most
/// [`ACQUIRE_PROBE_LIMIT`]; the connection goes straight back.
pub async fn acquire_wait(db: &DatabaseConnection) -> Duration {
    let started = Instant::now();
    let acquired = match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            tokio::time::timeout(ACQUIRE_PROBE_LIMIT, pool.acquire())
                .await
                .map(|connection| connection.is_ok())
        }
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            tokio::time::timeout(ACQUIRE_PROBE_LIMIT, pool.acquire())
                .await
                .map(|connection| connection.is_ok())
        }
        _ => Ok(true),
    };
    match acquired {
        Ok(true) => started.elapsed().min(ACQUIRE_PROBE_LIMIT),
        // A pool that times out or fails to connect is as good as full.
        Ok(false) | Err(_) => ACQUIRE_PROBE_LIMIT,
    }
}
