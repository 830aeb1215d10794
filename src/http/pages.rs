//! The pages a person opens in a browser: GraphiQL at `GET /graphql` and
//! the demo at `/demo`, both built from npm into folders this server reads
//! at run time (`PLAYGROUND_ASSETS_DIR`, `DEMO_ASSETS_DIR`).
//!
//! Serving our own build means the playground works with no internet and
//! its policy can be `'self'`. A fresh checkout has no build (no Node is
//! needed to run usergraph), so each page then says how to build it; the
//! playground falls back to GraphiQL from a CDN and says that too.

use std::path::Path;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{ACCEPT, CONTENT_SECURITY_POLICY};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use tower_http::services::ServeDir;

use super::AppState;
use super::headers::{PAGE_CSP, playground_csp};
use crate::config::ClientsConfig;

/// The two files the playground build writes (see `web/playground/build.mjs`).
const PLAYGROUND_SCRIPT: &str = "graphiql.js";
const PLAYGROUND_STYLES: &str = "graphiql.css";

/// Whether a `GET` without a query comes from a browser wanting a page.
#[must_use]
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.to_ascii_lowercase().contains("text/html"))
}

/// GraphiQL, from our own build when there is one, else from the CDN.
pub async fn playground(clients: &ClientsConfig) -> Response {
    let dir = &clients.playground_dir;
    let built =
        is_file(&dir.join(PLAYGROUND_SCRIPT)).await && is_file(&dir.join(PLAYGROUND_STYLES)).await;
    if built {
        with_policy(Html(SELF_HOSTED_PLAYGROUND).into_response(), PAGE_CSP)
    } else {
        cdn_playground(&clients.playground_dir)
    }
}

/// The page that loads our build. No inline script: the bundle reads its
/// endpoint from `data-endpoint`, so the policy needs no hash.
const SELF_HOSTED_PLAYGROUND: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>usergraph · GraphiQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/playground/graphiql.css">
</head>
<body>
<div id="graphiql" data-endpoint="/graphql">Loading GraphiQL…</div>
<script src="/playground/graphiql.js"></script>
</body>
</html>
"#;

/// GraphiQL from a CDN, pinned to the exact versions the self-hosted build
/// uses and checked by Subresource Integrity (`web/playground/cdn.html`),
/// with a notice saying where it loads from and how to build the
/// self-hosted assets instead.
const CDN_PLAYGROUND: &str = include_str!("../../web/playground/cdn.html");

fn cdn_playground(expected_dir: &Path) -> Response {
    let notice = format!(
        "<p id=\"usergraph-notice\" style=\"margin:0;padding:6px 12px;font:14px sans-serif;\
         background:#fff4cc;border-bottom:1px solid #e0c060\">The self-hosted GraphiQL build \
         was not found in <code>{}</code>, so this page loads GraphiQL from \
         <strong>https://unpkg.com</strong> (a CDN: it needs internet access). To serve it \
         from usergraph itself: <code>cd web/playground &amp;&amp; npm ci &amp;&amp; npm run \
         build</code>, then reload.</p>",
        html_escape(&expected_dir.display().to_string())
    );
    let html = CDN_PLAYGROUND.replacen("{{NOTICE}}", &notice, 1);
    let csp = playground_csp(&html);
    with_policy(Html(html).into_response(), &csp)
}

/// `GET /playground/…`: the files of the self-hosted GraphiQL build.
pub async fn playground_asset(State(state): State<AppState>, request: Request) -> Response {
    let dir = &state.app.config.clients.playground_dir;
    serve_file(dir, "/playground", request).await
}

/// `GET /demo` and `/demo/…`: the demo page, or how to build it.
pub async fn demo(State(state): State<AppState>, request: Request) -> Response {
    let dir = &state.app.config.clients.demo_dir;
    if !is_file(&dir.join("index.html")).await {
        let page = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>usergraph demo: not built</title></head><body>\
             <h1>The demo page is not built</h1>\
             <p>usergraph looked for it in <code>{}</code> (<code>DEMO_ASSETS_DIR</code>).</p>\
             <p>Build it with Node.js 20 or newer: \
             <code>cd clients/typescript &amp;&amp; npm ci &amp;&amp; npm run build:demo</code>, \
             then reload.</p></body></html>",
            html_escape(&dir.display().to_string())
        );
        return with_policy(
            (StatusCode::NOT_FOUND, Html(page)).into_response(),
            PAGE_CSP,
        );
    }
    with_policy(serve_file(dir, "/demo", request).await, PAGE_CSP)
}

/// A file of `dir` named by the request path below `prefix`. `ServeDir`
/// refuses `..` and anything outside `dir`.
async fn serve_file(dir: &Path, prefix: &str, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path();
    let inner = path.strip_prefix(prefix).unwrap_or(path);
    let inner = if inner.is_empty() { "/" } else { inner };
    match inner.parse() {
        Ok(uri) => parts.uri = uri,
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    }
    let request = Request::from_parts(parts, body);
    match ServeDir::new(dir).try_call(request).await {
        Ok(response) => response.map(Body::new),
        Err(error) => {
            tracing::warn!(%error, dir = %dir.display(), "could not read a static file");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Checked at each request, so a build made while the server runs is used.
async fn is_file(path: &Path) -> bool {
    tokio::fs::metadata(path)
        .await
        .is_ok_and(|metadata| metadata.is_file())
}

fn with_policy(mut response: Response, policy: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(policy) {
        response
            .headers_mut()
            .insert(CONTENT_SECURITY_POLICY, value);
    }
    response
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
