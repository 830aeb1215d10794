//! The audit log end to end: events recorded by the changes that cause
//! them, listed by superusers (`auditEvents`) and by users about
//! themselves (`securityEvents`), kept without personal fields after a
//! purge, pruned after `AUDIT_RETENTION`, and never holding a secret.

use chrono::{Duration as ChronoDuration, Utc};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use serde_json::{Value, json};
use usergraph::entities::{audit_event, webhook_delivery};
use usergraph::services::audit;

use crate::common::{Backend, PASSWORD, TestApp};
use crate::fixtures::superuser;

pub const AUDIT: &str = "query($filter: AuditEventFilter, $first: Int, $after: String) {
    auditEvents(filter: $filter, first: $first, after: $after) {
        items { id type occurredAt actorType actorUserId userId ip userAgent requestId details }
        hasMore endCursor
    }
}";

const SECURITY: &str = "query($username: String!, $first: Int) {
    user(username: $username) { securityEvents(first: $first) { items { type userId ip } hasMore } }
}";

/// The events `filter` selects, as `root` lists them (newest first).
pub async fn events(app: &TestApp, root: &str, filter: Value) -> Vec<Value> {
    let reply = app
        .gql_as(root, AUDIT, json!({ "filter": filter, "first": 100 }))
        .await;
    reply.data("auditEvents")["items"]
        .as_array()
        .unwrap()
        .clone()
}

fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|event| event["type"].as_str().unwrap())
        .collect()
}

