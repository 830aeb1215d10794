//! Changing users: `updateUser`, `changePassword`, `deleteUser`.

use serde_json::json;

use crate::common::{ME, PASSWORD, REGISTER, TestApp};
use crate::fixtures::{row, superuser};
use crate::{on_both_backends, on_sqlite};

on_both_backends!(
    owners_update_their_profile_partially,
    username_and_email_collisions_are_conflicts,
    changing_the_password_ends_every_session,
    deleting_yourself_ends_everything_and_keeps_names_reserved,
);
on_sqlite!(
    others_cannot_update_but_superusers_can,
    null_and_invalid_fields_are_bad_input_and_change_nothing,
    wrong_current_password_or_weak_new_password_is_refused,
    others_cannot_delete_but_superusers_can,
);

const UPDATE: &str = "mutation($u: String!, $input: UpdateUserInput!) {
    updateUser(username: $u, input: $input) { username name email profileImageUrl updatedAt }
}";
const CHANGE_PASSWORD: &str = "mutation($current: String!, $new: String!) { changePassword(currentPassword: $current, newPassword: $new) }";
const DELETE: &str = "mutation($u: String!) { deleteUser(username: $u) }";
const NEW_PASSWORD: &str = "N3w!password";

async fn owners_update_their_profile_partially(app: TestApp) {
    let (token, _) = app.signed_up("olive").await;
    let before = row(&app, "olive").await.unwrap();
    let reply = app
        .gql_as(
            &token,
            UPDATE,
            json!({ "u": "olive", "input": { "name": "  Olive O'Neil & Co ", "profileImageUrl": "https://img.example.com/o.png" } }),
        )
        .await;
    let updated = reply.data("updateUser");
    assert_eq!(updated["name"], "Olive O'Neil & Co");
    assert_eq!(updated["profileImageUrl"], "https://img.example.com/o.png");
    assert_eq!(
        updated["username"], "olive",
        "left-out fields keep their value"
    );
    assert_eq!(updated["email"], "olive@example.com");
    let after = row(&app, "olive").await.unwrap();
    assert!(after.updated_at > before.updated_at);
    assert_eq!(after.name, "Olive O'Neil & Co");

    // Renaming keeps the session (tokens name the uuid). The unchanged
    // address may be sent along (a form posting every field); another
    // address needs `changeEmail` (issue 13).
    let renamed = app
        .gql_as(&token, UPDATE, json!({ "u": "olive", "input": { "username": "Olivia", "email": "Olive@Example.com" } }))
        .await;
    assert_eq!(renamed.data("updateUser")["username"], "olivia");
    assert_eq!(renamed.data("updateUser")["email"], "olive@example.com");
    let moved = app
        .gql_as(
            &token,
            UPDATE,
            json!({ "u": "olivia", "input": { "email": "olivia@example.com" } }),
        )
        .await;
    moved.expect_code("FORBIDDEN");
    assert_eq!(
        row(&app, "olivia").await.unwrap().email,
        "olive@example.com"
    );
    assert_eq!(
        app.gql_as(&token, ME, json!({})).await.data("me")["username"],
        "olivia"
    );
    // The old name is free now.
    let reused = app
        .gql(
            REGISTER,
            json!({ "input": { "name": "Olive Two", "username": "olive", "email": "olive2@example.com", "password": PASSWORD } }),
        )
        .await;
    assert_eq!(reused.errors(), serde_json::Value::Null, "{}", reused.text);
}

