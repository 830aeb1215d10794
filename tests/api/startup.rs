//! Start-up against a database that cannot be used: the binary stops within
//! five seconds with one line naming the driver's reason, the password
//! hidden, instead of waiting for the pool's "timed out". (A wrong password
//! cannot be provoked honestly against the test PostgreSQL, which trusts
//! loopback; an unknown role is the authentication failure it does give.)

use std::process::Output;
use std::time::{Duration, Instant};

use crate::cli::{stderr_of, usergraph};

/// Run `usergraph migrate` on `url`; returns the output and how long it took.
fn start_on(url: &str) -> (Output, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let output = usergraph(dir.path())
        .env("DATABASE_URL", url)
        .env("JWT_SECRET", crate::common::TEST_SECRET)
        .arg("serve")
        .env("BIND_ADDR", "127.0.0.1:0")
        .output()
        .unwrap();
    (output, started.elapsed())
}

/// Failed within `limit`, with exactly one line on stderr that names
/// `cause`, shows no password and no panic.
#[track_caller]
fn assert_fails_with(url: &str, cause: &str, limit: Duration) {
    let (output, took) = start_on(url);
    let stderr = stderr_of(&output);
    assert!(!output.status.success(), "{url} should fail: {stderr}");
    assert!(took < limit, "{url}: took {took:?}: {stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    let line = lines[0];
    assert!(line.contains("cannot connect to the database"), "{line}");
    assert!(line.contains(cause), "expected `{cause}` in: {line}");
    assert!(!line.contains("hunter2"), "password shown: {line}");
    assert!(!line.to_lowercase().contains("pool timed out"), "{line}");
}

/// The PostgreSQL server of the tests, as `host:port`, when there is one.
fn test_postgres() -> Option<String> {
    let url = std::env::var("TEST_DATABASE_URL").ok()?;
    let rest = url.split_once('@')?.1;
    Some(rest.split('/').next()?.to_owned())
}

const QUICK: Duration = Duration::from_secs(5);

#[test]
fn a_refused_connection_is_named() {
    assert_fails_with(
        "postgres://app:hunter2@127.0.0.1:1/usergraph",
        "Connection refused",
        QUICK,
    );
}

#[test]
fn an_unknown_host_is_named() {
    assert_fails_with(
        "postgres://app:hunter2@no-such-host.invalid:5432/usergraph",
        "lookup",
        QUICK,
    );
}

#[test]
fn a_missing_database_and_an_unknown_role_are_named() {
    let Some(server) = test_postgres() else {
        return;
    };
    assert_fails_with(
        &format!("postgres://postgres:hunter2@{server}/usergraph_no_such_database"),
        "database \"usergraph_no_such_database\" does not exist",
        QUICK,
    );
    assert_fails_with(
        &format!("postgres://usergraph_no_such_role:hunter2@{server}/postgres"),
        "role \"usergraph_no_such_role\" does not exist",
        QUICK,
    );
}

#[test]
fn an_unopenable_sqlite_file_is_named() {
    assert_fails_with(
        "sqlite:///no/such/folder/usergraph.db?mode=rwc",
        "unable to open database file",
        QUICK,
    );
}

/// A server that accepts the connection and then says nothing: the start
/// gives up after five seconds, and says so.
#[test]
fn a_silent_server_is_given_up_on_after_five_seconds() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = silent.local_addr().unwrap();
    assert_fails_with(
        &format!("postgres://app:hunter2@{address}/usergraph"),
        "no answer within 5s",
        Duration::from_secs(8),
    );
    drop(silent);
}
