//! GraphQL hardening: every limit refused with a code before any resolver
//! runs, introspection and playground switches, masked internal errors with
//! a request id, security headers and CORS.

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};

use crate::common::{Backend, LOGIN, PASSWORD, TestApp};

async fn start(adjust: impl FnOnce(&mut usergraph::Config)) -> TestApp {
    TestApp::start_with(Backend::Sqlite, adjust).await.unwrap()
}

#[tokio::test]
async fn depth_and_complexity_limits_answer_with_a_code() {
    let app = start(|config| {
        config.limits.max_depth = 2;
        config.limits.max_complexity = 3;
    })
    .await;
    let deep = app
        .gql(
            "mutation { login(usernameOrEmail: \"a\", password: \"b\") { user { id } } }",
            json!({}),
        )
        .await;
    deep.expect_limit("depth");
    let complex = app.gql("{ me { id uuid name username } }", json!({})).await;
    complex.expect_limit("complexity");
}

#[tokio::test]
async fn five_hundred_aliased_logins_are_refused_before_any_password_is_tried() {
    let app = start(|config| config.limits.login_account_rate_limit = 1).await;
    app.register("victim").await;
    let aliased = (0..500)
        .map(|index| format!("a{index}: login(usernameOrEmail: \"victim\", password: \"guess{index}\") {{ accessToken }}"))
        .collect::<Vec<_>>()
        .join(" ");
    let reply = app
        .gql(&format!("mutation {{ {aliased} }}"), json!({}))
        .await;
    reply.expect_limit("aliases");
    assert_eq!(reply.body["data"], Value::Null);
    // Not one attempt was counted: the single allowed login still works.
    app.login("victim", PASSWORD).await.data("login");
}

#[tokio::test]
async fn root_field_and_batch_limits_answer_with_a_code() {
    let app = start(|config| {
        config.limits.max_root_fields = 2;
        config.limits.max_batch = 2;
    })
    .await;
    let wide = app
        .gql(
            "{ me { id } a: me { id } ...More } fragment More on Query { b: me { id } }",
            json!({}),
        )
        .await;
    wide.expect_limit("rootFields");

    let one = json!({ "query": "{ __typename }" });
    let batch = app
        .post_body_from("127.0.0.1", &json!([one, one, one]), &[])
        .await;
    assert_eq!(batch.status, 400);
    batch.expect_limit("batch");
    let fits = app
        .post_body_from("127.0.0.1", &json!([one, one]), &[])
        .await;
    assert_eq!(fits.body[1]["data"]["__typename"], "Query", "{}", fits.text);
}

#[tokio::test]
async fn an_oversized_body_is_413_with_a_code() {
    let app = start(|config| config.limits.max_body_bytes = 2000).await;
    let padding = "x".repeat(2001);
    let reply = app.gql("{ __typename }", json!({ "pad": padding })).await;
    assert_eq!(reply.status, 413);
    reply.expect_limit("body");
    let small = app.gql("{ __typename }", json!({})).await;
    assert_eq!(small.body["data"]["__typename"], "Query");
}

#[tokio::test]
async fn a_request_running_too_long_is_answered_with_timeout() {
    // bcrypt at cost 14 takes far longer than 20 ms on any machine.
    let app = start(|config| {
        config.bcrypt_cost = 14;
        config.limits.request_timeout = Duration::from_millis(20);
    })
    .await;
    let reply = app.login("nobody", PASSWORD).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.code(), Some("INTERNAL"), "{}", reply.text);
}

const INTROSPECTION: &str = "query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }
}";

