//! Passwords (issue 15): every hash format logs in, hashes are upgraded at
//! login when the settings ask for more, and new passwords follow the rules
//! everywhere they are set.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use usergraph::config::PasswordHashAlgorithm;
use usergraph::entities::user;

use crate::common::{ME, PASSWORD, TestApp};
use crate::{on_both_backends, on_sqlite};

on_both_backends!(
    every_known_hash_format_logs_in,
    the_hash_is_upgraded_at_login_when_the_settings_ask_for_more,
);

on_sqlite!(
    a_hash_in_no_known_format_fails_like_a_wrong_password,
    argon2id_takes_passwords_up_to_256_bytes,
    new_passwords_refuse_common_ones_and_the_users_own_names,
    password_strength_gives_live_feedback_within_the_rate_limit,
);

pub async fn stored_hash(app: &TestApp, username: &str) -> String {
    user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(&app.app.db)
        .await
        .unwrap()
        .expect("user exists")
        .hashed_password
}

async fn store_hash(app: &TestApp, username: &str, hash: &str) {
    user::Entity::update_many()
        .col_expr(user::Column::HashedPassword, Expr::value(hash))
        .filter(user::Column::Username.eq(username))
        .exec(&app.app.db)
        .await
        .unwrap();
}

pub fn argon2_hash(algorithm: Algorithm, password: &str) -> String {
    let params = Params::new(64, 1, 1, None).unwrap();
    Argon2::new(algorithm, Version::V0x13, params)
        .hash_password(password.as_bytes())
        .unwrap()
        .to_string()
}

fn bcrypt_hash(version: bcrypt::Version, password: &str) -> String {
    bcrypt::hash_with_result(password, 4)
        .unwrap()
        .format_for_version(version)
}

#[track_caller]
fn assert_logged_in(reply: &crate::common::Reply) {
    assert!(
        reply.data("login")["accessToken"].is_string(),
        "{}",
        reply.text
    );
}

async fn every_known_hash_format_logs_in(app: TestApp) {
    let formats = [
        ("$2a$", bcrypt_hash(bcrypt::Version::TwoA, PASSWORD)),
        ("$2b$", bcrypt_hash(bcrypt::Version::TwoB, PASSWORD)),
        ("$2y$", bcrypt_hash(bcrypt::Version::TwoY, PASSWORD)),
        ("$argon2id$", argon2_hash(Algorithm::Argon2id, PASSWORD)),
        ("$argon2i$", argon2_hash(Algorithm::Argon2i, PASSWORD)),
    ];
    for (index, (prefix, hash)) in formats.into_iter().enumerate() {
        // One account per format: the login limits count per account.
        let username = format!("hashes{index}");
        app.register(&username).await;
        assert!(hash.starts_with(prefix), "{hash}");
        store_hash(&app, &username, &hash).await;
        let wrong = app.login(&username, "Wr0ng!pass").await;
        assert_eq!(
            wrong.expect_code("UNAUTHENTICATED"),
            "Incorrect username or password"
        );
        assert_eq!(stored_hash(&app, &username).await, hash, "{prefix}: kept");
        assert_logged_in(&app.login(&username, PASSWORD).await);
        let after = stored_hash(&app, &username).await;
        if prefix.starts_with("$2") {
            // bcrypt at the configured cost (4): nothing to upgrade.
            assert_eq!(after, hash, "{prefix}");
        } else {
            // Another algorithm than the settings' bcrypt: replaced.
            assert!(after.starts_with("$2b$04$"), "{prefix}: {after}");
            assert_logged_in(&app.login(&username, PASSWORD).await);
        }
    }
}

