//! A resolver that panics, served through the real router with usergraph's
//! extensions: the field answers `INTERNAL` with a request id and no detail,
//! the rest of the document still answers, and the server keeps serving.

use async_graphql::{MergedObject, Object};
use serde_json::json;
use usergraph::AppState;
use usergraph::graphql::{MutationRoot, UsergraphQuery, build_schema_with};

use crate::common::{Backend, TestApp};

#[derive(Default)]
struct Faulty;

#[Object]
impl Faulty {
    /// Panics when asked to, with a message that must never reach a client.
    async fn faulty(&self, explode: bool) -> i32 {
        assert!(
            !explode,
            "secret detail: connection string postgres://admin:pw@db"
        );
        1
    }
}

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
struct QueryWithFault(UsergraphQuery, Faulty);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_resolver_answers_internal_through_the_endpoint() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let app = app.with_router(|context| {
        let schema = build_schema_with(
            context.clone(),
            QueryWithFault::default(),
            MutationRoot::default(),
        );
        usergraph::app(AppState::with_schema(context, schema))
    });
    let reply = app
        .gql(
            "{ faulty(explode: true) usernameAvailable(username: \"free\") }",
            json!({}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.expect_code("INTERNAL"), "Internal server error");
    assert!(
        reply.body["errors"][0]["extensions"]["requestId"].is_string(),
        "{}",
        reply.text
    );
    assert!(!reply.text.contains("secret"), "{}", reply.text);
    assert_eq!(
        reply.body["data"]["usernameAvailable"], true,
        "other fields still answer"
    );

    // The server keeps serving.
    let after = app.gql("{ faulty(explode: false) }", json!({})).await;
    assert_eq!(after.data("faulty"), 1);
    app.register("still").await;
}
