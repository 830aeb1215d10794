//! `/metrics` over a real listener: behind `METRICS_TOKEN`, and counting
//! what an operator watches: operations by name and outcome code with
//! their latency, login outcomes, rate-limit refusals by field, the session
//! cache, the change feed, the pool and the build.

use serde_json::json;

use crate::common::{Backend, PASSWORD, TestApp, wire_get};

const TOKEN: &str = "scrape-token-0123456789";

/// The value of the series `name{labels}` (`labels` as printed, or empty).
#[track_caller]
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no `{series}` in:\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_token_and_count_what_operators_watch() {
    let app = TestApp::start_with(Backend::Sqlite, |config| {
        config.metrics_token = Some(TOKEN.to_owned());
        config.limits.default_rate_limit = 3;
        config.limits.login_ip_rate_limit = 2;
    })
    .await
    .unwrap();
    let address = app.listen().await;
    assert_eq!(wire_get(&address, "/metrics", &[]).await.status, 401);
    let wrong = wire_get(&address, "/metrics", &[("authorization", "Bearer nope")]).await;
    assert_eq!(wrong.status, 401);

    app.register("watched").await;
    let logged_in = app.login("watched", PASSWORD).await;
    let token = logged_in.body["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    app.login("watched", "Wr0ng!pass")
        .await
        .expect_code("UNAUTHENTICATED");
    app.login("watched", PASSWORD)
        .await
        .expect_code("RATE_LIMITED");
    for _ in 0..2 {
        let me = app
            .gql_as(&token, "query Me { me { id } }", json!({}))
            .await;
        assert_eq!(me.errors(), serde_json::Value::Null, "{}", me.text);
    }
    for _ in 0..4 {
        app.gql(r#"{ usernameAvailable(username: "someone") }"#, json!({}))
            .await;
    }

    let bearer = format!("Bearer {TOKEN}");
    let scraped = wire_get(&address, "/metrics", &[("authorization", &bearer)]).await;
    assert_eq!(scraped.status, 200, "{}", scraped.text);
    assert!(
        scraped
            .header("content-type")
            .unwrap()
            .contains("openmetrics-text")
    );
    let text = &scraped.text;
    assert_eq!(
        value(
            text,
            r#"usergraph_graphql_requests_total{operation="Me",code="OK"}"#
        ),
        2.0
    );
    assert_eq!(
        value(
            text,
            r#"usergraph_graphql_request_duration_seconds_count{operation="Me"}"#
        ),
        2.0
    );
    assert_eq!(
        value(
            text,
            r#"usergraph_graphql_requests_total{operation="anonymous",code="RATE_LIMITED"}"#
        ),
        2.0,
        "one login and one usernameAvailable refused"
    );
    assert_eq!(
        value(text, r#"usergraph_logins_total{outcome="success"}"#),
        1.0
    );
    // One registration hash and two password checks went through the
    // hashing queue; nothing waits now.
    assert!(
        value(text, "usergraph_hashing_wait_seconds_count") >= 3.0,
        "{text}"
    );
    assert_eq!(value(text, "usergraph_hashing_waiting"), 0.0);
    assert_eq!(
        value(
            text,
            r#"usergraph_logins_total{outcome="invalid_credentials"}"#
        ),
        1.0
    );
    assert_eq!(
        value(text, r#"usergraph_logins_total{outcome="limited"}"#),
        1.0
    );
    assert_eq!(
        value(
            text,
            r#"usergraph_rate_limit_refusals_total{field="usernameAvailable"}"#
        ),
        1.0
    );
    assert!(
        value(
            text,
            r#"usergraph_session_cache_lookups_total{result="miss"}"#
        ) >= 1.0
    );
    assert!(
        value(
            text,
            r#"usergraph_session_cache_lookups_total{result="hit"}"#
        ) >= 1.0
    );
    assert_eq!(
        value(text, r#"usergraph_db_pool_connections{state="max"}"#),
        4.0
    );
    assert!(value(text, r#"usergraph_db_pool_connections{state="idle"}"#) >= 0.0);
    assert!(value(text, "usergraph_sql_statements_total") > 0.0);
    assert_eq!(
        value(
            text,
            &format!(
                r#"usergraph_build_info{{version="{}"}}"#,
                env!("CARGO_PKG_VERSION")
            )
        ),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_with_no_free_connection_shows_as_a_wait() {
    let app = TestApp::start_with(Backend::Sqlite, |config| {
        config.metrics_enabled = true;
    })
    .await
    .unwrap();
    let address = app.listen().await;
    let text = wire_get(&address, "/metrics", &[]).await.text;
    assert!(
        value(&text, "usergraph_db_pool_acquire_wait_seconds") < 0.2,
        "a free connection is taken at once: {text}"
    );

    // Every connection of the request pool in use: the probe waits its
    // whole limit (1 s), and says so.
    let pool = app.app.db.get_sqlite_connection_pool().clone();
    let max = pool.options().get_max_connections();
    let mut held = Vec::new();
    for _ in 0..max {
        held.push(pool.acquire().await.unwrap());
    }
    let text = wire_get(&address, "/metrics", &[]).await.text;
    assert_eq!(
        value(&text, r#"usergraph_db_pool_connections{state="in_use"}"#),
        f64::from(max)
    );
    assert_eq!(
        value(&text, "usergraph_db_pool_acquire_wait_seconds"),
        1.0,
        "no connection came back"
    );

    // Two scrapes at once: one probes and waits, the other answers at once
    // with the last figure instead of queueing a second waiter.
    let timed_scrape = || async {
        let started = std::time::Instant::now();
        let reply = wire_get(&address, "/metrics", &[]).await;
        assert_eq!(reply.status, 200);
        started.elapsed()
    };
    let (first, second) = tokio::join!(timed_scrape(), timed_scrape());
    let (quick, slow) = (first.min(second), first.max(second));
    assert!(
        quick.as_millis() < 500 && slow.as_millis() >= 1000,
        "one probe at a time: {first:?} {second:?}"
    );

    drop(held);
    let text = wire_get(&address, "/metrics", &[]).await.text;
    assert!(value(&text, "usergraph_db_pool_acquire_wait_seconds") < 0.2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_feed_lag_is_the_age_of_the_last_read() {
    let following = TestApp::start_with(Backend::Sqlite, |config| {
        config.metrics_enabled = true;
    })
    .await
    .unwrap();
    let address = following.listen().await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let text = wire_get(&address, "/metrics", &[]).await.text;
    let lag = value(&text, "usergraph_change_feed_lag_seconds");
    assert!(lag < 0.5, "read every 100 ms, so never far behind: {lag}");

    // Read once at start-up, then not for an hour: the lag grows.
    let stalled = TestApp::start_with(Backend::Sqlite, |config| {
        config.metrics_enabled = true;
        config.change_poll_interval = std::time::Duration::from_secs(3600);
    })
    .await
    .unwrap();
    let address = stalled.listen().await;
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let text = wire_get(&address, "/metrics", &[]).await.text;
    let lag = value(&text, "usergraph_change_feed_lag_seconds");
    assert!((1.2..60.0).contains(&lag), "{lag}");

    // No session cache, no feed followed, no series.
    let uncached = TestApp::start_with(Backend::Sqlite, |config| {
        config.metrics_enabled = true;
        config.session_cache_size = 0;
    })
    .await
    .unwrap();
    let address = uncached.listen().await;
    let text = wire_get(&address, "/metrics", &[]).await.text;
    assert!(!text.contains("change_feed_lag"), "{text}");
}
