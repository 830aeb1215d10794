//! The browser pages: GraphiQL served from the build embedded in the
//! executable (no internet needed, policy `'self'`), from a folder when one
//! is set, from the CDN only when `PLAYGROUND_CDN` asks; the demo page at
//! `/demo`; the landing page at `/`.

use std::path::Path;

use axum::body::Body;
use axum::http::Request;

use crate::common::{Backend, Reply, TestApp};

async fn app_with(playground: &Path, demo: &Path) -> TestApp {
    let (playground, demo) = (playground.to_owned(), demo.to_owned());
    TestApp::start_with(Backend::Sqlite, move |config| {
        config.clients.playground_dir = Some(playground);
        config.clients.demo_dir = Some(demo);
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
async fn the_cdn_is_used_only_when_a_setting_asks_for_it() {
    let empty = tempfile::tempdir().unwrap();
    // No folder has a build: the page is still the embedded one.
    let app = app_with(&empty.path().join("dist"), &empty.path().join("demo")).await;
    let page = browse(&app, "/graphql").await;
    assert_eq!(page.status, 200);
    assert!(!page.text.contains("https://"), "{}", page.text);
    assert!(policy(&page).contains("script-src 'self';"));

    let cdn = TestApp::start_with(Backend::Sqlite, |config| {
        config.clients.playground_cdn = true;
    })
    .await
    .unwrap();
    let page = browse(&cdn, "/graphql").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("usergraph-notice"), "{}", page.text);
    assert!(page.text.contains("PLAYGROUND_CDN=true"), "{}", page.text);
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
        config.clients.playground_dir = Some(dir);
        config.clients.demo_dir = Some(demo);
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

/// Security review: the CDN page ran floating versions (`react@18`,
/// `graphiql@4`) on the API's own origin, where the refresh cookie works.
/// Now every file it loads names an exact version and carries an integrity
/// hash, which must be that of the npm package's own file (checked against
/// `web/playground/node_modules`, which `.ci/run` installs).
#[tokio::test]
async fn the_cdn_fallback_loads_exact_versions_checked_by_integrity_hashes() {
    use base64::Engine;
    use sha2::{Digest, Sha384};

    let app = TestApp::start_with(Backend::Sqlite, |config| {
        config.clients.playground_cdn = true;
    })
    .await
    .unwrap();
    let page = browse(&app, "/graphql").await;
    let mut loaded = 0;
    for tag in page
        .text
        .split('<')
        .filter(|tag| tag.contains("https://unpkg.com/"))
    {
        let attribute = |name: &str| {
            tag.split(&format!("{name}=\""))
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .map(str::to_owned)
        };
        let url = attribute("src")
            .or_else(|| attribute("href"))
            .unwrap_or_else(|| panic!("a CDN tag without src or href: <{tag}"));
        let integrity = attribute("integrity").unwrap_or_else(|| panic!("no integrity: {url}"));
        assert_eq!(
            attribute("crossorigin").as_deref(),
            Some("anonymous"),
            "{url}"
        );
        let path = url.strip_prefix("https://unpkg.com/").unwrap();
        let (package, file) = path.split_once('/').unwrap();
        let (name, version) = package.rsplit_once('@').unwrap();
        assert!(
            version.split('.').count() == 3
                && version.split('.').all(|part| part.parse::<u32>().is_ok()),
            "{url} is not an exact version"
        );
        loaded += 1;
        let installed = std::path::Path::new("web/playground/node_modules").join(name);
        if !installed.exists() {
            assert!(
                std::env::var("CI").is_err(),
                "web/playground/node_modules is missing under CI: run npm ci there first"
            );
            eprintln!("{name} is not installed: its integrity hash is not compared");
            continue;
        }
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(installed.join("package.json")).unwrap())
                .unwrap();
        assert_eq!(
            manifest["version"], version,
            "{url}: not the version the build uses"
        );
        let bytes = std::fs::read(installed.join(file)).unwrap();
        let expected = format!(
            "sha384-{}",
            base64::engine::general_purpose::STANDARD.encode(Sha384::digest(&bytes))
        );
        assert_eq!(integrity, expected, "{url}");
    }
    assert_eq!(loaded, 4, "React, ReactDOM, GraphiQL and its styles");
}

/// The binary copied to an empty folder and started from another one, over
/// TCP: the landing page, GraphiQL and its files, the demo and its files
/// all come out of the executable, byte for byte the committed builds.
#[test]
fn a_copied_binary_serves_every_page_from_any_folder() {
    let home = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let binary = home.path().join("usergraph");
    std::fs::copy(env!("CARGO_BIN_EXE_usergraph"), &binary).unwrap();
    let mut command = crate::cli::usergraph(elsewhere.path());
    command
        .env_remove("PLAYGROUND_ASSETS_DIR")
        .env_remove("DEMO_ASSETS_DIR")
        .env_remove("PLAYGROUND_CDN");
    let mut copied = std::process::Command::new(&binary);
    copied.current_dir(elsewhere.path()).env("BCRYPT_COST", "4");
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => copied.env(name, value),
            None => copied.env_remove(name),
        };
    }
    let server = crate::cli::Running::start(copied);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let get = |path: &str, headers: &[(&str, &str)]| {
        runtime.block_on(crate::common::wire_get(&server.address, path, headers))
    };
    let html = [("accept", "text/html")];

    let landing = get("/", &html);
    assert_eq!(landing.status, 200, "{}", landing.text);
    assert!(
        landing.text.contains(env!("CARGO_PKG_VERSION")),
        "{}",
        landing.text
    );
    for link in [
        "href=\"/graphql\"",
        "href=\"/demo/\"",
        "href=\"/health\"",
        "href=\"/health/ready\"",
        "href=\"/.well-known/openid-configuration\"",
    ] {
        assert!(landing.text.contains(link), "{link}: {}", landing.text);
    }
    assert!(!landing.text.contains("https://"), "{}", landing.text);
    assert!(
        landing
            .header("content-security-policy")
            .unwrap()
            .contains("script-src 'self'")
    );

    let page = get("/graphql", &html);
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains(r#"src="/playground/graphiql.js""#),
        "{}",
        page.text
    );
    for (path, committed, media_type) in [
        (
            "/playground/graphiql.js",
            "web/playground/dist/graphiql.js",
            "javascript",
        ),
        (
            "/playground/graphiql.css",
            "web/playground/dist/graphiql.css",
            "text/css",
        ),
        ("/demo/demo.js", "web/demo/dist/demo.js", "javascript"),
        ("/demo/", "web/demo/dist/index.html", "text/html"),
    ] {
        let file = get(path, &[]);
        assert_eq!(file.status, 200, "{path}");
        assert!(
            file.header("content-type").unwrap().contains(media_type),
            "{path}"
        );
        let expected = std::fs::read_to_string(committed).unwrap();
        assert!(file.text == expected, "{path} differs from {committed}");
        // A browser that has it is told so without the bytes.
        let etag = file.header("etag").unwrap().to_owned();
        let again = get(path, &[("if-none-match", &etag)]);
        assert_eq!(again.status, 304, "{path}");
        assert!(again.text.is_empty());
    }
    let demo = get("/demo", &html);
    assert_eq!(demo.status, 200);
    assert!(demo.text.contains("usergraph demo"));
    assert_eq!(get("/demo/nope.js", &[]).status, 404);
    assert_eq!(get("/playground/../Cargo.toml", &[]).status, 404);
    assert!(
        !elsewhere.path().join("web").exists() && !home.path().join("web").exists(),
        "no folder of pages was needed"
    );
}
