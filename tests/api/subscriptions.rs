//! Subscriptions end to end, over a real socket speaking
//! `graphql-transport-ws`: the token in `connection_init`, events raised
//! through the API (on this instance or another) arriving as `next`
//! messages, refusals coded, and the socket closed with 4401 when its token
//! is bad or its session ends.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::common::{Backend, TestApp};
use crate::fixtures::superuser;

const MY_EVENTS: &str = "subscription { mySecurityEvents { id type userId actorType } }";

const AUDIT_EVENTS: &str =
    "subscription($types: [String!]) { auditEvents(types: $types) { id type userId details } }";

/// How long a test waits for a message before it fails.
const PATIENCE: Duration = Duration::from_secs(10);

/// What the server sent: a protocol message, or the close frame.
#[derive(Debug)]
enum Frame {
    Message(Value),
    Closed(u16, String),
}

struct Socket(WebSocketStream<MaybeTlsStream<TcpStream>>);

impl Socket {
    /// Open a socket to `address` and send `connection_init` with `payload`.
    async fn open(address: &str, payload: Value) -> Self {
        let mut request = format!("ws://{address}/graphql")
            .into_client_request()
            .unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        let (stream, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            "graphql-transport-ws"
        );
        let mut socket = Self(stream);
        socket
            .send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        socket
    }

    /// Open a socket as the holder of `token` and expect `connection_ack`.
    async fn acked(address: &str, token: &str) -> Self {
        let mut socket = Self::open(
            address,
            json!({ "authorization": format!("Bearer {token}") }),
        )
        .await;
        match socket.frame().await {
            Frame::Message(message) => assert_eq!(message["type"], "connection_ack", "{message}"),
            Frame::Closed(code, reason) => panic!("closed {code}: {reason}"),
        }
        socket
    }

    async fn send(&mut self, message: Value) {
        self.0
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }

    async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({
            "id": id,
            "type": "subscribe",
            "payload": { "query": query, "variables": variables },
        }))
        .await;
    }

    /// The next protocol message or close frame (pings are answered by the
    /// client library).
    async fn frame(&mut self) -> Frame {
        loop {
            let next = tokio::time::timeout(PATIENCE, self.0.next())
                .await
                .expect("a message in time");
            match next {
                Some(Ok(Message::Text(text))) => {
                    return Frame::Message(serde_json::from_str(&text).unwrap());
                }
                Some(Ok(Message::Close(frame))) => {
                    let (code, reason) = frame.map_or((1005, String::new()), |frame| {
                        (u16::from(frame.code), frame.reason.to_string())
                    });
                    return Frame::Closed(code, reason);
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => panic!("socket error: {error}"),
                None => return Frame::Closed(1006, String::new()),
            }
        }
    }

    /// The payload of the next `next` message of subscription `id`.
    async fn next_payload(&mut self, id: &str) -> Value {
        loop {
            match self.frame().await {
                Frame::Message(message) if message["type"] == "next" && message["id"] == id => {
                    return message["payload"].clone();
                }
                Frame::Message(message) if message["type"] == "ping" => {
                    self.send(json!({ "type": "pong" })).await;
                }
                Frame::Message(message) => {
                    let completed = message["type"] == "complete" && message["id"] == id;
                    assert!(!completed, "{id} completed without a message");
                }
                Frame::Closed(code, reason) => panic!("closed {code}: {reason}"),
            }
        }
    }

    /// The close code the server ends with, skipping other messages.
    async fn close_code(&mut self) -> (u16, String) {
        loop {
            if let Frame::Closed(code, reason) = self.frame().await {
                return (code, reason);
            }
        }
    }
}

