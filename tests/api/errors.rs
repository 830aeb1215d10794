//! Errors reach clients with a code and without internals.

use serde_json::json;

use crate::common::{Backend, PASSWORD, REGISTER, TestApp};

#[tokio::test]
async fn a_database_failure_is_internal_and_tells_nothing() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    app.register("xena").await;
    // Close the pool under the running app: every query now fails.
    app.app.db.clone().close().await.unwrap();

    let reply = app.login("xena", PASSWORD).await;
    assert_eq!(reply.expect_code("INTERNAL"), "Internal server error");
    let register = app
        .gql(
            REGISTER,
            json!({ "input": { "name": "Yan", "username": "yan", "email": "yan@example.com", "password": PASSWORD } }),
        )
        .await;
    assert_eq!(register.expect_code("INTERNAL"), "Internal server error");
    for leaked in ["pool", "sqlite", "database", "closed", "SELECT"] {
        assert!(
            !register
                .text
                .to_lowercase()
                .contains(&leaked.to_lowercase()),
            "{leaked}: {}",
            register.text
        );
    }

    let health = app
        .send(
            axum::http::Request::get("/health")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(health.status, 503);
}

#[tokio::test]
async fn bad_arguments_and_documents_are_refused_with_an_error() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let missing = app
        .gql(
            "mutation { login(usernameOrEmail: \"a\") { accessToken } }",
            json!({}),
        )
        .await;
    assert!(
        missing.message().unwrap().contains("password"),
        "{}",
        missing.text
    );
    let syntax = app.gql("{ me { ", json!({})).await;
    assert!(syntax.errors().is_array(), "{}", syntax.text);
    let unknown = app.gql("{ nothingHere }", json!({})).await;
    assert!(unknown.message().unwrap().contains("nothingHere"));
}
