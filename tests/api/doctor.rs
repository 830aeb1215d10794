//! `usergraph --version` and `usergraph doctor`, run as the binary: one
//! line per check, exit 1 when one fails, nothing changed.

use std::process::Output;

use crate::cli::{stderr_of, usergraph};

fn stdout_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The line of `check`, e.g. `ok    database      Sqlite answers (1 ms)`.
#[track_caller]
fn line_of<'a>(stdout: &'a str, check: &str) -> &'a str {
    stdout
        .lines()
        .find(|line| line.get(6..).is_some_and(|rest| rest.starts_with(check)))
        .unwrap_or_else(|| panic!("no `{check}` line in:\n{stdout}"))
}

#[test]
fn version_names_the_package_version() {
    let dir = tempfile::tempdir().unwrap();
    let output = usergraph(dir.path()).arg("--version").output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert_eq!(
        stdout_of(&output).trim(),
        format!("usergraph {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn doctor_finds_pending_migrations_then_passes_once_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let before = usergraph(dir.path()).arg("doctor").output().unwrap();
    let stdout = stdout_of(&before);
    assert!(!before.status.success(), "{stdout}");
    assert!(
        line_of(&stdout, "migrations").starts_with("FAIL"),
        "{stdout}"
    );
    assert!(
        line_of(&stdout, "migrations").contains("usergraph migrate"),
        "{stdout}"
    );
    assert!(line_of(&stdout, "settings").starts_with("ok"), "{stdout}");
    assert!(line_of(&stdout, "database").starts_with("ok"), "{stdout}");

    let migrated = usergraph(dir.path()).arg("migrate").output().unwrap();
    assert!(migrated.status.success(), "{}", stderr_of(&migrated));
    let after = usergraph(dir.path()).arg("doctor").output().unwrap();
    let stdout = stdout_of(&after);
    assert!(after.status.success(), "{stdout}{}", stderr_of(&after));
    for check in [
        "settings",
        "database",
        "migrations",
        "redis",
        "signing keys",
        "mail",
    ] {
        assert!(
            line_of(&stdout, check).starts_with("ok"),
            "{check}: {stdout}"
        );
    }
    assert_eq!(stdout.lines().count(), 6, "one line per check: {stdout}");
    assert!(
        line_of(&stdout, "signing keys").contains("serve` creates"),
        "{stdout}"
    );
    // Doctor created no key: still none after a second look.
    let again = stdout_of(&usergraph(dir.path()).arg("doctor").output().unwrap());
    assert!(
        line_of(&again, "signing keys").contains("none stored yet"),
        "{again}"
    );
}

#[test]
fn doctor_reports_every_failing_dependency_on_its_own_line() {
    let dir = tempfile::tempdir().unwrap();
    let output = usergraph(dir.path())
        .env(
            "DATABASE_URL",
            "postgres://app:hunter2@127.0.0.1:1/usergraph",
        )
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .env("REDIS_TIMEOUT", "300ms")
        .arg("doctor")
        .output()
        .unwrap();
    let stdout = stdout_of(&output);
    assert!(!output.status.success(), "{stdout}");
    let database = line_of(&stdout, "database");
    assert!(
        database.starts_with("FAIL") && database.contains("Connection refused"),
        "{stdout}"
    );
    assert!(!stdout.contains("hunter2"), "{stdout}");
    assert!(line_of(&stdout, "redis").starts_with("FAIL"), "{stdout}");
    assert!(
        line_of(&stdout, "signing keys").starts_with("FAIL"),
        "{stdout}"
    );
    assert!(line_of(&stdout, "settings").starts_with("ok"), "{stdout}");

    let short_secret = usergraph(dir.path())
        .env("JWT_SECRET", "too-short")
        .arg("doctor")
        .output()
        .unwrap();
    let stdout = stdout_of(&short_secret);
    assert!(!short_secret.status.success());
    assert!(line_of(&stdout, "settings").starts_with("FAIL"), "{stdout}");
    assert!(line_of(&stdout, "settings").contains("32"), "{stdout}");
}

/// Mail: the SMTP server answers (a real one on loopback), or it does not
/// and the line names it; without `SMTP_URL` the file mailbox is named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_checks_the_mail_server() {
    let dir = tempfile::tempdir().unwrap();
    let migrated = usergraph(dir.path()).arg("migrate").output().unwrap();
    assert!(migrated.status.success());
    let sink = crate::smtp_sink::SmtpSink::start().await;
    let (url, dir_path) = (sink.url(), dir.path().to_owned());
    let up = tokio::task::spawn_blocking(move || {
        usergraph(&dir_path)
            .env("SMTP_URL", url)
            .arg("doctor")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = stdout_of(&up);
    assert!(up.status.success(), "{stdout}");
    let line = line_of(&stdout, "mail");
    assert!(
        line.starts_with("ok") && line.contains("answers"),
        "{stdout}"
    );
    assert!(sink.messages().is_empty(), "nothing is sent");

    let closed = crate::smtp_sink::smtp_url(crate::smtp_sink::closed_port());
    let dir_path = dir.path().to_owned();
    let down = tokio::task::spawn_blocking(move || {
        usergraph(&dir_path)
            .env("SMTP_URL", closed)
            .arg("doctor")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = stdout_of(&down);
    assert!(!down.status.success(), "{stdout}");
    assert!(line_of(&stdout, "mail").starts_with("FAIL"), "{stdout}");

    let files = usergraph(dir.path()).arg("doctor").output().unwrap();
    let stdout = stdout_of(&files);
    assert!(
        line_of(&stdout, "mail").contains("written as files"),
        "{stdout}"
    );
}
