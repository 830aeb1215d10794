//! Reading users: `user`, `users` (pages, cursors, filters), `userTier`,
//! availability checks, and who sees an email address.

use serde_json::{Value, json};

use crate::common::{ME, TestApp};
use crate::fixtures::{bulk_users, mark_deleted, put_on_tier, soft_delete, superuser, tier};
use crate::{on_both_backends, on_sqlite};

on_both_backends!(
    user_by_username_and_not_found,
    users_pages_in_id_order_with_has_more,
    total_count_is_computed_on_request,
    filters_by_tier_superuser_and_search,
    search_treats_wildcards_literally_and_hides_emails_from_non_admins,
    deleted_users_are_listed_only_for_superusers_who_ask,
    cursor_pagination_walks_every_user_once,
    availability_checks,
    a_listing_reads_only_what_it_shows_and_shows_what_user_shows,
    deep_pages_show_what_the_cursor_walk_shows,
);
on_sqlite!(
    email_is_visible_to_the_user_and_superusers_only,
    page_arguments_are_validated,
    user_tier_flattens_the_tier,
);

const USER: &str = "query($u: String!) { user(username: $u) { id username email name } }";
const USERS: &str =
    "query($page: Int, $per: Int, $filter: UserFilter, $after: String, $first: Int) {
    users(page: $page, itemsPerPage: $per, filter: $filter, after: $after, first: $first) {
        items { username email isDeleted } page itemsPerPage hasMore endCursor
    }
}";

