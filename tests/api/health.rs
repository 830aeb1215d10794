//! Probes over a real listener: `/health/live` answers while the process
//! runs; `/health/ready` names each check (database, migrations, Redis when
//! configured) with its latency and says 503 while one fails; `/health`
//! keeps its plain `ok`.

use sea_orm::{ConnectionTrait, Statement};
use serde_json::Value;

use crate::common::{Backend, RedisPrefix, TestApp, wire_get};

#[track_caller]
fn assert_check(body: &Value, name: &str, status: &str) {
    let check = &body["checks"][name];
    assert_eq!(check["status"], status, "{name}: {body}");
    let latency = check["latencyMs"].as_f64().expect("a latency in ms");
    assert!((0.0..5_000.0).contains(&latency), "{name}: {body}");
}

async fn ready_and_live(app: TestApp) {
    let address = app.listen().await;
    let live = wire_get(&address, "/health/live", &[]).await;
    assert_eq!(live.status, 200, "{}", live.text);
    assert_eq!(live.json()["status"], "live");

    let ready = wire_get(&address, "/health/ready", &[]).await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert!(
        ready
            .header("content-type")
            .unwrap_or_default()
            .contains("json")
    );
    let body = ready.json();
    assert_eq!(body["status"], "ready", "{body}");
    assert_check(&body, "database", "ok");
    assert_check(&body, "migrations", "ok");
    assert!(
        body["checks"].get("redis").is_none(),
        "no Redis configured: {body}"
    );

    let plain = wire_get(&address, "/health", &[]).await;
    assert_eq!((plain.status, plain.text.as_str()), (200, "ok"));
}

/// A migration this build knows but the database lacks: not ready, and
/// the body says which check failed (the reason goes to the log only).
async fn a_missing_migration_makes_the_instance_not_ready(app: TestApp) {
    let address = app.listen().await;
    let last = <migration::Migrator as migration::MigratorTrait>::migrations()
        .last()
        .map(|migration| migration.name().to_owned())
        .unwrap();
    let backend = app.app.db.get_database_backend();
    app.app
        .db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DbBackend::Postgres => "DELETE FROM seaql_migrations WHERE version = $1",
                _ => "DELETE FROM seaql_migrations WHERE version = ?",
            },
            [last.clone().into()],
        ))
        .await
        .unwrap();
    let ready = wire_get(&address, "/health/ready", &[]).await;
    assert_eq!(ready.status, 503, "{}", ready.text);
    let body = ready.json();
    assert_eq!(body["status"], "not ready");
    assert_check(&body, "database", "ok");
    assert_check(&body, "migrations", "failed");
    assert!(
        !ready.text.contains(&last),
        "reasons stay in the log: {body}"
    );
    // Live is about the process, not its dependencies.
    assert_eq!(wire_get(&address, "/health/live", &[]).await.status, 200);
}

async fn a_closed_pool_is_not_ready(app: TestApp) {
    let address = app.listen().await;
    app.app.db.clone().close().await.unwrap();
    let ready = wire_get(&address, "/health/ready", &[]).await;
    assert_eq!(ready.status, 503, "{}", ready.text);
    let body = ready.json();
    assert_check(&body, "database", "failed");
    assert_eq!(wire_get(&address, "/health", &[]).await.status, 503);
    assert_eq!(wire_get(&address, "/health/live", &[]).await.status, 200);
}

crate::on_both_backends!(
    ready_and_live,
    a_missing_migration_makes_the_instance_not_ready,
    a_closed_pool_is_not_ready,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_is_checked_when_configured() {
    let Some(redis) = RedisPrefix::new() else {
        return;
    };
    let app = TestApp::start_with(Backend::Sqlite, |config| redis.configure(config))
        .await
        .unwrap();
    let address = app.listen().await;
    let ready = wire_get(&address, "/health/ready", &[]).await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert_check(&ready.json(), "redis", "ok");

    // A Redis nobody listens on: the database is fine, the instance is not
    // ready, and the probe still answers within its bound.
    let down = TestApp::start_with(Backend::Sqlite, |config| {
        config.limits.redis_url = Some("redis://127.0.0.1:1".to_owned());
        config.health_timeout = std::time::Duration::from_millis(500);
    })
    .await
    .unwrap();
    let address = down.listen().await;
    let started = std::time::Instant::now();
    let ready = wire_get(&address, "/health/ready", &[]).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    assert_eq!(ready.status, 503, "{}", ready.text);
    let body = ready.json();
    assert_check(&body, "redis", "failed");
    assert_check(&body, "database", "ok");
}
