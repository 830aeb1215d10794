//! The database each test runs on: a copy of one migrated template, so no
//! test pays for the migrations (on PostgreSQL they were most of a test's
//! set-up).
//!
//! The template is named after a hash of the migrations, their names and
//! source text: later runs reuse it, and a new or edited migration gets a
//! template of its own. PostgreSQL clones it with `CREATE DATABASE …
//! TEMPLATE`; SQLite copies the file. `usergraph::prepare` still migrates
//! each copy, and finds nothing to do.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
};
use sha2::{Digest, Sha256};
use usergraph::Config;

/// A test's own database, removed when the test ends, even when it fails.
pub enum TestDatabase {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        admin_url: String,
        name: String,
    },
    /// Another instance's view of a database that the first one owns.
    Borrowed,
}

impl TestDatabase {
    /// A copy of the SQLite template in a directory of its own; its URL.
    pub fn sqlite() -> (String, Self) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("test.db");
        std::fs::copy(sqlite_template(), &path).expect("copy the SQLite template");
        (sqlite_url(&path), Self::Sqlite(dir))
    }

    /// A clone of the PostgreSQL template on the server of `admin_url`; its
    /// URL.
    pub async fn postgres(admin_url: String) -> (String, Self) {
        let template = postgres_template(&admin_url);
        let name = format!("usergraph_test_{}", uuid::Uuid::new_v4().simple());
        let admin = connect_admin(&admin_url).await;
        let create = format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"");
        let mut attempt = 0;
        while let Err(error) = admin.execute_unprepared(&create).await {
            attempt += 1;
            let message = error.to_string();
            if message.contains("does not exist") && attempt < 3 {
                // A run on other migrations dropped it as stale: build it again.
                build_postgres_template(&admin_url, template, false).await;
            } else if message.contains("being accessed by other users") && attempt < 50 {
                // The template builder's last session is still ending.
                tokio::time::sleep(Duration::from_millis(100)).await;
            } else {
                panic!("cannot create a test database from {template}: {message}");
            }
        }
        let _ = admin.close().await;
        let url = database_url(&admin_url, &name);
        (url, Self::Postgres { admin_url, name })
    }
}

/// An empty PostgreSQL database of its own on the server of `admin_url`
/// (for a foreign schema, such as the one an import reads), dropped at the
/// end like a test's database.
pub async fn empty_postgres(admin_url: String, purpose: &str) -> (String, TestDatabase) {
    let name = format!("{purpose}_{}", uuid::Uuid::new_v4().simple());
    let admin = connect_admin(&admin_url).await;
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create a scratch database");
    let _ = admin.close().await;
    let url = database_url(&admin_url, &name);
    (url, TestDatabase::Postgres { admin_url, name })
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Self::Postgres { admin_url, name } = self else {
            return;
        };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        on_own_runtime(async move {
            if let Ok(admin) = Database::connect(&admin_url).await {
                let _ = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await;
                let _ = admin.close().await;
            }
        });
    }
}

/// Run `work` on a thread with a runtime of its own: callers are inside a
/// test's runtime (each test has one), which they must not block on itself.
fn on_own_runtime<T: Send + 'static>(work: impl Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(work)
    })
    .join()
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// The first 16 hex digits of a hash over every migration's name and source
/// file: the source too, so that editing a migration in place (as one does
/// before it is released) cannot leave an outdated template in use.
fn migrations_key() -> String {
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("migration/src");
    let mut hash = Sha256::new();
    for migration in Migrator::get_migration_files() {
        let name = migration.name();
        hash.update(name.as_bytes());
        hash.update(std::fs::read(sources.join(format!("{name}.rs"))).unwrap_or_default());
    }
    format!("{:x}", hash.finalize())[..16].to_owned()
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// The migrated SQLite file, under cargo's directory for test files, built
/// by the first test of the first run that needs it.
fn sqlite_template() -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("usergraph-template-{}.db", migrations_key()));
        if !path.exists() {
            let target = path.clone();
            on_own_runtime(async move { build_sqlite_template(&target).await });
        }
        path
    })
}