async fn an_account_life_is_recorded_with_who_and_where(app: TestApp) {
    let root = superuser(&app, "root").await;
    let ann = app.register("ann").await;
    let ann_id = ann["id"].as_i64().unwrap();
    let ip = "203.0.113.7";
    let login = |identifier: &'static str, password: &'static str| {
        let app = &app;
        async move {
            app.gql_from(
                ip,
                None,
                crate::common::LOGIN,
                json!({ "identifier": identifier, "password": password }),
            )
            .await
        }
    };
    login("ann", "wrong-password")
        .await
        .expect_code("UNAUTHENTICATED");
    login("nobody", PASSWORD)
        .await
        .expect_code("UNAUTHENTICATED");
    let ok = login("ann", PASSWORD).await;
    let token = ok.data("login")["accessToken"].as_str().unwrap().to_owned();
    let out = app.gql_as(&token, "mutation { logout }", json!({})).await;
    assert_eq!(out.data("logout"), true);

    let about_ann = events(&app, &root, json!({ "username": "ann" })).await;
    assert_eq!(
        types(&about_ann),
        [
            "user.logout",
            "user.login_succeeded",
            "user.login_failed",
            "user.registered"
        ]
    );
    let [logout, succeeded, failed, registered] = &about_ann[..] else {
        unreachable!()
    };
    assert_eq!(failed["details"]["reason"], "wrong_password");
    assert_eq!(failed["actorType"], "anonymous");
    assert_eq!(failed["ip"], ip);
    assert_eq!(succeeded["userId"], ann_id);
    assert!(succeeded["details"]["sessionId"].is_string());
    assert!(
        succeeded["requestId"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert_eq!(logout["actorType"], "user");
    assert_eq!(logout["actorUserId"], ann_id);
    assert_eq!(registered["details"]["username"], "ann");

    // The unknown identifier's failure is about nobody, and does not keep
    // the identifier (it may be a password typed in the wrong box).
    let failures = events(&app, &root, json!({ "types": ["user.login_failed"] })).await;
    let unknown = failures
        .iter()
        .find(|event| event["details"]["reason"] == "unknown_account")
        .expect("the unknown account's failure");
    assert_eq!(unknown["userId"], Value::Null);
    assert!(!unknown.to_string().contains("nobody"));
}

async fn events_page_newest_first_by_cursor_and_filter(app: TestApp) {
    let root = superuser(&app, "root").await;
    for name in ["ann", "bob", "cyd"] {
        app.register(name).await;
    }
    let page = |first: i64, after: Value| {
        let (app, root) = (&app, &root);
        async move {
            app.gql_as(
                root,
                AUDIT,
                json!({
                    "filter": { "types": ["user.registered"] },
                    "first": first,
                    "after": after,
                }),
            )
            .await
            .data("auditEvents")
            .clone()
        }
    };
    let first = page(2, Value::Null).await;
    assert_eq!(first["hasMore"], true);
    let names: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["details"]["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cyd", "bob"]);
    let second = page(2, first["endCursor"].clone()).await;
    assert_eq!(second["hasMore"], false);
    // "root" (the superuser, registered first) and "ann".
    let rest: Vec<&str> = second["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["details"]["username"].as_str().unwrap())
        .collect();
    assert_eq!(rest, ["ann", "root"]);

    let family = events(&app, &root, json!({ "types": ["user.login_*"] })).await;
    assert!(!family.is_empty());
    assert!(types(&family).iter().all(|t| t.starts_with("user.login_")));
    let future = (Utc::now() + ChronoDuration::hours(1)).to_rfc3339();
    assert!(
        events(&app, &root, json!({ "since": future }))
            .await
            .is_empty()
    );
    let past = (Utc::now() - ChronoDuration::hours(1)).to_rfc3339();
    assert!(
        events(&app, &root, json!({ "until": past }))
            .await
            .is_empty()
    );
    let unknown = events(&app, &root, json!({ "username": "nobody" })).await;
    assert!(unknown.is_empty());

    let bad = app
        .gql_as(&root, AUDIT, json!({ "after": "not-a-cursor" }))
        .await;
    bad.expect_code("BAD_USER_INPUT");
    let too_many = app.gql_as(&root, AUDIT, json!({ "first": 101 })).await;
    too_many.expect_code("BAD_USER_INPUT");
}

async fn security_events_are_for_the_user_and_superusers(app: TestApp) {
    let root = superuser(&app, "root").await;
    let (ann, _) = app.signed_up("ann").await;
    let (bob, _) = app.signed_up("bob").await;
    // ann's own: her login, not her registration (not a security event).
    let own = app
        .gql_as(&ann, SECURITY, json!({ "username": "ann", "first": 10 }))
        .await;
    let own_types: Vec<&str> = own.data("user")["securityEvents"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["type"].as_str().unwrap())
        .collect();
    assert_eq!(own_types, ["user.login_succeeded"]);
    let by_root = app
        .gql_as(&root, SECURITY, json!({ "username": "ann", "first": 10 }))
        .await;
    assert_eq!(
        by_root.data("user")["securityEvents"]["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let by_bob = app
        .gql_as(&bob, SECURITY, json!({ "username": "ann", "first": 10 }))
        .await;
    by_bob.expect_code("FORBIDDEN");
    app.gql_as(&bob, AUDIT, json!({}))
        .await
        .expect_code("FORBIDDEN");
    app.gql(AUDIT, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
}

async fn a_purged_user_keeps_a_trail_without_personal_fields(app: TestApp) {
    let root = superuser(&app, "root").await;
    let ann = app.register("ann").await;
    let ann_id = ann["id"].as_i64().unwrap();
    app.gql_from(
        "203.0.113.9",
        None,
        crate::common::LOGIN,
        json!({ "identifier": "ann", "password": PASSWORD }),
    )
    .await
    .data("login");
    let purged = app
        .gql_as(
            &root,
            "mutation { deleteUserPermanently(username: \"ann\") }",
            json!({}),
        )
        .await;
    assert_eq!(purged.errors(), Value::Null, "{}", purged.text);

    let trail: Vec<Value> = events(&app, &root, json!({}))
        .await
        .into_iter()
        .filter(|event| event["userId"] == ann_id)
        .collect();
    assert_eq!(
        types(&trail),
        ["user.purged", "user.login_succeeded", "user.registered"]
    );
    // Ann's own events lose her address, agent and details; the purge
    // itself keeps the superuser's address.
    for event in &trail[1..] {
        assert_eq!(event["ip"], Value::Null, "{event}");
        assert_eq!(event["userAgent"], Value::Null, "{event}");
        assert_eq!(event["details"], json!({}), "{event}");
    }
    assert_eq!(trail[0]["details"], json!({}));
    assert_eq!(trail[0]["actorType"], "user");
    assert_ne!(trail[0]["actorUserId"], ann_id);
}

async fn administration_is_audited_with_field_names_only(app: TestApp) {
    let root = superuser(&app, "root").await;
    app.register("ann").await;
    let steps = [
        "mutation { createTier(name: \"pro\") { id } }",
        "mutation { updateTier(name: \"pro\", newName: \"gold\") { id } }",
        "mutation { createRateLimit(tierName: \"gold\", input: { path: \"login\", limit: 5, period: 60, name: \"slow\" }) { id } }",
        "mutation { updateUser(username: \"ann\", input: { name: \"Ann B\", profileImageUrl: \"https://img.example.com/a.png\" }) { id } }",
        "mutation { setSuperuser(username: \"ann\", isSuperuser: true) { id } }",
        "mutation { deleteUser(username: \"ann\") }",
        "mutation { restoreUser(username: \"ann\") { id } }",
    ];
    for step in steps {
        let reply = app.gql_as(&root, step, json!({})).await;
        assert_eq!(reply.errors(), Value::Null, "{step}: {}", reply.text);
    }
    let all = events(&app, &root, json!({})).await;
    let recorded = types(&all);
    for expected in [
        "tier.created",
        "tier.renamed",
        "rate_limit.created",
        "user.updated",
        "user.superuser_changed",
        "user.deleted",
        "user.restored",
    ] {
        assert!(recorded.contains(&expected), "{expected} in {recorded:?}");
    }
    let updated = all.iter().find(|e| e["type"] == "user.updated").unwrap();
    assert_eq!(
        updated["details"],
        json!({ "fields": ["name", "profileImageUrl"] })
    );
    assert!(!updated.to_string().contains("Ann B"));
    let renamed = all.iter().find(|e| e["type"] == "tier.renamed").unwrap();
    assert_eq!(renamed["details"]["from"], "pro");
    assert_eq!(renamed["details"]["to"], "gold");
}

async fn old_events_are_pruned(app: TestApp) {
    app.register("ann").await;
    let rows = audit_event::Entity::find().all(&app.app.db).await.unwrap();
    assert_eq!(rows.len(), 1);
    let mut old = rows[0].clone().into_active_model();
    old.occurred_at = Set(Utc::now() - ChronoDuration::days(91));
    old.update(&app.app.db).await.unwrap();
    app.register("bob").await;
    let retention = app.app.config.audit_retention;
    assert_eq!(retention, std::time::Duration::from_secs(90 * 86_400));
    assert_eq!(audit::prune(&app.app.db, retention).await.unwrap(), 1);
    let left = audit_event::Entity::find().all(&app.app.db).await.unwrap();
    assert_eq!(left.len(), 1);
    assert!(left[0].details.contains("bob"));
}

/// Every event and webhook payload a run of the account flows produced,
/// scanned for each secret that run handled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_event_holds_a_password_token_secret_or_hash() {
    let app = crate::webhooks::start_with(Backend::Sqlite, |config| {
        config.refresh_reuse_grace = std::time::Duration::from_secs(1);
    })
    .await
    .unwrap();
    let receiver = crate::webhook_receiver::Receiver::start().await;
    let root = superuser(&app, "root").await;
    let created = app
        .gql_as(
            &root,
            crate::webhooks::CREATE,
            json!({ "input": { "url": receiver.url(), "events": ["*"] } }),
        )
        .await;
    let secret = created.data("createWebhook")["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let (access, refresh) = app.signed_up("ann").await;
    let new_password = "An0ther!secret-pass";
    let mut secrets = vec![
        PASSWORD.to_owned(),
        new_password.to_owned(),
        access.clone(),
        refresh.clone(),
        root.clone(),
        secret.clone(),
        secret.trim_start_matches("whsec_").to_owned(),
    ];
    // A password typed where the identifier goes.
    app.login(PASSWORD, "whatever-else-1").await;
    app.login("ann", "Wr0ng!password").await;
    secrets.push("Wr0ng!password".to_owned());
    let refreshed = app
        .gql(
            "mutation($t: String) { refreshToken(refreshToken: $t) { accessToken refreshToken } }",
            json!({ "t": refresh }),
        )
        .await;
    secrets.push(
        refreshed.data("refreshToken")["refreshToken"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    // The old refresh token again, after the grace: a replay.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.gql(
        "mutation($t: String) { refreshToken(refreshToken: $t) { accessToken } }",
        json!({ "t": refresh }),
    )
    .await;
    let (access, _) = app.signed_up_again("ann").await;
    secrets.push(access.clone());
    let changed = app
        .gql_as(
            &access,
            "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
            json!({ "c": PASSWORD, "n": new_password }),
        )
        .await;
    assert_eq!(changed.data("changePassword"), true);
    app.gql(
        "mutation { requestPasswordReset(email: \"ann@example.com\") }",
        json!({}),
    )
    .await
    .data("requestPasswordReset");
    let hashes: Vec<String> = usergraph::entities::user::Entity::find()
        .all(&app.app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|user| user.hashed_password)
        .collect();
    secrets.extend(hashes);
    // Let the outbox answer the reset request and deliver the webhooks.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while usergraph::services::outbox::depth(&app.app.db)
        .await
        .unwrap()
        > 0
    {
        assert!(std::time::Instant::now() < deadline, "outbox not drained");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let events = audit_event::Entity::find().all(&app.app.db).await.unwrap();
    let payloads = webhook_delivery::Entity::find()
        .all(&app.app.db)
        .await
        .unwrap();
    let recorded: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    for expected in [
        "user.login_failed",
        "session.reuse_detected",
        "user.password_changed",
        "user.password_reset_requested",
        "webhook.created",
    ] {
        assert!(recorded.contains(&expected), "{expected} in {recorded:?}");
    }
    // Every event from the webhook's creation on was queued for it.
    assert!(
        payloads.len() + 2 >= events.len(),
        "{} of {}",
        payloads.len(),
        events.len()
    );
    let texts = events
        .iter()
        .map(|event| format!("{event:?}"))
        .chain(payloads.iter().map(|delivery| delivery.payload.clone()))
        .chain(
            receiver
                .received()
                .into_iter()
                .map(|got| got.body.to_string()),
        );
    for text in texts {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "a secret in: {text}");
        }
        for marker in ["$2b$", "$argon2", "whsec_", "password\":\"", "token\":\""] {
            assert!(!text.contains(marker), "`{marker}` in: {text}");
        }
    }
}

crate::on_both_backends!(
    an_account_life_is_recorded_with_who_and_where,
    events_page_newest_first_by_cursor_and_filter,
    a_purged_user_keeps_a_trail_without_personal_fields,
    old_events_are_pruned,
);

crate::on_sqlite!(
    security_events_are_for_the_user_and_superusers,
    administration_is_audited_with_field_names_only,
);
