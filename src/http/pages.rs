//! The pages a person opens in a browser: the landing page at `/`, GraphiQL
//! at `GET /graphql`, the demo at `/demo`. All are embedded in the
//! executable (see `assets`), so they work offline, from any working
//! directory, under a `'self'`-only policy. For working on a page, its files
//! can come from a folder instead (`PLAYGROUND_ASSETS_DIR`,
//! `DEMO_ASSETS_DIR`), read at each request; GraphiQL comes from a CDN only
//! when `PLAYGROUND_CDN=true` asks for it.

use std::path::Path;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::ACCEPT;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use tower_http::services::ServeDir;

use super::AppState;
use super::assets::{self, DemoFiles, LandingFiles, PlaygroundFiles, page_policy, with_policy};
use super::headers::playground_csp;
use crate::config::ClientsConfig;

/// Whether a `GET` without a query comes from a browser wanting a page.
#[must_use]
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.to_ascii_lowercase().contains("text/html"))
}

/// GraphiQL: the embedded page, or the CDN one when `PLAYGROUND_CDN` asks.
/// The embedded page has no inline script: the bundle reads its endpoint
/// from `data-endpoint`, so the policy needs no hash.
pub async fn playground(clients: &ClientsConfig, headers: &HeaderMap) -> Response {
    if clients.playground_cdn {
        return cdn_playground();
    }
    page_policy(assets::serve::<PlaygroundFiles>("index.html", headers))
}

/// GraphiQL from a CDN, pinned to the exact versions the embedded build
/// uses and checked by Subresource Integrity (`web/playground/cdn.html`).
const CDN_PLAYGROUND: &str = include_str!("../../web/playground/cdn.html");

fn cdn_playground() -> Response {
    let notice = "<p id=\"usergraph-notice\" style=\"margin:0;padding:6px 12px;font:14px sans-serif;\
         background:#fff4cc;border-bottom:1px solid #e0c060\">This page loads GraphiQL from \
         <strong>https://unpkg.com</strong> (a CDN: it needs internet access) because \
         <code>PLAYGROUND_CDN=true</code>. Unset it to use the copy built into usergraph.</p>";
    let html = CDN_PLAYGROUND.replacen("{{NOTICE}}", notice, 1);
    let csp = playground_csp(&html);
    with_policy(Html(html).into_response(), &csp)
}

/// `GET /playground/…`: the files of GraphiQL's build.
pub async fn playground_asset(State(state): State<AppState>, request: Request) -> Response {
    match &state.app.config.clients.playground_dir {
        Some(dir) => serve_file(dir, "/playground", request).await,
        None => {
            let path = request.uri().path();
            let inner = path.strip_prefix("/playground").unwrap_or(path);
            assets::serve::<PlaygroundFiles>(inner, request.headers())
        }
    }
}

/// `GET /demo` and `/demo/…`: the demo page.
pub async fn demo(State(state): State<AppState>, request: Request) -> Response {
    let Some(dir) = &state.app.config.clients.demo_dir else {
        let path = request.uri().path();
        let inner = path.strip_prefix("/demo").unwrap_or(path);
        return page_policy(assets::serve::<DemoFiles>(inner, request.headers()));
    };
    if !is_file(&dir.join("index.html")).await {
        let page = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>usergraph demo: not built</title></head><body>\
             <h1>The demo page is not built</h1>\
             <p>usergraph looked for it in <code>{}</code> (<code>DEMO_ASSETS_DIR</code>).</p>\
             <p>Build it with Node.js 20 or newer: \
             <code>cd clients/typescript &amp;&amp; npm ci &amp;&amp; npm run build:demo</code>, \
             then reload, or unset <code>DEMO_ASSETS_DIR</code> to serve the copy built into \
             usergraph.</p></body></html>",
            html_escape(&dir.display().to_string())
        );
        return page_policy((StatusCode::NOT_FOUND, Html(page)).into_response());
    }
    page_policy(serve_file(dir, "/demo", request).await)
}

/// `GET /`: what this server is, where its pages and endpoints are, and
/// its version.
pub async fn landing(State(state): State<AppState>) -> Response {
    let Some(template) = assets::text::<LandingFiles>("index.html") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let playground_note = if state.app.config.limits.playground {
        ""
    } else {
        " (switched off here: <code>GRAPHQL_PLAYGROUND=false</code>)"
    };
    let html = template
        .replace("{{VERSION}}", env!("CARGO_PKG_VERSION"))
        .replace("{{PLAYGROUND_NOTE}}", playground_note);
    page_policy(Html(html).into_response())
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

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
