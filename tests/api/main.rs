//! End-to-end tests of usergraph through its HTTP endpoint. One test binary
//! (faster to link than one per file); one module per capability.

#![allow(clippy::unwrap_used)]

mod common;

mod cli;
mod errors;
mod hardening;
mod http;
mod login;
mod multi_instance;
mod rate_limits;
mod refresh_logout;
mod registration;
mod schema_sync;
mod tokens;