async fn others_cannot_update_but_superusers_can(app: TestApp) {
    app.register("pat").await;
    let (other, _) = app.signed_up("quentin").await;
    let admin = superuser(&app, "root").await;
    let input = json!({ "u": "pat", "input": { "name": "Hacked" } });
    let refused = app.gql_as(&other, UPDATE, input.clone()).await;
    assert_eq!(
        refused.expect_code("FORBIDDEN"),
        "Cannot update other users"
    );
    app.gql(UPDATE, input.clone())
        .await
        .expect_code("UNAUTHENTICATED");
    assert_eq!(row(&app, "pat").await.unwrap().name, "User pat");

    let reply = app.gql_as(&admin, UPDATE, input).await;
    assert_eq!(reply.data("updateUser")["name"], "Hacked");
    let missing = app
        .gql_as(
            &admin,
            UPDATE,
            json!({ "u": "ghost", "input": { "name": "Boo" } }),
        )
        .await;
    missing.expect_code("NOT_FOUND");
}

async fn null_and_invalid_fields_are_bad_input_and_change_nothing(app: TestApp) {
    let (token, _) = app.signed_up("rita").await;
    let cases = [
        json!({ "name": null }),
        json!({ "username": null }),
        json!({ "email": null }),
        json!({ "profileImageUrl": null }),
        json!({ "name": "R" }),
        json!({ "name": "Bad\u{0}Name" }),
        json!({ "username": "Not Valid" }),
        json!({ "email": "nope" }),
        json!({ "profileImageUrl": "javascript:alert(1)" }),
        json!({ "profileImageUrl": "ftp://example.com/x.png" }),
        json!({ "name": "Fine Name", "email": "nope" }),
    ];
    for input in cases {
        let reply = app
            .gql_as(&token, UPDATE, json!({ "u": "rita", "input": input }))
            .await;
        reply.expect_code("BAD_USER_INPUT");
    }
    let after = row(&app, "rita").await.unwrap();
    assert_eq!(
        (after.name.as_str(), after.email.as_str()),
        ("User rita", "rita@example.com")
    );
}

async fn username_and_email_collisions_are_conflicts(app: TestApp) {
    app.register("sara").await;
    let (token, _) = app.signed_up("tom").await;
    let taken_name = app
        .gql_as(
            &token,
            UPDATE,
            json!({ "u": "tom", "input": { "username": "SARA" } }),
        )
        .await;
    assert_eq!(taken_name.expect_code("CONFLICT"), "Username not available");
    // Only a superuser sets another address through updateUser.
    let admin = superuser(&app, "root").await;
    let taken_email = app
        .gql_as(
            &admin,
            UPDATE,
            json!({ "u": "tom", "input": { "email": "sara@example.com" } }),
        )
        .await;
    assert_eq!(
        taken_email.expect_code("CONFLICT"),
        "Email is already registered"
    );
    // Keeping your own values is not a collision.
    let same = app
        .gql_as(
            &token,
            UPDATE,
            json!({ "u": "tom", "input": { "username": "tom", "email": "tom@example.com" } }),
        )
        .await;
    assert_eq!(same.data("updateUser")["username"], "tom");
}

async fn changing_the_password_ends_every_session(app: TestApp) {
    let (access, refresh) = app.signed_up("uri").await;
    let (other_access, _) = app.signed_up_again("uri").await;
    let reply = app
        .gql_as(
            &access,
            CHANGE_PASSWORD,
            json!({ "current": PASSWORD, "new": NEW_PASSWORD }),
        )
        .await;
    assert_eq!(reply.data("changePassword"), &json!(true));

    for token in [&access, &other_access] {
        app.gql_as(token, ME, json!({}))
            .await
            .expect_code("UNAUTHENTICATED");
    }
    let refresh_reply = app
        .gql(
            "mutation($t: String) { refreshToken(refreshToken: $t) { accessToken } }",
            json!({ "t": refresh }),
        )
        .await;
    refresh_reply.expect_code("UNAUTHENTICATED");
    app.login("uri", PASSWORD)
        .await
        .expect_code("UNAUTHENTICATED");
    let fresh = app.login("uri", NEW_PASSWORD).await;
    let token = fresh.data("login")["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.gql_as(&token, ME, json!({})).await.data("me")["username"],
        "uri"
    );
}

