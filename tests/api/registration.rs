//! `register`: validation, normalisation, conflicts and races.

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use usergraph::entities::user;

use crate::common::{PASSWORD, REGISTER, TestApp};
use crate::{on_both_backends, on_sqlite};

on_both_backends!(
    registers_a_user_and_normalises_input,
    duplicate_email_is_a_conflict_case_insensitively,
    duplicate_username_is_a_conflict,
    fifty_racing_registrations_make_exactly_one_user,
);
on_sqlite!(
    text_is_stored_as_given_not_escaped,
    bad_input_is_refused_and_nothing_is_written,
    password_rules_are_enforced,
);

fn input(name: &str, username: &str, email: &str, password: &str) -> Value {
    json!({ "input": { "name": name, "username": username, "email": email, "password": password } })
}

async fn user_count(app: &TestApp) -> u64 {
    user::Entity::find().count(&app.app.db).await.unwrap()
}

async fn registers_a_user_and_normalises_input(app: TestApp) {
    let reply = app
        .gql(
            REGISTER,
            input("  Ann Lee ", " Ann42 ", " Ann@Example.COM ", PASSWORD),
        )
        .await;
    let user = reply.data("register");
    assert_eq!(user["name"], "Ann Lee");
    assert_eq!(user["username"], "ann42");
    assert_eq!(user["email"], "ann@example.com");
    assert_eq!(user["isSuperuser"], false);
    assert_eq!(user["tierId"], Value::Null);
    assert!(user["uuid"].as_str().unwrap().len() == 36);
    assert!(
        user["profileImageUrl"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );

    let row = user::Entity::find()
        .filter(user::Column::Username.eq("ann42"))
        .one(&app.app.db)
        .await
        .unwrap()
        .expect("row written");
    assert_eq!(row.email, "ann@example.com");
    assert!(
        row.hashed_password.starts_with("$2"),
        "stored as a bcrypt hash"
    );
    assert_ne!(row.hashed_password, PASSWORD);

    // The hash is not part of the API at all.
    let reply = app
        .gql(
            REGISTER.replace("tierId", "hashedPassword").as_str(),
            input("Bo", "bo", "bo@example.com", PASSWORD),
        )
        .await;
    assert!(
        reply.message().unwrap().contains("hashedPassword"),
        "{}",
        reply.text
    );
}

async fn text_is_stored_as_given_not_escaped(app: TestApp) {
    let reply = app
        .gql(
            REGISTER,
            input("O'Brien & Co <b>", "obrien", "o@example.com", PASSWORD),
        )
        .await;
    assert_eq!(reply.data("register")["name"], "O'Brien & Co <b>");
    let row = user::Entity::find()
        .filter(user::Column::Username.eq("obrien"))
        .one(&app.app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.name, "O'Brien & Co <b>");
}

async fn bad_input_is_refused_and_nothing_is_written(app: TestApp) {
    let cases = [
        input("Bell\u{7}", "bell", "bell@example.com", PASSWORD),
        input("Tab\tName", "tab", "tab@example.com", PASSWORD),
        input("A", "shortname", "s@example.com", PASSWORD),
        input(&"x".repeat(31), "longname", "l@example.com", PASSWORD),
        input("Valid Name", "x", "x@example.com", PASSWORD),
        input("Valid Name", "has_underscore", "u@example.com", PASSWORD),
        input("Valid Name", "has space", "sp@example.com", PASSWORD),
        input("Valid Name", &"a".repeat(21), "a@example.com", PASSWORD),
        input("Valid Name", "noemail", "not-an-email", PASSWORD),
        input("Valid Name", "noemail2", "two@@example.com", PASSWORD),
        input("Valid Name", "ctlemail", "c\u{0}@example.com", PASSWORD),
    ];
    for case in cases {
        let reply = app.gql(REGISTER, case.clone()).await;
        reply.expect_code("BAD_USER_INPUT");
        assert_eq!(reply.body["data"], Value::Null, "{case}");
    }
    assert_eq!(user_count(&app).await, 0);
}

async fn password_rules_are_enforced(app: TestApp) {
    let seventy_two = format!("Aa1!{}", "z".repeat(68));
    let seventy_three = format!("{seventy_two}z");
    let refused = [
        ("Sh0rt!a", "at least 8"),
        ("alllowercase1!", "upper-case"),
        ("ALLUPPERCASE1!", "lower-case"),
        ("NoDigitsHere!", "digit"),
        ("NoSymbols123", "symbol"),
        (seventy_three.as_str(), "72 bytes"),
        // Few characters, too many bytes: é takes two.
        ("Aa1!ééééééééééééééééééééééééééééééééééé", "72 bytes"),
    ];
    for (index, (password, hint)) in refused.iter().enumerate() {
        let reply = app
            .gql(
                REGISTER,
                input(
                    "Pat",
                    &format!("pat{index}"),
                    &format!("pat{index}@example.com"),
                    password,
                ),
            )
            .await;
        let message = reply.expect_code("BAD_USER_INPUT");
        assert!(message.contains(hint), "{password}: {message}");
    }
    assert_eq!(user_count(&app).await, 0);

    // Exactly 72 bytes is accepted, and the whole password matters: a
    // password differing only in the last byte does not log in.
    let reply = app
        .gql(
            REGISTER,
            input("Pat", "patok", "patok@example.com", &seventy_two),
        )
        .await;
    reply.data("register");
    let login = app.login("patok", &seventy_two).await;
    login.data("login");
    let mut wrong_last = seventy_two.clone();
    wrong_last.pop();
    wrong_last.push('y');
    app.login("patok", &wrong_last)
        .await
        .expect_code("UNAUTHENTICATED");
}

async fn duplicate_email_is_a_conflict_case_insensitively(app: TestApp) {
    app.register("first").await;
    let reply = app
        .gql(
            REGISTER,
            input("Second", "second", "FIRST@Example.com", PASSWORD),
        )
        .await;
    assert_eq!(reply.expect_code("CONFLICT"), "Email is already registered");
    assert_eq!(user_count(&app).await, 1);
}

async fn duplicate_username_is_a_conflict(app: TestApp) {
    app.register("taken").await;
    let reply = app
        .gql(
            REGISTER,
            input("Other", "TAKEN", "other@example.com", PASSWORD),
        )
        .await;
    assert_eq!(reply.expect_code("CONFLICT"), "Username not available");
    assert_eq!(user_count(&app).await, 1);
}

async fn fifty_racing_registrations_make_exactly_one_user(app: TestApp) {
    let app = std::sync::Arc::new(app);
    let attempts = (0..50).map(|index| {
        let app = std::sync::Arc::clone(&app);
        tokio::spawn(async move {
            app.gql(
                REGISTER,
                input(
                    "Racer",
                    "racer",
                    &format!("racer{index}@example.com"),
                    PASSWORD,
                ),
            )
            .await
        })
    });
    let replies = futures::future::join_all(attempts).await;
    let mut created = 0;
    let mut conflicts = 0;
    for reply in replies {
        let reply = reply.unwrap();
        match reply.code() {
            None => created += 1,
            Some("CONFLICT") => {
                assert_eq!(reply.message(), Some("Username not available"));
                conflicts += 1;
            }
            Some(other) => panic!("unexpected {other}: {}", reply.text),
        }
    }
    assert_eq!((created, conflicts), (1, 49));
    assert_eq!(user_count(&app).await, 1);
}
