//! The HTTP surface besides GraphQL itself: health, playground, body limit.

use axum::body::Body;
use axum::http::Request;

use crate::common::{Backend, TestApp};
use crate::on_both_backends;

on_both_backends!(health_answers_when_the_database_does);

async fn health_answers_when_the_database_does(app: TestApp) {
    let reply = app
        .send(Request::get("/health").body(Body::empty()).unwrap())
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text, "ok");
}

#[tokio::test]
async fn get_graphql_in_a_browser_shows_graphiql() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let reply = app
        .send(
            Request::get("/graphql")
                .header("accept", "text/html")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        reply.text.to_lowercase().contains("graphiql"),
        "{}",
        reply.text
    );
    assert!(reply.text.contains("/graphql"));
}

#[tokio::test]
async fn oversized_bodies_are_refused_before_any_resolver() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let padding = "x".repeat(usergraph::http::MAX_BODY_BYTES + 1);
    let body = serde_json::json!({ "query": "{ me { id } }", "variables": { "pad": padding } })
        .to_string();
    let reply = app
        .send(
            Request::post("/graphql")
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, 413);
}

#[tokio::test]
async fn metrics_are_served_only_when_enabled() {
    let hidden = TestApp::start(Backend::Sqlite).await.unwrap();
    let reply = hidden
        .send(Request::get("/metrics").body(Body::empty()).unwrap())
        .await;
    assert_eq!(reply.status, 404);

    let app = TestApp::start_with(Backend::Sqlite, |config| config.metrics_enabled = true)
        .await
        .unwrap();
    let read = |reply: &crate::common::Reply| -> u64 {
        reply
            .text
            .lines()
            .find_map(|line| line.strip_prefix("usergraph_sql_statements_total "))
            .and_then(|value| value.parse().ok())
            .unwrap()
    };
    let before = read(
        &app.send(Request::get("/metrics").body(Body::empty()).unwrap())
            .await,
    );
    app.register("metered").await;
    let after = read(
        &app.send(Request::get("/metrics").body(Body::empty()).unwrap())
            .await,
    );
    assert!(after > before, "{before} -> {after}");
}
