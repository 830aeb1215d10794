//! The session cache: an authenticated read costs no SQL once its token has
//! been checked, a change made on this instance holds from the next
//! request, a change made on another instance holds within one poll, and a
//! write always checks the token against the database.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use usergraph::services::changes;

use crate::common::{Backend, ME, PASSWORD, Reply, TestApp};
use crate::fixtures::superuser;
use crate::on_both_backends;

on_both_backends!(
    a_checked_session_is_read_without_sql,
    a_change_on_this_instance_holds_from_the_next_request,
    logout_elsewhere_reaches_this_instance_within_a_poll,
    a_password_change_elsewhere_ends_sessions_here_within_a_poll,
    a_profile_change_elsewhere_shows_here_within_a_poll,
    deletion_and_demotion_elsewhere_reach_this_instance_within_a_poll,
    writes_check_the_token_against_the_database_even_when_reads_are_cached,
    a_hole_in_the_change_feed_forgets_every_session,
);

const UPDATE: &str = "mutation($u: String!, $input: UpdateUserInput!) {
    updateUser(username: $u, input: $input) { username }
}";
const STATS: &str = "{ userStats { activeUsers } }";

/// The answer to `query` as `token`, and how many SQL statements it cost.
async fn counted(app: &TestApp, token: &str, query: &str) -> (Reply, u64) {
    let before = app.app.sql_statements.get();
    let reply = app.gql_as(token, query, json!({})).await;
    (reply, app.app.sql_statements.get() - before)
}

/// `updateUser` renaming `from` to `to`, as `from`.
async fn rename(app: &TestApp, token: &str, from: &str, to: &str) {
    app.gql_as(
        token,
        UPDATE,
        json!({ "u": from, "input": { "username": to } }),
    )
    .await
    .data("updateUser");
}

/// A second instance B that polls the feed only once an hour, with the
/// session of a new user `username` cached on it, who then logs out on `a`.
async fn logged_out_elsewhere(a: &TestApp, username: &str) -> (TestApp, String) {
    let b = a
        .another_instance(|config| config.change_poll_interval = Duration::from_secs(3600))
        .await;
    let (token, _) = a.signed_up(username).await;
    warm(&b, &token).await;
    a.gql_as(&token, "mutation { logout }", json!({}))
        .await
        .data("logout");
    (b, token)
}

fn unauthenticated(reply: &Reply) -> bool {
    reply.code() == Some("UNAUTHENTICATED")
}

/// Call `me` until one costs no SQL: `token`'s session is then cached on
/// `app`. Normally the second call; a third when the poller forgot
/// something (say, this test's own earlier change) while the first was
/// being looked up, which drops that look-up's answer on purpose.
async fn warm(app: &TestApp, token: &str) -> Value {
    let started = Instant::now();
    loop {
        let (reply, statements) = counted(app, token, ME).await;
        if statements == 0 {
            return reply.data("me").clone();
        }
        reply.data("me");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the session was never answered from the cache"
        );
    }
}

async fn a_checked_session_is_read_without_sql(app: TestApp) {
    let (token, _) = app.signed_up("cached").await;
    let (first, statements) = counted(&app, &token, ME).await;
    assert_eq!(statements, 1, "the first me checks the token in one query");
    let me = warm(&app, &token).await;
    assert_eq!(&me, first.data("me"));
    assert_eq!(me["username"], "cached");

    // A token of the same user that was never checked is looked up.
    let (other, _) = app.signed_up_again("cached").await;
    let (_, statements) = counted(&app, &other, ME).await;
    assert_eq!(statements, 1);
}

