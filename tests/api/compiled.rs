//! Compiled queries (`graphql::compiled`): a plan answers the common `user`
//! and `users` documents with the same JSON async-graphql's executor gives
//! (checked against a second instance on the same database with
//! `GRAPHQL_COMPILED_QUERIES=false`), in the document's field order, only once the executor has run the
//! text without an error, and never a document outside its shape.

use serde_json::{Value, json};

use crate::common::{Backend, Reply, TestApp};
use crate::fixtures::{put_on_tier, superuser, tier};

const USER: &str = "query($u: String!) { user(username: $u) { __typename id uuid name username
    email emailVerified emailVerifiedAt profileImageUrl tierId isSuperuser createdAt updatedAt
    isDeleted deletedAt postCount tier { __typename id name createdAt } } }";

const USERS: &str = "query Listing($p: Int, $n: Int, $a: String, $f: Int) {
    list: users(page: $p, itemsPerPage: $n, after: $a, first: $f) {
        __typename page itemsPerPage hasMore endCursor
        items { who: username id email emailVerifiedAt tier { name } postCount createdAt }
    } }";

/// Fields the database writes itself (`graphql::compiled::page_sql`).
const WRITTEN: &str = "query($p: Int, $n: Int, $a: String, $f: Int) {
    users(page: $p, itemsPerPage: $n, after: $a, first: $f) {
        hasMore endCursor page
        items { __typename who: username id name email profileImageUrl tierId isSuperuser
                isDeleted emailVerified postCount tier { __typename id name } }
    } }";