/// Migrate a file of its own and rename it into place: a run started
/// meanwhile sees no template or a complete one, never half of one.
async fn build_sqlite_template(path: &Path) {
    let building = path.with_extension(format!("{}.building", uuid::Uuid::new_v4().simple()));
    // One connection: closing it checkpoints the WAL into the file.
    let config = Config::for_database(&sqlite_url(&building));
    let db = usergraph::db::connect_sized(&config, 1)
        .await
        .expect("create the SQLite template");
    usergraph::db::migrate(&db)
        .await
        .expect("migrate the SQLite template");
    db.close().await.expect("close the SQLite template");
    let wal = PathBuf::from(format!("{}-wal", building.display()));
    assert!(
        std::fs::metadata(&wal).map_or(true, |wal| wal.len() == 0),
        "the template's WAL was not checkpointed: {}",
        wal.display()
    );
    for leftover in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{leftover}", building.display()));
    }
    std::fs::rename(&building, path).expect("move the SQLite template into place");
}

/// Arbitrary, fixed key of the advisory lock under which templates are
/// built and old ones dropped (not the server's migration lock).
const TEMPLATE_LOCK_KEY: i64 = 0x7573_6572_7465_7374;

/// The migrated template's name, built (or checked) once per test process.
fn postgres_template(admin_url: &str) -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let name = format!("usergraph_template_{}", migrations_key());
        let (admin_url, template) = (admin_url.to_owned(), name.clone());
        on_own_runtime(async move { build_postgres_template(&admin_url, &template, true).await });
        name
    })
}

/// Make sure `template` exists, migrated, unless another run already made
/// it. Only a finished template refuses connections: one that accepts them
/// was left half-built by a run that died, and is built again. With
/// `drop_stale`, templates of other migrations are dropped when nobody is
/// connected to them; a run still using one builds it again (above).
async fn build_postgres_template(admin_url: &str, template: &str, drop_stale: bool) {
    let admin = connect_admin(admin_url).await;
    let run = |sql: String| {
        let admin = &admin;
        async move {
            admin
                .execute_unprepared(&sql)
                .await
                .unwrap_or_else(|error| panic!("{sql}: {error}"));
        }
    };
    run(format!("SELECT pg_advisory_lock({TEMPLATE_LOCK_KEY})")).await;
    let found = admin
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT datallowconn FROM pg_database WHERE datname = $1",
            [template.into()],
        ))
        .await
        .expect("look the template up");
    let open = found.map(|row| {
        row.try_get::<bool>("", "datallowconn")
            .expect("datallowconn")
    });
    if open != Some(false) {
        if open == Some(true) {
            run(format!(
                "DROP DATABASE IF EXISTS \"{template}\" WITH (FORCE)"
            ))
            .await;
        }
        run(format!("CREATE DATABASE \"{template}\"")).await;
        let config = Config::for_database(&database_url(admin_url, template));
        let db = usergraph::db::connect_sized(&config, 1)
            .await
            .expect("connect to the template");
        usergraph::db::migrate(&db)
            .await
            .expect("migrate the template");
        db.close().await.expect("close the template");
        run(format!(
            "ALTER DATABASE \"{template}\" ALLOW_CONNECTIONS false"
        ))
        .await;
    }
    if drop_stale {
        let stale = admin
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT datname FROM pg_database WHERE datname LIKE 'usergraph\\_template\\_%' AND datname <> $1",
                [template.into()],
            ))
            .await
            .expect("list old templates");
        for row in stale {
            let name: String = row.try_get("", "datname").expect("datname");
            // Without FORCE: fails, and is left alone, while anyone is connected.
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\""))
                .await;
        }
    }
    run(format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK_KEY})")).await;
    let _ = admin.close().await;
}

/// One connection to the server's maintenance database: session-level
/// advisory locks need every statement on the same session.
async fn connect_admin(admin_url: &str) -> DatabaseConnection {
    let mut options = ConnectOptions::new(admin_url.to_owned());
    options
        .max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    Database::connect(options)
        .await
        .expect("TEST_DATABASE_URL reachable")
}

/// `admin_url` pointing at the database `name` instead.
fn database_url(admin_url: &str, name: &str) -> String {
    let base = admin_url.split('?').next().unwrap_or(admin_url);
    let prefix = base.rsplit_once('/').map_or(base, |(prefix, _)| prefix);
    format!("{prefix}/{name}")
}