async fn wrong_current_password_or_weak_new_password_is_refused(app: TestApp) {
    let (access, _) = app.signed_up("vic").await;
    let wrong = app
        .gql_as(
            &access,
            CHANGE_PASSWORD,
            json!({ "current": "Wr0ng!pass", "new": NEW_PASSWORD }),
        )
        .await;
    assert_eq!(
        wrong.expect_code("BAD_USER_INPUT"),
        "Current password is incorrect"
    );
    let weak = app
        .gql_as(
            &access,
            CHANGE_PASSWORD,
            json!({ "current": PASSWORD, "new": "weak" }),
        )
        .await;
    weak.expect_code("BAD_USER_INPUT");
    app.gql(
        CHANGE_PASSWORD,
        json!({ "current": PASSWORD, "new": NEW_PASSWORD }),
    )
    .await
    .expect_code("UNAUTHENTICATED");
    // Nothing changed: the session and the password still work.
    assert_eq!(
        app.gql_as(&access, ME, json!({})).await.data("me")["username"],
        "vic"
    );
    app.login("vic", PASSWORD).await.data("login");
}

async fn deleting_yourself_ends_everything_and_keeps_names_reserved(app: TestApp) {
    let (access, refresh) = app.signed_up("wes").await;
    let (other_access, _) = app.signed_up_again("wes").await;
    let reply = app.gql_as(&access, DELETE, json!({ "u": "wes" })).await;
    assert_eq!(reply.data("deleteUser"), &json!(true));

    let stored = row(&app, "wes").await.unwrap();
    assert!(stored.is_deleted);
    assert!(stored.deleted_at.is_some());
    for token in [&access, &other_access] {
        app.gql_as(token, ME, json!({}))
            .await
            .expect_code("UNAUTHENTICATED");
    }
    app.gql(
        "mutation($t: String) { refreshToken(refreshToken: $t) { accessToken } }",
        json!({ "t": refresh }),
    )
    .await
    .expect_code("UNAUTHENTICATED");
    let login = app.login("wes", PASSWORD).await;
    assert_eq!(
        login.expect_code("UNAUTHENTICATED"),
        "Incorrect username or password"
    );

    let again = app
        .gql(
            REGISTER,
            json!({ "input": { "name": "New Wes", "username": "wes", "email": "new@example.com", "password": PASSWORD } }),
        )
        .await;
    assert_eq!(again.expect_code("CONFLICT"), "Username not available");
    let again = app
        .gql(
            REGISTER,
            json!({ "input": { "name": "New Wes", "username": "wes2", "email": "wes@example.com", "password": PASSWORD } }),
        )
        .await;
    assert_eq!(again.expect_code("CONFLICT"), "Email is already registered");
}

async fn others_cannot_delete_but_superusers_can(app: TestApp) {
    app.register("xavier").await;
    let (other, _) = app.signed_up("yolanda").await;
    let admin = superuser(&app, "root").await;
    let refused = app.gql_as(&other, DELETE, json!({ "u": "xavier" })).await;
    assert_eq!(
        refused.expect_code("FORBIDDEN"),
        "Cannot delete other users"
    );
    app.gql(DELETE, json!({ "u": "xavier" }))
        .await
        .expect_code("UNAUTHENTICATED");
    assert!(!row(&app, "xavier").await.unwrap().is_deleted);

    let reply = app.gql_as(&admin, DELETE, json!({ "u": "xavier" })).await;
    assert_eq!(reply.data("deleteUser"), &json!(true));
    assert!(row(&app, "xavier").await.unwrap().is_deleted);
    // The admin's own session is untouched.
    assert_eq!(
        app.gql_as(&admin, ME, json!({})).await.data("me")["username"],
        "root"
    );
    let twice = app.gql_as(&admin, DELETE, json!({ "u": "xavier" })).await;
    twice.expect_code("NOT_FOUND");
}
