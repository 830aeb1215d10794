//! What other backends need to verify usergraph's tokens on their own:
//! `GET /.well-known/jwks.json` (the public keys: the active one and the
//! retired ones whose tokens may still be alive; empty with HS256) and
//! `GET /.well-known/openid-configuration` (a minimal discovery document).
//! Both are public and cacheable; a verifier meeting an unknown `kid` after
//! a rotation fetches the set again (jose's `createRemoteJWKSet` does).

use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;

/// How long verifiers may keep the key set. Short, so a verifier that does
/// not refetch on an unknown kid still learns a rotated key soon.
const CACHE_CONTROL_VALUE: &str = "public, max-age=300";

pub const JWKS_PATH: &str = "/.well-known/jwks.json";
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

pub async fn jwks(State(state): State<AppState>) -> Response {
    cacheable(Json(state.app.tokens.key_set().jwks()))
}

pub async fn openid_configuration(State(state): State<AppState>) -> Response {
    let config = &state.app.config;
    cacheable(Json(json!({
        "issuer": config.jwt_issuer(),
        "jwks_uri": format!("{}{JWKS_PATH}", config.public_url()),
        "id_token_signing_alg_values_supported": state.app.tokens.key_set().algorithms(),
    })))
}

fn cacheable(body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL_VALUE));
    response
}