const LITERAL: &str = r#"{ users(itemsPerPage: 3, page: 1) { items { id name tierId } hasMore } }"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_answers_what_the_executor_answers_on_sqlite() {
    let app = TestApp::start_with(Backend::Sqlite, generous).await;
    a_plan_answers_what_the_executor_answers(app.expect("sqlite app")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_answers_what_the_executor_answers_on_postgres() {
    if let Some(app) = TestApp::start_with(Backend::Postgres, generous).await {
        a_plan_answers_what_the_executor_answers(app).await;
    }
}

/// Budgets no scenario here reaches.
fn generous(config: &mut usergraph::config::Config) {
    config.limits.default_rate_limit = 10_000;
    config.limits.ip_rate_limit = 10_000;
}

/// How many operations plans of `app` have answered.
async fn compiled_answers(app: &TestApp) -> u64 {
    let text = app.app.metrics.render(&app.app.db).await;
    text.lines()
        .find_map(|line| line.strip_prefix("usergraph_graphql_compiled_answers_total "))
        .and_then(|count| count.trim().parse().ok())
        .expect("the compiled-answers counter is exported")
}

async fn send(app: &TestApp, token: Option<&str>, query: &str, variables: &Value) -> Reply {
    match token {
        Some(token) => app.gql_as(token, query, variables.clone()).await,
        None => app.gql(query, variables.clone()).await,
    }
}

/// Send `query` twice to `planned` (the first may vouch for the plan, the
/// second must use it when `expect_plan`) and once to `executor`; every
/// answer has the executor's bytes, status and content type.
async fn compare(
    planned: &TestApp,
    executor: &TestApp,
    token: Option<&str>,
    query: &str,
    variables: &Value,
    expect_plan: bool,
) -> Reply {
    let reference = send(executor, token, query, variables).await;
    let first = send(planned, token, query, variables).await;
    let before = compiled_answers(planned).await;
    let second = send(planned, token, query, variables).await;
    let used = compiled_answers(planned).await - before;
    assert_eq!(
        used,
        u64::from(expect_plan),
        "plan used {used} times for {variables} in {query}"
    );
    for reply in [&first, &second] {
        // The same JSON. (Not always the same text: async-graphql writes an
        // object's fields in the order their resolvers finish, so a field
        // that waits on a DataLoader can come after one listed later. A
        // plan keeps the order of the document, as the spec asks.)
        assert_eq!(reply.body, reference.body, "{variables} in {query}");
        assert_ne!(reply.body, Value::Null, "{}", reply.text);
        assert_eq!(reply.status, reference.status);
        assert_eq!(
            reply.headers.get("content-type"),
            reference.headers.get("content-type")
        );
    }
    second
}

async fn a_plan_answers_what_the_executor_answers(app: TestApp) {
    let (alice, _) = app.signed_up("alice").await;
    let (bob, _) = app.signed_up("bob").await;
    app.register("carol").await;
    for index in 0..4 {
        app.register(&format!("extra{index}")).await;
    }
    let pro = tier(&app, "pro").await;
    put_on_tier(&app, "alice", Some(pro)).await;
    crate::fixtures::post(&app, &alice, "Hello").await;
    crate::fixtures::post(&app, &bob, "Hi").await;
    let admin = superuser(&app, "admin").await;
    crate::fixtures::soft_delete(&app, &admin, "carol").await;
    // Text that needs escaping, written by the database and by serde alike.
    let renamed = app
        .gql_as(
            &bob,
            "mutation($n: String!) { updateUser(username: \"bob\", input: { name: $n }) { name } }",
            json!({ "n": "Bob \"B\" \\ Ünï 😀 </script>" }),
        )
        .await;
    assert_eq!(
        renamed.data("updateUser")["name"],
        "Bob \"B\" \\ Ünï 😀 </script>"
    );
    let executor = app
        .another_instance(|config| {
            generous(config);
            config.limits.compiled_queries = false;
        })
        .await;

    let viewers = [None, Some(alice.as_str()), Some(admin.as_str())];
    for viewer in viewers {
        for (username, found) in [
            ("alice", true),
            ("bob", true),
            (" Alice ", true),
            ("nobody", false),
            ("carol", false),
        ] {
            let reply = compare(
                &app,
                &executor,
                viewer,
                USER,
                &json!({ "u": username }),
                true,
            )
            .await;
            if found {
                assert_eq!(reply.body["data"]["user"]["__typename"], "User");
            } else {
                assert_eq!(reply.expect_code("NOT_FOUND"), "User not found");
            }
        }
        let alice_reply = compare(
            &app,
            &executor,
            viewer,
            USER,
            &json!({ "u": "alice" }),
            true,
        )
        .await;
        let shown = &alice_reply.body["data"]["user"];
        assert_eq!(shown["tier"]["name"], "pro");
        assert_eq!(shown["postCount"], 1);
        // Only alice and superusers see alice's address, both ways.
        assert_eq!(shown["email"].is_string(), viewer.is_some());

        let first_page = compare(
            &app,
            &executor,
            viewer,
            USERS,
            &json!({ "p": 1, "n": 2 }),
            true,
        )
        .await;
        let cursor = first_page.body["data"]["list"]["endCursor"].clone();
        assert!(cursor.is_string(), "{}", first_page.text);
        for variables in [
            json!({ "p": 2, "n": 2 }),
            json!({ "a": cursor, "f": 3 }),
            json!({ "n": 100 }),
            json!({}),
            json!({ "p": 500, "n": 100 }),
        ] {
            compare(&app, &executor, viewer, USERS, &variables, true).await;
        }
        let everyone = compare(&app, &executor, viewer, USERS, &json!({ "n": 100 }), true).await;
        let items = everyone.body["data"]["list"]["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        // Everyone but carol, whom admin deleted.
        assert_eq!(items.len(), 7, "{}", everyone.text);
        assert_eq!(items[0]["who"], "alice");
        assert_eq!(items[0]["tier"]["name"], "pro");
        assert_eq!(items[1]["postCount"], 1);
        compare(&app, &executor, viewer, LITERAL, &json!({}), true).await;

        let written = compare(&app, &executor, viewer, WRITTEN, &json!({ "n": 3 }), true).await;
        let cursor = written.body["data"]["users"]["endCursor"].clone();
        for variables in [
            json!({ "p": 2, "n": 3 }),
            json!({ "a": cursor, "f": 2 }),
            json!({ "n": 100 }),
            json!({ "p": 40, "n": 100 }),
        ] {
            compare(&app, &executor, viewer, WRITTEN, &variables, true).await;
        }
        let all = compare(&app, &executor, viewer, WRITTEN, &json!({ "n": 100 }), true).await;
        let items = all.body["data"]["users"]["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(items.len(), 7, "{}", all.text);
        assert_eq!(
            items[0]["tier"],
            json!({ "__typename": "Tier", "id": pro, "name": "pro" })
        );
        assert_eq!(items[1]["name"], "Bob \"B\" \\ Ünï 😀 </script>");
        assert_eq!(items[1]["postCount"], 1);
        assert_eq!(items[1]["tier"], Value::Null);
        // Each sees their own address; superusers see all.
        let emails: Vec<bool> = items.iter().map(|item| item["email"].is_string()).collect();
        match viewer {
            None => assert!(emails.iter().all(|shown| !shown)),
            Some(token) if token == alice => {
                assert_eq!(emails, [true, false, false, false, false, false, false]);
            }
            Some(_) => assert!(emails.iter().all(|shown| *shown)),
        }

        // Values a plan leaves to the executor, which gives the error.
        for variables in [
            json!({ "p": 0 }),
            json!({ "n": 101 }),
            json!({ "n": "ten" }),
            json!({ "a": "not-a-cursor" }),
            json!({ "n": 2.5 }),
        ] {
            let refused = compare(&app, &executor, viewer, USERS, &variables, false).await;
            refused.expect_code("BAD_USER_INPUT");
        }
        let missing = compare(&app, &executor, viewer, USER, &json!({}), false).await;
        missing.expect_code("BAD_USER_INPUT");
    }
    assert_eq!(compiled_answers(&executor).await, 0);
}

/// A page whose fields the database writes costs one statement, tiers and
/// post counts included (the row path costs three).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_the_database_writes_is_one_statement() {
    let app = TestApp::start(Backend::Sqlite).await.expect("sqlite app");
    let (alice, _) = app.signed_up("alice").await;
    app.register("bob").await;
    let pro = tier(&app, "pro").await;
    put_on_tier(&app, "alice", Some(pro)).await;
    crate::fixtures::post(&app, &alice, "Hello").await;
    let quiet = crate::common::QuietInstance::on(&app, |_| {}).await;
    let written =
        "query($n: Int) { users(itemsPerPage: $n) { items { username tier { name } postCount } } }";
    let rows = "query($n: Int) { users(itemsPerPage: $n) { items { username createdAt tier { name } postCount } } }";
    for (query, statements) in [(written, 1), (rows, 3)] {
        quiet.gql(query, json!({ "n": 10 })).await;
        let before = quiet.statements();
        let page = quiet.gql(query, json!({ "n": 10 })).await;
        assert_eq!(quiet.statements() - before, statements, "{query}");
        assert_eq!(page["data"]["users"]["items"][0]["tier"]["name"], "pro");
        assert_eq!(page["data"]["users"]["items"][0]["postCount"], 1);
        assert_eq!(page["data"]["users"]["items"][1]["username"], "bob");
    }
}

/// Documents outside a plan's shape always run through the executor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_documents_run_through_the_executor() {
    let app = TestApp::start(Backend::Sqlite).await.expect("sqlite app");
    app.register("alice").await;
    for (query, variables) in [
        (
            "{ users { items { ...F } } } fragment F on User { id }",
            json!({}),
        ),
        ("{ users { items { ... on User { id } } } }", json!({})),
        (
            "query($s: Boolean!) { users { items { id @include(if: $s) } } }",
            json!({ "s": true }),
        ),
        (
            "{ users(filter: { search: \"al\" }) { items { id } } }",
            json!({}),
        ),
        ("{ users { items { id posts { title } } } }", json!({})),
        ("{ users { items { id } totalCount } }", json!({})),
        ("{ users { items { id } } me { id } }", json!({})),
        (
            "{ a: user(username: \"alice\") { id } b: user(username: \"alice\") { id } }",
            json!({}),
        ),
        (
            "{ user(username: \"alice\") { id id: username } }",
            json!({}),
        ),
        (
            "query($n: Int = 3) { users(itemsPerPage: $n) { items { id } } }",
            json!({}),
        ),
        (
            "query($n: Int, $unused: Int) { users(itemsPerPage: $n) { items { id } } }",
            json!({}),
        ),
    ] {
        let before = compiled_answers(&app).await;
        let first = app.gql(query, variables.clone()).await;
        let second = app.gql(query, variables).await;
        assert_eq!(compiled_answers(&app).await, before, "{query}");
        assert_eq!(first.body, second.body, "{query}");
        assert_eq!(first.status, second.status, "{query}");
    }
}

/// A plan answers only page sizes the executor has admitted: a larger page
/// can be over the complexity limit, and the executor then refuses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_larger_page_than_the_executor_admitted_goes_back_to_it() {
    let app = TestApp::start_with(Backend::Sqlite, |config| {
        config.limits.max_complexity = 300;
    })
    .await
    .expect("sqlite app");
    app.register("alice").await;
    let query = "query($n: Int) { users(itemsPerPage: $n) { items { id name username email } } }";
    let small = json!({ "n": 10 });
    app.gql(query, small.clone()).await;
    let before = compiled_answers(&app).await;
    let planned = app.gql(query, small).await;
    assert_eq!(compiled_answers(&app).await, before + 1);
    assert_eq!(
        planned.body["data"]["users"]["items"][0]["username"],
        "alice"
    );

    let large = app.gql(query, json!({ "n": 100 })).await;
    large.expect_limit("complexity");
    assert_eq!(compiled_answers(&app).await, before + 1);
    // Smaller pages than the admitted one still use the plan.
    let smaller = app.gql(query, json!({ "n": 5 })).await;
    assert_eq!(compiled_answers(&app).await, before + 2);
    assert_eq!(
        smaller.body["data"]["users"]["items"][0]["username"],
        "alice"
    );
}

