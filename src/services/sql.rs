//! Pieces of the few statements written by hand rather than built through
//! SeaORM (see `user_rows` and `relations` for why): placeholders as each
//! backend writes them.

use sea_orm::DatabaseBackend;

/// The text of parameter `number` (1-based) on `backend`.
#[must_use]
pub fn parameter(backend: DatabaseBackend, number: usize) -> String {
    match backend {
        DatabaseBackend::Postgres => format!("${number}"),
        _ => "?".to_owned(),
    }
}

/// `count` parameters from `first` on, separated by commas: the inside of
/// an `IN (…)` list.
#[must_use]
pub fn parameters(backend: DatabaseBackend, first: usize, count: usize) -> String {
    let mut list = String::with_capacity(count * 5);
    for number in first..first + count {
        if number > first {
            list.push_str(", ");
        }
        list.push_str(&parameter(backend, number));
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_on_postgres_only() {
        assert_eq!(parameters(DatabaseBackend::Postgres, 2, 3), "$2, $3, $4");
        assert_eq!(parameters(DatabaseBackend::Sqlite, 1, 3), "?, ?, ?");
        assert_eq!(parameter(DatabaseBackend::Sqlite, 7), "?");
    }
}