/// Wait until `app` has a subscriber and its feed had a moment to read
/// where it starts (an event raised before that is not promised).
async fn subscribed(app: &TestApp) {
    let started = std::time::Instant::now();
    while !app.app.audit_feed.has_subscribers() {
        assert!(started.elapsed() < PATIENCE, "no subscriber registered");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
}

async fn a_user_receives_their_own_login_and_nobody_elses(app: TestApp) {
    let address = app.listen().await;
    let ann = app.register("ann").await;
    let (token, _) = app.signed_up_again("ann").await;
    app.register("bob").await;
    let mut socket = Socket::acked(&address, &token).await;
    socket.subscribe("mine", MY_EVENTS, json!({})).await;
    subscribed(&app).await;
    app.signed_up_again("bob").await;
    app.signed_up_again("ann").await;
    let payload = socket.next_payload("mine").await;
    let event = &payload["data"]["mySecurityEvents"];
    assert_eq!(event["type"], "user.login_succeeded", "{payload}");
    assert_eq!(event["userId"], ann["id"], "{payload}");
    assert_eq!(event["actorType"], "anonymous", "{payload}");
}

async fn a_superuser_filters_the_audit_log_by_type(app: TestApp) {
    let address = app.listen().await;
    let root = superuser(&app, "root").await;
    let mut socket = Socket::acked(&address, &root).await;
    socket
        .subscribe(
            "audit",
            AUDIT_EVENTS,
            json!({ "types": ["user.registered"] }),
        )
        .await;
    subscribed(&app).await;
    // A login is not a registration: only cyd's registration arrives.
    app.signed_up_again("root").await;
    app.register("cyd").await;
    let payload = socket.next_payload("audit").await;
    let event = &payload["data"]["auditEvents"];
    assert_eq!(event["type"], "user.registered", "{payload}");
    assert_eq!(event["details"]["username"], "cyd");
}

async fn a_non_superuser_is_refused_the_audit_log_on_that_subscription_only(app: TestApp) {
    let address = app.listen().await;
    let (token, _) = app.signed_up("ann").await;
    let mut socket = Socket::acked(&address, &token).await;
    socket.subscribe("audit", AUDIT_EVENTS, json!({})).await;
    let payload = socket.next_payload("audit").await;
    assert_eq!(
        payload["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{payload}"
    );
    match socket.frame().await {
        Frame::Message(message) => {
            assert_eq!(message, json!({ "type": "complete", "id": "audit" }));
        }
        Frame::Closed(code, reason) => panic!("closed {code}: {reason}"),
    }
    // The socket goes on: a query is refused with a code (queries belong
    // on POST), and the caller's own events still arrive.
    socket.subscribe("query", "{ me { id } }", json!({})).await;
    let refused = socket.next_payload("query").await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    socket.subscribe("mine", MY_EVENTS, json!({})).await;
    subscribed(&app).await;
    app.signed_up_again("ann").await;
    let payload = socket.next_payload("mine").await;
    assert_eq!(
        payload["data"]["mySecurityEvents"]["type"],
        "user.login_succeeded"
    );
}

async fn a_bad_missing_or_revoked_token_closes_with_4401(app: TestApp) {
    let address = app.listen().await;
    let mut forged = Socket::open(&address, json!({ "authorization": "Bearer not-a-token" })).await;
    assert_eq!(forged.close_code().await.0, 4401);
    let mut anonymous = Socket::open(&address, json!({})).await;
    assert_eq!(anonymous.close_code().await.0, 4401);
    let (token, _) = app.signed_up("ann").await;
    app.gql_as(&token, "mutation { logout }", json!({}))
        .await
        .data("logout");
    let mut revoked = Socket::open(&address, json!({ "token": token })).await;
    assert_eq!(revoked.close_code().await.0, 4401);
}

async fn a_subscription_ends_when_its_session_ends(app: TestApp) {
    let (token, _) = app.signed_up("ann").await;
    // Logged out over HTTP, another connection: the socket closes, and the
    // logout event is not delivered on the dead session.
    let took = logout_closes_the_socket(&app, &app, &token).await;
    assert!(took < Duration::from_secs(3), "closed after {took:?}");
}

/// Subscribe to `token`'s events on `instance`, log out through `app`, and
/// wait for the socket to close with 4401; how long that took.
async fn logout_closes_the_socket(app: &TestApp, instance: &TestApp, token: &str) -> Duration {
    let address = instance.listen().await;
    // The bare-token form of `connection_init`'s payload.
    let mut socket = Socket::open(&address, json!({ "token": token })).await;
    match socket.frame().await {
        Frame::Message(message) => assert_eq!(message["type"], "connection_ack"),
        Frame::Closed(code, reason) => panic!("closed {code}: {reason}"),
    }
    socket.subscribe("mine", MY_EVENTS, json!({})).await;
    subscribed(instance).await;
    let started = std::time::Instant::now();
    app.gql_as(token, "mutation { logout }", json!({}))
        .await
        .data("logout");
    let (code, reason) = socket.close_code().await;
    assert_eq!(code, 4401, "{reason}");
    started.elapsed()
}

async fn an_event_raised_on_another_instance_arrives(app: TestApp) {
    let root = superuser(&app, "root").await;
    let other = app.another_instance(|_| {}).await;
    let address = other.listen().await;
    let mut socket = Socket::acked(&address, &root).await;
    socket
        .subscribe(
            "audit",
            AUDIT_EVENTS,
            json!({ "types": ["user.registered"] }),
        )
        .await;
    subscribed(&other).await;
    let started = std::time::Instant::now();
    app.register("far").await;
    let payload = socket.next_payload("audit").await;
    assert_eq!(
        payload["data"]["auditEvents"]["details"]["username"], "far",
        "{payload}"
    );
    eprintln!(
        "an event from another instance arrived after {:?}",
        started.elapsed()
    );
    assert!(started.elapsed() <= other.within_a_poll() + Duration::from_secs(1));
}

async fn a_logout_on_another_instance_closes_the_socket(app: TestApp) {
    let (token, _) = app.signed_up("ann").await;
    let other = app.another_instance(|_| {}).await;
    let took = logout_closes_the_socket(&app, &other, &token).await;
    eprintln!("a logout on another instance closed the socket after {took:?}");
    assert!(took <= other.within_a_poll() + Duration::from_secs(1));
}

crate::on_both_backends!(
    an_event_raised_on_another_instance_arrives,
    a_logout_on_another_instance_closes_the_socket,
);

crate::on_sqlite!(
    a_user_receives_their_own_login_and_nobody_elses,
    a_superuser_filters_the_audit_log_by_type,
    a_non_superuser_is_refused_the_audit_log_on_that_subscription_only,
    a_bad_missing_or_revoked_token_closes_with_4401,
    a_subscription_ends_when_its_session_ends,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_too_deep_subscription_document_is_refused_with_a_code() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let (token, _) = app.signed_up("ann").await;
    // An instance that allows only depth 1 (a login is deeper).
    let strict = app
        .another_instance(|config| config.limits.max_depth = 1)
        .await;
    let address = strict.listen().await;
    let mut socket = Socket::acked(&address, &token).await;
    socket.subscribe("deep", MY_EVENTS, json!({})).await;
    let payload = socket.next_payload("deep").await;
    let error = &payload["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{payload}");
    assert_eq!(error["extensions"]["limit"], "depth", "{payload}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_subscription_start_counts_against_the_rate_limit() {
    let app = TestApp::start_with(Backend::Sqlite, |config| {
        config.limits.default_rate_limit = 2;
    })
    .await
    .unwrap();
    let address = app.listen().await;
    let (token, _) = app.signed_up("ann").await;
    let mut socket = Socket::acked(&address, &token).await;
    let ids = ["first", "second", "third"];
    for id in ids {
        socket.subscribe(id, MY_EVENTS, json!({})).await;
    }
    // The server starts them in no promised order: one of the three, any,
    // is refused.
    let refused = loop {
        match socket.frame().await {
            Frame::Message(message) if message["type"] == "next" => break message,
            Frame::Message(_) => {}
            Frame::Closed(code, reason) => panic!("closed {code}: {reason}"),
        }
    };
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{refused}"
    );
    let running: Vec<&str> = ids.into_iter().filter(|id| refused["id"] != *id).collect();
    assert_eq!(running.len(), 2);
    // The other two run: an event reaches both.
    subscribed(&app).await;
    app.signed_up_again("ann").await;
    let mut reached = Vec::new();
    while reached.len() < running.len() {
        match socket.frame().await {
            Frame::Message(message) if message["type"] == "next" => {
                let event = &message["payload"]["data"]["mySecurityEvents"];
                assert_eq!(event["type"], "user.login_succeeded", "{message}");
                reached.push(message["id"].as_str().unwrap().to_owned());
            }
            Frame::Message(_) => {}
            Frame::Closed(code, reason) => panic!("closed {code}: {reason}"),
        }
    }
    reached.sort();
    assert_eq!(reached, running);
}
