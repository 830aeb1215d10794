//! Sessions people can see and end: a login opens one, its refreshes
//! continue it, a logout or a revocation ends it (on every instance), and a
//! refresh token presented again after its grace ends the whole session.

use std::time::{Duration, Instant};

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use usergraph::auth::TokenKind;
use usergraph::entities::session;

use crate::common::{LOGIN, ME, PASSWORD, Reply, TestApp};
use crate::fixtures::{row, superuser};
use crate::on_both_backends;

on_both_backends!(
    a_login_opens_a_session_its_owner_sees,
    revoking_a_session_ends_its_tokens_and_foreign_ids_are_not_found,
    revoke_other_sessions_keeps_the_current_one,
    superusers_see_and_end_anybodys_sessions,
    logout_ends_the_current_session_only,
    a_repeated_refresh_within_the_grace_gets_the_same_pair,
    a_refresh_token_replayed_after_the_grace_ends_the_whole_session,
    ten_concurrent_refreshes_leave_one_live_chain,
    no_token_outlives_its_session,
    a_session_ended_on_one_instance_ends_on_the_other,
    expired_sessions_are_purged_in_the_background,
);

const MY_SESSIONS: &str =
    "{ mySessions { id createdAt lastUsedAt expiresAt userAgent ipAddress current } }";
const REFRESH: &str = "mutation($token: String) {
    refreshToken(refreshToken: $token) { accessToken refreshToken expiresIn }
}";

/// Log `username` in with a user agent of its own; (access, refresh).
async fn login_with_agent(app: &TestApp, username: &str, agent: &str) -> (String, String) {
    let reply = app
        .post(
            LOGIN,
            json!({ "identifier": username, "password": PASSWORD }),
            &[("user-agent", agent)],
        )
        .await;
    let login = reply.data("login");
    (
        login["accessToken"].as_str().unwrap().to_owned(),
        login["refreshToken"].as_str().unwrap().to_owned(),
    )
}

async fn my_sessions(app: &TestApp, token: &str) -> Vec<Value> {
    app.gql_as(token, MY_SESSIONS, json!({}))
        .await
        .data("mySessions")
        .as_array()
        .unwrap()
        .clone()
}

async fn refresh(app: &TestApp, token: &str) -> Reply {
    app.gql(REFRESH, json!({ "token": token })).await
}

/// The session id inside `token`.
fn sid(app: &TestApp, token: &str, kind: TokenKind) -> String {
    app.app.tokens.verify(token, kind).unwrap().sid.to_string()
}

