//! The `usergraph` binary: sub-commands, start-up errors, a real listener.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::json;

use crate::common::{Backend, PASSWORD, TestApp};

const SETTINGS: [&str; 13] = [
    "DATABASE_URL",
    "DATABASE_MAX_CONNECTIONS",
    "BIND_ADDR",
    "JWT_SECRET",
    "JWT_ALGORITHM",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "PUBLIC_URL",
    "ACCESS_TOKEN_TTL",
    "REFRESH_TOKEN_TTL",
    "BCRYPT_COST",
    "COOKIE_SECURE",
    "RUST_LOG",
];

/// The binary in a fresh directory, with none of the caller's settings.
pub fn usergraph(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_usergraph"));
    command.current_dir(dir).env("BCRYPT_COST", "4");
    for setting in SETTINGS.iter().filter(|setting| **setting != "BCRYPT_COST") {
        command.env_remove(setting);
    }
    command
}

pub fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[track_caller]
fn assert_clean_failure(output: &Output, expected: &str) {
    let stderr = stderr_of(output);
    assert!(!output.status.success(), "should fail: {stderr}");
    assert!(
        stderr.contains(expected),
        "expected `{expected}` in: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "no panic trace: {stderr}");
}

#[test]
fn export_schema_prints_the_sdl() {
    let dir = tempfile::tempdir().unwrap();
    let output = usergraph(dir.path()).arg("export-schema").output().unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        usergraph::graphql::export_sdl()
    );
}

#[test]
fn invalid_settings_stop_start_up_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let output = usergraph(dir.path())
        .env("ACCESS_TOKEN_TTL", "soon")
        .arg("migrate")
        .output()
        .unwrap();
    assert_clean_failure(&output, "soon");

    let output = usergraph(dir.path())
        .env(
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/postgres",
        )
        .env("JWT_ALGORITHM", "HS256")
        .arg("serve")
        .output()
        .unwrap();
    assert_clean_failure(&output, "JWT_SECRET must be set");

    let output = usergraph(dir.path())
        .env("JWT_SECRET", "too-short")
        .arg("serve")
        .output()
        .unwrap();
    assert_clean_failure(&output, "at least 32");

    let output = usergraph(dir.path())
        .env("DATABASE_URL", "postgres://nobody:secret@127.0.0.1:1/none")
        .env("JWT_SECRET", crate::common::TEST_SECRET)
        .arg("serve")
        .output()
        .unwrap();
    assert_clean_failure(&output, "cannot connect to the database");
    assert!(!stderr_of(&output).contains("secret@"), "password redacted");

    let output = usergraph(dir.path())
        .env("DATABASE_URL", "mysql2://x")
        .arg("migrate")
        .output()
        .unwrap();
    assert_clean_failure(&output, "cannot connect to the database");
}

#[test]
fn migrate_runs_alone_and_twice() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let output = usergraph(dir.path()).arg("migrate").output().unwrap();
        assert!(output.status.success(), "{}", stderr_of(&output));
        assert!(String::from_utf8_lossy(&output.stdout).contains("migrations applied"));
    }
    assert!(
        dir.path().join("usergraph.db").exists(),
        "default database file created"
    );
}