async fn the_hash_is_upgraded_at_login_when_the_settings_ask_for_more(app: TestApp) {
    let (token, _) = app.signed_up("upgrade").await;
    let first = stored_hash(&app, "upgrade").await;
    assert!(first.starts_with("$2b$04$"), "{first}");

    // The same settings: the hash stays as it is.
    assert_logged_in(&app.login("upgrade", PASSWORD).await);
    assert_eq!(stored_hash(&app, "upgrade").await, first);

    // Switched to argon2id: the next login stores an argon2id hash.
    let argon2 = app
        .another_instance(|config| config.password_hash = PasswordHashAlgorithm::Argon2id)
        .await;
    assert_logged_in(&argon2.login("upgrade", PASSWORD).await);
    let upgraded = stored_hash(&app, "upgrade").await;
    assert!(
        upgraded.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
        "{upgraded}"
    );
    assert_logged_in(&argon2.login("upgrade", PASSWORD).await);
    assert_eq!(
        stored_hash(&app, "upgrade").await,
        upgraded,
        "already current"
    );

    // More iterations: weaker parameters are upgraded too.
    let stronger = app
        .another_instance(|config| {
            config.password_hash = PasswordHashAlgorithm::Argon2id;
            config.argon2_iterations = 2;
            config.argon2_memory_kib = 128;
        })
        .await;
    assert_logged_in(&stronger.login("upgrade", PASSWORD).await);
    let stronger_hash = stored_hash(&app, "upgrade").await;
    assert!(
        stronger_hash.starts_with("$argon2id$v=19$m=128,t=2,p=1$"),
        "{stronger_hash}"
    );

    // Back to bcrypt, at a higher cost.
    let bcrypt = app.another_instance(|config| config.bcrypt_cost = 5).await;
    assert_logged_in(&bcrypt.login("upgrade", PASSWORD).await);
    let back = stored_hash(&app, "upgrade").await;
    assert!(back.starts_with("$2b$05$"), "{back}");

    // A wrong password never rewrites the hash, and the upgrades ended no
    // session: the first access token still works.
    let wrong = stronger.login("upgrade", "Wr0ng!pass").await;
    wrong.expect_code("UNAUTHENTICATED");
    assert_eq!(stored_hash(&app, "upgrade").await, back);
    let me = app.gql_as(&token, ME, json!({})).await;
    assert_eq!(me.data("me")["username"], "upgrade");
}

async fn a_hash_in_no_known_format_fails_like_a_wrong_password(app: TestApp) {
    app.register("oddhash").await;
    for hash in [
        PASSWORD,
        "$pbkdf2-sha256$29000$c2FsdA$aGFzaA",
        "$argon2d$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
    ] {
        store_hash(&app, "oddhash", hash).await;
        let reply = app.login("oddhash", PASSWORD).await;
        assert_eq!(
            reply.expect_code("UNAUTHENTICATED"),
            "Incorrect username or password",
            "{hash}"
        );
        assert_eq!(stored_hash(&app, "oddhash").await, hash);
    }
}

async fn argon2id_takes_passwords_up_to_256_bytes(app: TestApp) {
    let long = format!("Aa1!{}", "word-".repeat(50));
    assert!(long.len() > 72 && long.len() <= 256);
    let register = |password: &str, username: &str| {
        json!({ "input": {
            "name": "Long Password",
            "username": username,
            "email": format!("{username}@example.com"),
            "password": password,
        }})
    };
    // bcrypt (the default) refuses more than 72 bytes, never truncates.
    let refused = app
        .gql(crate::common::REGISTER, register(&long, "longbcrypt"))
        .await;
    assert_eq!(
        refused.expect_code("BAD_USER_INPUT"),
        "password must be at most 72 bytes"
    );

    let argon2 = app
        .another_instance(|config| config.password_hash = PasswordHashAlgorithm::Argon2id)
        .await;
    let created = argon2
        .gql(crate::common::REGISTER, register(&long, "longargon"))
        .await;
    assert_eq!(created.data("register")["username"], "longargon");
    assert!(
        stored_hash(&app, "longargon")
            .await
            .starts_with("$argon2id$")
    );
    assert_logged_in(&argon2.login("longargon", &long).await);
    // Every byte counts: a different 200th byte is a wrong password.
    let mut altered = long.clone();
    altered.replace_range(199..200, "X");
    argon2
        .login("longargon", &altered)
        .await
        .expect_code("UNAUTHENTICATED");
    // A server back on bcrypt still logs this user in, and keeps the
    // argon2id hash (bcrypt cannot take this password).
    assert_logged_in(&app.login("longargon", &long).await);
    assert!(
        stored_hash(&app, "longargon")
            .await
            .starts_with("$argon2id$")
    );

    let too_long = format!("Aa1!{}", "x".repeat(253));
    let refused = argon2
        .gql(crate::common::REGISTER, register(&too_long, "toolong"))
        .await;
    assert_eq!(
        refused.expect_code("BAD_USER_INPUT"),
        "password must be at most 256 bytes"
    );
}

