//! Superuser operations on users: restore, permanent deletion, tiers, the
//! superuser flag and its last holder, rules and stats.

use std::sync::Arc;

use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use usergraph::entities::{post, token_blacklist};

use crate::common::{ME, PASSWORD, TestApp};
use crate::fixtures::{post, put_on_tier, row, superuser, tier};
use crate::{on_both_backends, on_sqlite};

on_both_backends!(
    permanent_deletion_removes_everything_of_the_user,
    permanent_deletion_is_all_or_nothing,
    set_tier_assigns_and_removes,
    the_last_superuser_cannot_be_deleted_or_demoted,
    two_superusers_deleting_each_other_leave_one,
    user_stats_counts_users,
);
on_sqlite!(
    restore_undoes_a_soft_delete,
    rate_limits_lists_the_tier_rules,
);

async fn restore_undoes_a_soft_delete(app: TestApp) {
    let (token, _) = app.signed_up("ann").await;
    let admin = superuser(&app, "root").await;
    app.gql_as(
        &token,
        "mutation { deleteUser(username: \"ann\") }",
        json!({}),
    )
    .await
    .data("deleteUser");
    let restore =
        "mutation($u: String!) { restoreUser(username: $u) { username isDeleted deletedAt } }";
    let reply = app.gql_as(&admin, restore, json!({ "u": "ann" })).await;
    assert_eq!(reply.data("restoreUser")["isDeleted"], false);
    assert_eq!(reply.data("restoreUser")["deletedAt"], Value::Null);
    app.login("ann", PASSWORD).await.data("login");
    app.gql_as(&admin, restore, json!({ "u": "ghost" }))
        .await
        .expect_code("NOT_FOUND");
    let (other, _) = app.signed_up("bob").await;
    app.gql_as(&other, restore, json!({ "u": "ann" }))
        .await
        .expect_code("FORBIDDEN");
}

