//! SIGTERM, through the real binary: no new connection is accepted, the
//! request in flight is finished and answered, background tasks stop, and
//! the process exits 0; a request outliving `SHUTDOWN_GRACE` is cut off.
//! And `LOG_FORMAT=json`: every line one JSON object, the request id in it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cli::{Running, usergraph};

/// A `POST /graphql` whose body is sent only up to `split` bytes: the
/// server has the request and waits for the rest.
fn half_sent_request(address: &str, query: &str) -> (TcpStream, Vec<u8>) {
    let body = json!({ "query": query }).to_string();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(first).unwrap();
    stream.flush().unwrap();
    (stream, rest.to_vec())
}

#[test]
fn sigterm_finishes_the_request_in_flight_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Running::start(usergraph(dir.path()));
    let (mut in_flight, rest) = half_sent_request(&server.address, "query Flight { __typename }");
    std::thread::sleep(Duration::from_millis(300));
    server.terminate();
    std::thread::sleep(Duration::from_millis(500));

    // Stopped accepting: a new connection is refused...
    assert!(
        TcpStream::connect(&server.address).is_err(),
        "a new connection was accepted after SIGTERM"
    );
    // ...but the request in flight is still answered, in full.
    in_flight.write_all(&rest).unwrap();
    let mut answer = String::new();
    in_flight.read_to_string(&mut answer).unwrap();
    let reply = crate::common::parse_wire_reply(answer.as_bytes());
    assert_eq!(reply.status, 200, "{answer}");
    assert_eq!(reply.json()["data"]["__typename"], "Query", "{answer}");

    let (status, log) = server.wait_for_exit(Duration::from_secs(10));
    assert!(status.success(), "exit {status:?}: {log:?}");
    let log = log.join("\n");
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("stopped"), "{log}");
    assert!(!log.contains("cutting them off"), "{log}");
}

#[test]
fn a_request_outliving_the_grace_is_cut_off_and_the_exit_is_still_clean() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = usergraph(dir.path());
    command.env("SHUTDOWN_GRACE", "1s");
    let mut server = Running::start(command);
    let (_stuck, _never_sent) = half_sent_request(&server.address, "{ __typename }");
    std::thread::sleep(Duration::from_millis(300));
    let signalled = Instant::now();
    server.terminate();
    let (status, log) = server.wait_for_exit(Duration::from_secs(10));
    let took = signalled.elapsed();
    assert!(status.success(), "exit {status:?}: {log:?}");
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(5),
        "exited {took:?} after SIGTERM"
    );
    assert!(log.join("\n").contains("cutting them off"), "{log:?}");
}

#[test]
fn json_logs_are_one_object_per_line_with_the_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = usergraph(dir.path());
    command
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "usergraph=info,usergraph::access=debug");
    let mut server = Running::start(command);
    let body = json!({ "query": "query Hello { __typename }" }).to_string();
    let answer = crate::cli::http_request(
        &server.address,
        &format!(
            "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    let reply = crate::common::parse_wire_reply(answer.as_bytes());
    let request_id = reply.header("x-request-id").unwrap().to_owned();
    server.terminate();
    let (status, lines) = server.wait_for_exit(Duration::from_secs(10));
    assert!(status.success());
    let objects: Vec<Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let access = objects
        .iter()
        .find(|object| object["target"] == "usergraph::access")
        .unwrap_or_else(|| panic!("no access line in {lines:?}"));
    assert_eq!(access["operation"], "Hello", "{access}");
    assert_eq!(access["code"], "OK", "{access}");
    assert!(access["latency_ms"].as_f64().is_some(), "{access}");
    assert_eq!(
        access["span"]["request_id"],
        request_id.as_str(),
        "{access}"
    );
    assert!(
        objects.iter().any(|object| object["message"] == "stopped"),
        "{lines:?}"
    );
}
