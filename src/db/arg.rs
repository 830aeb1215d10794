//! A value bound to a hand-written statement, whichever way it runs
//! (`direct` through sqlx or SeaORM, `inline` through SQLite itself).

use sea_orm::Value;

/// A bound value.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    Text(&'a str),
    I32(i32),
    I64(i64),
}

impl From<Arg<'_>> for Value {
    fn from(arg: Arg<'_>) -> Self {
        match arg {
            Arg::Text(text) => text.into(),
            Arg::I32(number) => number.into(),
            Arg::I64(number) => number.into(),
        }
    }
}
