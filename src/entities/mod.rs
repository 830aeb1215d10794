//! SeaORM entities: what each table looks like in the database.
//!
//! No GraphQL derives here: the API's types live in `graphql::types` and pick
//! fields explicitly, so a secret column (the password hash) can never leak
//! into the schema by accident.

pub mod account_token;
pub mod audit_event;
pub mod auth_change;
pub mod auth_change_head;
pub mod outbox_job;
pub mod post;
pub mod rate_limit;
pub mod session;
pub mod signing_key;
pub mod tier;
pub mod token_blacklist;
pub mod user;
pub mod webhook;
pub mod webhook_delivery;
