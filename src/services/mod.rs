//! The rules of the domain as plain async functions over an [`AppContext`]:
//! callable from resolvers, the command line and tests alike, with no
//! GraphQL in sight.
//!
//! [`AppContext`]: crate::state::AppContext

pub mod revocation;
pub mod sessions;
pub mod users;
pub mod validation;
