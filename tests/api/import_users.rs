//! `usergraph import-users` through the real binary (issue 15): a JSON Lines
//! file and a FastAPI-boilerplate database, then a login through `/graphql`
//! with the password the user had before.

use std::path::Path;
use std::process::Output;

use argon2::Algorithm;
use sea_orm::{ColumnTrait, ConnectionTrait, Database, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use usergraph::config::PasswordHashAlgorithm;
use usergraph::entities::{post, rate_limit, tier, user};
use usergraph::services::write::Actor;

use crate::cli::{stderr_of, usergraph};
use crate::common::{Backend, TestApp, service_url};
use crate::passwords::{argon2_hash, stored_hash};

const SCHEMA: &str = include_str!("../data/fastapi-boilerplate-schema.sql");

/// `usergraph import-users ARGS` against `app`'s database.
fn import(app: &TestApp, dir: &Path, args: &[&str]) -> (Output, String) {
    let output = usergraph(dir)
        .env("DATABASE_URL", app.database_url())
        .env("JWT_SECRET", crate::common::TEST_SECRET)
        .arg("import-users")
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    (output, stdout)
}

async fn user_count(app: &TestApp) -> u64 {
    user::Entity::find().count(&app.app.db).await.unwrap()
}

async fn row(app: &TestApp, username: &str) -> Option<user::Model> {
    user::Entity::find()
        .filter(user::Column::Username.eq(username))
        .one(&app.app.db)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jsonl_file_is_imported_all_or_nothing_on_sqlite() {
    jsonl_file_is_imported_all_or_nothing(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jsonl_file_is_imported_all_or_nothing_on_postgres() {
    jsonl_file_is_imported_all_or_nothing(Backend::Postgres).await;
}

async fn jsonl_file_is_imported_all_or_nothing(backend: Backend) {
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    usergraph::services::tiers::create(&app.app, &Actor::system(), "pro")
        .await
        .unwrap();
    app.register("taken").await;
    let ann_hash = bcrypt::hash("Ann!secret9", 4).unwrap();
    let bo_hash = argon2_hash(Algorithm::Argon2id, "Bo#secret77");
    let lines = [
        json!({"name": "Ann Lee", "username": "Ann", "email": "ann@example.com", "password_hash": ann_hash,
               "created_at": "2023-04-05T06:07:08Z", "is_superuser": true, "tier": "pro", "email_verified": true}),
        json!({"name": "Bo Diddley", "username": "bo", "email": "bo@example.com", "password_hash": bo_hash}),
        json!({"name": "Cy", "username": "cy", "email": "not-an-address", "password_hash": ann_hash}),
        json!({"name": "Di Prince", "username": "di", "email": "di@example.com", "password_hash": "hunter2"}),
        json!({"name": "Ann Again", "username": "ann", "email": "ann2@example.com", "password_hash": ann_hash}),
        json!({"name": "Ed Taken", "username": "ed", "email": "taken@example.com", "password_hash": ann_hash}),
        json!({"name": "Fay Wray", "username": "fay", "email": "fay@example.com", "password_hash": ann_hash, "tier": "gold"}),
    ];
    let mut text: String = lines.iter().map(|line| format!("{line}\n")).collect();
    text.push_str("{\"name\": \"broken\"\n");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.jsonl");
    std::fs::write(&file, text).unwrap();
    let file = file.to_str().unwrap();
    let before = user_count(&app).await;

    // Refused rows: each reported with its line, and nothing written.
    let (output, stdout) = import(&app, dir.path(), &[file]);
    assert!(!output.status.success(), "{stdout}");
    assert!(
        stderr_of(&output).contains("6 rows refused: nothing was imported"),
        "{}",
        stderr_of(&output)
    );
    for expected in [
        "line 3: email is not a valid email address",
        "line 4: password_hash is not a bcrypt",
        "line 5: username `ann` is already on line 1",
        "line 6: email taken@example.com is already registered to another user",
        "line 7: unknown tier `gold`",
        "line 8: not a user record",
    ] {
        assert!(
            stdout.contains(expected),
            "`{expected}` missing from:\n{stdout}"
        );
    }
    assert_eq!(user_count(&app).await, before);

    // A dry run reports what would happen, and writes nothing either.
    let (output, stdout) = import(&app, dir.path(), &[file, "--dry-run", "--skip-invalid"]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(
        stdout.contains("dry run, nothing written: would import 2 users"),
        "{stdout}"
    );
    assert_eq!(user_count(&app).await, before);

    // Skipping the invalid rows imports the two valid ones.
    let (output, stdout) = import(&app, dir.path(), &[file, "--skip-invalid"]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(stdout.contains("imported 2 users"), "{stdout}");
    assert!(
        stderr_of(&output).contains("written 2/2 users"),
        "{}",
        stderr_of(&output)
    );
    assert_eq!(user_count(&app).await, before + 2);
    let ann = row(&app, "ann").await.unwrap();
    assert!(ann.is_superuser);
    assert_eq!(ann.created_at.to_rfc3339(), "2023-04-05T06:07:08+00:00");
    let pro = usergraph::services::tiers::find(&app.app.db, "pro")
        .await
        .unwrap();
    assert_eq!(ann.tier_id, Some(pro.id));
    assert_eq!(ann.hashed_password, ann_hash, "the hash is kept as it came");

    // Both log in through /graphql with the passwords they had.
    let login = app.login("ann", "Ann!secret9").await;
    let token = login.data("login")["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = app
        .gql_as(&token, "{ me { email emailVerified } }", json!({}))
        .await;
    assert_eq!(me.data("me")["email"], "ann@example.com");
    assert_eq!(
        me.data("me")["emailVerified"],
        true,
        "verified where she came from"
    );
    let bo = app.login("bo", "Bo#secret77").await;
    assert_eq!(bo.data("login")["user"]["emailVerified"], false);
    app.login("bo", "Bo#secret78")
        .await
        .expect_code("UNAUTHENTICATED");

    // The same file again changes nothing, and says so (line 5's `ann` now
    // counts as present too).
    let (output, stdout) = import(&app, dir.path(), &[file, "--skip-invalid"]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(
        stdout.contains("nothing to import: 0 users (3 already present, 5 refused"),
        "{stdout}"
    );
    assert_eq!(user_count(&app).await, before + 2);
}

/// A FastAPI-boilerplate database of its own, made from its real schema and
/// filled with two tiers, a rule, three users (one soft-deleted) and posts.
struct FastApiSource {
    url: String,
    alice_uuid: uuid::Uuid,
    _database: crate::databases::TestDatabase,
}

async fn fastapi_source() -> Option<FastApiSource> {
    let admin_url = service_url("TEST_DATABASE_URL", "the FastAPI-boilerplate import")?;
    let (url, database) = crate::databases::empty_postgres(admin_url, "fastapi_source").await;
    let db = Database::connect(&url).await.unwrap();
    db.execute_unprepared(SCHEMA).await.unwrap();
    let alice_uuid = uuid::Uuid::new_v4();
    let alice_hash = bcrypt::hash("Alice!pass1", 4).unwrap();
    let bob_hash = bcrypt::hash_with_result("Bob!pass22", 4)
        .unwrap()
        .format_for_version(bcrypt::Version::TwoY);
    let carol_hash = bcrypt::hash("Carol!pass3", 4).unwrap();
    let fill = format!(
        r#"
        INSERT INTO tier (name, created_at) VALUES ('free', '2022-01-01T00:00:00Z'), ('pro', '2022-01-02T00:00:00Z');
        INSERT INTO rate_limit (tier_id, name, path, "limit", period, created_at)
            VALUES (2, 'pro_posts', 'api_v1_posts', 50, 60, '2022-01-03T00:00:00Z');
        INSERT INTO "user" (name, username, email, hashed_password, profile_image_url, uuid,
                            created_at, updated_at, deleted_at, is_deleted, is_superuser, tier_id) VALUES
            ('Alice Admin', 'alice', 'alice@example.com', '{alice_hash}', 'https://img.example.com/a.png', '{alice_uuid}',
             '2022-02-01T10:00:00Z', NULL, NULL, false, true, 2),
            ('Bob Gone', 'bob', 'bob@example.com', '{bob_hash}', 'https://www.profileimageurl.com', '{bob_uuid}',
             '2022-02-02T10:00:00Z', '2022-03-01T10:00:00Z', '2022-03-01T10:00:00Z', true, false, NULL),
            ('Carol Free', 'carol', 'carol@example.com', '{carol_hash}', 'https://www.profileimageurl.com', '{carol_uuid}',
             '2022-02-03T10:00:00Z', NULL, NULL, false, false, 1);
        INSERT INTO post (created_by_user_id, title, text, uuid, media_url, created_at, updated_at, deleted_at, is_deleted) VALUES
            (1, 'Hello', 'First post', '{p1}', NULL, '2022-02-05T10:00:00Z', NULL, NULL, false),
            (1, 'Again', 'Second post', '{p2}', 'https://img.example.com/p.png', '2022-02-06T10:00:00Z', NULL, NULL, false),
            (2, 'Bye', 'Gone now', '{p3}', NULL, '2022-02-07T10:00:00Z', NULL, '2022-03-01T10:00:00Z', true);
        "#,
        bob_uuid = uuid::Uuid::new_v4(),
        carol_uuid = uuid::Uuid::new_v4(),
        p1 = uuid::Uuid::new_v4(),
        p2 = uuid::Uuid::new_v4(),
        p3 = uuid::Uuid::new_v4(),
    );
    db.execute_unprepared(&fill).await.unwrap();
    db.close().await.unwrap();
    Some(FastApiSource {
        url,
        alice_uuid,
        _database: database,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fastapi_boilerplate_users_log_in_with_their_old_passwords_on_sqlite() {
    fastapi_boilerplate_import(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fastapi_boilerplate_users_log_in_with_their_old_passwords_on_postgres() {
    fastapi_boilerplate_import(Backend::Postgres).await;
}

async fn fastapi_boilerplate_import(backend: Backend) {
    let Some(source) = fastapi_source().await else {
        return;
    };
    let Some(app) = TestApp::start(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let args = ["--from-fastapi-boilerplate", source.url.as_str()];
    let (output, stdout) = import(&app, dir.path(), &args);
    assert!(output.status.success(), "{}\n{stdout}", stderr_of(&output));
    assert!(
        stdout.contains("imported 3 users, 2 tiers, 1 rate-limit rules, 3 posts"),
        "{stdout}"
    );

    // Tiers, the rule, the users' tiers, flags and times came along.
    let pro = tier::Entity::find()
        .filter(tier::Column::Name.eq("pro"))
        .one(&app.app.db)
        .await
        .unwrap()
        .expect("tier pro imported");
    let rule = rate_limit::Entity::find()
        .filter(rate_limit::Column::Name.eq("pro_posts"))
        .one(&app.app.db)
        .await
        .unwrap()
        .expect("rule imported");
    assert_eq!((rule.tier_id, rule.limit, rule.period), (pro.id, 50, 60));
    let alice = row(&app, "alice").await.unwrap();
    assert_eq!(alice.uuid, source.alice_uuid);
    assert!(alice.is_superuser);
    assert_eq!(alice.tier_id, Some(pro.id));
    assert_eq!(alice.profile_image_url, "https://img.example.com/a.png");
    assert_eq!(alice.created_at.to_rfc3339(), "2022-02-01T10:00:00+00:00");
    let bob = row(&app, "bob").await.unwrap();
    assert!(bob.is_deleted && bob.deleted_at.is_some());
    let posts = post::Entity::find()
        .filter(post::Column::CreatedByUserId.eq(alice.id))
        .count(&app.app.db)
        .await
        .unwrap();
    assert_eq!(posts, 2);

    // Alice logs in with her FastAPI-boilerplate password; Bob, deleted
    // there, cannot.
    let login = app.login("alice@example.com", "Alice!pass1").await;
    assert_eq!(
        login.data("login")["user"]["uuid"],
        source.alice_uuid.to_string()
    );
    app.login("bob", "Bob!pass22")
        .await
        .expect_code("UNAUTHENTICATED");
    let bcrypt_hash = stored_hash(&app, "carol").await;
    assert!(bcrypt_hash.starts_with("$2b$04$"));

    // With argon2id in the settings, Carol's next login upgrades her hash.
    let argon2 = app
        .another_instance(|config| config.password_hash = PasswordHashAlgorithm::Argon2id)
        .await;
    let login = argon2.login("carol", "Carol!pass3").await;
    assert!(login.data("login")["accessToken"].is_string());
    let upgraded = stored_hash(&app, "carol").await;
    assert!(upgraded.starts_with("$argon2id$"), "{upgraded}");
    assert!(app.login("carol", "Carol!pass3").await.data("login")["accessToken"].is_string());

    // Running it again changes nothing.
    let users = user_count(&app).await;
    let (output, stdout) = import(&app, dir.path(), &args);
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert!(
        stdout.contains(
            "nothing to import: 0 users, 0 tiers, 0 rate-limit rules, 0 posts (3 already present"
        ),
        "{stdout}"
    );
    assert_eq!(user_count(&app).await, users);
    assert_eq!(post::Entity::find().count(&app.app.db).await.unwrap(), 3);
}

#[test]
fn create_superuser_refuses_a_common_password() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("admin.db").display()
    );
    let mut child = usergraph(dir.path())
        .env("DATABASE_URL", &url)
        .args([
            "create-superuser",
            "--username",
            "root",
            "--email",
            "root@example.com",
            "--name",
            "Root Admin",
            "--password-stdin",
        ])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"Sasha_007\n").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success());
    assert!(
        stderr_of(&output).contains("one of the 10,000 most common passwords"),
        "{}",
        stderr_of(&output)
    );
}
