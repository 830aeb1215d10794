//! The refresh-token cookie for browser clients.
//!
//! `HttpOnly` keeps it away from scripts; `SameSite=Lax` keeps cross-site
//! POSTs (the CSRF vector for `refreshToken`) from carrying it; `Secure` is on
//! when `COOKIE_SECURE` says the server sits behind HTTPS. It is scoped to the
//! GraphQL endpoint.

use std::time::Duration;

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use cookie::{Cookie, SameSite};

pub const REFRESH_COOKIE: &str = "usergraph_refresh";

/// The refresh token a browser sent in its cookie, if any.
#[derive(Debug, Clone, Default)]
pub struct RefreshCookie(pub Option<String>);

impl RefreshCookie {
    #[must_use]
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let token = headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|cookie| cookie.name() == REFRESH_COOKIE)
            .map(|cookie| cookie.value().to_owned());
        Self(token)
    }
}

/// `Set-Cookie` value carrying a fresh refresh token.
#[must_use]
pub fn set_refresh_cookie(token: &str, lifetime: Duration, secure: bool) -> String {
    build(token, lifetime, secure)
}

/// `Set-Cookie` value that removes the refresh cookie.
#[must_use]
pub fn clear_refresh_cookie(secure: bool) -> String {
    build("", Duration::ZERO, secure)
}

fn build(value: &str, lifetime: Duration, secure: bool) -> String {
    let max_age = cookie::time::Duration::seconds(i64::try_from(lifetime.as_secs()).unwrap_or(0));
    Cookie::build((REFRESH_COOKIE, value.to_owned()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .path("/graphql")
        .max_age(max_age)
        .build()
        .to_string()
}
