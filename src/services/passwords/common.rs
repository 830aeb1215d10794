//! The 10,000 most common passwords (SecLists' list from the "10 million
//! passwords" leak corpus; source and licence in `data/`), refused as new
//! passwords as ASVS 5.0 6.2.4 asks. Compared case-insensitively, so
//! "Password" is as common as "password".

use std::collections::HashSet;
use std::sync::LazyLock;

const LIST: &str = include_str!("../../../data/common-passwords-10k.txt");

static COMMON: LazyLock<HashSet<String>> = LazyLock::new(|| {
    LIST.lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty())
        .map(str::to_lowercase)
        .collect()
});

/// Whether `password`, in any case, is on the list.
#[must_use]
pub fn is_common(password: &str) -> bool {
    COMMON.contains(&password.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_shipped_whole_and_compared_in_any_case() {
        assert_eq!(LIST.lines().filter(|line| !line.is_empty()).count(), 10_000);
        assert!(is_common("password"));
        assert!(is_common("PaSsWoRd"));
        assert!(is_common("Sasha_007"));
        assert!(!is_common("Str0ng!pass"));
    }
}