async fn permanent_deletion_removes_everything_of_the_user(app: TestApp) {
    let (access, refresh) = app.signed_up("carl").await;
    let admin = superuser(&app, "root").await;
    post(&app, &access, "First post").await;
    post(&app, &access, "Second post").await;
    let carl = row(&app, "carl").await.unwrap();
    // A revoked token of carl's, so there is a blacklist row to remove.
    let (spare, _) = app.signed_up_again("carl").await;
    app.gql_as(&spare, "mutation { logout }", json!({}))
        .await
        .data("logout");

    let delete = "mutation($u: String!) { deleteUserPermanently(username: $u) }";
    let (other, _) = app.signed_up("dora").await;
    app.gql_as(&other, delete, json!({ "u": "carl" }))
        .await
        .expect_code("FORBIDDEN");
    let reply = app.gql_as(&admin, delete, json!({ "u": "carl" })).await;
    assert_eq!(reply.data("deleteUserPermanently"), &json!(true));

    assert!(row(&app, "carl").await.is_none());
    let posts = post::Entity::find()
        .filter(post::Column::CreatedByUserId.eq(carl.id))
        .count(&app.app.db)
        .await
        .unwrap();
    assert_eq!(posts, 0);
    let revoked = token_blacklist::Entity::find()
        .filter(token_blacklist::Column::UserId.eq(carl.id))
        .count(&app.app.db)
        .await
        .unwrap();
    assert_eq!(revoked, 0);
    app.gql_as(&access, ME, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
    app.gql(
        "mutation($t: String) { refreshToken(refreshToken: $t) { accessToken } }",
        json!({ "t": refresh }),
    )
    .await
    .expect_code("UNAUTHENTICATED");
    assert_eq!(
        app.gql_as(&admin, ME, json!({})).await.data("me")["username"],
        "root"
    );
    // A newcomer taking the freed name inherits nothing.
    let (newcomer, _) = app.signed_up("carl").await;
    let mine = app
        .gql_as(&newcomer, "{ me { postCount } }", json!({}))
        .await;
    assert_eq!(mine.data("me")["postCount"], 0);
}

/// A trigger makes the final DELETE of the user fail: the posts deleted
/// before it in the same transaction must come back.
async fn permanent_deletion_is_all_or_nothing(app: TestApp) {
    let (access, _) = app.signed_up("eve").await;
    let admin = superuser(&app, "root").await;
    post(&app, &access, "Kept post").await;
    let trigger = match app.app.db.get_database_backend() {
        DbBackend::Postgres => vec![
            "CREATE FUNCTION refuse_eve() RETURNS trigger AS $$ BEGIN \
               IF OLD.username = 'eve' THEN RAISE EXCEPTION 'refused'; END IF; RETURN OLD; END; $$ LANGUAGE plpgsql"
                .to_owned(),
            "CREATE TRIGGER refuse_eve BEFORE DELETE ON \"user\" FOR EACH ROW EXECUTE FUNCTION refuse_eve()".to_owned(),
        ],
        _ => vec![
            "CREATE TRIGGER refuse_eve BEFORE DELETE ON \"user\" WHEN OLD.username = 'eve' \
             BEGIN SELECT RAISE(ABORT, 'refused'); END"
                .to_owned(),
        ],
    };
    for statement in trigger {
        app.app.db.execute_unprepared(&statement).await.unwrap();
    }
    let reply = app
        .gql_as(
            &admin,
            "mutation { deleteUserPermanently(username: \"eve\") }",
            json!({}),
        )
        .await;
    assert_eq!(reply.expect_code("INTERNAL"), "Internal server error");
    assert!(row(&app, "eve").await.is_some());
    let eve = row(&app, "eve").await.unwrap();
    let posts = post::Entity::find()
        .filter(post::Column::CreatedByUserId.eq(eve.id))
        .count(&app.app.db)
        .await
        .unwrap();
    assert_eq!(posts, 1, "the posts' deletion was rolled back");
    assert_eq!(
        app.gql_as(&access, ME, json!({})).await.data("me")["username"],
        "eve"
    );
}

async fn set_tier_assigns_and_removes(app: TestApp) {
    app.register("finn").await;
    let admin = superuser(&app, "root").await;
    let pro = tier(&app, "pro").await;
    let set = "mutation($u: String!, $t: Int) { setTier(username: $u, tierId: $t) { username tierId tier { name } } }";
    let reply = app
        .gql_as(&admin, set, json!({ "u": "finn", "t": pro }))
        .await;
    assert_eq!(reply.data("setTier")["tier"]["name"], "pro");
    assert_eq!(row(&app, "finn").await.unwrap().tier_id, Some(pro));
    let cleared = app
        .gql_as(&admin, set, json!({ "u": "finn", "t": null }))
        .await;
    assert_eq!(cleared.data("setTier")["tierId"], Value::Null);
    assert_eq!(row(&app, "finn").await.unwrap().tier_id, None);

    let unknown_tier = app
        .gql_as(&admin, set, json!({ "u": "finn", "t": 999 }))
        .await;
    assert_eq!(unknown_tier.expect_code("NOT_FOUND"), "Tier not found");
    let unknown_user = app
        .gql_as(&admin, set, json!({ "u": "ghost", "t": pro }))
        .await;
    assert_eq!(unknown_user.expect_code("NOT_FOUND"), "User not found");
    let (finn, _) = app.signed_up_again("finn").await;
    app.gql_as(&finn, set, json!({ "u": "finn", "t": pro }))
        .await
        .expect_code("FORBIDDEN");
}

async fn the_last_superuser_cannot_be_deleted_or_demoted(app: TestApp) {
    let admin = superuser(&app, "root").await;
    let last = "The last superuser cannot be deleted or demoted";
    let delete = app
        .gql_as(
            &admin,
            "mutation { deleteUser(username: \"root\") }",
            json!({}),
        )
        .await;
    assert_eq!(delete.expect_code("FORBIDDEN"), last);
    let permanent = app
        .gql_as(
            &admin,
            "mutation { deleteUserPermanently(username: \"root\") }",
            json!({}),
        )
        .await;
    assert_eq!(permanent.expect_code("FORBIDDEN"), last);
    let demote = "mutation($u: String!, $s: Boolean!) { setSuperuser(username: $u, isSuperuser: $s) { isSuperuser } }";
    let reply = app
        .gql_as(&admin, demote, json!({ "u": "root", "s": false }))
        .await;
    assert_eq!(reply.expect_code("FORBIDDEN"), last);
    assert!(row(&app, "root").await.unwrap().is_superuser);

    // With a second superuser, the first may step down.
    app.register("second").await;
    let promoted = app
        .gql_as(&admin, demote, json!({ "u": "second", "s": true }))
        .await;
    assert_eq!(promoted.data("setSuperuser")["isSuperuser"], true);
    let stepped_down = app
        .gql_as(&admin, demote, json!({ "u": "root", "s": false }))
        .await;
    assert_eq!(stepped_down.data("setSuperuser")["isSuperuser"], false);
    // root is no longer a superuser: its token still works but not as admin.
    app.gql_as(&admin, demote, json!({ "u": "second", "s": false }))
        .await
        .expect_code("FORBIDDEN");
}

async fn two_superusers_deleting_each_other_leave_one(app: TestApp) {
    let first = superuser(&app, "first").await;
    let second = superuser(&app, "second").await;
    let app = Arc::new(app);
    let delete = |token: String, target: &'static str| {
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            app.gql_as(
                &token,
                "mutation($u: String!) { deleteUser(username: $u) }",
                json!({ "u": target }),
            )
            .await
        })
    };
    let (a, b) = tokio::join!(delete(first, "second"), delete(second, "first"));
    let outcomes = [a.unwrap(), b.unwrap()];
    let succeeded = outcomes
        .iter()
        .filter(|reply| reply.code().is_none())
        .count();
    assert_eq!(
        succeeded,
        1,
        "{:?}",
        outcomes.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    let refused = outcomes
        .iter()
        .find(|reply| reply.code().is_some())
        .unwrap();
    // The loser is either refused as the last superuser, or finds its own
    // session gone because it was deleted first.
    assert!(
        matches!(refused.code(), Some("FORBIDDEN" | "UNAUTHENTICATED")),
        "{}",
        refused.text
    );
    let active_admins = [
        row(&app, "first").await.unwrap(),
        row(&app, "second").await.unwrap(),
    ]
    .iter()
    .filter(|user| user.is_superuser && !user.is_deleted)
    .count();
    assert_eq!(active_admins, 1);
}

