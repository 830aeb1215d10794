//! Rate limits: per root field and caller, per login target and IP, per
//! tier; aliases and batches count each call.

use std::time::Duration;

use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};
use serde_json::{Value, json};

use crate::common::{Backend, LOGIN, ME, PASSWORD, REGISTER, TestApp};
use usergraph::entities::{rate_limit, tier, user};

const WRONG: &str = "Wr0ng!password";

fn login_body(identifier: &str, password: &str) -> Value {
    json!({ "query": LOGIN, "variables": { "identifier": identifier, "password": password } })
}

fn codes(reply: &Value) -> Vec<String> {
    reply["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|error| error["extensions"]["code"].as_str())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// A tier named `name` with a rule for `path`; returns its id.
async fn tier_with_rule(app: &TestApp, name: &str, path: &str, limit: i32, period: i32) -> i32 {
    let tier = tier::ActiveModel {
        name: Set(name.to_owned()),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(&app.app.db)
    .await
    .unwrap();
    rate_limit::ActiveModel {
        tier_id: Set(tier.id),
        path: Set(path.to_owned()),
        limit: Set(limit),
        period: Set(period),
        name: Set(format!("{name}-{path}")),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(&app.app.db)
    .await
    .unwrap();
    tier.id
}

async fn put_on_tier(app: &TestApp, username: &str, tier_id: i32) {
    crate::fixtures::put_on_tier(app, username, Some(tier_id)).await;
}

/// `me` `times` times; the replies.
async fn call_me(app: &TestApp, token: &str, times: usize) -> Vec<crate::common::Reply> {
    let mut replies = Vec::new();
    for _ in 0..times {
        replies.push(app.gql_as(token, ME, json!({})).await);
    }
    replies
}

async fn start(backend: Backend, adjust: impl FnOnce(&mut usergraph::Config)) -> Option<TestApp> {
    TestApp::start_with(backend, adjust).await
}

async fn tier_limits(backend: Backend) {
    let Some(app) = start(backend, |config| {
        config.limits.default_rate_limit = 2;
    })
    .await
    else {
        return;
    };
    let (free, _) = app.signed_up("free").await;
    let (pro, _) = app.signed_up("pro").await;
    let pro_tier = tier_with_rule(&app, "pro", "me", 5, 60).await;
    put_on_tier(&app, "pro", pro_tier).await;

    let free_replies = call_me(&app, &free, 3).await;
    free_replies[1].data("me");
    assert_eq!(
        free_replies[2].expect_code("RATE_LIMITED"),
        "Too many requests; retry in 60 seconds"
    );

    let pro_replies = call_me(&app, &pro, 6).await;
    for reply in &pro_replies[..5] {
        reply.data("me");
    }
    assert_eq!(pro_replies[0].headers["ratelimit-limit"], "5");
    assert_eq!(pro_replies[4].headers["ratelimit-remaining"], "0");
    pro_replies[5].expect_code("RATE_LIMITED");
    assert!(
        pro_replies[5].body["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_per_tier_on_sqlite() {
    tier_limits(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_per_tier_on_postgres() {
    tier_limits(Backend::Postgres).await;
}

#[tokio::test]
async fn a_rule_that_is_not_positive_falls_back_to_the_default() {
    let app = start(Backend::Sqlite, |config| {
        config.limits.default_rate_limit = 2;
    })
    .await
    .unwrap();
    let (token, _) = app.signed_up("odd").await;
    let broken = tier_with_rule(&app, "broken", "me", 0, 60).await;
    put_on_tier(&app, "odd", broken).await;
    let replies = call_me(&app, &token, 3).await;
    replies[1].data("me");
    replies[2].expect_code("RATE_LIMITED");
}

#[tokio::test]
async fn anonymous_register_flood_from_one_ip_is_refused_with_retry_after() {
    let app = start(Backend::Sqlite, |config| {
        config.limits.default_rate_limit = 3;
    })
    .await
    .unwrap();
    let register = |index: usize| {
        json!({ "input": {
            "name": "Flood", "username": format!("flood{index}"),
            "email": format!("flood{index}@example.com"), "password": PASSWORD,
        }})
    };
    for index in 0..3 {
        app.gql_from("203.0.113.5", None, REGISTER, register(index))
            .await
            .data("register");
    }
    let refused = app
        .gql_from("203.0.113.5", None, REGISTER, register(3))
        .await;
    refused.expect_code("RATE_LIMITED");
    assert_eq!(refused.status, 429);
    let retry_after: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(refused.headers["ratelimit-remaining"], "0");
    assert_eq!(user::Entity::find().count(&app.app.db).await.unwrap(), 3);

    // Another address has its own budget.
    app.gql_from("203.0.113.6", None, REGISTER, register(4))
        .await
        .data("register");
}

#[tokio::test]
async fn aliases_count_once_each() {
    let app = start(Backend::Sqlite, |config| {
        config.limits.default_rate_limit = 3;
    })
    .await
    .unwrap();
    let (token, _) = app.signed_up("ali").await;
    let reply = app
        .gql_as(
            &token,
            "{ a: me { id } b: me { id } c: me { id } d: me { id } }",
            json!({}),
        )
        .await;
    assert_eq!(codes(&reply.body), ["RATE_LIMITED"], "{}", reply.text);
    // Not every field was refused: no Retry-After, but the budget is shown.
    assert!(reply.headers.get("retry-after").is_none());
    assert_eq!(reply.headers["ratelimit-limit"], "3");
    app.gql_as(&token, ME, json!({}))
        .await
        .expect_code("RATE_LIMITED");
}

#[tokio::test]
async fn aliased_login_brute_force_is_limited_per_account() {
    let app = start(Backend::Sqlite, |config| {
        config.limits.login_account_rate_limit = 3;
        config.limits.max_aliases = 50;
        config.limits.max_root_fields = 50;
    })
    .await
    .unwrap();
    app.register("target").await;
    let aliased = (0..8)
        .map(|index| {
            format!("a{index}: login(usernameOrEmail: \"target\", password: \"{WRONG}{index}\") {{ accessToken }}")
        })
        .collect::<Vec<_>>()
        .join(" ");
    let reply = app
        .gql(&format!("mutation {{ {aliased} }}"), json!({}))
        .await;
    let codes = codes(&reply.body);
    assert!(!codes.is_empty(), "{}", reply.text);
    assert!(
        codes
            .iter()
            .all(|code| code == "UNAUTHENTICATED" || code == "RATE_LIMITED")
    );
    assert!(
        codes
            .iter()
            .filter(|code| *code == "UNAUTHENTICATED")
            .count()
            <= 3
    );

    // Whatever the document managed, the account's budget is now spent at
    // most down to zero: keep trying until refused, then the right password
    // is refused too.
    let mut refused = false;
    for _ in 0..3 {
        let reply = app.login("target", WRONG).await;
        if reply.code() == Some("RATE_LIMITED") {
            refused = true;
            break;
        }
    }
    assert!(refused, "the limit of 3 attempts was never reached");
    let correct = app.login("target", PASSWORD).await;
    correct.expect_code("RATE_LIMITED");
    assert_eq!(correct.body["data"], Value::Null);
    // The email is the same account, with the same budget; its refusal
    // looks like a wrong password, so it does not tell that the address
    // belongs to the account under attack (see security_review).
    let by_email = app.login("target@example.com", PASSWORD).await;
    by_email.expect_code("UNAUTHENTICATED");
    assert_eq!(by_email.body["data"], Value::Null);
}

#[tokio::test]
async fn batched_login_brute_force_counts_each_operation() {
    let app = start(Backend::Sqlite, |config| {
        config.limits.login_account_rate_limit = 2;
    })
    .await
    .unwrap();
    app.register("batched").await;
    let batch = json!([
        login_body("batched", WRONG),
        login_body("batched", WRONG),
        login_body("batched", WRONG),
        login_body("batched", WRONG),
    ]);
    let reply = app.post_body_from("198.51.100.1", &batch, &[]).await;
    let replies = reply.body.as_array().expect("a batch answer");
    // The operations run concurrently: which ones got through varies, how
    // many does not.
    let mut codes = replies.iter().flat_map(codes).collect::<Vec<_>>();
    codes.sort();
    assert_eq!(
        codes,
        [
            "RATE_LIMITED",
            "RATE_LIMITED",
            "UNAUTHENTICATED",
            "UNAUTHENTICATED"
        ],
        "{}",
        reply.text
    );
    app.login("batched", PASSWORD)
        .await
        .expect_code("RATE_LIMITED");
}

#[tokio::test]
async fn login_is_limited_per_ip_across_accounts() {
    let app = start(Backend::Sqlite, |config| {
        config.limits.login_ip_rate_limit = 3;
    })
    .await
    .unwrap();
    for name in ["ipa", "ipb", "ipc", "ipd"] {
        app.register(name).await;
    }
    let attacker = "192.0.2.66";
    for name in ["ipa", "ipb", "ipc"] {
        let reply = app
            .post_body_from(attacker, &login_body(name, WRONG), &[])
            .await;
        reply.expect_code("UNAUTHENTICATED");
    }
    let spread = app
        .post_body_from(attacker, &login_body("ipd", PASSWORD), &[])
        .await;
    spread.expect_code("RATE_LIMITED");
    assert_eq!(spread.status, 429);
    // The account itself is fine from elsewhere.
    app.post_body_from("192.0.2.67", &login_body("ipd", PASSWORD), &[])
        .await
        .data("login");
}

#[tokio::test]
async fn a_correct_password_works_again_once_the_window_has_moved_on() {
    let app = start(Backend::Sqlite, |config| {
        config.limits.login_account_rate_limit = 2;
        config.limits.login_rate_period = Duration::from_secs(1);
    })
    .await
    .unwrap();
    app.register("patient").await;
    app.login("patient", WRONG)
        .await
        .expect_code("UNAUTHENTICATED");
    app.login("patient", WRONG)
        .await
        .expect_code("UNAUTHENTICATED");
    app.login("patient", PASSWORD)
        .await
        .expect_code("RATE_LIMITED");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    app.login("patient", PASSWORD).await.data("login");
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    let app = start(Backend::Sqlite, |config| {
        config.limits.default_rate_limit = 1;
        config.limits.trusted_proxies =
            vec![usergraph::ratelimit::client_ip::parse_network("10.0.0.1").unwrap()];
    })
    .await
    .unwrap();
    let query = json!({ "query": "{ me { id } }" });
    let through_proxy = |client: &'static str| [("x-forwarded-for", client)];
    // Behind the trusted proxy, two clients have two budgets.
    for client in ["198.51.100.7", "198.51.100.8"] {
        let reply = app
            .post_body_from("10.0.0.1", &query, &through_proxy(client))
            .await;
        reply.expect_code("UNAUTHENTICATED");
    }
    // A direct caller cannot pick a fresh address per request.
    let direct = app
        .post_body_from("203.0.113.50", &query, &through_proxy("198.51.100.9"))
        .await;
    direct.expect_code("UNAUTHENTICATED");
    let again = app
        .post_body_from("203.0.113.50", &query, &through_proxy("198.51.100.10"))
        .await;
    again.expect_code("RATE_LIMITED");
}
