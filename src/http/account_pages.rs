//! The pages behind the links in account mails: `/account/verify`,
//! `/account/reset` and `/account/email`, each with `?token=…`.
//!
//! A `GET` only shows a page: the token is used up by the mutation its
//! button (or form) sends, so a mail scanner that opens the link burns
//! nothing. The pages are files in `web/account/`, built into the binary,
//! and run under the same content-security policy as the other pages (one
//! script file, no inline code, requests to this server only).

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::headers::PAGE_CSP;

/// `(name in the path, content type, contents)`.
const FILES: [(&str, &str, &str); 5] = [
    (
        "verify",
        "text/html; charset=utf-8",
        include_str!("../../web/account/verify.html"),
    ),
    (
        "reset",
        "text/html; charset=utf-8",
        include_str!("../../web/account/reset.html"),
    ),
    (
        "email",
        "text/html; charset=utf-8",
        include_str!("../../web/account/email.html"),
    ),
    (
        "account.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/account/account.js"),
    ),
    (
        "account.css",
        "text/css; charset=utf-8",
        include_str!("../../web/account/account.css"),
    ),
];

/// `GET /account/{name}`.
pub async fn page(Path(name): Path<String>) -> Response {
    let Some((_, content_type, contents)) = FILES.iter().find(|(file, _, _)| *file == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP)),
            // A page holding a token in its address is not kept anywhere.
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        *contents,
    )
        .into_response()
}
