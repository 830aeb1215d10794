//! End-to-end tests of usergraph through its HTTP endpoint. One test binary
//! (faster to link than one per file); one module per capability.

#![allow(clippy::unwrap_used)]

mod common;
mod databases;
mod fixtures;
mod smtp_sink;
mod webhook_receiver;

mod admin;
mod audit;
mod cli;
mod compiled;
mod doctor;
mod errors;
mod extending;
mod graphql_over_http;
mod guard_matrix;
mod hardening;
mod health;
mod http;
mod import_users;
mod loaders;
mod login;
mod mail;
mod metrics;
mod multi_instance;
mod otlp;
mod panics;
mod passwords;
mod playground;
mod posts;
mod rate_limits;
mod read_routes;
mod refresh_logout;
mod registration;
mod schema_sync;
mod security_review;
mod session_cache;
mod sessions;
mod shutdown;
mod signing_keys;
mod startup;
mod subscriptions;
mod tiers;
mod tokens;
mod traces;
mod users_read;
mod users_write;
mod webhooks;
mod write_path;
