//! Several instances on one PostgreSQL and one Redis share their limits and
//! their revocations; Redis going away mid-run does not stop the service.

use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use usergraph::config::OnStoreError;

use crate::common::{Backend, ME, RedisPrefix, TestApp};

/// Two instances on one PostgreSQL database and one Redis prefix, with a
/// default limit of `limit`; `None` when either service is not configured.
async fn two_instances(redis: &RedisPrefix, limit: u32) -> Option<(TestApp, TestApp)> {
    let configure = |config: &mut usergraph::Config| {
        redis.configure(config);
        config.limits.default_rate_limit = limit;
    };
    let first = TestApp::start_with(Backend::Postgres, configure).await?;
    let second = first.another_instance(configure).await;
    Some((first, second))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_is_shared_by_every_instance() {
    let Some(redis) = RedisPrefix::new() else {
        return;
    };
    let Some((a, b)) = two_instances(&redis, 3).await else {
        return;
    };
    let (token, _) = a.signed_up("shared").await;
    a.gql_as(&token, ME, json!({})).await.data("me");
    b.gql_as(&token, ME, json!({})).await.data("me");
    a.gql_as(&token, ME, json!({})).await.data("me");
    b.gql_as(&token, ME, json!({}))
        .await
        .expect_code("RATE_LIMITED");
    a.gql_as(&token, ME, json!({}))
        .await
        .expect_code("RATE_LIMITED");
    assert!(redis.key_count() > 0, "the counters live in Redis");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_on_one_instance_makes_the_token_useless_on_the_other() {
    let Some(redis) = RedisPrefix::new() else {
        return;
    };
    let Some((a, b)) = two_instances(&redis, 100).await else {
        return;
    };
    let (token, refresh) = a.signed_up("leaver").await;
    b.gql_as(&token, ME, json!({})).await.data("me");
    a.gql_as(
        &token,
        "mutation($r: String) { logout(refreshToken: $r) }",
        json!({ "r": refresh }),
    )
    .await
    .data("logout");
    // B may answer reads from its session cache until its next poll of the
    // change feed (100 ms by default); the refresh token is dead at once.
    let took = b
        .until(b.within_a_poll(), &token, ME, |reply| {
            reply.code() == Some("UNAUTHENTICATED")
        })
        .await;
    eprintln!("logout reached the other instance after {took:?}");
    let refreshed = b
        .gql(
            "mutation($r: String) { refreshToken(refreshToken: $r) { accessToken } }",
            json!({ "r": refresh }),
        )
        .await;
    refreshed.expect_code("UNAUTHENTICATED");
}

/// A TCP proxy to Redis that the test can cut, as if Redis went away,
/// without touching the real server others use.
async fn cuttable_proxy(redis_url: &str) -> (String, JoinHandle<()>) {
    let target = redis_url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap_or("127.0.0.1:6379")
        .to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let proxy = tokio::spawn(async move {
        // Aborting this task drops the listener and every connection.
        let mut connections = JoinSet::new();
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            connections.spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (format!("redis://{address}"), proxy)
}

/// Anonymous `me` calls (each counted, each refused as anonymous) before and
/// after Redis goes away; returns the codes after.
async fn codes_after_redis_goes_away(on_store_error: OnStoreError) -> Option<Vec<String>> {
    let redis = RedisPrefix::new()?;
    let (proxy_url, proxy) = cuttable_proxy(&redis.url).await;
    let app = TestApp::start_with(Backend::Sqlite, |config| {
        redis.configure(config);
        config.limits.redis_url = Some(proxy_url);
        config.limits.default_rate_limit = 2;
        config.limits.on_store_error = on_store_error;
    })
    .await
    .unwrap();
    let before = app.gql(ME, json!({})).await;
    before.expect_code("UNAUTHENTICATED");
    // The caller's counter and the address's ceiling.
    assert_eq!(redis.key_count(), 2, "counted in Redis while it was there");

    proxy.abort();
    let _ = proxy.await;
    let mut codes = Vec::new();
    for _ in 0..4 {
        let reply = app.gql(ME, json!({})).await;
        codes.push(reply.code().unwrap_or("none").to_owned());
    }
    let health = app
        .send(
            axum::http::Request::get("/health")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(health.status, 200, "the server keeps serving");
    Some(codes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_limits_fall_back_to_this_instance_by_default() {
    let Some(codes) = codes_after_redis_goes_away(OnStoreError::Memory).await else {
        return;
    };
    assert_eq!(
        codes,
        [
            "UNAUTHENTICATED",
            "UNAUTHENTICATED",
            "RATE_LIMITED",
            "RATE_LIMITED"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_fail_open_allows_and_fail_closed_refuses() {
    let Some(open) = codes_after_redis_goes_away(OnStoreError::Allow).await else {
        return;
    };
    assert_eq!(open, ["UNAUTHENTICATED"; 4]);
    let Some(closed) = codes_after_redis_goes_away(OnStoreError::Deny).await else {
        return;
    };
    assert_eq!(closed, ["RATE_LIMITED"; 4]);
}
