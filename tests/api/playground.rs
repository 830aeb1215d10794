//! The browser pages: GraphiQL served from our own build (no internet
//! needed, policy `'self'`) or, when the build is absent, from the CDN with
//! a notice; the demo page at `/demo`, or how to build it.

use std::path::Path;

use axum::body::Body;
use axum::http::Request;

use crate::common::{Backend, Reply, TestApp};

async fn app_with(playground: &Path, demo: &Path) -> TestApp {
    let (playground, demo) = (playground.to_owned(), demo.to_owned());
    TestApp::start_with(Backend::Sqlite, move |config| {
        config.clients.playground_dir = playground;
        config.clients.demo_dir = demo;
    })
    .await
    .unwrap()
}

async fn browse(app: &TestApp, path: &str) -> Reply {
    app.send(
        Request::get(path)
            .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

fn policy(reply: &Reply) -> String {
    reply.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// A fake build: what the npm build writes, with recognisable contents.
fn built_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("graphiql.js"), "/* graphiql bundle */").unwrap();
    std::fs::write(dir.path().join("graphiql.css"), ".graphiql{}").unwrap();
    std::fs::write(dir.path().join("index.html"), "<h1>usergraph demo</h1>").unwrap();
    std::fs::write(dir.path().join("demo.js"), "console.log('demo')").unwrap();
    dir
}

#[tokio::test]
async fn a_built_playground_is_served_by_usergraph_under_a_self_only_policy() {
    let built = built_folder();
    let app = app_with(built.path(), built.path()).await;
    let page = browse(&app, "/graphql").await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains(r#"src="/playground/graphiql.js""#),
        "{}",
        page.text
    );
    assert!(page.text.contains(r#"href="/playground/graphiql.css""#));
    assert!(page.text.contains(r#"data-endpoint="/graphql""#));
    assert!(
        !page.text.contains("https://"),
        "nothing from elsewhere: {}",
        page.text
    );
    let csp = policy(&page);
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(!csp.contains("unpkg") && !csp.contains("sha256"), "{csp}");
    assert!(csp.contains("connect-src 'self'") && csp.contains("frame-ancestors 'none'"));

    let script = browse(&app, "/playground/graphiql.js").await;
    assert_eq!(script.status, 200);
    assert_eq!(script.text, "/* graphiql bundle */");
    assert!(
        script.headers["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    let escape = browse(&app, "/playground/../Cargo.toml").await;
    assert_ne!(escape.status, 200);
    let missing = browse(&app, "/playground/nope.js").await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn without_a_build_the_playground_says_so_and_uses_the_cdn() {
    let empty = tempfile::tempdir().unwrap();
    let app = app_with(&empty.path().join("dist"), &empty.path().join("demo")).await;
    let page = browse(&app, "/graphql").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("usergraph-notice"), "{}", page.text);
    assert!(page.text.contains("npm run build"), "{}", page.text);
    assert!(page.text.contains("https://unpkg.com"), "{}", page.text);
    assert!(
        page.text.contains("credentials: 'same-origin'"),
        "{}",
        page.text
    );
    let csp = policy(&page);
    assert!(
        csp.contains("https://unpkg.com") && csp.contains("'sha256-"),
        "{csp}"
    );
}

#[tokio::test]
async fn the_demo_is_served_when_built_and_explains_itself_when_not() {
    let built = built_folder();
    let app = app_with(built.path(), built.path()).await;
    for path in ["/demo", "/demo/"] {
        let page = browse(&app, path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(
            page.text.contains("usergraph demo"),
            "{path}: {}",
            page.text
        );
        assert!(policy(&page).contains("script-src 'self';"));
    }
    let script = browse(&app, "/demo/demo.js").await;
    assert_eq!(script.text, "console.log('demo')");

    let empty = tempfile::tempdir().unwrap();
    let unbuilt = app_with(empty.path(), &empty.path().join("demo")).await;
    let page = browse(&unbuilt, "/demo").await;
    assert_eq!(page.status, 404);
    assert!(page.text.contains("npm run build:demo"), "{}", page.text);
}

#[tokio::test]
async fn a_switched_off_playground_serves_neither_page_nor_assets() {
    let built = built_folder();
    let (dir, demo) = (built.path().to_owned(), built.path().to_owned());
    let app = TestApp::start_with(Backend::Sqlite, move |config| {
        config.clients.playground_dir = dir;
        config.clients.demo_dir = demo;
        config.limits.playground = false;
    })
    .await
    .unwrap();
    let page = browse(&app, "/graphql").await;
    assert_eq!(page.status, 400, "a GET without a query: {}", page.text);
    assert!(!page.text.to_lowercase().contains("graphiql"));
    let script = browse(&app, "/playground/graphiql.js").await;
    assert_eq!(script.status, 404);
}