async fn new_passwords_refuse_common_ones_and_the_users_own_names(app: TestApp) {
    let attempt = |password: &str| {
        json!({ "input": {
            "name": "Carol Jones",
            "username": "carol",
            "email": "cj.writer@example.com",
            "password": password,
        }})
    };
    for (password, reason) in [
        ("Sasha_007", "one of the 10,000 most common passwords"),
        ("sASHA_007", "one of the 10,000 most common passwords"),
        ("My!Carol.99", "must not contain the username"),
        (
            "Dear-CJ.Writer1",
            "must not contain the email address's name",
        ),
        ("weak", "at least 8 characters"),
    ] {
        let reply = app.gql(crate::common::REGISTER, attempt(password)).await;
        let message = reply.expect_code("BAD_USER_INPUT");
        assert!(message.contains(reason), "{password}: {message}");
    }
    let reply = app.gql(crate::common::REGISTER, attempt(PASSWORD)).await;
    assert_eq!(reply.data("register")["username"], "carol");

    // changePassword applies the same rules.
    let token = app.login("carol", PASSWORD).await.data("login")["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let change = "mutation($new: String!) { changePassword(currentPassword: \"Str0ng!pass\", newPassword: $new) }";
    for (password, reason) in [("Sasha_007", "most common"), ("Carol!2024x", "username")] {
        let reply = app.gql_as(&token, change, json!({ "new": password })).await;
        let message = reply.expect_code("BAD_USER_INPUT");
        assert!(message.contains(reason), "{password}: {message}");
    }
    assert_logged_in(&app.login("carol", PASSWORD).await);
}

const STRENGTH: &str = "query($password: String!, $username: String, $email: String) {
    passwordStrength(password: $password, username: $username, email: $email) { acceptable score warnings }
}";

async fn password_strength_gives_live_feedback_within_the_rate_limit(app: TestApp) {
    let weak = app.gql(STRENGTH, json!({ "password": "Sasha_007" })).await;
    let weak = weak.data("passwordStrength");
    assert_eq!(weak["acceptable"], false);
    assert!(weak["score"].as_i64().unwrap() <= 1, "{weak}");
    assert!(
        weak["warnings"][0]
            .as_str()
            .unwrap()
            .contains("most common"),
        "{weak}"
    );

    let personal = app
        .gql(
            STRENGTH,
            json!({ "password": "Dave#Rocks2024", "username": "dave", "email": "d@example.com" }),
        )
        .await;
    let personal = personal.data("passwordStrength");
    assert_eq!(personal["acceptable"], false);
    assert_eq!(
        personal["warnings"][0],
        "password must not contain the username"
    );

    let strong = app
        .gql(
            STRENGTH,
            json!({ "password": "correct-Horse-7-battery-staple" }),
        )
        .await;
    let strong = strong.data("passwordStrength");
    assert_eq!(strong["acceptable"], true);
    assert_eq!(strong["score"], 4);

    // Rate limited like every anonymous root field.
    let limited = app
        .another_instance(|config| config.limits.default_rate_limit = 2)
        .await;
    let ip = "203.0.113.15";
    for _ in 0..2 {
        let reply = limited
            .gql_from(ip, None, STRENGTH, json!({ "password": "x" }))
            .await;
        assert_eq!(reply.data("passwordStrength")["acceptable"], false);
    }
    let reply = limited
        .gql_from(ip, None, STRENGTH, json!({ "password": "x" }))
        .await;
    reply.expect_code("RATE_LIMITED");
}
