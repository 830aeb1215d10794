//! The database a benchmark run owns: a SQLite file in a temporary folder,
//! or a PostgreSQL database created for the run and dropped after it.

use std::path::PathBuf;

use sea_orm::{ConnectionTrait, Database};

use crate::scenarios::{Backend, Options};

/// A database for one backend: its URL and how to clean it up.
pub struct BenchDatabase {
    pub url: String,
    cleanup: Option<(String, String)>,
    _dir: Option<PathBuf>,
}

impl BenchDatabase {
    pub async fn create(options: &Options, backend: Backend) -> Result<Self, String> {
        match backend {
            Backend::Sqlite => {
                let dir =
                    std::env::temp_dir().join(format!("usergraph-bench-{}", std::process::id()));
                let _ = std::fs::remove_dir_all(&dir);
                std::fs::create_dir_all(&dir).map_err(|error| error.to_string())?;
                Ok(Self {
                    url: format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()),
                    cleanup: None,
                    _dir: Some(dir),
                })
            }
            Backend::Postgres => {
                let name = format!("usergraph_bench_{}", std::process::id());
                let admin = Database::connect(&options.postgres)
                    .await
                    .map_err(|error| format!("BENCH_DATABASE_URL: {error}"))?;
                let _ = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .map_err(|error| error.to_string())?;
                let _ = admin.close().await;
                let base = options
                    .postgres
                    .split('?')
                    .next()
                    .unwrap_or(&options.postgres);
                let prefix = base.rsplit_once('/').map_or(base, |(prefix, _)| prefix);
                Ok(Self {
                    url: format!("{prefix}/{name}"),
                    cleanup: Some((options.postgres.clone(), name)),
                    _dir: None,
                })
            }
        }
    }

    pub async fn drop_it(self) {
        if let Some((admin_url, name)) = &self.cleanup
            && let Ok(admin) = Database::connect(admin_url).await
        {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
            let _ = admin.close().await;
        }
        if let Some(dir) = &self._dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
