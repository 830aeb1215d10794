//! `login` and `me`: credentials, the same refusal for every failure, and
//! the refresh cookie.

use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde_json::{Value, json};
use usergraph::entities::user;

use crate::common::{Backend, ME, PASSWORD, TestApp};
use crate::{on_both_backends, on_sqlite};

on_both_backends!(logs_in_by_username_or_email,);
on_sqlite!(
    every_refused_login_looks_the_same,
    soft_deleted_users_cannot_log_in,
    me_needs_a_valid_access_token,
    login_sets_an_http_only_refresh_cookie,
    a_stale_token_does_not_block_logging_in_again,
);

async fn logs_in_by_username_or_email(app: TestApp) {
    let registered = app.register("carol").await;
    for identifier in ["carol", "CAROL", " carol@example.com ", "Carol@Example.COM"] {
        let reply = app.login(identifier, PASSWORD).await;
        let login = reply.data("login");
        assert_eq!(login["tokenType"], "bearer");
        assert_eq!(login["expiresIn"], 1800);
        assert_eq!(login["user"]["uuid"], registered["uuid"]);
        assert_eq!(login["user"]["email"], "carol@example.com");
        let token = login["accessToken"].as_str().unwrap();
        let me = app.gql_as(token, ME, json!({})).await;
        assert_eq!(me.data("me")["username"], "carol");
        assert_eq!(me.data("me")["email"], "carol@example.com");
    }
}

async fn every_refused_login_looks_the_same(app: TestApp) {
    app.register("dave").await;
    let attempts = [
        ("dave", "Wr0ng!password"),
        ("nobody", PASSWORD),
        ("nobody@example.com", PASSWORD),
        ("dave", ""),
        ("dave", &"A1!a".repeat(30)),
    ];
    for (identifier, password) in attempts {
        let reply = app.login(identifier, password).await;
        assert_eq!(
            reply.expect_code("UNAUTHENTICATED"),
            "Incorrect username or password",
            "{identifier}"
        );
        assert_eq!(reply.body["data"], Value::Null);
        assert!(reply.set_cookies().is_empty(), "no cookie on failure");
    }
}

async fn soft_deleted_users_cannot_log_in(app: TestApp) {
    let (token, _) = app.signed_up("erin").await;
    let row = user::Entity::find()
        .filter(user::Column::Username.eq("erin"))
        .one(&app.app.db)
        .await
        .unwrap()
        .unwrap();
    let mut row = row.into_active_model();
    row.is_deleted = Set(true);
    row.deleted_at = Set(Some(Utc::now()));
    row.update(&app.app.db).await.unwrap();

    let reply = app.login("erin", PASSWORD).await;
    assert_eq!(
        reply.expect_code("UNAUTHENTICATED"),
        "Incorrect username or password"
    );
    app.gql_as(&token, ME, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
}

async fn me_needs_a_valid_access_token(app: TestApp) {
    let (access, refresh) = app.signed_up("frank").await;
    app.gql(ME, json!({})).await.expect_code("UNAUTHENTICATED");
    for header in [
        "Bearer not-a-token".to_owned(),
        format!("Bearer {refresh}"),
        format!("Basic {access}"),
        "Bearer".to_owned(),
        format!("Bearer {access}x"),
    ] {
        let reply = app.post(ME, json!({}), &[("authorization", &header)]).await;
        assert_eq!(
            reply.expect_code("UNAUTHENTICATED"),
            "Invalid or expired token",
            "{header}"
        );
    }
    let ok = app
        .post(
            ME,
            json!({}),
            &[("authorization", &format!("bearer  {access} "))],
        )
        .await;
    assert_eq!(ok.data("me")["username"], "frank");
}

async fn login_sets_an_http_only_refresh_cookie(app: TestApp) {
    app.register("gina").await;
    let reply = app.login("gina", PASSWORD).await;
    let refresh = reply.data("login")["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let cookies = reply.set_cookies();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let cookie = &cookies[0];
    assert!(
        cookie.starts_with(&format!("usergraph_refresh={refresh};")),
        "{cookie}"
    );
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Max-Age=604800"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "not Secure unless COOKIE_SECURE: {cookie}"
    );
}

async fn a_stale_token_does_not_block_logging_in_again(app: TestApp) {
    app.register("hank").await;
    let reply = app
        .post(
            crate::common::LOGIN,
            json!({ "identifier": "hank", "password": PASSWORD }),
            &[("authorization", "Bearer expired.or.garbage")],
        )
        .await;
    assert_eq!(reply.data("login")["user"]["username"], "hank");
}

#[tokio::test]
async fn the_cookie_is_secure_when_configured() {
    let app = TestApp::start_with(Backend::Sqlite, |config| config.cookie_secure = true)
        .await
        .unwrap();
    app.register("ivy").await;
    let cookies = app.login("ivy", PASSWORD).await.set_cookies();
    assert!(cookies[0].contains("Secure"), "{cookies:?}");
}

/// Unknown accounts are checked against a dummy hash, so they cost as much
/// bcrypt work as a wrong password. Measured at a cost where hashing
/// dominates, comparing the fastest of several tries; the margin is wide.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_accounts_take_as_long_as_wrong_passwords() {
    let app = TestApp::start_with(Backend::Sqlite, |config| config.bcrypt_cost = 10)
        .await
        .unwrap();
    app.register("jack").await;
    app.login("ghost", PASSWORD)
        .await
        .expect_code("UNAUTHENTICATED"); // warm the dummy hash
    let (mut unknown, mut wrong) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let started = Instant::now();
        app.login("ghost", PASSWORD)
            .await
            .expect_code("UNAUTHENTICATED");
        unknown.push(started.elapsed());
        let started = Instant::now();
        app.login("jack", "Wr0ng!password")
            .await
            .expect_code("UNAUTHENTICATED");
        wrong.push(started.elapsed());
    }
    let fastest = |durations: &[Duration]| durations.iter().min().copied().unwrap();
    let (unknown, wrong) = (fastest(&unknown), fastest(&wrong));
    assert!(
        unknown * 2 > wrong && wrong * 2 > unknown,
        "unknown user {unknown:?} vs wrong password {wrong:?}"
    );
}
