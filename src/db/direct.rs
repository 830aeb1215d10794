//! Hand-written statements sent straight to sqlx's pool, for the reads
//! nearly every request makes (`services::user_rows`).
//!
//! Through SeaORM, each statement's future holds the futures of every
//! backend it supports and is boxed and moved whole: on `user(username)`
//! those copies were about a seventh of the request's instructions
//! (docs/performance.md, issue 16). Here a statement goes to the backend's
//! pool as sqlx runs it, and is counted in the same `StatementCounter`
//! SeaORM's callback feeds, so statements per request stay comparable.
//!
//! Only the pool is reached this way: [`Via`] runs the same statement
//! through SeaORM on a transaction (or a connection of another kind), and
//! [`Row`] reads both kinds of rows alike. On an SQLite file, a statement
//! runs first on the request's own thread (`db::inline`), and on the pool
//! when that declines; on PostgreSQL, on a pool of sessions that use
//! generic plans (`db::connect_generic_reads`).

use std::sync::Arc;

use sea_orm::sqlx::postgres::PgRow;
use sea_orm::sqlx::sqlite::SqliteRow;
use sea_orm::sqlx::{self, Decode, Encode, PgPool, Postgres, Row as _, Sqlite, SqlitePool, Type};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, QueryResult, RuntimeErr,
    Statement, TryGetable, Value,
};

use super::StatementCounter;
pub use super::arg::Arg;
use super::inline::{FromInline, InlineReads, InlineRow};

/// Where hot reads go instead of the main pool, when they can.
#[derive(Clone, Default)]
pub struct ReadRoutes {
    /// SQLite: the request's own thread (`db::inline`).
    pub inline: Option<Arc<InlineReads>>,
    /// PostgreSQL: sessions with generic plans (`db::connect_generic_reads`).
    pub generic: Option<PgPool>,
}

/// The pool of the connection, and where statements are counted.
#[derive(Clone, Copy)]
pub struct Direct<'a> {
    pool: Pool<'a>,
    counter: &'a StatementCounter,
    /// Where SQLite statements run first, unless they are long.
    inline: Option<&'a InlineReads>,
}

