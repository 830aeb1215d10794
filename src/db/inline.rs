//! The hot reads of an SQLite file, run on the request's own thread.
//!
//! sqlx runs each SQLite connection on a thread of its own: a statement is
//! sent to that thread, which wakes, steps the statement and sends every
//! row back through a channel, waking the request's task for each. Under
//! load most of the server's time went to the kernel switching between
//! those threads (`bench/profile.sh --stat`; docs/performance.md, issue
//! 16), for reads that take SQLite a few microseconds.
//!
//! So the reads of `services::user_rows` (a profile, a shallow page) open
//! their own read-only connections to the same file and run there and
//! then, as a lock or a cache look-up would. In WAL mode a reader never
//! waits for the writer, and sees every transaction committed before it
//! began, as a pooled connection would. Writes, transactions and every
//! other read stay on sqlx's pool.
//!
//! When a connection cannot be opened or a read fails (a busy database, a
//! value this module does not decode), the caller runs the same statement
//! on the pool instead, which gives sqlx's answer or sqlx's error.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::metrics::counter::Counter;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use uuid::Uuid;

use super::arg::Arg;

/// The most idle connections kept; more are opened when more requests
/// read at once, and closed when they are done. Reads run on the
/// runtime's threads and never wait, so about one per core is ever open.
const IDLE: usize = 4;

/// Each connection's page cache, in KiB (SQLite's default is 2,000): the
/// hot reads touch the first pages of one index and of the table, and
/// every connection's cache counts in the server's memory.
const CACHE_KIB: i64 = 512;

/// How long a read waits for a lock before giving the statement to the
/// pool (in WAL mode only a checkpoint restarting the log makes readers
/// wait, and only briefly).
const BUSY_TIMEOUT: Duration = Duration::from_millis(20);

/// Prepared statements kept per connection (the hot reads have a few
/// shapes each).
const STATEMENT_CACHE: usize = 32;

/// Read-only connections to one SQLite file.
pub struct InlineReads {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Reads answered here, and reads given back to the pool (`/metrics`).
    pub served: Counter,
    pub declined: Counter,
}

/// Why an inline read gave up.
#[derive(Debug)]
pub struct Declined;

impl InlineReads {
    /// Reads of the file at `path`, its connections opened when needed.
    #[must_use]
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
            served: Counter::default(),
            declined: Counter::default(),
        }
    }

    /// Every row of `sql` with `args`, each through `decode`.
    pub fn fetch_all<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        decode: impl Fn(&InlineRow<'_>) -> Option<T>,
    ) -> Result<Vec<T>, Declined> {
        let rows = self.take().and_then(|connection| {
            let rows = run(&connection, sql, args, decode);
            self.put(connection);
            rows
        });
        match rows {
            Ok(_) => self.served.inc(),
            Err(_) => self.declined.inc(),
        };
        rows
    }

    fn take(&self) -> Result<Connection, Declined> {
        let idle = self
            .idle
            .lock()
            .map_err(|_| Declined)
            .map(|mut idle| idle.pop())?;
        match idle {
            Some(connection) => Ok(connection),
            None => self.open(),
        }
    }

    fn put(&self, connection: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE
        {
            idle.push(connection);
        }
    }

    fn open(&self) -> Result<Connection, Declined> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(&self.path, flags).map_err(|error| {
            tracing::debug!(%error, "no inline SQLite connection; reading through the pool");
            Declined
        })?;
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|_| Declined)?;
        connection
            .pragma_update(None, "cache_size", -CACHE_KIB)
            .map_err(|_| Declined)?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(connection)
    }
}

fn run<T>(
    connection: &Connection,
    sql: &str,
    args: &[Arg<'_>],
    decode: impl Fn(&InlineRow<'_>) -> Option<T>,
) -> Result<Vec<T>, Declined> {
    let mut statement = connection.prepare_cached(sql).map_err(|_| Declined)?;
    for (index, arg) in (1..).zip(args) {
        let bound = match *arg {
            Arg::Text(text) => statement.raw_bind_parameter(index, text),
            Arg::I32(number) => statement.raw_bind_parameter(index, number),
            Arg::I64(number) => statement.raw_bind_parameter(index, number),
        };
        bound.map_err(|_| Declined)?;
    }
    let mut rows = statement.raw_query();
    let mut decoded = Vec::new();
    while let Some(row) = rows.next().map_err(|_| Declined)? {
        decoded.push(decode(&InlineRow(row)).ok_or(Declined)?);
    }
    Ok(decoded)
}

/// A row of an inline read.
pub struct InlineRow<'r>(&'r rusqlite::Row<'r>);

impl InlineRow<'_> {
    /// The value of column `index`, if it is one `T` reads as sqlx would.
    pub fn get<T: FromInline>(&self, index: usize) -> Option<T> {
        T::from_inline(self.0.get_ref(index).ok()?)
    }
}

/// A value as sqlx's SQLite driver decodes it, or `None` where this
/// module does not know (the read then goes to the pool).
pub trait FromInline: Sized {
    fn from_inline(value: ValueRef<'_>) -> Option<Self>;
}

impl FromInline for i64 {
    fn from_inline(value: ValueRef<'_>) -> Option<Self> {
        match value {
            ValueRef::Integer(number) => Some(number),
            _ => None,
        }
    }
}

impl FromInline for i32 {
    fn from_inline(value: ValueRef<'_>) -> Option<Self> {
        i32::try_from(i64::from_inline(value)?).ok()
    }
}

impl FromInline for bool {
    fn from_inline(value: ValueRef<'_>) -> Option<Self> {
        Some(i64::from_inline(value)? != 0)
    }
}

impl FromInline for String {
    fn from_inline(value: ValueRef<'_>) -> Option<Self> {
        match value {
            ValueRef::Text(text) => std::str::from_utf8(text).ok().map(str::to_owned),
            _ => None,
        }
    }
}

/// Stored by sqlx as 16 bytes.
impl FromInline for Uuid {
    fn from_inline(value: ValueRef<'_>) -> Option<Self> {
        match value {
            ValueRef::Blob(bytes) => Uuid::from_slice(bytes).ok(),
            _ => None,
        }
    }
}

/// Stored by sqlx as RFC 3339 text, which sqlx also parses first.
impl FromInline for DateTime<Utc> {
    fn from_inline(value: ValueRef<'_>) -> Option<Self> {
        match value {
            ValueRef::Text(text) => DateTime::parse_from_rfc3339(std::str::from_utf8(text).ok()?)
                .ok()
                .map(|at| at.with_timezone(&Utc)),
            _ => None,
        }
    }
}

impl<T: FromInline> FromInline for Option<T> {
    fn from_inline(value: ValueRef<'_>) -> Option<Self> {
        match value {
            ValueRef::Null => Some(None),
            value => T::from_inline(value).map(Some),
        }
    }
}
