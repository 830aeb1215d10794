//! Batched loading: listing users with their tier, post count and posts
//! costs a fixed number of SQL statements, whatever the page size.

use chrono::Utc;
use sea_orm::{EntityTrait, Set};
use serde_json::json;
use usergraph::entities::{post, user};

use crate::common::TestApp;
use crate::fixtures::tier;
use crate::on_both_backends;

on_both_backends!(listing_costs_the_same_statements_for_10_and_100_users);

/// Insert `count` users directly (no bcrypt), each on a tier and with posts.
async fn seed(app: &TestApp, count: usize) {
    let tiers = [tier(app, "free").await, tier(app, "pro").await];
    let now = Utc::now();
    let users: Vec<user::ActiveModel> = (0..count)
        .map(|index| user::ActiveModel {
            uuid: Set(uuid::Uuid::new_v4()),
            name: Set(format!("Seed {index}")),
            username: Set(format!("seed{index}")),
            email: Set(format!("seed{index}@example.com")),
            hashed_password: Set(
                "$2b$04$invalidinvalidinvalidinvalidinvalidinvalidinvalidinva".to_owned(),
            ),
            profile_image_url: Set("https://example.com/a.png".to_owned()),
            is_superuser: Set(false),
            tier_id: Set((index % 3 != 0).then(|| tiers[index % 2])),
            token_version: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
            is_deleted: Set(false),
            deleted_at: Set(None),
            ..Default::default()
        })
        .collect();
    user::Entity::insert_many(users)
        .exec(&app.app.db)
        .await
        .unwrap();
    let all = user::Entity::find().all(&app.app.db).await.unwrap();
    let posts: Vec<post::ActiveModel> = all
        .iter()
        .flat_map(|author| {
            (0..(author.id % 4)).map(move |index| post::ActiveModel {
                created_by_user_id: Set(author.id),
                title: Set(format!("Post {index}")),
                text: Set("text".to_owned()),
                media_url: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                is_deleted: Set(index == 2),
                deleted_at: Set(None),
                ..Default::default()
            })
        })
        .collect();
    post::Entity::insert_many(posts)
        .exec(&app.app.db)
        .await
        .unwrap();
}

async fn statements_for(app: &TestApp, query: &str) -> (u64, serde_json::Value) {
    let before = app.app.sql_statements.get();
    let reply = app.gql(query, json!({})).await;
    let data = reply.data("users").clone();
    (app.app.sql_statements.get() - before, data)
}

async fn listing_costs_the_same_statements_for_10_and_100_users(app: TestApp) {
    seed(&app, 120).await;
    let listing = |size: u32| {
        format!(
            "{{ users(itemsPerPage: {size}) {{ totalCount items {{ id username tier {{ name }} postCount posts(itemsPerPage: 2) {{ title author {{ username }} }} }} }} }}"
        )
    };
    let (small, small_page) = statements_for(&app, &listing(10)).await;
    let (large, large_page) = statements_for(&app, &listing(100)).await;
    assert_eq!(small_page["items"].as_array().unwrap().len(), 10);
    assert_eq!(large_page["items"].as_array().unwrap().len(), 100);
    // users, total, tiers, post counts, one window of posts (authors are
    // the listed users themselves): the same 5 for 10 users as for 100.
    assert_eq!((small, large), (5, 5));

    // The listing: users, tiers and post counts (prefetched for the
    // whole page) and the total: 4 statements for 10 users as for 100.
    let basic = |size: u32| {
        format!(
            "{{ users(itemsPerPage: {size}) {{ totalCount items {{ username tier {{ name }} postCount }} }} }}"
        )
    };
    let (ten, _) = statements_for(&app, &basic(10)).await;
    let (hundred, _) = statements_for(&app, &basic(100)).await;
    assert_eq!((ten, hundred), (4, 4));

    // And the batched answers are right.
    for item in large_page["items"].as_array().unwrap() {
        let id = item["id"].as_i64().unwrap();
        let live_posts = (0..id % 4).filter(|index| *index != 2).count();
        assert_eq!(item["postCount"], live_posts, "{item}");
        let shown = item["posts"].as_array().unwrap();
        assert_eq!(shown.len(), live_posts.min(2), "{item}");
        for post in shown {
            assert_eq!(post["author"]["username"], item["username"]);
        }
        let expected_tier = match (id - 1) % 3 {
            0 => serde_json::Value::Null,
            _ => json!({ "name": if (id - 1) % 2 == 0 { "free" } else { "pro" } }),
        };
        assert_eq!(item["tier"], expected_tier, "{item}");
    }
}
