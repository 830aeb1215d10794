//! Arrangements shared by the user-management tests: superusers, tiers,
//! posts, direct database reads.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;
use usergraph::entities::{tier, user};
use usergraph::services::lifecycle;
use usergraph::services::users::{self, NewUser};
use usergraph::services::write::Actor;

use crate::common::{PASSWORD, TestApp};

/// Create a superuser (as `create-superuser` does) and log them in.
pub async fn superuser(app: &TestApp, username: &str) -> String {
    users::register(
        &app.app,
        &Actor::system(),
        NewUser {
            name: format!("Admin {username}"),
            username: username.to_owned(),
            email: format!("{username}@example.com"),
            password: PASSWORD.to_owned(),
        },
        true,
    )
    .await
    .unwrap();
    app.signed_up_again(username).await.0
}

/// The user row, deleted or not.
pub async fn row(app: &TestApp, username: &str) -> Option<user::Model> {
    user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(&app.app.db)
        .await
        .unwrap()
}

pub async fn tier(app: &TestApp, name: &str) -> i32 {
    let created = tier::ActiveModel {
        name: Set(name.to_owned()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&app.app.db)
    .await
    .unwrap();
    created.id
}

/// Put `username` on a tier through the service (as `setTier` does), so the
/// change reaches the session cache.
pub async fn put_on_tier(app: &TestApp, username: &str, tier_id: Option<i32>) {
    lifecycle::set_tier(&app.app, &Actor::system(), username, tier_id)
        .await
        .unwrap();
}

pub const CREATE_POST: &str =
    "mutation($input: CreatePostInput!) { createPost(input: $input) { id title createdByUserId } }";

pub async fn post(app: &TestApp, token: &str, title: &str) -> i64 {
    let reply = app
        .gql_as(
            token,
            CREATE_POST,
            json!({ "input": { "title": title, "text": "Some text" } }),
        )
        .await;
    reply.data("createPost")["id"].as_i64().unwrap()
}

/// Soft-delete `username` through the API as the holder of `token`.
pub async fn soft_delete(app: &TestApp, token: &str, username: &str) {
    let reply = app
        .gql_as(
            token,
            "mutation($u: String!) { deleteUser(username: $u) }",
            json!({ "u": username }),
        )
        .await;
    assert_eq!(reply.data("deleteUser"), &json!(true));
}

/// `count` users called `{prefix}{n}` written straight into the table in
/// one statement (registering a thousand through the API would hash a
/// thousand passwords); they cannot log in.
pub async fn bulk_users(app: &TestApp, prefix: &str, count: usize) {
    let now = Utc::now();
    let rows = (0..count).map(|index| user::ActiveModel {
        uuid: Set(uuid::Uuid::new_v4()),
        name: Set(format!("Bulk {index}")),
        username: Set(format!("{prefix}{index}")),
        email: Set(format!("{prefix}{index}@example.com")),
        hashed_password: Set("not a hash".to_owned()),
        profile_image_url: Set("https://example.com/p.png".to_owned()),
        is_superuser: Set(false),
        tier_id: Set(None),
        token_version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        is_deleted: Set(false),
        deleted_at: Set(None),
        email_verified_at: Set(None),
        ..Default::default()
    });
    user::Entity::insert_many(rows)
        .exec(&app.app.db)
        .await
        .unwrap();
}

/// Mark `usernames` deleted in the table, as a soft deletion leaves them.
pub async fn mark_deleted(app: &TestApp, usernames: &[&str]) {
    user::Entity::update_many()
        .col_expr(
            user::Column::IsDeleted,
            sea_orm::sea_query::Expr::value(true),
        )
        .col_expr(
            user::Column::DeletedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(user::Column::Username.is_in(usernames.iter().copied()))
        .exec(&app.app.db)
        .await
        .unwrap();
}