/// A plan counts its root field against the caller's budget as the
/// executor does: the same refusal, at the same call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_counts_and_refuses_like_the_executor() {
    let tight = |config: &mut usergraph::config::Config| {
        config.limits.default_rate_limit = 3;
    };
    let app = TestApp::start_with(Backend::Sqlite, tight)
        .await
        .expect("sqlite app");
    app.register("alice").await;
    let executor = app
        .another_instance(|config| {
            tight(config);
            config.limits.compiled_queries = false;
        })
        .await;
    let query = "query($u: String!) { user(username: $u) { id username } }";
    let variables = json!({ "u": "alice" });
    let mut answers = Vec::new();
    for instance in [&app, &executor] {
        let mut replies = Vec::new();
        for _ in 0..4 {
            replies.push(instance.gql(query, variables.clone()).await);
        }
        answers.push(replies);
    }
    for (planned, reference) in answers[0].iter().zip(&answers[1]) {
        assert_eq!(planned.text, reference.text);
        assert_eq!(planned.status, reference.status);
        for header in ["ratelimit-limit", "ratelimit-remaining", "retry-after"] {
            assert_eq!(
                planned.headers.get(header),
                reference.headers.get(header),
                "{header}"
            );
        }
    }
    answers[0][3].expect_code("RATE_LIMITED");
    // Calls 2 and 3 were the plan's, call 4 its refusal.
    assert_eq!(compiled_answers(&app).await, 3);
}
