//! Tiers and rate-limit rules, as managed by superusers.

use serde_json::json;

use crate::common::TestApp;
use crate::fixtures::{put_on_tier, superuser};
use crate::on_both_backends;

on_both_backends!(
    tiers_are_created_renamed_listed_and_deleted,
    rules_are_validated_and_unique
);

const CREATE_RULE: &str = "mutation($tier: String!, $input: RateLimitInput!) { createRateLimit(tierName: $tier, input: $input) { id tierId path limit period name } }";

async fn tiers_are_created_renamed_listed_and_deleted(app: TestApp) {
    let admin = superuser(&app, "root").await;
    app.register("member").await;
    let created = app
        .gql_as(
            &admin,
            "mutation { createTier(name: \" pro \") { id name createdAt } }",
            json!({}),
        )
        .await;
    let pro = created.data("createTier");
    assert_eq!(pro["name"], "pro");
    let duplicate = app
        .gql_as(
            &admin,
            "mutation { createTier(name: \"pro\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(
        duplicate.expect_code("CONFLICT"),
        "Tier name already exists"
    );
    app.gql_as(
        &admin,
        "mutation { createTier(name: \"free\") { id } }",
        json!({}),
    )
    .await
    .data("createTier");
    app.gql_as(
        &admin,
        "mutation { createTier(name: \"\") { id } }",
        json!({}),
    )
    .await
    .expect_code("BAD_USER_INPUT");

    let renamed = app
        .gql_as(
            &admin,
            "mutation { updateTier(name: \"pro\", newName: \"premium\") { id name } }",
            json!({}),
        )
        .await;
    assert_eq!(renamed.data("updateTier")["name"], "premium");
    assert_eq!(renamed.data("updateTier")["id"], pro["id"]);
    app.gql_as(
        &admin,
        "mutation { updateTier(name: \"premium\", newName: \"free\") { id } }",
        json!({}),
    )
    .await
    .expect_code("CONFLICT");
    let listed = app.gql_as(&admin, "{ tiers { name } }", json!({})).await;
    assert_eq!(
        listed.data("tiers"),
        &json!([{ "name": "premium" }, { "name": "free" }])
    );
    app.gql_as(&admin, "{ tier(name: \"nope\") { id } }", json!({}))
        .await
        .expect_code("NOT_FOUND");

    put_on_tier(&app, "member", Some(pro["id"].as_i64().unwrap() as i32)).await;
    let in_use = app
        .gql_as(
            &admin,
            "mutation { deleteTier(name: \"premium\") }",
            json!({}),
        )
        .await;
    in_use.expect_code("CONFLICT");
    put_on_tier(&app, "member", None).await;
    let deleted = app
        .gql_as(
            &admin,
            "mutation { deleteTier(name: \"premium\") }",
            json!({}),
        )
        .await;
    assert_eq!(deleted.data("deleteTier"), &json!(true));
    app.gql_as(
        &admin,
        "mutation { deleteTier(name: \"premium\") }",
        json!({}),
    )
    .await
    .expect_code("NOT_FOUND");
}

async fn rules_are_validated_and_unique(app: TestApp) {
    let admin = superuser(&app, "root").await;
    app.gql_as(
        &admin,
        "mutation { createTier(name: \"pro\") { id } }",
        json!({}),
    )
    .await
    .data("createTier");
    let rule = |path: &str, limit: i32, period: i32, name: &str| json!({ "tier": "pro", "input": { "path": path, "limit": limit, "period": period, "name": name } });
    let created = app
        .gql_as(&admin, CREATE_RULE, rule("login", 10, 60, "pro-login"))
        .await;
    let login_rule = created.data("createRateLimit");
    assert_eq!(
        (login_rule["path"].as_str(), login_rule["limit"].as_i64()),
        (Some("login"), Some(10))
    );

    for (path, limit, period, name) in [
        ("login", 0, 60, "zero-limit"),
        ("login", 10, -1, "negative-period"),
        ("notAField", 10, 60, "bad-path"),
        ("", 10, 60, "empty-path"),
    ] {
        let reply = app
            .gql_as(&admin, CREATE_RULE, rule(path, limit, period, name))
            .await;
        reply.expect_code("BAD_USER_INPUT");
    }
    let same_path = app
        .gql_as(&admin, CREATE_RULE, rule("login", 5, 60, "another-name"))
        .await;
    same_path.expect_code("CONFLICT");
    let same_name = app
        .gql_as(&admin, CREATE_RULE, rule("register", 5, 60, "pro-login"))
        .await;
    same_name.expect_code("CONFLICT");
    let unknown_tier = app
        .gql_as(&admin, CREATE_RULE, json!({ "tier": "gold", "input": { "path": "login", "limit": 1, "period": 1, "name": "x" } }))
        .await;
    unknown_tier.expect_code("NOT_FOUND");

    let update = "mutation($input: UpdateRateLimitInput!) { updateRateLimit(tierName: \"pro\", name: \"pro-login\", input: $input) { limit period path } }";
    let updated = app
        .gql_as(&admin, update, json!({ "input": { "limit": 20 } }))
        .await;
    assert_eq!(
        updated.data("updateRateLimit"),
        &json!({ "limit": 20, "period": 60, "path": "login" })
    );
    app.gql_as(&admin, update, json!({ "input": { "period": 0 } }))
        .await
        .expect_code("BAD_USER_INPUT");

    let listed = app
        .gql_as(
            &admin,
            "{ tier(name: \"pro\") { rateLimits { name limit } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed.data("tier")["rateLimits"],
        json!([{ "name": "pro-login", "limit": 20 }])
    );

    let delete = "mutation { deleteRateLimit(tierName: \"pro\", name: \"pro-login\") }";
    assert_eq!(
        app.gql_as(&admin, delete, json!({}))
            .await
            .data("deleteRateLimit"),
        &json!(true)
    );
    app.gql_as(&admin, delete, json!({}))
        .await
        .expect_code("NOT_FOUND");
}
