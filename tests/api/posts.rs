//! Posts: authors write, authors or superusers change and delete.

use serde_json::{Value, json};

use crate::common::TestApp;
use crate::fixtures::{CREATE_POST, post, superuser};
use crate::{on_both_backends, on_sqlite};

on_both_backends!(posts_are_listed_newest_first_and_validated,);
on_sqlite!(authors_manage_their_posts,);

const UPDATE: &str = "mutation($id: Int!, $input: UpdatePostInput!) { updatePost(id: $id, input: $input) { title text mediaUrl } }";
const DELETE: &str = "mutation($id: Int!) { deletePost(id: $id) }";

async fn authors_manage_their_posts(app: TestApp) {
    let (author, _) = app.signed_up("author").await;
    let (other, _) = app.signed_up("other").await;
    let admin = superuser(&app, "root").await;
    let id = post(&app, &author, "Hello").await;

    let edit = json!({ "id": id, "input": { "title": "Edited", "mediaUrl": "https://example.com/m.png" } });
    let refused = app.gql_as(&other, UPDATE, edit.clone()).await;
    assert_eq!(
        refused.expect_code("FORBIDDEN"),
        "Cannot update other users' posts"
    );
    app.gql(UPDATE, edit.clone())
        .await
        .expect_code("UNAUTHENTICATED");
    let edited = app.gql_as(&author, UPDATE, edit).await;
    assert_eq!(edited.data("updatePost")["title"], "Edited");
    assert_eq!(
        edited.data("updatePost")["mediaUrl"],
        "https://example.com/m.png"
    );
    let cleared = app
        .gql_as(
            &admin,
            UPDATE,
            json!({ "id": id, "input": { "mediaUrl": null } }),
        )
        .await;
    assert_eq!(cleared.data("updatePost")["mediaUrl"], Value::Null);
    assert_eq!(cleared.data("updatePost")["title"], "Edited");

    app.gql_as(&other, DELETE, json!({ "id": id }))
        .await
        .expect_code("FORBIDDEN");
    assert_eq!(
        app.gql_as(&author, DELETE, json!({ "id": id }))
            .await
            .data("deletePost"),
        &json!(true)
    );
    app.gql_as(&author, DELETE, json!({ "id": id }))
        .await
        .expect_code("NOT_FOUND");
    app.gql_as(
        &author,
        UPDATE,
        json!({ "id": id, "input": { "title": "Again" } }),
    )
    .await
    .expect_code("NOT_FOUND");
    let second = post(&app, &author, "Second").await;
    assert_eq!(
        app.gql_as(&admin, DELETE, json!({ "id": second }))
            .await
            .data("deletePost"),
        &json!(true)
    );
}

async fn posts_are_listed_newest_first_and_validated(app: TestApp) {
    let (author, _) = app.signed_up("writer").await;
    for title in ["One", "Two", "Three"] {
        post(&app, &author, title).await;
    }
    let query = "query($u: String!, $page: Int, $per: Int) { posts(username: $u, page: $page, itemsPerPage: $per) { items { title author { username } } hasMore totalCount page itemsPerPage } }";
    let first = app
        .gql(query, json!({ "u": "writer", "page": 1, "per": 2 }))
        .await;
    let page = first.data("posts");
    assert_eq!(
        page["items"],
        json!([
            { "title": "Three", "author": { "username": "writer" } },
            { "title": "Two", "author": { "username": "writer" } },
        ])
    );
    assert_eq!(
        (page["hasMore"].as_bool(), page["totalCount"].as_i64()),
        (Some(true), Some(3))
    );
    let second = app
        .gql(query, json!({ "u": "writer", "page": 2, "per": 2 }))
        .await;
    assert_eq!(second.data("posts")["items"].as_array().unwrap().len(), 1);
    app.gql(query, json!({ "u": "writer", "page": 0 }))
        .await
        .expect_code("BAD_USER_INPUT");
    app.gql(query, json!({ "u": "ghost" }))
        .await
        .expect_code("NOT_FOUND");

    for input in [
        json!({ "title": "X", "text": "ok" }),
        json!({ "title": "x".repeat(31), "text": "ok" }),
        json!({ "title": "Fine", "text": "" }),
        json!({ "title": "Fine", "text": "t".repeat(63_207) }),
        json!({ "title": "Fine", "text": "ok", "mediaUrl": "file:///etc/passwd" }),
    ] {
        app.gql_as(&author, CREATE_POST, json!({ "input": input }))
            .await
            .expect_code("BAD_USER_INPUT");
    }
    app.gql(
        CREATE_POST,
        json!({ "input": { "title": "Anon", "text": "no" } }),
    )
    .await
    .expect_code("UNAUTHENTICATED");
}
