//! Every page a person opens (the landing page, GraphiQL, the demo, and
//! pages added later) is a folder under `web/`, embedded in the executable
//! at build time, so the binary serves them offline from any working
//! directory with no Node.js on the machine.
//!
//! To add a page: commit its files under `web/<name>/` (a built bundle goes
//! in a committed `dist/`, which `.ci/run` rebuilds and compares), declare
//! a folder type below with `#[derive(RustEmbed)]`, and mount it in
//! `http::router` with [`mount`]: `/<name>` then serves `index.html`,
//! `/<name>/<file>` each file and `/<name>/<page>` the file `<page>.html`,
//! under the `'self'`-only page policy.

use std::borrow::Cow;

use axum::Router;
use axum::extract::Request;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;

use super::headers::PAGE_CSP;

/// GraphiQL: the page, its bundle and styles (`web/playground/build.mjs`).
#[derive(RustEmbed)]
#[folder = "web/playground/dist/"]
pub struct PlaygroundFiles;

/// The demo page (`clients/typescript/scripts/build-demo.mjs`).
#[derive(RustEmbed)]
#[folder = "web/demo/dist/"]
pub struct DemoFiles;

/// The landing page at `/`.
#[derive(RustEmbed)]
#[folder = "web/landing/"]
pub struct LandingFiles;

/// The pages behind the links in account mails (`/account/verify`,
/// `/account/reset`, `/account/email`): a `GET` only shows the page; its
/// button sends the mutation that uses the token up.
#[derive(RustEmbed)]
#[folder = "web/account/"]
pub struct AccountFiles;

/// The text of an embedded file, for pages filled in at run time.
#[must_use]
pub fn text<E: RustEmbed>(path: &str) -> Option<String> {
    E::get(path).map(|file| String::from_utf8_lossy(&file.data).into_owned())
}

/// Routes serving folder `E` at `prefix` (e.g. `/account`): `prefix` and
/// `prefix/` answer `index.html`, `prefix/<path>` the file at `path`.
pub fn mount<E: RustEmbed + 'static, S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    prefix: &'static str,
) -> Router<S> {
    let handler = move |request: Request| async move {
        let path = request.uri().path();
        let inner = path.strip_prefix(prefix).unwrap_or(path);
        page_policy(serve::<E>(inner, request.headers()))
    };
    router
        .route(prefix, get(handler))
        .route(&format!("{prefix}/"), get(handler))
        .route(&format!("{prefix}/{{*path}}"), get(handler))
}

/// The file of `E` at `path` (`/` or empty: `index.html`; a name without
/// an extension: that name with `.html` when no file has the bare name):
/// its media type
/// from its extension, an `ETag` of its SHA-256 (304 when the browser has
/// it), `no-cache` so a new binary's files are picked up at once; 404 when
/// the folder has no such file.
#[must_use]
pub fn serve<E: RustEmbed>(path: &str, request_headers: &HeaderMap) -> Response {
    let path = path.trim_start_matches('/');
    let path = if path.is_empty() || path.ends_with('/') {
        Cow::Owned(format!("{path}index.html"))
    } else {
        Cow::Borrowed(path)
    };
    // Clean URLs: `/account/verify` is `verify.html` when there is no
    // file named `verify`.
    let file = E::get(&path).or_else(|| {
        let last = path.rsplit('/').next().unwrap_or_default();
        (!last.contains('.'))
            .then(|| E::get(&format!("{path}.html")))
            .flatten()
    });
    let Some(file) = file else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let hash = file.metadata.sha256_hash();
    let etag = format!(
        "\"{}\"",
        hash.iter()
            .take(16)
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
    );
    let cached = request_headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.split(',').any(|tag| tag.trim() == etag));
    let mut response = if cached {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        file.data.into_owned().into_response()
    };
    let headers = response.headers_mut();
    if let Ok(media_type) = HeaderValue::from_str(file.metadata.mimetype()) {
        headers.insert(CONTENT_TYPE, media_type);
    }
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(ETAG, etag);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The policy of pages served from our own files.
#[must_use]
pub fn page_policy(response: Response) -> Response {
    with_policy(response, PAGE_CSP)
}

/// Set `policy` as the response's content-security-policy.
#[must_use]
pub fn with_policy(mut response: Response, policy: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(policy) {
        response
            .headers_mut()
            .insert(CONTENT_SECURITY_POLICY, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn a_mounted_folder_serves_its_index_and_files_under_the_page_policy() {
        let router: Router = mount::<LandingFiles, ()>(Router::new(), "/welcome");
        for path in [
            "/welcome",
            "/welcome/",
            "/welcome/index.html",
            "/welcome/index",
        ] {
            let response = router
                .clone()
                .oneshot(Request::get(path).body(Body::empty()).expect("request"))
                .await
                .expect("answer");
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert!(
                response.headers()[CONTENT_TYPE]
                    .to_str()
                    .expect("ascii")
                    .starts_with("text/html")
            );
            assert_eq!(response.headers()[CONTENT_SECURITY_POLICY], PAGE_CSP);
        }
        let missing = router
            .oneshot(
                Request::get("/welcome/nope.css")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("answer");
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    }
}
