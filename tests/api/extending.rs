//! An application extending usergraph (`examples/dashboard.rs`): its own
//! fields sit beside usergraph's and are protected by usergraph's guards.

#[allow(dead_code)]
#[path = "../../examples/dashboard.rs"]
mod dashboard;

use serde_json::json;

use crate::common::{Backend, TestApp};
use crate::fixtures::{post, put_on_tier, tier};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_example_extends_the_schema_with_guarded_fields() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let app = app.with_router(dashboard::router);
    let (token, _) = app.signed_up("dana").await;
    post(&app, &token, "One").await;
    post(&app, &token, "Two").await;

    let reply = app
        .gql_as(
            &token,
            "{ dashboard { me { username email } postCount } me { id } }",
            json!({}),
        )
        .await;
    let dashboard = reply.data("dashboard");
    assert_eq!(dashboard["me"]["username"], "dana");
    assert_eq!(dashboard["me"]["email"], "dana@example.com");
    assert_eq!(dashboard["postCount"], 2);
    app.gql("{ dashboard { postCount } }", json!({}))
        .await
        .expect_code("UNAUTHENTICATED");

    let premium = "{ premiumFeature }";
    app.gql(premium, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
    let refused = app.gql_as(&token, premium, json!({})).await;
    assert_eq!(
        refused.expect_code("FORBIDDEN"),
        "This requires the pro tier"
    );
    let free = tier(&app, "free").await;
    put_on_tier(&app, "dana", Some(free)).await;
    app.gql_as(&token, premium, json!({}))
        .await
        .expect_code("FORBIDDEN");
    let pro = tier(&app, "pro").await;
    put_on_tier(&app, "dana", Some(pro)).await;
    let allowed = app.gql_as(&token, premium, json!({})).await;
    assert_eq!(
        allowed.data("premiumFeature"),
        "Welcome to the pro features"
    );

    // The application's fields are valid rate-limit paths too.
    let sdl = dashboard::schema(app.app.clone()).sdl();
    assert!(sdl.contains("premiumFeature: String!"));
    assert!(sdl.contains("register(input: RegisterInput!): User!"));
}