/// The usernames of a `users` page, in order.
pub(crate) fn usernames(reply: &crate::common::Reply) -> Vec<String> {
    reply.data("users")["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["username"].as_str().unwrap().to_owned())
        .collect()
}

/// Every field of `User` that reads columns of the user row.
const EVERY_FIELD: &str = "id uuid name username email emailVerified emailVerifiedAt
    profileImageUrl tierId tier { name } isSuperuser createdAt updatedAt isDeleted deletedAt
    postCount";

/// A listing reads only the columns of the fields it was asked for (the
/// others hold placeholders): each field, asked alone, through fragments
/// and aliases, or all together, must show what `user` shows.
async fn a_listing_reads_only_what_it_shows_and_shows_what_user_shows(app: TestApp) {
    let (alice, _) = app.signed_up("alice").await;
    app.register("bob").await;
    let pro = tier(&app, "pro").await;
    put_on_tier(&app, "alice", Some(pro)).await;
    crate::fixtures::post(&app, &alice, "Hello").await;
    let admin = superuser(&app, "admin").await;
    let alone = app
        .gql_as(
            &admin,
            &format!("{{ user(username: \"alice\") {{ {EVERY_FIELD} }} }}"),
            json!({}),
        )
        .await;
    let expected = alone.data("user").clone();
    assert_eq!(expected["tier"]["name"], "pro", "{}", alone.text);
    assert_eq!(expected["postCount"], 1);
    let listed = |selection: String| {
        let (app, admin) = (&app, &admin);
        async move {
            let fragment = if selection.contains("...Parts") {
                " fragment Parts on User { name createdAt }"
            } else {
                ""
            };
            let document = format!(
                "{{ users(filter: {{ search: \"alice\" }}) {{ items {{ {selection} }} }} }}{fragment}"
            );
            let reply = app.gql_as(admin, &document, json!({})).await;
            reply.data("users")["items"][0].clone()
        }
    };
    assert_eq!(listed(EVERY_FIELD.to_owned()).await, expected);
    let fields = EVERY_FIELD
        .replace("tier { name }", "tier")
        .split_whitespace()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    for field in fields {
        let selection = if field == "tier" {
            "tier { name }".to_owned()
        } else {
            field.clone()
        };
        let item = listed(selection).await;
        assert_eq!(item[&field], expected[&field], "{field}");
    }
    // Through a fragment, an inline fragment and an alias.
    let item = listed("...Parts ... on User { email } handle: username".to_owned()).await;
    assert_eq!(item["name"], expected["name"]);
    assert_eq!(item["createdAt"], expected["createdAt"]);
    assert_eq!(item["email"], expected["email"]);
    assert_eq!(item["handle"], "alice");
}

async fn user_by_username_and_not_found(app: TestApp) {
    app.register("alice").await;
    let (bob, _) = app.signed_up("bob").await;
    let reply = app.gql(USER, json!({ "u": "Alice" })).await;
    assert_eq!(reply.data("user")["username"], "alice");

    let missing = app.gql(USER, json!({ "u": "nobody" })).await;
    assert_eq!(missing.expect_code("NOT_FOUND"), "User not found");
    assert_eq!(missing.body["data"]["user"], Value::Null);

    soft_delete(&app, &bob, "bob").await;
    let deleted = app.gql(USER, json!({ "u": "bob" })).await;
    assert_eq!(deleted.expect_code("NOT_FOUND"), "User not found");
}

async fn email_is_visible_to_the_user_and_superusers_only(app: TestApp) {
    let (alice, _) = app.signed_up("alice").await;
    let (bob, _) = app.signed_up("bob").await;
    let admin = superuser(&app, "admin").await;
    let email_as = |token: Option<String>| {
        let app = &app;
        async move {
            let reply = match token {
                Some(token) => app.gql_as(&token, USER, json!({ "u": "alice" })).await,
                None => app.gql(USER, json!({ "u": "alice" })).await,
            };
            reply.data("user")["email"].clone()
        }
    };
    assert_eq!(email_as(None).await, Value::Null);
    assert_eq!(email_as(Some(bob.clone())).await, Value::Null);
    assert_eq!(
        email_as(Some(alice.clone())).await,
        json!("alice@example.com")
    );
    assert_eq!(
        email_as(Some(admin.clone())).await,
        json!("alice@example.com")
    );

    // Same in listings.
    let listed = app.gql_as(&bob, USERS, json!({})).await;
    for item in listed.data("users")["items"].as_array().unwrap() {
        if item["username"] == "bob" {
            assert_eq!(item["email"], "bob@example.com");
        } else {
            assert_eq!(item["email"], Value::Null, "{item}");
        }
    }
    assert_eq!(
        app.gql_as(&alice, ME, json!({})).await.data("me")["email"],
        "alice@example.com"
    );
}

async fn users_pages_in_id_order_with_has_more(app: TestApp) {
    for index in 0..7 {
        app.register(&format!("user{index}")).await;
    }
    let first = app.gql(USERS, json!({ "page": 1, "per": 3 })).await;
    assert_eq!(usernames(&first), ["user0", "user1", "user2"]);
    assert_eq!(first.data("users")["hasMore"], true);
    assert_eq!(first.data("users")["page"], 1);
    assert_eq!(first.data("users")["itemsPerPage"], 3);
    let third = app.gql(USERS, json!({ "page": 3, "per": 3 })).await;
    assert_eq!(usernames(&third), ["user6"]);
    assert_eq!(third.data("users")["hasMore"], false);
    let beyond = app.gql(USERS, json!({ "page": 9, "per": 3 })).await;
    assert!(usernames(&beyond).is_empty());
    let defaults = app.gql(USERS, json!({})).await;
    assert_eq!(defaults.data("users")["itemsPerPage"], 10);
    assert_eq!(usernames(&defaults).len(), 7);
}

async fn page_arguments_are_validated(app: TestApp) {
    for (page, per) in [(0, 10), (-1, 10), (1, 0), (1, 101), (1, -5)] {
        let reply = app.gql(USERS, json!({ "page": page, "per": per })).await;
        reply.expect_code("BAD_USER_INPUT");
    }
    app.gql(USERS, json!({ "after": "not-a-cursor" }))
        .await
        .expect_code("BAD_USER_INPUT");
    app.gql(USERS, json!({ "page": 1, "per": 100 }))
        .await
        .data("users");
}

async fn total_count_is_computed_on_request(app: TestApp) {
    for index in 0..4 {
        app.register(&format!("count{index}")).await;
    }
    let query = "query($f: UserFilter) { users(itemsPerPage: 2, filter: $f) { totalCount hasMore items { username } } }";
    let reply = app.gql(query, json!({})).await;
    assert_eq!(reply.data("users")["totalCount"], 4);
    let filtered = app.gql(query, json!({ "f": { "search": "count3" } })).await;
    assert_eq!(filtered.data("users")["totalCount"], 1);

    // Not asked for: one statement fewer.
    let before = app.app.sql_statements.get();
    app.gql(
        "{ users(itemsPerPage: 2) { items { username } } }",
        json!({}),
    )
    .await
    .data("users");
    let without = app.app.sql_statements.get() - before;
    let before = app.app.sql_statements.get();
    app.gql(
        "{ users(itemsPerPage: 2) { totalCount items { username } } }",
        json!({}),
    )
    .await
    .data("users");
    let with = app.app.sql_statements.get() - before;
    assert_eq!(with, without + 1);
}

async fn filters_by_tier_superuser_and_search(app: TestApp) {
    let pro = tier(&app, "pro").await;
    for name in ["anna", "annie", "bert", "carl"] {
        app.register(name).await;
    }
    put_on_tier(&app, "annie", Some(pro)).await;
    put_on_tier(&app, "carl", Some(pro)).await;
    superuser(&app, "root").await;

    let by_tier = app.gql(USERS, json!({ "filter": { "tierId": pro } })).await;
    assert_eq!(usernames(&by_tier), ["annie", "carl"]);
    let admins = app
        .gql(USERS, json!({ "filter": { "isSuperuser": true } }))
        .await;
    assert_eq!(usernames(&admins), ["root"]);
    let search = app
        .gql(USERS, json!({ "filter": { "search": "ANN" } }))
        .await;
    assert_eq!(usernames(&search), ["anna", "annie"]);
    // Names match too, case-insensitively ("User bert").
    let by_name = app
        .gql(USERS, json!({ "filter": { "search": "user b" } }))
        .await;
    assert_eq!(usernames(&by_name), ["bert"]);
    let combined = app
        .gql(
            USERS,
            json!({ "filter": { "search": "ann", "tierId": pro } }),
        )
        .await;
    assert_eq!(usernames(&combined), ["annie"]);
}

async fn search_treats_wildcards_literally_and_hides_emails_from_non_admins(app: TestApp) {
    app.register("zed").await;
    let (viewer, _) = app.signed_up("viewer").await;
    let admin = superuser(&app, "root").await;
    for wildcard in ["%", "_ed", "z%"] {
        let reply = app
            .gql(USERS, json!({ "filter": { "search": wildcard } }))
            .await;
        assert!(
            usernames(&reply).is_empty(),
            "{wildcard}: {:?}",
            usernames(&reply)
        );
    }
    // "zed@example.com" also starts with "zed@": only a superuser may match
    // on the hidden address.
    let as_user = app
        .gql_as(&viewer, USERS, json!({ "filter": { "search": "zed@" } }))
        .await;
    assert!(usernames(&as_user).is_empty());
    let as_admin = app
        .gql_as(&admin, USERS, json!({ "filter": { "search": "zed@" } }))
        .await;
    assert_eq!(usernames(&as_admin), ["zed"]);
}

async fn deleted_users_are_listed_only_for_superusers_who_ask(app: TestApp) {
    let (gone, _) = app.signed_up("gone").await;
    let (viewer, _) = app.signed_up("viewer").await;
    let admin = superuser(&app, "root").await;
    soft_delete(&app, &gone, "gone").await;

    let plain = app.gql_as(&admin, USERS, json!({})).await;
    assert_eq!(usernames(&plain), ["viewer", "root"]);
    let refused = app
        .gql_as(
            &viewer,
            USERS,
            json!({ "filter": { "includeDeleted": true } }),
        )
        .await;
    refused.expect_code("FORBIDDEN");
    app.gql(USERS, json!({ "filter": { "includeDeleted": true } }))
        .await
        .expect_code("FORBIDDEN");
    let all = app
        .gql_as(
            &admin,
            USERS,
            json!({ "filter": { "includeDeleted": true } }),
        )
        .await;
    assert_eq!(usernames(&all), ["gone", "viewer", "root"]);
    assert_eq!(all.data("users")["items"][0]["isDeleted"], true);
}

async fn cursor_pagination_walks_every_user_once(app: TestApp) {
    for index in 0..5 {
        app.register(&format!("walker{index}")).await;
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let reply = app.gql(USERS, json!({ "first": 2, "after": after })).await;
        seen.extend(usernames(&reply));
        let page = reply.data("users");
        if page["hasMore"] == false {
            break;
        }
        after = Some(page["endCursor"].as_str().unwrap().to_owned());
        assert!(seen.len() <= 5, "no page repeats: {seen:?}");
    }
    assert_eq!(
        seen,
        ["walker0", "walker1", "walker2", "walker3", "walker4"]
    );
}

/// Pages from 1,000 skipped users on are read another way (ids through
/// `ix_user_live_id`, then rows by id; `services::user_rows`): every page
/// by number, on both sides of that line, must hold what walking the
/// cursors holds, with deleted users left out, and the last must say no
/// more follow.
async fn deep_pages_show_what_the_cursor_walk_shows(app: TestApp) {
    bulk_users(&app, "deep", 1_250).await;
    mark_deleted(
        &app,
        &["deep3", "deep500", "deep999", "deep1001", "deep1249"],
    )
    .await;
    let walk_query = "query($after: String) { users(first: 100, after: $after) {
        items { id username } hasMore endCursor } }";
    let mut walked = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let reply = app.gql(walk_query, json!({ "after": after })).await;
        let page = reply.data("users");
        walked.extend(page["items"].as_array().unwrap().iter().cloned());
        if page["hasMore"] == false {
            break;
        }
        after = Some(page["endCursor"].as_str().unwrap().to_owned());
    }
    assert_eq!(walked.len(), 1_245, "every live user once");
    assert!(!walked.iter().any(|item| item["username"] == "deep1001"));

    let page_query = "query($page: Int) { users(page: $page, itemsPerPage: 100) {
        items { id username } hasMore } }";
    for page in 1..=13 {
        let reply = app.gql(page_query, json!({ "page": page })).await;
        let shown = reply.data("users");
        let start = (page - 1) * 100;
        let expected: Vec<Value> = walked.iter().skip(start).take(100).cloned().collect();
        assert_eq!(shown["items"].as_array().unwrap(), &expected, "page {page}");
        assert_eq!(shown["hasMore"], page < 13, "page {page}");
    }
    // Pages of 10 on both sides of PostgreSQL's shorter threshold for
    // reading ids first (an offset of 15 times the page, with its extra
    // row: 165) and of the deep one (1,000).
    let small_query = "query($page: Int) { users(page: $page, itemsPerPage: 10) {
        items { id username } hasMore } }";
    for page in [1, 17, 18, 60, 100, 101, 125] {
        let reply = app.gql(small_query, json!({ "page": page })).await;
        let shown = reply.data("users");
        let start = (page - 1) * 10;
        let expected: Vec<Value> = walked.iter().skip(start).take(10).cloned().collect();
        assert_eq!(
            shown["items"].as_array().unwrap(),
            &expected,
            "page {page} of 10"
        );
        assert_eq!(shown["hasMore"], page < 125, "page {page} of 10");
    }
    // Past the end: empty, deep or not.
    let reply = app.gql(page_query, json!({ "page": 40 })).await;
    assert_eq!(reply.data("users")["items"], json!([]));
    assert_eq!(reply.data("users")["hasMore"], false);
}

