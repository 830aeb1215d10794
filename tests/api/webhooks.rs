//! Webhooks end to end: superusers manage endpoints, events are POSTed to
//! a real receiver on loopback that checks the Standard Webhooks signature
//! with an independent implementation, failures are retried on the
//! (scaled) schedule, a 410 or too many failures disable the endpoint, and
//! the SSRF rules refuse private and plain-HTTP endpoints.

use std::time::{Duration, Instant};

use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};
use usergraph::Config;
use usergraph::entities::webhook;

use crate::common::{Backend, TestApp};
use crate::fixtures::superuser;
use crate::webhook_receiver::{Answer, Receiver};

pub const CREATE: &str = "mutation($input: CreateWebhookInput!) {
    createWebhook(input: $input) { secret webhook { id url events enabled } }
}";
const WEBHOOKS: &str =
    "{ webhooks { id url events description enabled disabledReason consecutiveFailures } }";
const DELIVERIES: &str = "query($id: Int!) {
    webhookDeliveries(webhookId: $id, first: 50) {
        items { id messageId eventType status attempts lastStatusCode lastAttemptAt lastResponse }
        hasMore
    }
}";

/// An app whose webhooks may call the loopback receiver, retrying 100
/// times faster than in production.
pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
    TestApp::start_with(backend, |config| {
        relaxed(config);
        adjust(config);
    })
    .await
}

fn relaxed(config: &mut Config) {
    config.webhooks.allow_http = true;
    config.webhooks.allow_private = true;
    config.webhooks.retry_scale = 0.01;
}

/// Create an endpoint for `events` at `receiver` (which learns its secret);
/// the endpoint's id.
async fn endpoint(app: &TestApp, root: &str, receiver: &Receiver, events: &[&str]) -> i64 {
    let created = app
        .gql_as(
            root,
            CREATE,
            json!({ "input": { "url": receiver.url(), "events": events, "description": "test" } }),
        )
        .await;
    let created = created.data("createWebhook");
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{secret}");
    receiver.set_secret(secret);
    created["webhook"]["id"].as_i64().unwrap()
}

