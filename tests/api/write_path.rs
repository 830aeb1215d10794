//! The one write path: no write rides on a session only the cache vouched
//! for, whatever the shape of the document; a write that fails leaves
//! nothing behind; and the background tasks `serve` runs start, work and
//! stop in one place.

use std::time::{Duration, Instant};

use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};
use serde_json::json;
use usergraph::auth::caller::Freshness;
use usergraph::auth::{Caller, TokenKind};
use usergraph::entities::{auth_change, auth_change_head, token_blacklist};
use usergraph::services::profile::{self, ProfileChanges};
use usergraph::services::write::{Actor, Origin};
use usergraph::tasks::Tasks;

use crate::common::{ME, TestApp};
use crate::fixtures::{row, superuser};
use crate::on_both_backends;

on_both_backends!(
    a_revoked_token_writes_nothing_whatever_the_document_looks_like,
    the_write_unit_checks_a_session_only_the_cache_vouched_for,
    a_failed_write_leaves_no_change_behind,
    background_tasks_purge_on_their_interval_and_stop_when_asked,
);

const RENAME: &str = "updateUser(username: \"victim\", input: { name: \"Hijacked\" }) { name }";

/// The change feed's head: how many changes were ever committed.
async fn feed_head(app: &TestApp) -> i64 {
    auth_change_head::Entity::find_by_id(1)
        .one(&app.app.db)
        .await
        .unwrap()
        .unwrap()
        .seq
}

/// A second instance B that polls the feed only once an hour, holding in its
/// cache the session of `victim`, who then logs out on `a`.
async fn revoked_elsewhere(a: &TestApp) -> (TestApp, String) {
    let b = a
        .another_instance(|config| config.change_poll_interval = Duration::from_secs(3600))
        .await;
    let (token, _) = a.signed_up("victim").await;
    // Twice: the first look-up fills the cache, the second reads it.
    for _ in 0..2 {
        b.gql_as(&token, ME, json!({})).await.data("me");
    }
    a.gql_as(&token, "mutation { logout }", json!({}))
        .await
        .data("logout");
    (b, token)
}

async fn a_revoked_token_writes_nothing_whatever_the_document_looks_like(a: TestApp) {
    let (b, token) = revoked_elsewhere(&a).await;
    let bearer = format!("Bearer {token}");
    let headers = [("authorization", bearer.as_str())];

    // A batch that starts with a harmless read and writes second.
    let batch = json!([
        { "query": ME },
        { "query": format!("mutation {{ {RENAME} }}") },
    ]);
    let reply = b.post_body_from("127.0.0.1", &batch, &headers).await;
    let answers = reply.body.as_array().expect("a batch answer");
    assert_eq!(
        answers[1]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{}",
        reply.text
    );

    // One document holding a query named `mutation` and the real mutation,
    // picked by operation name, with no space after the keyword.
    let document = format!("query mutation {{ me {{ id }} }} mutation Rename{{ {RENAME} }}");
    let body = json!({ "query": document, "operationName": "Rename" });
    let reply = b.post_body_from("127.0.0.1", &body, &headers).await;
    reply.expect_code("UNAUTHENTICATED");

    assert_eq!(row(&a, "victim").await.unwrap().name, "User victim");
}

async fn the_write_unit_checks_a_session_only_the_cache_vouched_for(app: TestApp) {
    let (token, _) = app.signed_up("victim").await;
    let claims = app.app.tokens.verify(&token, TokenKind::Access).unwrap();
    let user = row(&app, "victim").await.unwrap();
    let rename = || ProfileChanges {
        name: Some("Renamed".to_owned()),
        ..ProfileChanges::default()
    };

    // A live session that only the cache checked: the write checks it
    // against the database, then goes ahead.
    let live = Caller::new(user.clone(), claims.clone(), Freshness::Cached);
    let actor = Actor::new(Some(live.clone()), Origin::default());
    let renamed = profile::update_user(&app.app, &actor, "victim", rename())
        .await
        .unwrap();
    assert_eq!(renamed.name, "Renamed");
    assert!(live.is_database_checked());

    // The same session after a logout (as if the cache had not heard yet):
    // refused, and the rest of the request runs without it.
    app.gql_as(&token, "mutation { logout }", json!({}))
        .await
        .data("logout");
    let stale = Caller::new(user, claims, Freshness::Cached);
    let actor = Actor::new(Some(stale), Origin::default());
    let refused = profile::update_user(
        &app.app,
        &actor,
        "victim",
        ProfileChanges {
            name: Some("Hijacked".to_owned()),
            ..ProfileChanges::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), "UNAUTHENTICATED");
    assert_eq!(row(&app, "victim").await.unwrap().name, "Renamed");
}

async fn a_failed_write_leaves_no_change_behind(app: TestApp) {
    let root = superuser(&app, "root").await;
    app.register("member").await;
    let before = feed_head(&app).await;
    // The tier does not exist: refused inside the write, after the user
    // row was read and locked.
    app.gql_as(
        &root,
        "mutation { setTier(username: \"member\", tierId: 999) { id } }",
        json!({}),
    )
    .await
    .expect_code("NOT_FOUND");
    // The last superuser cannot demote themselves: refused after the lock.
    app.gql_as(
        &root,
        "mutation { setSuperuser(username: \"root\", isSuperuser: false) { id } }",
        json!({}),
    )
    .await
    .expect_code("FORBIDDEN");
    assert_eq!(feed_head(&app).await, before, "no change-feed entry");
    assert_eq!(row(&app, "member").await.unwrap().tier_id, None);

    // A write that succeeds adds exactly one entry.
    app.gql_as(
        &root,
        "mutation { updateUser(username: \"member\", input: { name: \"Member Two\" }) { id } }",
        json!({}),
    )
    .await
    .data("updateUser");
    assert_eq!(feed_head(&app).await, before + 1);
}

async fn background_tasks_purge_on_their_interval_and_stop_when_asked(first: TestApp) {
    // An instance of its own whose purge runs every 50 ms.
    let app = first
        .another_instance(|config| config.purge_interval = Duration::from_millis(50))
        .await;
    let long_ago = chrono::Utc::now() - chrono::Duration::days(2);
    token_blacklist::ActiveModel {
        token_id: Set(uuid::Uuid::new_v4()),
        user_id: Set(None),
        expires_at: Set(long_ago),
    }
    .insert(&app.app.db)
    .await
    .unwrap();
    auth_change::ActiveModel {
        seq: Set(-1),
        user_id: Set(None),
        token_id: Set(None),
        created_at: Set(long_ago),
    }
    .insert(&app.app.db)
    .await
    .unwrap();

    let started = Instant::now();
    loop {
        let revoked = token_blacklist::Entity::find()
            .count(&app.app.db)
            .await
            .unwrap();
        let entries = auth_change::Entity::find()
            .count(&app.app.db)
            .await
            .unwrap();
        if revoked == 0 && entries == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "not purged: {revoked} revoked-token rows, {entries} feed entries"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The tasks `serve` starts, by name, and a gentle stop well within its
    // grace period.
    let tasks = Tasks::start(&app.app).await.unwrap();
    let mut expected = vec![
        "change-feed poller",
        "outbox",
        "purge",
        "audit feed",
        "signing-key reload",
    ];
    if !app.app.config.is_sqlite() {
        expected.insert(0, "change-feed listener");
    }
    assert_eq!(tasks.names(), expected.as_slice());
    let stopping = Instant::now();
    tasks.shutdown(Duration::from_secs(5)).await;
    assert!(
        stopping.elapsed() < Duration::from_secs(1),
        "tasks stopped in {:?}",
        stopping.elapsed()
    );
}
