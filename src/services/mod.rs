//! The rules of the domain as plain async functions over an [`AppContext`]:
//! callable from resolvers, the command line and tests alike, with no
//! GraphQL in sight. Authorisation is decided before these are called (by
//! guards), except where it depends on a row only the service loads (posts).
//! Every write goes through [`write::Write`], one transaction per change.
//!
//! [`AppContext`]: crate::state::AppContext

pub mod account_mail;
pub mod account_tokens;
pub mod audit;
pub mod audit_feed;
pub mod changes;
pub mod email_change;
pub mod email_verification;
pub mod health;
pub mod import;
pub mod keys;
pub mod lifecycle;
pub mod listing;
pub mod outbox;
pub mod password_reset;
pub mod passwords;
pub mod posts;
pub mod profile;
pub mod rate_limits;
pub mod relations;
pub mod revocation;
pub mod session_store;
pub mod sessions;
pub mod sql;
pub mod tiers;
pub mod user_rows;
pub mod users;
pub mod validation;
pub mod webhook_deliveries;
pub mod webhooks;
pub mod write;