async fn user_tier_flattens_the_tier(app: TestApp) {
    let pro = tier(&app, "pro").await;
    app.register("tiered").await;
    app.register("plain").await;
    put_on_tier(&app, "tiered", Some(pro)).await;
    let query = "query($u: String!) { userTier(username: $u) { user { username } tierId tierName tierCreatedAt tier { id name } } }";
    let reply = app.gql(query, json!({ "u": "tiered" })).await;
    let found = reply.data("userTier");
    assert_eq!(found["user"]["username"], "tiered");
    assert_eq!(found["tierId"], pro);
    assert_eq!(found["tierName"], "pro");
    assert!(found["tierCreatedAt"].is_string());
    assert_eq!(found["tier"]["name"], "pro");
    let plain = app.gql(query, json!({ "u": "plain" })).await;
    assert_eq!(plain.data("userTier")["tier"], Value::Null);
    assert_eq!(plain.data("userTier")["tierName"], Value::Null);
    app.gql(query, json!({ "u": "ghost" }))
        .await
        .expect_code("NOT_FOUND");
}

async fn availability_checks(app: TestApp) {
    let (token, _) = app.signed_up("taken").await;
    let query = "query($u: String!, $e: String!) { usernameAvailable(username: $u) emailAvailable(email: $e) }";
    let reply = app
        .gql(query, json!({ "u": "Taken", "e": "TAKEN@example.com" }))
        .await;
    assert_eq!(reply.data("usernameAvailable"), &json!(false));
    assert_eq!(reply.data("emailAvailable"), &json!(false));
    let free = app
        .gql(query, json!({ "u": "fresh", "e": "fresh@example.com" }))
        .await;
    assert_eq!(free.data("usernameAvailable"), &json!(true));
    assert_eq!(free.data("emailAvailable"), &json!(true));
    app.gql(query, json!({ "u": "bad name", "e": "x@example.com" }))
        .await
        .expect_code("BAD_USER_INPUT");
    app.gql(query, json!({ "u": "okname", "e": "not-an-email" }))
        .await
        .expect_code("BAD_USER_INPUT");
    // A deleted user's names stay reserved.
    soft_delete(&app, &token, "taken").await;
    let reply = app
        .gql(query, json!({ "u": "taken", "e": "taken@example.com" }))
        .await;
    assert_eq!(reply.data("usernameAvailable"), &json!(false));
    assert_eq!(reply.data("emailAvailable"), &json!(false));
}