async fn a_login_opens_a_session_its_owner_sees(app: TestApp) {
    app.register("ann").await;
    let (laptop, _) = login_with_agent(&app, "ann", "Laptop/1.0").await;
    let (phone, _) = login_with_agent(&app, "ann", "Phone/2.0").await;

    let seen = my_sessions(&app, &laptop).await;
    assert_eq!(seen.len(), 2, "{seen:?}");
    // Newest first, the asking session marked.
    assert_eq!(seen[0]["userAgent"], "Phone/2.0");
    assert_eq!(seen[0]["current"], false);
    assert_eq!(seen[1]["userAgent"], "Laptop/1.0");
    assert_eq!(seen[1]["current"], true);
    assert_eq!(seen[1]["id"], sid(&app, &laptop, TokenKind::Access));
    assert_eq!(seen[0]["ipAddress"], "127.0.0.1");
    // Thirty days from the login, by default.
    let created =
        chrono::DateTime::parse_from_rfc3339(seen[0]["createdAt"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(seen[0]["expiresAt"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_days(), 30);
    assert_eq!(my_sessions(&app, &phone).await[0]["current"], true);

    // Nobody else's sessions show, and anonymous callers see none.
    app.register("bob").await;
    let (bob, _) = app.signed_up_again("bob").await;
    assert_eq!(my_sessions(&app, &bob).await.len(), 1);
    app.gql(MY_SESSIONS, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
}

async fn revoking_a_session_ends_its_tokens_and_foreign_ids_are_not_found(app: TestApp) {
    app.register("ann").await;
    let (keep, _) = login_with_agent(&app, "ann", "Laptop/1.0").await;
    let (doomed, doomed_refresh) = login_with_agent(&app, "ann", "Stolen/1.0").await;
    let (bob, _) = app.signed_up("bob").await;
    let doomed_id = sid(&app, &doomed, TokenKind::Access);

    // Bob cannot end, or learn of, Ann's session: not found, as for nonsense.
    let revoke = "mutation($id: ID!) { revokeSession(id: $id) }";
    for id in [
        doomed_id.as_str(),
        "not-a-session",
        &uuid::Uuid::new_v4().to_string(),
    ] {
        app.gql_as(&bob, revoke, json!({ "id": id }))
            .await
            .expect_code("NOT_FOUND");
    }
    app.gql_as(&doomed, ME, json!({})).await.data("me");

    let reply = app.gql_as(&keep, revoke, json!({ "id": doomed_id })).await;
    assert_eq!(reply.data("revokeSession"), &json!(true));
    app.gql_as(&doomed, ME, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
    refresh(&app, &doomed_refresh)
        .await
        .expect_code("UNAUTHENTICATED");
    let left = my_sessions(&app, &keep).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["current"], true);
    // Ending it twice: it is gone.
    app.gql_as(&keep, revoke, json!({ "id": doomed_id }))
        .await
        .expect_code("NOT_FOUND");
}

async fn revoke_other_sessions_keeps_the_current_one(app: TestApp) {
    app.register("ann").await;
    let (first, _) = login_with_agent(&app, "ann", "One/1").await;
    let (second, _) = login_with_agent(&app, "ann", "Two/1").await;
    let (third, _) = login_with_agent(&app, "ann", "Three/1").await;
    let reply = app
        .gql_as(&second, "mutation { revokeOtherSessions }", json!({}))
        .await;
    assert_eq!(reply.data("revokeOtherSessions"), &json!(2));
    for gone in [&first, &third] {
        app.gql_as(gone, ME, json!({}))
            .await
            .expect_code("UNAUTHENTICATED");
    }
    let left = my_sessions(&app, &second).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["userAgent"], "Two/1");
}

async fn superusers_see_and_end_anybodys_sessions(app: TestApp) {
    let root = superuser(&app, "root").await;
    app.register("ann").await;
    let (ann, _) = login_with_agent(&app, "ann", "Laptop/1.0").await;
    login_with_agent(&app, "ann", "Phone/2.0").await;

    let list = "query($u: String!) { userSessions(username: $u) { userAgent current } }";
    let seen = app.gql_as(&root, list, json!({ "u": "ann" })).await;
    let seen = seen.data("userSessions").as_array().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|session| session["current"] == false));
    app.gql_as(&ann, list, json!({ "u": "root" }))
        .await
        .expect_code("FORBIDDEN");
    let end = "mutation($u: String!) { revokeUserSessions(username: $u) }";
    app.gql_as(&ann, end, json!({ "u": "root" }))
        .await
        .expect_code("FORBIDDEN");
    app.gql_as(&root, end, json!({ "u": "nobody" }))
        .await
        .expect_code("NOT_FOUND");

    let ended = app.gql_as(&root, end, json!({ "u": "ann" })).await;
    assert_eq!(ended.data("revokeUserSessions"), &json!(2));
    app.gql_as(&ann, ME, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
    app.gql_as(&root, ME, json!({})).await.data("me");
}

async fn logout_ends_the_current_session_only(app: TestApp) {
    app.register("ann").await;
    let (stay, _) = login_with_agent(&app, "ann", "Stay/1").await;
    let (leave, leave_refresh) = login_with_agent(&app, "ann", "Leave/1").await;
    app.gql_as(
        &leave,
        "mutation($r: String) { logout(refreshToken: $r) }",
        json!({ "r": leave_refresh }),
    )
    .await
    .data("logout");
    let left = my_sessions(&app, &stay).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["userAgent"], "Stay/1");
    let user = row(&app, "ann").await.unwrap();
    let ended = session::Entity::find()
        .filter(session::Column::UserId.eq(user.id))
        .filter(session::Column::EndReason.eq("logout"))
        .count(&app.app.db)
        .await
        .unwrap();
    assert_eq!(ended, 1);
}

async fn a_repeated_refresh_within_the_grace_gets_the_same_pair(app: TestApp) {
    let (_, first) = app.signed_up("ann").await;
    let one = refresh(&app, &first).await;
    let two = refresh(&app, &first).await;
    assert_eq!(one.data("refreshToken"), two.data("refreshToken"));
    // The session goes on with that pair.
    let next = one.data("refreshToken")["refreshToken"].as_str().unwrap();
    let access = refresh(&app, next).await.data("refreshToken")["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    app.gql_as(&access, ME, json!({})).await.data("me");
}

async fn a_refresh_token_replayed_after_the_grace_ends_the_whole_session(first: TestApp) {
    let app = first
        .another_instance(|config| config.refresh_reuse_grace = Duration::from_millis(200))
        .await;
    let (_, stolen) = app.signed_up("ann").await;
    // The victim refreshes; the thief replays the old token later.
    let victim = refresh(&app, &stolen).await.data("refreshToken").clone();
    tokio::time::sleep(Duration::from_millis(400)).await;
    refresh(&app, &stolen).await.expect_code("UNAUTHENTICATED");
    // The whole session ended: the victim's newer tokens too.
    let victim_access = victim["accessToken"].as_str().unwrap();
    let victim_refresh = victim["refreshToken"].as_str().unwrap();
    app.gql_as(victim_access, ME, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
    refresh(&app, victim_refresh)
        .await
        .expect_code("UNAUTHENTICATED");
    let sid = app
        .app
        .tokens
        .verify(victim_refresh, TokenKind::Refresh)
        .unwrap()
        .sid;
    let ended = session::Entity::find_by_id(sid)
        .one(&app.app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ended.end_reason.as_deref(), Some("refresh_token_reused"));
    // The user logs in again as usual.
    app.signed_up_again("ann").await;
}

async fn ten_concurrent_refreshes_leave_one_live_chain(app: TestApp) {
    let (_, token) = app.signed_up("ann").await;
    let replies = futures::future::join_all((0..10).map(|_| refresh(&app, &token))).await;
    let pairs: std::collections::BTreeSet<String> = replies
        .iter()
        .map(|reply| {
            reply.data("refreshToken")["refreshToken"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        pairs.len(),
        1,
        "one new refresh token for all ten: {pairs:?}"
    );
    let user = row(&app, "ann").await.unwrap();
    let live = session::Entity::find()
        .filter(session::Column::UserId.eq(user.id))
        .filter(session::Column::EndedAt.is_null())
        .count(&app.app.db)
        .await
        .unwrap();
    assert_eq!(live, 1);
    let next = pairs.into_iter().next().unwrap();
    refresh(&app, &next).await.data("refreshToken");
}

async fn no_token_outlives_its_session(first: TestApp) {
    let app = first
        .another_instance(|config| config.session_max_age = Duration::from_secs(60))
        .await;
    let (access, refresh_token) = app.signed_up("ann").await;
    for (token, kind) in [
        (&access, TokenKind::Access),
        (&refresh_token, TokenKind::Refresh),
    ] {
        let claims = app.app.tokens.verify(token, kind).unwrap();
        assert!(
            claims.exp - claims.iat <= 60,
            "{kind:?} lives past the session"
        );
    }
    let reply = refresh(&app, &refresh_token).await;
    assert!(reply.data("refreshToken")["expiresIn"].as_u64().unwrap() <= 60);
}

async fn a_session_ended_on_one_instance_ends_on_the_other(a: TestApp) {
    let b = a.another_instance(|_| {}).await;
    a.register("ann").await;
    let (keep, _) = login_with_agent(&a, "ann", "Keep/1").await;
    let (doomed, _) = login_with_agent(&a, "ann", "Doomed/1").await;
    // B has the doomed session cached.
    for _ in 0..2 {
        b.gql_as(&doomed, ME, json!({})).await.data("me");
    }
    let id = sid(&a, &doomed, TokenKind::Access);
    a.gql_as(
        &keep,
        "mutation($id: ID!) { revokeSession(id: $id) }",
        json!({ "id": id }),
    )
    .await
    .data("revokeSession");
    let took = b
        .until(b.within_a_poll(), &doomed, ME, |reply| {
            reply.code() == Some("UNAUTHENTICATED")
        })
        .await;
    eprintln!("the revocation reached the other instance after {took:?}");
    b.gql_as(&keep, ME, json!({})).await.data("me");
}

async fn expired_sessions_are_purged_in_the_background(first: TestApp) {
    let app = first
        .another_instance(|config| {
            config.session_max_age = Duration::from_secs(1);
            config.purge_interval = Duration::from_millis(50);
        })
        .await;
    app.signed_up("ann").await;
    let user = row(&app, "ann").await.unwrap();
    let count = || {
        session::Entity::find()
            .filter(session::Column::UserId.eq(user.id))
            .count(&app.app.db)
    };
    assert_eq!(count().await.unwrap(), 1);
    let started = Instant::now();
    while count().await.unwrap() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "the expired session was not purged"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