async fn deliveries(app: &TestApp, root: &str, id: i64) -> Vec<Value> {
    app.gql_as(root, DELIVERIES, json!({ "id": id }))
        .await
        .data("webhookDeliveries")["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn the_webhook(app: &TestApp, root: &str) -> Value {
    app.gql_as(root, WEBHOOKS, json!({})).await.data("webhooks")[0].clone()
}

/// Ask until `done` holds (up to 20 s), a few times a second (the asking
/// counts against the per-IP rate limit).
async fn eventually<T>(mut ask: impl AsyncFnMut() -> T, done: impl Fn(&T) -> bool) -> T {
    let started = Instant::now();
    loop {
        let value = ask().await;
        if done(&value) {
            return value;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "gave up waiting"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

async fn events_arrive_signed_at_the_endpoints_that_asked_for_them(backend: Backend) {
    let Some(app) = start_with(backend, |_| {}).await else {
        return;
    };
    let receiver = Receiver::start().await;
    let root = superuser(&app, "root").await;
    let id = endpoint(&app, &root, &receiver, &["user.registered"]).await;
    let bob = app.register("bob").await;
    app.signed_up_again("bob").await; // a login: not asked for
    let got = receiver.wait_for(1).await;
    assert!(got[0].verified, "the signature verifies: {got:?}");
    assert!(got[0].message_id.starts_with("msg_"));
    assert_eq!(got[0].body["type"], "user.registered");
    assert!(got[0].body["timestamp"].is_string());
    assert_eq!(got[0].body["data"]["userId"], bob["id"]);
    assert_eq!(got[0].body["data"]["details"]["username"], "bob");

    let done = eventually(
        async || deliveries(&app, &root, id).await,
        |items| items.first().is_some_and(|d| d["status"] == "succeeded"),
    )
    .await;
    assert_eq!(done.len(), 1, "only the registration: {done:?}");
    assert_eq!(done[0]["attempts"], 1);
    assert_eq!(done[0]["lastStatusCode"], 200);
    assert_eq!(done[0]["messageId"], got[0].message_id.as_str());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.received().len(), 1, "the login was not sent");
}

async fn a_delivery_is_retried_until_the_receiver_is_back(backend: Backend) {
    let Some(app) = start_with(backend, |_| {}).await else {
        return;
    };
    // A port nobody listens on yet: the receiver is down.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let root = superuser(&app, "root").await;
    let url = format!("http://127.0.0.1:{port}/hook");
    let created = app
        .gql_as(
            &root,
            CREATE,
            json!({ "input": { "url": url, "events": ["user.*"] } }),
        )
        .await;
    let secret = created.data("createWebhook")["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = created.data("createWebhook")["webhook"]["id"]
        .as_i64()
        .unwrap();
    app.register("bob").await;
    let failed = eventually(
        async || deliveries(&app, &root, id).await,
        |items| {
            items
                .first()
                .is_some_and(|d| d["attempts"].as_i64() >= Some(1))
        },
    )
    .await;
    assert_eq!(failed[0]["status"], "pending");
    assert!(
        failed[0]["lastResponse"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );

    let receiver = Receiver::start_on(port).await;
    receiver.set_secret(&secret);
    let got = receiver.wait_for(1).await;
    assert!(got[0].verified);
    let done = eventually(
        async || deliveries(&app, &root, id).await,
        |items| items[0]["status"] == "succeeded",
    )
    .await;
    assert!(done[0]["attempts"].as_i64().unwrap() >= 2);
    assert_eq!(the_webhook(&app, &root).await["consecutiveFailures"], 0);
}

async fn a_410_disables_the_endpoint(backend: Backend) {
    let Some(app) = start_with(backend, |_| {}).await else {
        return;
    };
    let receiver = Receiver::start().await;
    receiver.answer(Answer::Status(410));
    let root = superuser(&app, "root").await;
    let id = endpoint(&app, &root, &receiver, &["user.registered"]).await;
    app.register("bob").await;
    receiver.wait_for(1).await;
    let hook = eventually(
        async || the_webhook(&app, &root).await,
        |hook| hook["enabled"] == false,
    )
    .await;
    assert!(hook["disabledReason"].as_str().unwrap().contains("410"));
    let disabled =
        crate::audit::events(&app, &root, json!({ "types": ["webhook.disabled"] })).await;
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0]["details"]["webhookId"], id);
    assert_eq!(disabled[0]["actorType"], "system");
    // Nothing more is sent to a disabled endpoint.
    app.register("cyd").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(deliveries(&app, &root, id).await.len(), 1);
    // Enabled again, it receives the next event.
    app.gql_as(
        &root,
        "mutation($id: Int!) { updateWebhook(id: $id, input: { enabled: true }) { enabled } }",
        json!({ "id": id }),
    )
    .await
    .data("updateWebhook");
    receiver.answer(Answer::Status(204));
    app.register("dee").await;
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].body["data"]["details"]["username"], "dee");
}

async fn failures_in_a_row_disable_the_endpoint(backend: Backend) {
    let Some(app) = start_with(backend, |config| config.webhooks.disable_after = 3).await else {
        return;
    };
    let receiver = Receiver::start().await;
    receiver.answer(Answer::Status(500));
    let root = superuser(&app, "root").await;
    let id = endpoint(&app, &root, &receiver, &["user.registered"]).await;
    app.register("bob").await;
    let hook = eventually(
        async || the_webhook(&app, &root).await,
        |hook| hook["enabled"] == false,
    )
    .await;
    assert_eq!(hook["consecutiveFailures"], 3);
    assert_eq!(receiver.received().len(), 3);
    let items = deliveries(&app, &root, id).await;
    assert_eq!(items[0]["status"], "failed");
    assert_eq!(items[0]["attempts"], 3);
    assert_eq!(items[0]["lastStatusCode"], 500);
    let disabled =
        crate::audit::events(&app, &root, json!({ "types": ["webhook.disabled"] })).await;
    assert_eq!(disabled.len(), 1);
}

async fn two_instances_deliver_each_event_once(backend: Backend) {
    let Some(first) = start_with(backend, |_| {}).await else {
        return;
    };
    let second = first.another_instance(relaxed).await;
    let receiver = Receiver::start().await;
    let root = superuser(&first, "root").await;
    endpoint(&first, &root, &receiver, &["user.registered"]).await;
    for index in 0..6 {
        let app = if index % 2 == 0 { &first } else { &second };
        app.register(&format!("user{index}")).await;
    }
    let got = receiver.wait_for(6).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_all = receiver.received();
    assert_eq!(got_all.len(), 6, "each event once: {got:?}");
    let mut ids: Vec<&str> = got_all.iter().map(|r| r.message_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 6);
    assert!(got_all.iter().all(|r| r.verified));
}

async fn test_and_redeliver_send_again_with_the_same_id(backend: Backend) {
    let Some(app) = start_with(backend, |_| {}).await else {
        return;
    };
    let receiver = Receiver::start().await;
    let root = superuser(&app, "root").await;
    let id = endpoint(&app, &root, &receiver, &["user.deleted"]).await;
    let tested = app
        .gql_as(
            &root,
            "mutation($id: Int!) { testWebhook(id: $id) { id eventType status } }",
            json!({ "id": id }),
        )
        .await;
    let delivery = tested.data("testWebhook").clone();
    assert_eq!(delivery["eventType"], "webhook.test");
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].body["type"], "webhook.test");
    assert!(got[0].verified);
    let again = app
        .gql_as(
            &root,
            "mutation($id: Int!) { redeliverWebhook(deliveryId: $id) { status } }",
            json!({ "id": delivery["id"] }),
        )
        .await;
    assert_eq!(again.data("redeliverWebhook")["status"], "pending");
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].message_id, got[0].message_id);
    app.gql_as(
        &root,
        "mutation { redeliverWebhook(deliveryId: 999999) { status } }",
        json!({}),
    )
    .await
    .expect_code("NOT_FOUND");
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::common::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::common::Backend::Postgres).await;
                }
            )*
        }
    };
}

