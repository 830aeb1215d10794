//! OpenTelemetry traces through the real binary to a real OTLP/HTTP
//! receiver on loopback: one `graphql` span per request with its operation
//! name and request id, in the trace the caller's `traceparent` named, sent
//! at the latest when SIGTERM stops the server; spans of slow resolvers
//! under it; and the same over HTTPS to a collector trusted through
//! `OTEL_EXPORTER_OTLP_CERTIFICATE`.

use std::time::Duration;

use serde_json::json;

use crate::cli::{Running, http_request, usergraph};
use crate::otlp::{OtlpReceiver, attribute};

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).unwrap())
        .collect()
}

#[test]
fn each_request_is_a_span_in_the_callers_trace() {
    let collector = OtlpReceiver::start();
    let dir = tempfile::tempdir().unwrap();
    let mut command = usergraph(dir.path());
    command.env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint);
    let mut server = Running::start(command);

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_span = "00f067aa0ba902b7";
    let body = json!({ "query": "query TracedHello { __typename }" }).to_string();
    let answer = http_request(
        &server.address,
        &format!(
            "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             traceparent: 00-{trace_id}-{parent_span}-01\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    let reply = crate::common::parse_wire_reply(answer.as_bytes());
    assert_eq!(reply.status, 200, "{answer}");
    let request_id = reply.header("x-request-id").unwrap().to_owned();

    server.terminate();
    let (status, log) = server.wait_for_exit(Duration::from_secs(15));
    assert!(status.success(), "{log:?}");
    let exports = collector.received(Duration::from_secs(2));
    assert!(
        !exports.is_empty(),
        "nothing reached the collector: {log:?}"
    );
    assert!(
        exports.iter().all(|(path, _)| path == "/v1/traces"),
        "{exports:?}"
    );
    let span = exports
        .iter()
        .map(|(_, body)| body)
        .find(|body| contains(body, b"TracedHello"))
        .expect("a span naming the operation");
    assert!(contains(span, b"graphql"), "the span is named graphql");
    assert!(
        contains(span, request_id.as_bytes()),
        "the request id is an attribute"
    );
    assert!(contains(span, b"usergraph"), "the service name");
    assert!(
        contains(span, &hex_bytes(trace_id)),
        "the span is in the caller's trace"
    );
    assert!(
        contains(span, &hex_bytes(parent_span)),
        "the caller's span is its parent"
    );
}

/// Start the binary exporting to `collector` with `settings`, send one
/// `query Slow { usernameAvailable }`, stop it, and return every span the
/// collector received.
fn spans_of_one_request(
    collector: &OtlpReceiver,
    settings: &[(&str, &str)],
) -> Vec<opentelemetry_proto::tonic::trace::v1::Span> {
    let dir = tempfile::tempdir().unwrap();
    let mut command = usergraph(dir.path());
    command.env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint);
    for (name, value) in settings {
        command.env(name, value);
    }
    let mut server = Running::start(command);
    let body =
        json!({ "query": r#"query Slow { usernameAvailable(username: "nobody") }"# }).to_string();
    let answer = http_request(
        &server.address,
        &format!(
            "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    let reply = crate::common::parse_wire_reply(answer.as_bytes());
    assert_eq!(reply.status, 200, "{answer}");
    server.terminate();
    let (status, log) = server.wait_for_exit(Duration::from_secs(15));
    assert!(status.success(), "{log:?}");
    collector.spans(Duration::from_secs(2))
}

#[test]
fn resolvers_over_the_threshold_are_spans_under_the_request() {
    let collector = OtlpReceiver::start();
    let spans = spans_of_one_request(&collector, &[("OTEL_RESOLVER_SPAN_THRESHOLD", "0ms")]);
    let request = spans
        .iter()
        .find(|span| span.name == "graphql" && attribute(span, "operation") == Some("Slow"))
        .unwrap_or_else(|| panic!("no request span in {spans:?}"));
    let resolver = spans
        .iter()
        .find(|span| span.name == "Query.usernameAvailable")
        .unwrap_or_else(|| panic!("no resolver span in {spans:?}"));
    assert_eq!(
        resolver.trace_id, request.trace_id,
        "in the request's trace"
    );
    assert_eq!(
        resolver.parent_span_id, request.span_id,
        "a child of the request span"
    );
    assert_eq!(
        attribute(resolver, "graphql.field.path"),
        Some("usernameAvailable")
    );
    assert_eq!(
        attribute(resolver, "graphql.field.parent_type"),
        Some("Query")
    );
    assert!(resolver.start_time_unix_nano >= request.start_time_unix_nano);
    assert!(resolver.end_time_unix_nano <= request.end_time_unix_nano);
    assert!(resolver.end_time_unix_nano >= resolver.start_time_unix_nano);

    // Under a threshold no field reaches, the request span goes alone.
    let collector = OtlpReceiver::start();
    let spans = spans_of_one_request(&collector, &[("OTEL_RESOLVER_SPAN_THRESHOLD", "1h")]);
    assert!(spans.iter().any(|span| span.name == "graphql"), "{spans:?}");
    assert!(
        spans
            .iter()
            .all(|span| span.name != "Query.usernameAvailable"),
        "{spans:?}"
    );
}

#[test]
fn traces_reach_an_https_collector_whose_authority_is_trusted() {
    let (collector, authority) = OtlpReceiver::start_tls();
    assert!(collector.endpoint.starts_with("https://"));
    // Its certificate is signed by an authority nobody trusts yet: the
    // handshake fails and nothing arrives.
    let spans = spans_of_one_request(&collector, &[]);
    assert!(spans.is_empty(), "{spans:?}");

    let dir = tempfile::tempdir().unwrap();
    let authority_file = dir.path().join("collector-ca.pem");
    std::fs::write(&authority_file, authority).unwrap();
    let spans = spans_of_one_request(
        &collector,
        &[(
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            authority_file.to_str().unwrap(),
        )],
    );
    assert!(
        spans
            .iter()
            .any(|span| span.name == "graphql" && attribute(span, "operation") == Some("Slow")),
        "the request span arrived over TLS: {spans:?}"
    );
}
