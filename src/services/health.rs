//! Whether this instance can do its work: the database answers, its schema
//! is migrated, Redis answers when one is configured. Shared by
//! `/health/ready` and `usergraph doctor`, each check timed and bounded so
//! a hung dependency makes the answer "not ready", never a hung probe.

use std::collections::HashSet;
use std::future::Future;
use std::time::{Duration, Instant};

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::ratelimit::RateLimiter;
use crate::state::AppContext;

/// One check's outcome.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    /// `Err` holds the reason, for the operator (logs, `doctor`).
    pub outcome: Result<String, String>,
    pub latency: Duration,
}

impl Check {
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.outcome.is_ok()
    }
}

/// Run `probe` within `bound`, timing it.
pub async fn timed(
    name: &'static str,
    bound: Duration,
    probe: impl Future<Output = Result<String, String>>,
) -> Check {
    let started = Instant::now();
    let outcome = match tokio::time::timeout(bound, probe).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!("no answer within {bound:?}")),
    };
    Check {
        name,
        outcome,
        latency: started.elapsed(),
    }
}

/// The readiness checks of a running instance, run side by side.
pub async fn readiness(app: &AppContext, bound: Duration) -> Vec<Check> {
    let (database, migrations, redis) = tokio::join!(
        timed("database", bound, database(&app.db)),
        timed("migrations", bound, migrations(&app.db)),
        redis_check(&app.limiter, bound),
    );
    [Some(database), Some(migrations), redis]
        .into_iter()
        .flatten()
        .collect()
}

/// One real statement through the pool.
pub async fn database(db: &DatabaseConnection) -> Result<String, String> {
    let probe = Statement::from_string(db.get_database_backend(), "SELECT 1");
    db.query_one_raw(probe)
        .await
        .map(|_| "answers".to_owned())
        .map_err(|error| error.to_string())
}

/// Every migration this build knows is applied. Migrations recorded by a
/// newer build are not an error: during a rolling upgrade the old
/// instances keep serving the (compatible) schema.
pub async fn migrations(db: &DatabaseConnection) -> Result<String, String> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT version FROM seaql_migrations",
        ))
        .await
        .map_err(|error| {
            format!("cannot read seaql_migrations (run `usergraph migrate`): {error}")
        })?;
    let applied: HashSet<String> = rows
        .iter()
        .filter_map(|row| row.try_get::<String>("", "version").ok())
        .collect();
    let known = Migrator::migrations();
    let pending: Vec<String> = known
        .iter()
        .map(|migration| migration.name().to_owned())
        .filter(|name| !applied.contains(name))
        .collect();
    if pending.is_empty() {
        Ok(format!("{} applied", known.len()))
    } else {
        Err(format!(
            "{} pending: {} (run `usergraph migrate`)",
            pending.len(),
            pending.join(", ")
        ))
    }
}

/// `PING` to Redis; `None` when no Redis is configured.
pub async fn redis_check(limiter: &RateLimiter, bound: Duration) -> Option<Check> {
    if !limiter.has_store() {
        return None;
    }
    Some(
        timed("redis", bound, async {
            match limiter.ping_store().await {
                Some(Ok(())) | None => Ok("answers".to_owned()),
                Some(Err(error)) => Err(error),
            }
        })
        .await,
    )
}