on_both!(
    events_arrive_signed_at_the_endpoints_that_asked_for_them,
    a_delivery_is_retried_until_the_receiver_is_back,
    a_410_disables_the_endpoint,
    failures_in_a_row_disable_the_endpoint,
    two_instances_deliver_each_event_once,
    test_and_redeliver_send_again_with_the_same_id,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_times_out_and_is_retried() {
    let app = start_with(Backend::Sqlite, |_| {}).await.unwrap();
    let receiver = Receiver::start().await;
    receiver.answer(Answer::Never);
    let root = superuser(&app, "root").await;
    let id = endpoint(&app, &root, &receiver, &["user.registered"]).await;
    app.register("bob").await;
    receiver.wait_for(1).await;
    let started = Instant::now();
    // The next try is answered: the first is abandoned after 10 s.
    receiver.answer(Answer::Status(200));
    let done = eventually(
        async || deliveries(&app, &root, id).await,
        |items| items[0]["status"] == "succeeded",
    )
    .await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(9_500) && took <= Duration::from_secs(14),
        "the hanging try ended after {took:?}"
    );
    assert_eq!(receiver.received().len(), 2);
    assert_eq!(done[0]["attempts"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_and_plain_http_endpoints_are_refused() {
    // The production defaults: https only, public addresses only.
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let root = superuser(&app, "root").await;
    for url in [
        "http://example.com/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://10.0.0.8/hook",
        "ftp://example.com/hook",
    ] {
        let reply = app
            .gql_as(
                &root,
                CREATE,
                json!({ "input": { "url": url, "events": ["*"] } }),
            )
            .await;
        reply.expect_code("BAD_USER_INPUT");
    }
    let unknown_type = app
        .gql_as(
            &root,
            CREATE,
            json!({ "input": { "url": "https://93.184.216.34/hook", "events": ["user.nonsense"] } }),
        )
        .await;
    unknown_type.expect_code("BAD_USER_INPUT");

    // An endpoint that became private after it was saved (its name now
    // resolves inside): refused again at delivery, without a request.
    let receiver = Receiver::start().await;
    let now = chrono::Utc::now();
    let hook = webhook::ActiveModel {
        url: Set(format!("https://127.0.0.1:{}/hook", receiver.port)),
        events: Set("[\"user.registered\"]".to_owned()),
        description: Set(String::new()),
        secret: Set("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()),
        enabled: Set(true),
        consecutive_failures: Set(0),
        disabled_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.app.db)
    .await
    .unwrap();
    app.register("bob").await;
    let items = eventually(
        async || deliveries(&app, &root, i64::from(hook.id)).await,
        |items| {
            items
                .first()
                .is_some_and(|d| d["attempts"].as_i64() >= Some(1))
        },
    )
    .await;
    assert!(
        items[0]["lastResponse"]
            .as_str()
            .unwrap()
            .contains("refused"),
        "{items:?}"
    );
    assert!(receiver.received().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_superusers_manage_webhooks_and_the_secret_is_shown_once() {
    let app = start_with(Backend::Sqlite, |_| {}).await.unwrap();
    let receiver = Receiver::start().await;
    let root = superuser(&app, "root").await;
    let (ann, _) = app.signed_up("ann").await;
    app.gql_as(
        &ann,
        CREATE,
        json!({ "input": { "url": receiver.url(), "events": ["*"] } }),
    )
    .await
    .expect_code("FORBIDDEN");
    app.gql_as(&ann, WEBHOOKS, json!({}))
        .await
        .expect_code("FORBIDDEN");
    let id = endpoint(&app, &root, &receiver, &["user.*"]).await;
    // No field of a listed endpoint holds the secret.
    let secret_field = app
        .gql_as(&root, "{ webhooks { secret } }", json!({}))
        .await;
    assert!(secret_field.errors() != Value::Null);
    let updated = app
        .gql_as(
            &root,
            "mutation($id: Int!) { updateWebhook(id: $id, input: { events: [\"session.*\", \"user.logout\"], description: \"ops\" }) { events description } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        updated.data("updateWebhook")["events"],
        json!(["session.*", "user.logout"])
    );
    let deleted = app
        .gql_as(
            &root,
            "mutation($id: Int!) { deleteWebhook(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(deleted.data("deleteWebhook"), true);
    assert_eq!(
        app.gql_as(&root, WEBHOOKS, json!({}))
            .await
            .data("webhooks"),
        &json!([])
    );
    app.gql_as(
        &root,
        "mutation($id: Int!) { deleteWebhook(id: $id) }",
        json!({ "id": id }),
    )
    .await
    .expect_code("NOT_FOUND");
    let recorded = crate::audit::events(&app, &root, json!({ "types": ["webhook.*"] })).await;
    let types: Vec<&str> = recorded
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["webhook.deleted", "webhook.updated", "webhook.created"]
    );
}
