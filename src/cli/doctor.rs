//! `usergraph doctor`: check what a server needs before it is started (the
//! settings, the database and its migrations, Redis, the signing keys, mail), one
//! line per check, so an operator sees every problem at once instead of
//! the first one start-up stops at. Reads only: it applies no migration and
//! creates no signing key (`serve` does both).
//!
//! Exit status: 0 when every check passed, 1 otherwise.

use std::time::Duration;

use sea_orm::DatabaseConnection;

use crate::auth::keys;
use crate::config::{Config, SigningAlgorithm};
use crate::mail::Mailer;
use crate::ratelimit::RateLimiter;
use crate::services::health::{self, Check, timed};

/// How long each check may take.
const BOUND: Duration = Duration::from_secs(5);

/// Run every check, print one line each; `true` when all passed.
pub async fn run(config: &Config) -> bool {
    let mut checks = vec![settings(config)];
    let database = crate::db::connect_sized(config, 1).await;
    match &database {
        Ok(db) => {
            checks.push(timed("database", BOUND, database_answers(db)).await);
            checks.push(timed("migrations", BOUND, health::migrations(db)).await);
        }
        Err(error) => checks.push(failed("database", error.to_string())),
    }
    checks.push(redis(config).await);
    checks.push(match &database {
        Ok(db) => timed("signing keys", BOUND, signing_keys(db, config)).await,
        Err(_) => failed("signing keys", "not checked: no database".to_owned()),
    });
    checks.push(mail(config).await);
    if let Ok(db) = database {
        let _ = db.close().await;
    }
    for check in &checks {
        println!("{}", line(check));
    }
    checks.iter().all(Check::is_ok)
}

fn failed(name: &'static str, reason: String) -> Check {
    Check {
        name,
        outcome: Err(reason),
        latency: Duration::ZERO,
    }
}

/// `ok    database      answers (3 ms)` or `FAIL  redis  <reason>`.
fn line(check: &Check) -> String {
    let (mark, text) = match &check.outcome {
        Ok(detail) => ("ok  ", detail),
        Err(reason) => ("FAIL", reason),
    };
    let latency = if check.latency.is_zero() {
        String::new()
    } else {
        format!(" ({} ms)", check.latency.as_millis())
    };
    format!("{mark}  {:<13} {text}{latency}", check.name)
}

/// Settings that parse can still be unusable together.
fn settings(config: &Config) -> Check {
    let outcome = keys::hmac_secret(config)
        .map(|_| {
            format!(
                "parsed; JWT_ALGORITHM={}, BIND_ADDR={}, public URL {}",
                config.jwt_algorithm.name(),
                config.bind_addr,
                config.public_url()
            )
        })
        .map_err(|error| error.to_string());
    Check {
        name: "settings",
        outcome,
        latency: Duration::ZERO,
    }
}

/// SMTP answers (connect, EHLO, STARTTLS and login as configured), or the
/// file mailbox is usable.
async fn mail(config: &Config) -> Check {
    match Mailer::from_config(config) {
        Ok(mailer) => timed("mail", BOUND, async move { mailer.check().await }).await,
        Err(error) => failed("mail", error.to_string()),
    }
}

async fn database_answers(db: &DatabaseConnection) -> Result<String, String> {
    health::database(db)
        .await
        .map(|_| format!("{:?} answers", db.get_database_backend()))
}

async fn redis(config: &Config) -> Check {
    let limiter = match RateLimiter::from_config(&config.limits) {
        Ok(limiter) => limiter,
        Err(error) => return failed("redis", error.to_string()),
    };
    match health::redis_check(&limiter, BOUND).await {
        Some(check) => check,
        None => Check {
            name: "redis",
            outcome: Ok("not configured: rate-limit counters stay in memory".to_owned()),
            latency: Duration::ZERO,
        },
    }
}

/// The stored keys load and one of `JWT_ALGORITHM` is active; none yet is
/// fine (the first `serve` creates it).
async fn signing_keys(db: &DatabaseConnection, config: &Config) -> Result<String, String> {
    if config.jwt_algorithm == SigningAlgorithm::HS256 {
        return Ok("HS256 with JWT_SECRET".to_owned());
    }
    let stored = keys::all(db).await.map_err(|error| error.to_string())?;
    if stored.is_empty() {
        return Ok("none stored yet: `usergraph serve` creates the first".to_owned());
    }
    let set = keys::load(db, config)
        .await
        .map_err(|error| format!("stored keys do not load: {error}"))?;
    let signing = set.signing();
    let wanted = keys::jose_algorithm(config.jwt_algorithm);
    if signing.algorithm == wanted {
        Ok(format!(
            "active {} key {} ({} stored)",
            config.jwt_algorithm.name(),
            signing.kid,
            stored.len()
        ))
    } else {
        Ok(format!(
            "active key {} is {:?}; `usergraph serve` starts a {} key",
            signing.kid,
            signing.algorithm,
            config.jwt_algorithm.name()
        ))
    }
}
