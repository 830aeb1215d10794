//! Headers every response carries: no MIME sniffing, no framing, no
//! referrer, and a content-security-policy — `default-src 'none'` for the
//! API; for the pages built from npm (self-hosted GraphiQL, the demo) only
//! this origin; for the CDN fallback of GraphiQL exactly what it loads (its
//! CDN scripts and styles, its own inline script by hash, requests to this
//! origin).
//! Plus CORS for the origins in `CORS_ORIGINS`, and nothing else.

use std::time::Duration;

use axum::http::header::{
    AUTHORIZATION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, RETRY_AFTER,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue, Method};
use base64::Engine;
use sha2::{Digest, Sha256};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

/// The policy of every response that does not set its own.
pub const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The policy of the pages served from our own builds: scripts, styles,
/// fonts and requests from this origin only. Inline styles stay allowed:
/// React and CodeMirror set `style` attributes.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
     connect-src 'self'; worker-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'none'";

/// Where async-graphql's GraphiQL page loads React, GraphiQL and its icon from.
const PLAYGROUND_CDN: &str = "https://unpkg.com";
const PLAYGROUND_ICON: &str = "https://graphql.org";

/// Headers the rate limiter sets, readable by allowed cross-origin callers.
pub const RATE_LIMIT_HEADERS: [&str; 3] =
    ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"];
pub const REQUEST_ID: &str = "x-request-id";

/// The security headers, each only when the response has not set it.
#[must_use]
pub fn security_layers() -> [SetResponseHeaderLayer<HeaderValue>; 4] {
    [
        SetResponseHeaderLayer::if_not_present(
            X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        SetResponseHeaderLayer::if_not_present(X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        SetResponseHeaderLayer::if_not_present(
            REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        SetResponseHeaderLayer::if_not_present(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(API_CSP),
        ),
    ]
}

/// The policy for a GraphiQL page: its inline scripts by hash, its CDN,
/// inline styles (React sets them), requests only to this origin.
#[must_use]
pub fn playground_csp(html: &str) -> String {
    let hashes = inline_blocks(html, "script")
        .into_iter()
        .map(|script| {
            let digest = Sha256::digest(script.as_bytes());
            format!(
                " 'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            )
        })
        .collect::<String>();
    format!(
        "default-src 'none'; script-src {PLAYGROUND_CDN}{hashes}; \
         style-src {PLAYGROUND_CDN} 'unsafe-inline'; img-src {PLAYGROUND_ICON} {PLAYGROUND_CDN} data:; \
         font-src {PLAYGROUND_CDN} data:; connect-src 'self'; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )
}

/// The bodies of `<tag>…</tag>` blocks without attributes (the inline ones).
fn inline_blocks<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    html.split(open.as_str())
        .skip(1)
        .filter_map(|rest| rest.split_once(close.as_str()).map(|(body, _)| body))
        .collect()
}

/// CORS for the listed origins, with credentials; `None` when the list is
/// empty, so browsers keep refusing every cross-origin read.
#[must_use]
pub fn cors(origins: &[String]) -> Option<CorsLayer> {
    let origins = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect::<Vec<_>>();
    if origins.is_empty() {
        return None;
    }
    let exposed = RATE_LIMIT_HEADERS
        .iter()
        .chain(&[REQUEST_ID])
        .map(|name| HeaderName::from_static(name))
        .chain([RETRY_AFTER]);
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([CONTENT_TYPE, AUTHORIZATION])
            .allow_credentials(true)
            .expose_headers(exposed.collect::<Vec<_>>())
            .max_age(Duration::from_secs(600)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_inline_scripts_are_hashed() {
        let html = "<script src=\"https://unpkg.com/x.js\"></script><script>alert(1)</script>";
        let csp = playground_csp(html);
        assert_eq!(csp.matches("'sha256-").count(), 1, "{csp}");
        let script_src = csp
            .split(';')
            .find(|part| part.contains("script-src"))
            .unwrap_or_default();
        assert!(!script_src.contains("unsafe-inline"), "{csp}");
    }
}
