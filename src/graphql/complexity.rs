//! What a field costs against `GRAPHQL_MAX_COMPLEXITY`.
//!
//! async-graphql counts one per field and adds the children, so a list of
//! a hundred posts costs what one post does, and a 144-byte document that
//! nests three pages of a hundred asks for a million posts within a limit
//! of 500. Here a list costs its page size (or, for lists an operator keeps
//! short, a fixed bound) times its children, and a long text field costs
//! more than a number, so the limit bounds what the answer can hold.

use crate::services::listing::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// Lists with no page size that an operator keeps short: tiers, a tier's
/// rules, counts per tier.
pub const SHORT_LIST: usize = 20;

/// A text field that may hold tens of kilobytes (a post's text).
pub const LONG_TEXT: usize = 10;

/// A page of `size` items (the argument as sent, clamped to what the server
/// serves) whose items cost `child_complexity` each.
#[must_use]
pub fn page(size: Option<i32>, child_complexity: usize) -> usize {
    let max = usize::try_from(MAX_PAGE_SIZE).unwrap_or(usize::MAX);
    let size = size
        .map_or(default_size(), |size| usize::try_from(size).unwrap_or(1))
        .clamp(1, max);
    size.saturating_mul(child_complexity).saturating_add(1)
}

fn default_size() -> usize {
    usize::try_from(DEFAULT_PAGE_SIZE).unwrap_or(1)
}

/// A short list (see [`SHORT_LIST`]).
#[must_use]
pub fn short_list(child_complexity: usize) -> usize {
    SHORT_LIST
        .saturating_mul(child_complexity)
        .saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cost_their_size_and_sizes_are_clamped() {
        assert_eq!(page(Some(100), 7), 701);
        assert_eq!(page(None, 7), default_size() * 7 + 1);
        assert_eq!(page(Some(1_000_000), 1), 101);
        assert_eq!(page(Some(-5), 3), 4);
        assert_eq!(page(Some(100), usize::MAX), usize::MAX);
    }
}
