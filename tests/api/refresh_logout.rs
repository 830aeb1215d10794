//! `refreshToken` and `logout`: rotation, replay, revocation, cookies.

use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, Set,
};
use serde_json::json;
use usergraph::entities::{token_blacklist, user};
use usergraph::services::revocation;

use crate::common::{ME, TestApp};
use crate::{on_both_backends, on_sqlite};

on_both_backends!(
    a_refresh_token_gives_a_new_pair_once,
    logout_twice_or_with_dead_tokens_is_clean,
    expired_revocations_are_purged,
);
on_sqlite!(
    the_cookie_works_as_the_refresh_token,
    an_access_token_is_not_a_refresh_token,
    a_deleted_users_refresh_token_mints_nothing,
    logout_revokes_both_tokens_and_clears_the_cookie,
    logout_by_cookie_revokes_the_cookie_token,
);

const REFRESH: &str = "mutation($token: String) {
    refreshToken(refreshToken: $token) { accessToken refreshToken tokenType expiresIn user { username email } }
}";
const LOGOUT: &str = "mutation($token: String) { logout(refreshToken: $token) }";

async fn a_refresh_token_gives_a_new_pair_once(app: TestApp) {
    let (_, refresh) = app.signed_up("olga").await;
    let reply = app.gql(REFRESH, json!({ "token": refresh })).await;
    let pair = reply.data("refreshToken");
    assert_eq!(pair["user"]["username"], "olga");
    assert_eq!(pair["tokenType"], "bearer");
    assert_ne!(pair["refreshToken"], json!(refresh));
    let new_access = pair["accessToken"].as_str().unwrap();
    assert_eq!(
        app.gql_as(new_access, ME, json!({})).await.data("me")["username"],
        "olga"
    );
    assert!(reply.set_cookies()[0].starts_with("usergraph_refresh=ey"));

    // Using it again within REFRESH_REUSE_GRACE (a second tab, a lost
    // response) mints nothing new: the same pair comes back. Later reuse
    // ends the session (tests/api/sessions.rs). The new one works.
    let repeat = app.gql(REFRESH, json!({ "token": refresh })).await;
    assert_eq!(
        repeat.data("refreshToken")["refreshToken"],
        pair["refreshToken"]
    );
    assert_eq!(
        repeat.data("refreshToken")["accessToken"],
        pair["accessToken"]
    );
    let next = app
        .gql(REFRESH, json!({ "token": pair["refreshToken"] }))
        .await;
    next.data("refreshToken");
}

async fn the_cookie_works_as_the_refresh_token(app: TestApp) {
    let (_, refresh) = app.signed_up("pia").await;
    let cookie = format!("theme=dark; usergraph_refresh={refresh}");
    let reply = app.post(REFRESH, json!({}), &[("cookie", &cookie)]).await;
    assert_eq!(reply.data("refreshToken")["user"]["username"], "pia");
    // Without argument or cookie there is nothing to refresh.
    app.gql(REFRESH, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
}

async fn an_access_token_is_not_a_refresh_token(app: TestApp) {
    let (access, _) = app.signed_up("quin").await;
    let reply = app.gql(REFRESH, json!({ "token": access })).await;
    assert_eq!(
        reply.expect_code("UNAUTHENTICATED"),
        "Invalid or expired token"
    );
    app.gql(REFRESH, json!({ "token": "garbage" }))
        .await
        .expect_code("UNAUTHENTICATED");
}

async fn a_deleted_users_refresh_token_mints_nothing(app: TestApp) {
    let (_, refresh) = app.signed_up("sam").await;
    let row = user::Entity::find()
        .filter(user::Column::Username.eq("sam"))
        .one(&app.app.db)
        .await
        .unwrap()
        .unwrap();
    let mut row = row.into_active_model();
    row.is_deleted = Set(true);
    row.update(&app.app.db).await.unwrap();
    let reply = app.gql(REFRESH, json!({ "token": refresh })).await;
    assert_eq!(
        reply.expect_code("UNAUTHENTICATED"),
        "Invalid or expired token"
    );
}

async fn logout_revokes_both_tokens_and_clears_the_cookie(app: TestApp) {
    let (access, refresh) = app.signed_up("tess").await;
    let (other_access, _) = app.signed_up_again("tess").await;
    let reply = app
        .gql_as(&access, LOGOUT, json!({ "token": refresh }))
        .await;
    assert_eq!(reply.data("logout"), &json!(true));
    let cleared = &reply.set_cookies()[0];
    assert!(cleared.starts_with("usergraph_refresh=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");

    assert_eq!(
        app.gql_as(&access, ME, json!({}))
            .await
            .expect_code("UNAUTHENTICATED"),
        "Invalid or expired token"
    );
    app.gql(REFRESH, json!({ "token": refresh }))
        .await
        .expect_code("UNAUTHENTICATED");
    // Another session of the same user is untouched.
    assert_eq!(
        app.gql_as(&other_access, ME, json!({})).await.data("me")["username"],
        "tess"
    );
}

async fn logout_twice_or_with_dead_tokens_is_clean(app: TestApp) {
    let (access, refresh) = app.signed_up("uma").await;
    for _ in 0..2 {
        let reply = app
            .gql_as(&access, LOGOUT, json!({ "token": refresh }))
            .await;
        assert_eq!(reply.data("logout"), &json!(true));
    }
    let reply = app
        .gql_as("garbage", LOGOUT, json!({ "token": "also-garbage" }))
        .await;
    assert_eq!(reply.data("logout"), &json!(true));
    let anonymous = app.gql(LOGOUT, json!({})).await;
    assert_eq!(anonymous.data("logout"), &json!(true));
    let rows = token_blacklist::Entity::find()
        .count(&app.app.db)
        .await
        .unwrap();
    assert_eq!(rows, 2, "one row per revoked token, no duplicates");
}

async fn logout_by_cookie_revokes_the_cookie_token(app: TestApp) {
    let (access, refresh) = app.signed_up("vera").await;
    let bearer = format!("Bearer {access}");
    let cookie = format!("usergraph_refresh={refresh}");
    let reply = app
        .post(
            LOGOUT,
            json!({}),
            &[("authorization", &bearer), ("cookie", &cookie)],
        )
        .await;
    assert_eq!(reply.data("logout"), &json!(true));
    app.gql(REFRESH, json!({ "token": refresh }))
        .await
        .expect_code("UNAUTHENTICATED");
}

async fn expired_revocations_are_purged(app: TestApp) {
    let (access, refresh) = app.signed_up("walt").await;
    app.gql_as(&access, LOGOUT, json!({ "token": refresh }))
        .await
        .data("logout");
    let stale = token_blacklist::ActiveModel {
        token_id: Set(uuid::Uuid::new_v4()),
        user_id: Set(None),
        expires_at: Set(Utc::now() - Duration::hours(1)),
    };
    stale.insert(&app.app.db).await.unwrap();
    assert_eq!(revocation::purge_expired(&app.app.db).await.unwrap(), 1);
    let left = token_blacklist::Entity::find()
        .count(&app.app.db)
        .await
        .unwrap();
    assert_eq!(left, 2, "unexpired revocations stay");
    // Still revoked after the purge.
    app.gql_as(&access, ME, json!({}))
        .await
        .expect_code("UNAUTHENTICATED");
}
