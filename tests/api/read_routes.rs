//! Where the hot reads go (`db::direct`).
//!
//! Inline SQLite reads (`db::inline`): a profile and a page of users read
//! on the request's own thread give what the pool gives (checked against a
//! second instance on the same file with `SQLITE_INLINE_READS=false`), and
//! a value they do not read as sqlx does goes back to the pool.
//!
//! On PostgreSQL they go to sessions that use generic plans
//! (`db::connect_generic_reads`), and to nothing else.

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::common::{Backend, TestApp};
use crate::fixtures::{post, put_on_tier, soft_delete, superuser, tier};
use crate::users_read::usernames;

const USER: &str = "query($u: String!) { user(username: $u) { id uuid name username
    email emailVerified emailVerifiedAt profileImageUrl tierId isSuperuser createdAt updatedAt
    isDeleted deletedAt postCount tier { id name } } }";

const USERS: &str = "query($p: Int, $n: Int, $a: String, $f: Int) {
    users(page: $p, itemsPerPage: $n, after: $a, first: $f) {
        page hasMore endCursor
        items { id uuid name username email emailVerifiedAt profileImageUrl tierId
                isSuperuser createdAt updatedAt isDeleted deletedAt }
    } }";

/// The value of the unlabelled metric `name` of `app`.
async fn metric(app: &TestApp, name: &str) -> Option<u64> {
    let text = app.app.metrics.render(&app.app.db).await;
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|count| count.trim().parse().ok())
}

async fn served(app: &TestApp) -> u64 {
    metric(app, "usergraph_sqlite_inline_reads_total")
        .await
        .expect("inline reads are counted")
}

async fn declined(app: &TestApp) -> u64 {
    metric(app, "usergraph_sqlite_inline_reads_declined_total")
        .await
        .expect("declined inline reads are counted")
}

fn generous(config: &mut usergraph::config::Config) {
    config.limits.default_rate_limit = 10_000;
    config.limits.ip_rate_limit = 10_000;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inline_reads_answer_what_the_pool_answers() {
    let app = TestApp::start_with(Backend::Sqlite, generous)
        .await
        .expect("sqlite app");
    let (alice, _) = app.signed_up("alice").await;
    for name in ["bob", "carol", "dave", "erin"] {
        app.register(name).await;
    }
    let pro = tier(&app, "pro").await;
    put_on_tier(&app, "alice", Some(pro)).await;
    post(&app, &alice, "Hello").await;
    let admin = superuser(&app, "admin").await;
    soft_delete(&app, &admin, "carol").await;
    // A verified address: a timestamp that is not null.
    app.app
        .db
        .execute_unprepared(
            "UPDATE \"user\" SET email_verified_at = updated_at WHERE username = 'bob'",
        )
        .await
        .unwrap();
    let pooled = app
        .another_instance(|config| {
            generous(config);
            config.sqlite_inline_reads = false;
        })
        .await;
    assert_eq!(
        metric(&pooled, "usergraph_sqlite_inline_reads_total").await,
        None,
        "an instance without inline reads exports no such counter"
    );

    let before = (served(&app).await, declined(&app).await);
    let compare = async |query: &str, variables: Value| {
        // Twice: the executor's first answer vouches for a compiled plan,
        // which answers the second; both read inline.
        let reference = pooled.gql_as(&admin, query, variables.clone()).await;
        assert!(reference.body["errors"].is_null(), "{}", reference.text);
        for _ in 0..2 {
            let reply = app.gql_as(&admin, query, variables.clone()).await;
            assert_eq!(reply.body, reference.body, "{variables} in {query}");
        }
        reference
    };
    let bob = compare(USER, json!({ "u": "bob" })).await;
    assert!(bob.data("user")["emailVerifiedAt"].is_string());
    let alice_shown = compare(USER, json!({ "u": "alice" })).await;
    assert_eq!(alice_shown.data("user")["tier"]["name"], "pro");
    assert_eq!(alice_shown.data("user")["postCount"], 1);
    let first = compare(USERS, json!({ "p": 1, "n": 3 })).await;
    assert_eq!(first.data("users")["hasMore"], true);
    assert_eq!(usernames(&first), ["alice", "bob", "dave"]);
    let cursor = first.data("users")["endCursor"].clone();
    let next = compare(USERS, json!({ "a": cursor, "f": 3 })).await;
    assert_eq!(usernames(&next), ["erin", "admin"]);
    let second = compare(USERS, json!({ "p": 2, "n": 3 })).await;
    assert_eq!(usernames(&second), usernames(&next));
    // Five documents, each sent twice.
    let reads = 10;
    let (served_now, declined_now) = (served(&app).await, declined(&app).await);
    assert!(
        served_now - before.0 >= reads,
        "{reads} reads, {} served inline",
        served_now - before.0
    );
    assert_eq!(declined_now, before.1, "no read declined");

    // A timestamp written in SQLite's own format (by another tool, say):
    // sqlx reads it, the inline reader does not, so the pool answers.
    app.app
        .db
        .execute_unprepared(
            "UPDATE \"user\" SET created_at = '2024-01-02 03:04:05' WHERE username = 'dave'",
        )
        .await
        .unwrap();
    let dave = compare(USER, json!({ "u": "dave" })).await;
    assert!(
        dave.data("user")["createdAt"]
            .as_str()
            .unwrap()
            .starts_with("2024-01-02T03:04:05"),
        "{}",
        dave.text
    );
    assert_eq!(declined(&app).await, declined_now + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_hot_reads_use_generic_plans_and_nothing_else_does() {
    let Some(app) = TestApp::start(Backend::Postgres).await else {
        return;
    };
    let generic = app
        .app
        .read_routes
        .generic
        .clone()
        .expect("a pool of generic plans on PostgreSQL");
    // The pool connects lazily: a profile read opens it (and works).
    assert_eq!(generic.size(), 0);
    app.register("plans").await;
    let reply = app
        .gql(
            "query($u: String!) { user(username: $u) { username } }",
            json!({ "u": "plans" }),
        )
        .await;
    assert_eq!(reply.data("user")["username"], "plans");
    assert!(
        generic.size() >= 1,
        "the read opened a generic-plan session"
    );
    let shown: (String,) = sea_orm::sqlx::query_as("SHOW plan_cache_mode")
        .fetch_one(&generic)
        .await
        .unwrap();
    assert_eq!(shown.0, "force_generic_plan");
    let main = app
        .app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "SHOW plan_cache_mode",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(main.try_get_by_index::<String>(0).unwrap(), "auto");
    assert!(app.app.read_routes.inline.is_none());
}