async fn a_change_on_this_instance_holds_from_the_next_request(app: TestApp) {
    let (token, refresh) = app.signed_up("local").await;
    warm(&app, &token).await;
    rename(&app, &token, "local", "renamed").await;
    let me = app.gql_as(&token, ME, json!({})).await;
    assert_eq!(me.data("me")["username"], "renamed");

    warm(&app, &token).await;
    app.gql_as(
        &token,
        "mutation($r: String) { logout(refreshToken: $r) }",
        json!({ "r": refresh }),
    )
    .await
    .data("logout");
    app.gql_as(&token, ME, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
}

async fn logout_elsewhere_reaches_this_instance_within_a_poll(a: TestApp) {
    let b = a.another_instance(|_| {}).await;
    let (token, _) = a.signed_up("leaver").await;
    warm(&b, &token).await;
    a.gql_as(&token, "mutation { logout }", json!({}))
        .await
        .data("logout");
    let took = b
        .until(b.within_a_poll(), &token, ME, unauthenticated)
        .await;
    eprintln!("logout reached the other instance after {took:?}");
}

async fn a_password_change_elsewhere_ends_sessions_here_within_a_poll(a: TestApp) {
    let b = a.another_instance(|_| {}).await;
    let (token, _) = a.signed_up("changer").await;
    warm(&b, &token).await;
    a.gql_as(
        &token,
        "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
        json!({ "c": PASSWORD, "n": "N3w!password" }),
    )
    .await
    .data("changePassword");
    let took = b
        .until(b.within_a_poll(), &token, ME, unauthenticated)
        .await;
    eprintln!("the password change reached the other instance after {took:?}");
}

async fn a_profile_change_elsewhere_shows_here_within_a_poll(a: TestApp) {
    let b = a.another_instance(|_| {}).await;
    let (token, _) = a.signed_up("before").await;
    warm(&b, &token).await;
    rename(&a, &token, "before", "after").await;
    let took = b
        .until(b.within_a_poll(), &token, ME, |reply| {
            reply.body["data"]["me"]["username"] == "after"
        })
        .await;
    eprintln!("the profile change reached the other instance after {took:?}");
}

async fn deletion_and_demotion_elsewhere_reach_this_instance_within_a_poll(a: TestApp) {
    let b = a.another_instance(|_| {}).await;
    let root = superuser(&a, "root").await;
    let deputy = superuser(&a, "deputy").await;
    let (member, _) = a.signed_up("member").await;
    warm(&b, &deputy).await;
    warm(&b, &member).await;
    b.gql_as(&deputy, STATS, json!({})).await.data("userStats");

    let demote =
        "mutation { setSuperuser(username: \"deputy\", isSuperuser: false) { isSuperuser } }";
    a.gql_as(&root, demote, json!({}))
        .await
        .data("setSuperuser");
    let took = b
        .until(b.within_a_poll(), &deputy, STATS, |reply| {
            reply.code() == Some("FORBIDDEN")
        })
        .await;
    eprintln!("the demotion reached the other instance after {took:?}");

    a.gql_as(
        &root,
        "mutation { deleteUser(username: \"member\") }",
        json!({}),
    )
    .await
    .data("deleteUser");
    let took = b
        .until(b.within_a_poll(), &member, ME, unauthenticated)
        .await;
    eprintln!("the deletion reached the other instance after {took:?}");
}

async fn writes_check_the_token_against_the_database_even_when_reads_are_cached(a: TestApp) {
    // B polls once an hour, so on SQLite its reads stay stale meanwhile.
    let (b, token) = logged_out_elsewhere(&a, "stale").await;
    // The documented window: on SQLite (no notifications), a read is still
    // answered from the cache until the next poll...
    let read = b.gql_as(&token, ME, json!({})).await;
    if b.app.config.is_sqlite() {
        assert_eq!(read.data("me")["username"], "stale");
    }
    // ...but no write rides on it, on either backend.
    b.gql_as(
        &token,
        UPDATE,
        json!({ "u": "stale", "input": { "name": "Hijacked" } }),
    )
    .await
    .expect_code("UNAUTHENTICATED");
    let fresh = a.gql_as(&token, ME, json!({})).await;
    fresh.expect_code("UNAUTHENTICATED");
}

async fn a_hole_in_the_change_feed_forgets_every_session(first: TestApp) {
    // An instance whose timer does not poll during the test: this test does.
    let app = first
        .another_instance(|config| config.change_poll_interval = Duration::from_secs(3600))
        .await;
    let (token, _) = app.signed_up("holey").await;
    warm(&app, &token).await;
    assert!(!app.app.sessions.is_empty());
    // Two changes were numbered, then pruned before this instance saw them
    // (as after an outage longer than the retention): the head moved on,
    // the entries are gone, and no notification woke the poller.
    sea_orm::ConnectionTrait::execute_unprepared(
        &app.app.db,
        "UPDATE auth_change_head SET seq = seq + 2 WHERE id = 1",
    )
    .await
    .unwrap();
    changes::poll(&app.app.db, &app.app.sessions).await.unwrap();
    assert!(app.app.sessions.is_empty(), "every session is forgotten");
    let (reply, statements) = counted(&app, &token, ME).await;
    assert_eq!(reply.data("me")["username"], "holey");
    assert_eq!(statements, 1, "and checked against the database again");
}

/// On PostgreSQL a change wakes the other instances at once: this one polls
/// once an hour, yet the logout reaches it in milliseconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_instances_are_woken_by_a_notification() {
    let Some(a) = TestApp::start(Backend::Postgres).await else {
        return;
    };
    let (b, token) = logged_out_elsewhere(&a, "notified").await;
    // Not derived from B's hourly poll: a notification arrives at once
    // (7 ms measured during the full suite); 1 s is the margin a loaded
    // machine needs, as in `within_a_poll`.
    let took = b
        .until(Duration::from_secs(1), &token, ME, unauthenticated)
        .await;
    eprintln!("the notification reached the other instance after {took:?}");
}