#[tokio::test]
async fn graphiqls_introspection_fits_the_default_limits_and_can_be_switched_off() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let reply = app.gql(INTROSPECTION, json!({})).await;
    assert_eq!(reply.errors(), Value::Null, "{}", reply.text);
    assert_eq!(reply.body["data"]["__schema"]["queryType"]["name"], "Query");

    let closed = start(|config| {
        config.limits.introspection = false;
        config.limits.playground = false;
    })
    .await;
    let refused = closed.gql(INTROSPECTION, json!({})).await;
    assert_eq!(
        refused.expect_code("FORBIDDEN"),
        "introspection is disabled"
    );
    assert_eq!(refused.body["data"], Value::Null, "{}", refused.text);
    assert!(!refused.text.contains("Mutation"), "{}", refused.text);
    // Hidden in a fragment, next to an ordinary field: still refused.
    let hidden = closed
        .gql(
            "{ __typename ...F } fragment F on Query { ... on Query { __type(name: \"User\") { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(hidden.expect_code("FORBIDDEN"), "introspection is disabled");
    // A typo gets no "Did you mean …" that would list the schema's fields.
    let misspelt = r#"{ usernameAvailble(username: "x") }"#;
    let typo = closed.gql(misspelt, json!({})).await;
    let message = typo.expect_code("BAD_USER_INPUT");
    assert!(!message.contains("Did you mean"), "{message}");
    assert!(!typo.text.contains("usernameAvailable"), "{}", typo.text);
    let open_typo = app.gql(misspelt, json!({})).await;
    assert!(
        open_typo.text.contains("Did you mean"),
        "suggestions stay on by default: {}",
        open_typo.text
    );
    let page = closed
        .send(
            Request::get("/graphql")
                .header("accept", "text/html")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    // GET now runs queries (GraphQL over HTTP): a browser asking only for
    // HTML gets 406, since GraphQL answers only in JSON.
    assert_eq!(page.status, 406);
    assert!(!page.text.to_lowercase().contains("graphiql"));
}

#[tokio::test]
async fn internal_errors_carry_the_request_id_and_no_detail() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    app.app.db.clone().close().await.unwrap();
    let reply = app.login("anyone", PASSWORD).await;
    assert_eq!(reply.expect_code("INTERNAL"), "Internal server error");
    let request_id = reply.body["errors"][0]["extensions"]["requestId"]
        .as_str()
        .expect("a request id");
    assert_eq!(reply.headers["x-request-id"], request_id);
    assert!(
        !reply.text.to_lowercase().contains("pool"),
        "{}",
        reply.text
    );
}

#[tokio::test]
async fn every_response_has_security_headers_and_the_playground_a_policy_it_can_run_under() {
    // The CDN page, which only a setting turns on.
    let app = start(|config| config.clients.playground_cdn = true).await;
    let api = app.gql("{ __typename }", json!({})).await;
    let health = app
        .send(Request::get("/health").body(Body::empty()).unwrap())
        .await;
    for reply in [&api, &health] {
        assert_eq!(reply.headers["x-content-type-options"], "nosniff");
        assert_eq!(reply.headers["x-frame-options"], "DENY");
        assert_eq!(reply.headers["referrer-policy"], "no-referrer");
        assert_eq!(
            reply.headers["content-security-policy"],
            usergraph::http::API_CSP
        );
    }
    let page = app
        .send(
            Request::get("/graphql")
                .header("accept", "text/html")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    let script_src = csp
        .split(';')
        .find(|part| part.contains("script-src"))
        .unwrap();
    assert!(
        script_src.contains("https://unpkg.com") && script_src.contains("'sha256-"),
        "{csp}"
    );
    assert!(!script_src.contains("unsafe"), "{csp}");
    assert!(
        csp.contains("connect-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(
        page.text.contains("https://unpkg.com/graphiql"),
        "the page loads what the policy allows"
    );
}

fn preflight(origin: &str) -> Request<Body> {
    Request::options("/graphql")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn cors_allows_only_listed_origins_with_credentials() {
    let closed = TestApp::start(Backend::Sqlite).await.unwrap();
    let reply = closed.send(preflight("https://app.example.com")).await;
    assert!(reply.headers.get("access-control-allow-origin").is_none());

    let open =
        start(|config| config.limits.cors_origins = vec!["https://app.example.com".to_owned()])
            .await;
    let allowed = open.send(preflight("https://app.example.com")).await;
    assert_eq!(
        allowed.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(allowed.headers["access-control-allow-credentials"], "true");
    let other = open.send(preflight("https://evil.example.net")).await;
    assert!(other.headers.get("access-control-allow-origin").is_none());
    // A real request from the listed origin carries the headers too.
    let login = open
        .post_body_from(
            "127.0.0.1",
            &json!({ "query": LOGIN, "variables": { "identifier": "x", "password": "y" } }),
            &[("origin", "https://app.example.com")],
        )
        .await;
    assert_eq!(
        login.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
}

#[test]
fn cors_origins_must_be_plain_origins() {
    use clap::Parser;

    #[derive(Parser)]
    struct Settings {
        #[command(flatten)]
        config: usergraph::Config,
    }
    let parse = |origins: &str| Settings::try_parse_from(["usergraph", "--cors-origins", origins]);
    let parsed = parse("https://app.example.com,http://localhost:3000").unwrap();
    assert_eq!(
        parsed.config.limits.cors_origins,
        ["https://app.example.com", "http://localhost:3000"]
    );
    assert!(parse("*").is_err());
    assert!(parse("https://app.example.com/path").is_err());
    assert!(parse("app.example.com").is_err());
}