async fn rate_limits_lists_the_tier_rules(app: TestApp) {
    let admin = superuser(&app, "root").await;
    app.register("gus").await;
    app.register("hal").await;
    app.gql_as(
        &admin,
        "mutation { createTier(name: \"pro\") { id } }",
        json!({}),
    )
    .await
    .data("createTier");
    let rule = "mutation($input: RateLimitInput!) { createRateLimit(tierName: \"pro\", input: $input) { id } }";
    app.gql_as(
        &admin,
        rule,
        json!({ "input": { "path": "login", "limit": 50, "period": 60, "name": "pro-login" } }),
    )
    .await
    .data("createRateLimit");
    let pro = app
        .gql_as(&admin, "{ tier(name: \"pro\") { id } }", json!({}))
        .await;
    put_on_tier(
        &app,
        "gus",
        Some(pro.data("tier")["id"].as_i64().unwrap() as i32),
    )
    .await;

    let query = "query($u: String!) { rateLimits(username: $u) { user { username } tier { name } rateLimits { path limit period name } } }";
    let reply = app.gql_as(&admin, query, json!({ "u": "gus" })).await;
    let limits = reply.data("rateLimits");
    assert_eq!(limits["tier"]["name"], "pro");
    assert_eq!(
        limits["rateLimits"],
        json!([{ "path": "login", "limit": 50, "period": 60, "name": "pro-login" }])
    );
    let none = app.gql_as(&admin, query, json!({ "u": "hal" })).await;
    assert_eq!(none.data("rateLimits")["rateLimits"], json!([]));
    assert_eq!(none.data("rateLimits")["tier"], Value::Null);
    app.gql_as(&admin, query, json!({ "u": "ghost" }))
        .await
        .expect_code("NOT_FOUND");
    let (gus, _) = app.signed_up_again("gus").await;
    app.gql_as(&gus, query, json!({ "u": "gus" }))
        .await
        .expect_code("FORBIDDEN");
}

async fn user_stats_counts_users(app: TestApp) {
    let admin = superuser(&app, "root").await;
    let pro = tier(&app, "pro").await;
    tier(&app, "empty").await;
    for name in ["ivy", "jay", "kai"] {
        app.register(name).await;
    }
    put_on_tier(&app, "ivy", Some(pro)).await;
    let (kai, _) = app.signed_up_again("kai").await;
    app.gql_as(
        &kai,
        "mutation { deleteUser(username: \"kai\") }",
        json!({}),
    )
    .await
    .data("deleteUser");
    let reply = app
        .gql_as(&admin, "{ userStats { activeUsers deletedUsers superusers perTier { tierId tierName users } } }", json!({}))
        .await;
    let stats = reply.data("userStats");
    assert_eq!(stats["activeUsers"], 3);
    assert_eq!(stats["deletedUsers"], 1);
    assert_eq!(stats["superusers"], 1);
    assert_eq!(
        stats["perTier"],
        json!([
            { "tierId": null, "tierName": null, "users": 2 },
            { "tierId": pro, "tierName": "pro", "users": 1 },
            { "tierId": pro + 1, "tierName": "empty", "users": 0 },
        ])
    );
    app.gql_as(&kai, "{ userStats { activeUsers } }", json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
    app.gql("{ userStats { activeUsers } }", json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
}

/// Removing a user also removes their rate-limit counters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_deletion_forgets_the_users_rate_limit_counters() {
    use std::time::Duration;
    use usergraph::ratelimit::{Rule, user_field_key};

    let app = TestApp::start_with(crate::common::Backend::Sqlite, |config| {
        config.limits.default_rate_limit = 3;
    })
    .await
    .unwrap();
    let admin = superuser(&app, "root").await;
    let (token, _) = app.signed_up("lena").await;
    let lena = row(&app, "lena").await.unwrap();
    for _ in 0..3 {
        app.gql_as(&token, ME, json!({})).await.data("me");
    }
    app.gql_as(&token, ME, json!({}))
        .await
        .expect_code("RATE_LIMITED");
    app.gql_as(
        &admin,
        "mutation { deleteUserPermanently(username: \"lena\") }",
        json!({}),
    )
    .await
    .data("deleteUserPermanently");
    let rule = Rule {
        limit: 3,
        period: Duration::from_secs(60),
    };
    let fresh = app
        .app
        .limiter
        .check(&user_field_key("me", lena.id), rule)
        .await;
    assert!(fresh.allowed);
    assert_eq!(fresh.remaining, 2, "the counter started again from zero");
}