#[derive(Clone, Copy)]
enum Pool<'a> {
    Sqlite(&'a SqlitePool),
    Postgres(&'a PgPool),
}

/// What both backends (and inline reads) decode: every column type the
/// hand-written reads return.
pub trait Decodable:
    for<'r> Decode<'r, Sqlite>
    + Type<Sqlite>
    + for<'r> Decode<'r, Postgres>
    + Type<Postgres>
    + FromInline
{
}

impl<T> Decodable for T where
    T: for<'r> Decode<'r, Sqlite>
        + Type<Sqlite>
        + for<'r> Decode<'r, Postgres>
        + Type<Postgres>
        + FromInline
{
}

/// A row of either backend, or one SeaORM read, read by position.
pub enum Row<'r> {
    Sqlite(&'r SqliteRow),
    Postgres(&'r PgRow),
    Orm(&'r QueryResult),
    Inline(&'r InlineRow<'r>),
}

impl Row<'_> {
    /// The value of column `index`, checked against its type as SeaORM
    /// checks it.
    pub fn get<T: Decodable + TryGetable>(&self, index: usize) -> Result<T, DbErr> {
        match self {
            Self::Sqlite(row) => row.try_get(index).map_err(query_error),
            Self::Postgres(row) => row.try_get(index).map_err(query_error),
            Self::Orm(row) => row.try_get_by_index(index),
            Self::Inline(row) => row
                .get(index)
                .ok_or_else(|| DbErr::Type(format!("column {index} read inline"))),
        }
    }
}

/// Where a hand-written statement runs: straight on the pool, or through
/// SeaORM on `C` (a transaction, say).
pub enum Via<'a, C> {
    Pool(Direct<'a>),
    Orm(&'a C),
}

impl<'a, C> Clone for Via<'a, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<'a, C> Copy for Via<'a, C> {}

impl<C: ConnectionTrait> Via<'_, C> {
    /// The same, but a statement that may run long (a deep page, say) runs
    /// on the pool's own thread rather than on the request's.
    #[must_use]
    pub fn long(self) -> Self {
        match self {
            Self::Pool(direct) => Self::Pool(Direct {
                inline: None,
                ..direct
            }),
            orm @ Self::Orm(_) => orm,
        }
    }

    /// The backend the statement is written for.
    #[must_use]
    pub fn backend(self) -> DatabaseBackend {
        match self {
            Self::Pool(direct) => direct.backend(),
            Self::Orm(db) => db.get_database_backend(),
        }
    }

    /// Every row of `sql` with `args`, each through `decode`.
    pub async fn fetch_all<T>(
        self,
        sql: String,
        args: &[Arg<'_>],
        decode: impl Fn(&Row<'_>) -> Result<T, DbErr>,
    ) -> Result<Vec<T>, DbErr> {
        match self {
            Self::Pool(direct) => direct.fetch_all(sql, args, decode).await,
            Self::Orm(db) => db
                .query_all_raw(statement(db.get_database_backend(), sql, args))
                .await?
                .iter()
                .map(|row| decode(&Row::Orm(row)))
                .collect(),
        }
    }

    /// The first row of `sql` (a statement of at most one row, say with
    /// `LIMIT 1`) with `args`, if any, through `decode`.
    pub async fn fetch_optional<T>(
        self,
        sql: String,
        args: &[Arg<'_>],
        decode: impl Fn(&Row<'_>) -> Result<T, DbErr>,
    ) -> Result<Option<T>, DbErr> {
        Ok(self.fetch_all(sql, args, decode).await?.into_iter().next())
    }
}

fn statement(backend: DatabaseBackend, sql: String, args: &[Arg<'_>]) -> Statement {
    Statement::from_sql_and_values(backend, sql, args.iter().map(|arg| Value::from(*arg)))
}

fn query_error(error: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(error.into()))
}

/// `sql` with `args` bound, for backend `DB`.
fn bound<'q, DB>(sql: String, args: &[Arg<'_>]) -> sqlx::query::Query<'q, DB, DB::Arguments>
where
    DB: sqlx::Database,
    String: for<'e> Encode<'e, DB> + Type<DB>,
    i32: for<'e> Encode<'e, DB> + Type<DB>,
    i64: for<'e> Encode<'e, DB> + Type<DB>,
{
    let mut query = sqlx::query::<DB>(sqlx::AssertSqlSafe(sql));
    for arg in args {
        query = match *arg {
            Arg::Text(text) => query.bind(text.to_owned()),
            Arg::I32(number) => query.bind(number),
            Arg::I64(number) => query.bind(number),
        };
    }
    query
}

impl<'a> Direct<'a> {
    /// The pool behind `db`, if it is one of SQLite or PostgreSQL, or the
    /// route of `routes` for its backend.
    #[must_use]
    pub fn of(
        db: &'a DatabaseConnection,
        counter: &'a StatementCounter,
        routes: &'a ReadRoutes,
    ) -> Option<Self> {
        let pool = match db.get_database_backend() {
            DatabaseBackend::Sqlite => Pool::Sqlite(db.get_sqlite_connection_pool()),
            DatabaseBackend::Postgres => Pool::Postgres(
                routes
                    .generic
                    .as_ref()
                    .unwrap_or_else(|| db.get_postgres_connection_pool()),
            ),
            _ => return None,
        };
        let inline = routes
            .inline
            .as_deref()
            .filter(|_| matches!(pool, Pool::Sqlite(_)));
        Some(Self {
            pool,
            counter,
            inline,
        })
    }

    fn backend(self) -> DatabaseBackend {
        match self.pool {
            Pool::Sqlite(_) => DatabaseBackend::Sqlite,
            Pool::Postgres(_) => DatabaseBackend::Postgres,
        }
    }

    /// Every row of `sql` with `args`, each through `decode`.
    pub async fn fetch_all<T>(
        self,
        sql: String,
        args: &[Arg<'_>],
        decode: impl Fn(&Row<'_>) -> Result<T, DbErr>,
    ) -> Result<Vec<T>, DbErr> {
        self.counter.record();
        if let Some(inline) = self.inline
            && let Ok(rows) = inline.fetch_all(&sql, args, |row| decode(&Row::Inline(row)).ok())
        {
            return Ok(rows);
        }
        match self.pool {
            Pool::Sqlite(pool) => {
                let rows = bound::<Sqlite>(sql, args)
                    .fetch_all(pool)
                    .await
                    .map_err(query_error)?;
                rows.iter().map(|row| decode(&Row::Sqlite(row))).collect()
            }
            Pool::Postgres(pool) => {
                let rows = bound::<Postgres>(sql, args)
                    .fetch_all(pool)
                    .await
                    .map_err(query_error)?;
                rows.iter().map(|row| decode(&Row::Postgres(row))).collect()
            }
        }
    }
}