#[tokio::test]
async fn create_superuser_reads_the_password_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("admin.db");
    let url = format!("sqlite://{}?mode=rwc", database.display());
    let mut child = usergraph(dir.path())
        .env("DATABASE_URL", &url)
        .env("JWT_SECRET", crate::common::TEST_SECRET)
        .args([
            "create-superuser",
            "--username",
            "root",
            "--email",
            "Root@Example.com",
            "--name",
            "Root Admin",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));

    let config = {
        let mut config = usergraph::Config::for_database(&url);
        config.jwt_secret = Some(crate::common::TEST_SECRET.to_owned());
        config
    };
    let state = usergraph::prepare(config).await.unwrap();
    let limits = usergraph::ratelimit::RequestLimits::from_request_data(None);
    let actor = usergraph::services::write::Actor::system();
    let session = usergraph::services::sessions::login(
        &state.app,
        &actor,
        &limits,
        "root@example.com",
        PASSWORD,
    )
    .await
    .unwrap();
    assert!(session.user.is_superuser);
    assert_eq!(session.user.email, "root@example.com");

    // A weak password is refused with the registration rules.
    let mut child = usergraph(dir.path())
        .env("DATABASE_URL", &url)
        .env("JWT_SECRET", crate::common::TEST_SECRET)
        .args([
            "create-superuser",
            "--username",
            "root2",
            "--email",
            "r2@example.com",
            "--name",
            "Root Two",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"weak\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert_clean_failure(&output, "password must be at least 8 characters");
}

/// `usergraph serve` on a real port: first answer well within a second of
/// start-up on the embedded default, GraphQL reachable over TCP.
#[test]
fn serve_answers_on_a_real_listener() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut child = usergraph(dir.path())
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "usergraph=info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let address = loop {
        let line = lines.next().expect("server logs its address").unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let health = http_request(
        &address,
        "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let startup = started.elapsed();
    let body = json!({ "query": "{ me { id } }" }).to_string();
    let graphql = http_request(
        &address,
        &format!(
            "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    let _ = child.kill();
    let _ = child.wait();
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(graphql.contains("UNAUTHENTICATED"), "{graphql}");
    assert!(
        !dir.path().join("usergraph.db.jwt-secret").exists(),
        "EdDSA keys live in the database: no secret file"
    );
    let listed = usergraph(dir.path())
        .args(["keys", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(
        listed.contains("EdDSA") && listed.contains("active"),
        "{listed}"
    );
    let rotated = usergraph(dir.path())
        .args(["keys", "rotate"])
        .output()
        .unwrap();
    assert!(rotated.status.success(), "{}", stderr_of(&rotated));
    let listed = usergraph(dir.path())
        .args(["keys", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert_eq!(
        listed.lines().count(),
        3,
        "a heading and two keys: {listed}"
    );
    assert_eq!(listed.matches(" active").count(), 1, "{listed}");
    assert_eq!(listed.matches(" retired").count(), 1, "{listed}");
    eprintln!("start-up to first answer: {startup:?}");
}

pub fn http_request(address: &str, request: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// Two instances migrating one fresh PostgreSQL database at once: both
/// succeed and every migration is recorded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_on_postgres_apply_once() {
    let Some(app) = TestApp::start(Backend::Postgres).await else {
        return;
    };
    // Start from an empty schema in the test's own database.
    let url = app.database_url();
    let db = Database::connect(&url).await.unwrap();
    db.execute_unprepared("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        .await
        .unwrap();
    let mut config = usergraph::Config::for_database(&url);
    config.jwt_secret = Some(crate::common::TEST_SECRET.to_owned());
    let instances = (0..3).map(|_| {
        let config = config.clone();
        tokio::spawn(async move {
            let db = usergraph::db::connect(&config).await?;
            usergraph::db::migrate(&db).await
        })
    });
    for outcome in futures::future::join_all(instances).await {
        outcome.unwrap().unwrap();
    }
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT COUNT(*) AS n FROM seaql_migrations",
        ))
        .await
        .unwrap()
        .unwrap();
    let recorded: i64 = row.try_get("", "n").unwrap();
    let expected = <migration::Migrator as migration::MigratorTrait>::migrations().len();
    assert_eq!(usize::try_from(recorded).unwrap(), expected);
    db.close().await.unwrap();
}

/// A started `usergraph serve` and the address it logged.
pub struct Running {
    pub child: std::process::Child,
    pub address: String,
    /// The rest of its stderr, line by line, read on a thread.
    pub log: std::sync::mpsc::Receiver<String>,
}

impl Running {
    /// Start `command` (on `BIND_ADDR=127.0.0.1:0`) and wait for the line
    /// naming its address.
    pub fn start(mut command: Command) -> Self {
        let sets_log_filter = command
            .get_envs()
            .any(|(name, value)| name == "RUST_LOG" && value.is_some());
        if !sets_log_filter {
            command.env("RUST_LOG", "usergraph=info");
        }
        let mut child = command
            .env("BIND_ADDR", "127.0.0.1:0")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (sender, log) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let address = loop {
            let line = log
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the server logs its address");
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        Self {
            child,
            address,
            log,
        }
    }

    /// Wait up to `limit` for the process to exit; its status and the log
    /// lines it wrote since start-up.
    pub fn wait_for_exit(&mut self, limit: Duration) -> (std::process::ExitStatus, Vec<String>) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "still running after {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut lines = Vec::new();
        while let Ok(line) = self.log.recv_timeout(Duration::from_millis(500)) {
            lines.push(line);
        }
        (status, lines)
    }

    /// Send SIGTERM.
    pub fn terminate(&self) {
        let pid = rustix::process::Pid::from_raw(i32::try_from(self.child.id()).unwrap()).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
