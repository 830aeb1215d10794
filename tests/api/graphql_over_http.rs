//! The GraphQL-over-HTTP specification (graphql.github.io/graphql-over-http),
//! one submodule per section, each test named by its subsection: how a
//! request is sent (`request`: Request Parameters, Accept, GET, POST) and how
//! it is answered (`response`: the legacy `application/json` and
//! `application/graphql-response+json`).

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};

use crate::common::{Backend, Reply, TestApp};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

async fn app() -> TestApp {
    TestApp::start(Backend::Sqlite).await.unwrap()
}

/// POST a raw body with the given headers.
async fn post_raw(app: &TestApp, body: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = Request::post("/graphql");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.send(request.body(Body::from(body.to_owned())).unwrap())
        .await
}

/// GET `/graphql` with URL parameters (encoded here) and headers.
async fn get(app: &TestApp, parameters: &[(&str, &str)], headers: &[(&str, &str)]) -> Reply {
    let query = parameters
        .iter()
        .map(|(name, value)| format!("{name}={}", encode(value)))
        .collect::<Vec<_>>()
        .join("&");
    let mut request = Request::get(format!("/graphql?{query}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.send(request.body(Body::empty()).unwrap()).await
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn content_type(reply: &Reply) -> String {
    reply.headers["content-type"].to_str().unwrap().to_owned()
}

const JSON: (&str, &str) = ("content-type", "application/json");
const ACCEPT_SPEC: (&str, &str) = ("accept", GRAPHQL_RESPONSE);
const ACCEPT_JSON: (&str, &str) = ("accept", "application/json");

mod request {
    use super::*;

    /// Request Parameters: `query` is required and a string;
    /// `variables` and `extensions` are maps; `operationName` a string.
    #[tokio::test]
    async fn parameters_malformed_are_400_in_both_media_types() {
        let app = app().await;
        for body in [
            json!({}),
            json!({ "query": 1 }),
            json!({ "query": "{ __typename }", "variables": "x" }),
            json!({ "query": "{ __typename }", "operationName": 7 }),
            json!({ "query": "{ __typename }", "extensions": [] }),
            json!("{ __typename }"),
        ] {
            for accept in [ACCEPT_SPEC, ACCEPT_JSON] {
                let reply = post_raw(&app, &body.to_string(), &[JSON, accept]).await;
                assert_eq!(reply.status, 400, "{body} with {accept:?}: {}", reply.text);
                assert_eq!(reply.code(), Some("BAD_USER_INPUT"), "{}", reply.text);
                assert_eq!(reply.body.get("data"), None, "{}", reply.text);
            }
        }
        let not_json = post_raw(&app, "{ query", &[JSON, ACCEPT_SPEC]).await;
        assert_eq!(not_json.status, 400);
        assert!(content_type(&not_json).starts_with(GRAPHQL_RESPONSE));
    }

    /// Request Parameters: `variables`, `operationName` and `extensions` do
    /// what they say.
    #[tokio::test]
    async fn parameters_select_the_operation_and_fill_variables() {
        let app = app().await;
        let body = json!({
            "query": "query A { a: __typename } query B($name: String!) { usernameAvailable(username: $name) }",
            "operationName": "B",
            "variables": { "name": "nobody" },
            "extensions": {},
        });
        let reply = post_raw(&app, &body.to_string(), &[JSON, ACCEPT_SPEC]).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.body, json!({ "data": { "usernameAvailable": true } }));
    }

    /// Accept: the spec's type unless the legacy `application/json` is
    /// preferred by name (no `Accept` counts as the spec's type, as after
    /// the 2025 watershed); 406 when neither is acceptable.
    #[tokio::test]
    async fn accept_chooses_the_media_type() {
        let app = app().await;
        let query = r#"{"query":"{ __typename }"}"#;
        for (accept, expected) in [
            (Some(GRAPHQL_RESPONSE), GRAPHQL_RESPONSE),
            (
                Some("application/graphql-response+json, application/json;q=0.9"),
                GRAPHQL_RESPONSE,
            ),
            (Some("application/json"), "application/json"),
            (
                Some("application/json, application/graphql-response+json;q=0.5"),
                "application/json",
            ),
            (Some("*/*"), GRAPHQL_RESPONSE),
            (Some("application/json, */*;q=0.8"), "application/json"),
            (None, GRAPHQL_RESPONSE),
        ] {
            let mut headers = vec![JSON];
            headers.extend(accept.map(|accept| ("accept", accept)));
            let reply = post_raw(&app, query, &headers).await;
            assert_eq!(reply.status, 200, "{accept:?}");
            assert!(
                content_type(&reply).starts_with(expected),
                "{accept:?} answered {}",
                content_type(&reply)
            );
            assert_eq!(reply.body["data"]["__typename"], "Query");
        }
        for accept in ["text/html", "application/xml", "application/json;q=0"] {
            let reply = post_raw(&app, query, &[JSON, ("accept", accept)]).await;
            assert_eq!(reply.status, 406, "{accept}: {}", reply.text);
        }
    }

    /// GET: queries in the URL are executed, variables as JSON text.
    #[tokio::test]
    async fn get_executes_queries() {
        let app = app().await;
        app.register("ann").await;
        let reply = get(
            &app,
            &[
                (
                    "query",
                    "query($u: String!) { user(username: $u) { username } }",
                ),
                ("variables", r#"{"u":"ann"}"#),
            ],
            &[ACCEPT_SPEC],
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.body["data"]["user"]["username"], "ann");
        assert!(content_type(&reply).starts_with(GRAPHQL_RESPONSE));
        assert!(reply.headers.contains_key("x-request-id"));
    }

    /// GET: a mutation over GET is 405 with `Allow: POST`, and does not run.
    #[tokio::test]
    async fn get_refuses_mutations_with_405() {
        let app = app().await;
        let register = r#"mutation { register(input: {name: "Eve Doe", username: "eve", email: "eve@example.com", password: "Str0ng!pass"}) { id } }"#;
        for accept in [ACCEPT_SPEC, ACCEPT_JSON] {
            let reply = get(&app, &[("query", register)], &[accept]).await;
            assert_eq!(reply.status, 405, "{}", reply.text);
            assert_eq!(reply.headers["allow"], "POST");
            assert_eq!(reply.code(), Some("BAD_USER_INPUT"));
        }
        let named = get(
            &app,
            &[
                ("query", "query Q { __typename } mutation M { logout }"),
                ("operationName", "M"),
            ],
            &[ACCEPT_SPEC],
        )
        .await;
        assert_eq!(named.status, 405);
        let available = app
            .gql("{ usernameAvailable(username: \"eve\") }", json!({}))
            .await;
        assert_eq!(available.body["data"]["usernameAvailable"], true);
    }

    /// GET: GET without `query` is malformed; malformed `variables` too.
    #[tokio::test]
    async fn get_without_a_query_or_with_bad_variables_is_400() {
        let app = app().await;
        let missing = get(&app, &[], &[ACCEPT_SPEC]).await;
        assert_eq!(missing.status, 400, "{}", missing.text);
        let variables = get(
            &app,
            &[("query", "{ __typename }"), ("variables", "{nope")],
            &[ACCEPT_SPEC],
        )
        .await;
        assert_eq!(variables.status, 400, "{}", variables.text);
        assert_eq!(variables.code(), Some("BAD_USER_INPUT"));
    }

    /// POST: the body must be `application/json` (415 otherwise,
    /// including the form-encodable types a cross-site form could send).
    #[tokio::test]
    async fn post_needs_a_json_content_type() {
        let app = app().await;
        let body = r#"{"query":"{ __typename }"}"#;
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/graphql"),
            None,
        ] {
            let mut headers = vec![ACCEPT_SPEC];
            headers.extend(content_type.map(|value| ("content-type", value)));
            let reply = post_raw(&app, body, &headers).await;
            assert_eq!(reply.status, 415, "{content_type:?}");
            assert_eq!(reply.code(), Some("BAD_USER_INPUT"));
        }
        let charset = post_raw(
            &app,
            body,
            &[
                ("content-type", "application/json; charset=utf-8"),
                ACCEPT_SPEC,
            ],
        )
        .await;
        assert_eq!(charset.status, 200);
    }
}

mod response {
    use super::*;

    /// Response, application/json: 200 even when the document fails to parse or
    /// validate; the errors say why.
    #[tokio::test]
    async fn json_is_200_for_documents_that_do_not_validate() {
        let app = app().await;
        for query in ["{", "{ nope }", "query($x: Int!) { __typename }"] {
            let body = json!({ "query": query }).to_string();
            let reply = post_raw(&app, &body, &[JSON, ACCEPT_JSON]).await;
            assert_eq!(reply.status, 200, "{query}: {}", reply.text);
            assert!(reply.errors().is_array(), "{}", reply.text);
            assert_eq!(reply.code(), Some("BAD_USER_INPUT"));
        }
    }

    /// Response, application/graphql-response+json: a request error (parse,
    /// validation, undetermined operation, variable coercion) is 400 and has no `data` entry; every
    /// error has a message and `extensions.code`, and locations when the
    /// document has them.
    #[tokio::test]
    async fn graphql_response_json_is_400_for_request_errors_without_data() {
        let app = app().await;
        for (query, variables) in [
            ("{", json!({})),
            ("{ nope }", json!({})),
            ("query($x: Int!) { __typename }", json!({})),
            // The operation cannot be determined: two, and no name given.
            ("query A { __typename } query B { __typename }", json!({})),
            (
                "query($x: Int!) { users(page: $x) { hasMore } }",
                json!({ "x": "one" }),
            ),
        ] {
            let body = json!({ "query": query, "variables": variables }).to_string();
            let reply = post_raw(&app, &body, &[JSON, ACCEPT_SPEC]).await;
            assert_eq!(reply.status, 400, "{query}: {}", reply.text);
            assert!(content_type(&reply).starts_with(GRAPHQL_RESPONSE));
            assert_eq!(reply.body.get("data"), None, "{}", reply.text);
            let errors = reply.errors();
            let first = &errors[0];
            assert!(first["message"].is_string(), "{}", reply.text);
            assert_eq!(first["extensions"]["code"], "BAD_USER_INPUT");
        }
        let located = post_raw(&app, r#"{"query":"{ nope }"}"#, &[JSON, ACCEPT_SPEC]).await;
        assert_eq!(
            located.errors()[0]["locations"],
            json!([{ "line": 1, "column": 3 }])
        );
    }

    /// Response, application/graphql-response+json: once execution started
    /// the status is 2xx, even when a field failed and `data` is null;
    /// `data` is then present.
    #[tokio::test]
    async fn graphql_response_json_is_200_once_execution_started() {
        let app = app().await;
        let reply = post_raw(&app, r#"{"query":"{ me { id } }"}"#, &[JSON, ACCEPT_SPEC]).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.body["data"], Value::Null);
        assert!(reply.body.as_object().unwrap().contains_key("data"));
        assert_eq!(reply.code(), Some("UNAUTHENTICATED"));
        assert_eq!(reply.errors()[0]["path"], json!(["me"]));

        let partial = post_raw(
            &app,
            r#"{"query":"{ a: usernameAvailable(username: \"xavier\") b: user(username: \"ghost\") { id } }"}"#,
            &[JSON, ACCEPT_SPEC],
        )
        .await;
        assert_eq!(partial.status, 200, "{}", partial.text);
        assert_eq!(partial.body["data"]["a"], true, "{}", partial.text);
        assert_eq!(partial.code(), Some("NOT_FOUND"));
    }

    /// The cookie a resolver sets reaches the client in either media type.
    #[tokio::test]
    async fn headers_set_by_resolvers_are_kept() {
        let app = app().await;
        app.register("ann").await;
        let body = json!({
            "query": crate::common::LOGIN,
            "variables": { "identifier": "ann", "password": crate::common::PASSWORD },
        })
        .to_string();
        let reply = post_raw(&app, &body, &[JSON, ACCEPT_SPEC]).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert!(
            reply
                .set_cookies()
                .iter()
                .any(|cookie| cookie.starts_with("usergraph_refresh=")),
            "{:?}",
            reply.set_cookies()
        );
    }

    /// Batches (not in the spec; Apollo's batch link sends them) still work.
    #[tokio::test]
    async fn json_batches_still_work() {
        let app = app().await;
        let body = r#"[{"query":"{ a: __typename }"},{"query":"{ b: __typename }"}]"#;
        let reply = post_raw(&app, body, &[JSON, ACCEPT_SPEC]).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.body[0]["data"]["a"], "Query");
        assert_eq!(reply.body[1]["data"]["b"], "Query");
        let empty = post_raw(&app, "[]", &[JSON, ACCEPT_SPEC]).await;
        assert_eq!(empty.status, 400);
    }
}
