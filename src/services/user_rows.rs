//! The hottest reads of users, a profile by username and a page of the
//! unfiltered listing, as SQL written here and rows read by position.
//!
//! Through SeaORM, `Entity::find()` turns all 15 columns into expressions
//! and renders the statement again on every request, and a model finds
//! each of its values by name (a hash per value): for `user(username)`
//! that was about a sixth of the request's instructions
//! (docs/performance.md, issue 16). These statements have a fixed shape,
//! so their text is written once here; every other read of users still
//! goes through SeaORM.
//!
//! They go straight to the pool when they can (`db::direct`). Rows are
//! decoded by position: `id` first, then the asked-for columns in
//! order. The fields of a model that were not read hold placeholders
//! (empty text, zero, `false`, `None`, the Unix epoch, the nil UUID) that
//! nobody reads (see `listing::Columns`).

use chrono::DateTime;
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, IdenStatic, Iterable};
use uuid::Uuid;

use super::sql::parameter;
use crate::db::direct::{Arg, Row, Via};
use crate::entities::user::{self, Column};

/// Every column but `id`, in the entity's order.
#[must_use]
pub fn all_columns() -> Vec<Column> {
    Column::iter()
        .filter(|c| !matches!(c, Column::Id))
        .collect()
}

/// `"id", "a", "b", …` for `id` and then the columns `read`.
fn select_list(read: &[Column]) -> String {
    qualified_list("", read)
}

/// [`select_list`], each column after `qualifier` (`u.`, say).
fn qualified_list(qualifier: &str, read: &[Column]) -> String {
    let mut list = format!("{qualifier}\"id\"");
    for column in read.iter().filter(|c| !matches!(c, Column::Id)) {
        list.push_str(", ");
        list.push_str(qualifier);
        list.push('"');
        list.push_str(column.as_str());
        list.push('"');
    }
    list
}

/// The live user called `username` (already normalised), with `id` and
/// the columns `read`.
pub async fn find_active<C: ConnectionTrait>(
    via: Via<'_, C>,
    username: &str,
    read: &[Column],
) -> Result<Option<user::Model>, DbErr> {
    let sql = format!(
        "SELECT {} FROM \"user\" WHERE \"username\" = {} AND \"is_deleted\" = false LIMIT 1",
        select_list(read),
        parameter(via.backend(), 1),
    );
    via.fetch_optional(sql, &[Arg::Text(username)], |row| decode(row, read))
        .await
}

/// From this many skipped users on, a page skips ids alone and then
/// fetches its rows by id: on PostgreSQL that was as fast at 1,000 and
/// faster beyond (2.5 times at 50,000), and slower below (docs/performance.md).
pub const DEEP_OFFSET: u64 = 1_000;

/// On PostgreSQL, a page also skips ids alone once it skips this many
/// times its own length: reading the ids from `ix_user_live_id` without
/// visiting the table costs less per skipped row, fetching the page by id
/// more per shown one. Pages of 10 at offsets up to 990 ran 1.3 times as
/// often that way; pages of 100 below offset 1,000 ran slower
/// (docs/performance.md).
const IDS_FIRST_PER_ROW: u64 = 15;

/// Where a page that skips `offset` live users runs: a deep one steps
/// through thousands of ids, so not on the request's thread
/// (`db::inline`).
pub fn for_skipping<C: ConnectionTrait>(via: Via<'_, C>, offset: u64) -> Via<'_, C> {
    if offset >= DEEP_OFFSET {
        via.long()
    } else {
        via
    }
}

/// Whether a page of `limit` rows after `offset` skips ids alone first.
fn ids_first(backend: DatabaseBackend, offset: u64, limit: u64) -> bool {
    offset >= DEEP_OFFSET
        || (backend == DatabaseBackend::Postgres
            && offset >= limit.saturating_mul(IDS_FIRST_PER_ROW))
}

/// Where an unfiltered page of live users starts.
#[derive(Debug, Clone, Copy)]
pub enum Start {
    /// Skip this many users.
    Offset(u64),
    /// Users with an id above this one.
    After(i32),
}

/// Up to `limit` live users in id order from `start`, with `id` and the
/// columns `read`.
pub async fn page<C: ConnectionTrait>(
    via: Via<'_, C>,
    read: &[Column],
    start: Start,
    limit: u64,
) -> Result<Vec<user::Model>, DbErr> {
    let backend = via.backend();
    let (first, second) = (parameter(backend, 1), parameter(backend, 2));
    let rows = limit;
    let limit = Arg::I64(i64::try_from(limit).unwrap_or(i64::MAX));
    let skip = |offset: u64| Arg::I64(i64::try_from(offset).unwrap_or(i64::MAX));
    let live = "FROM \"user\" WHERE \"is_deleted\" = false";
    let (sql, args) = match start {
        // The ids alone are skipped, through `ix_user_live_id` (see the
        // migration), and the page's rows fetched by id: on PostgreSQL
        // through an array, whose plan is an index look-up whatever the
        // table's size (a join was planned as a scan of a small table).
        Start::Offset(offset)
            if ids_first(backend, offset, rows) && backend == DatabaseBackend::Postgres =>
        {
            (
                format!(
                    "SELECT {} FROM \"user\" WHERE \"id\" = ANY(ARRAY(SELECT \"id\" {live} \
                     ORDER BY \"id\" ASC LIMIT {first} OFFSET {second})) ORDER BY \"id\" ASC",
                    select_list(read)
                ),
                [limit, skip(offset)],
            )
        }
        Start::Offset(offset) if ids_first(backend, offset, rows) => (
            format!(
                "SELECT {} FROM (SELECT \"id\" {live} ORDER BY \"id\" ASC LIMIT {first} \
                 OFFSET {second}) AS page JOIN \"user\" AS u ON u.\"id\" = page.\"id\" \
                 ORDER BY u.\"id\" ASC",
                qualified_list("u.", read)
            ),
            [limit, skip(offset)],
        ),
        Start::Offset(offset) => (
            format!(
                "SELECT {} {live} ORDER BY \"id\" ASC LIMIT {first} OFFSET {second}",
                select_list(read)
            ),
            [limit, skip(offset)],
        ),
        Start::After(after) => (
            format!(
                "SELECT {} {live} AND \"id\" > {first} ORDER BY \"id\" ASC LIMIT {second}",
                select_list(read)
            ),
            [Arg::I32(after), limit],
        ),
    };
    let via = match start {
        Start::Offset(offset) => for_skipping(via, offset),
        Start::After(_) => via,
    };
    via.fetch_all(sql, &args, |row| decode(row, read)).await
}

/// A user from a row holding `id` and then the columns `read`, in order.
pub fn decode(row: &Row<'_>, read: &[Column]) -> Result<user::Model, DbErr> {
    let mut model = user::Model {
        id: row.get(0)?,
        uuid: Uuid::nil(),
        name: String::new(),
        username: String::new(),
        email: String::new(),
        hashed_password: String::new(),
        profile_image_url: String::new(),
        is_superuser: false,
        tier_id: None,
        token_version: 0,
        created_at: DateTime::UNIX_EPOCH,
        updated_at: DateTime::UNIX_EPOCH,
        is_deleted: false,
        deleted_at: None,
        email_verified_at: None,
    };
    let columns = read.iter().filter(|c| !matches!(c, Column::Id));
    for (index, column) in (1..).zip(columns) {
        match column {
            Column::Id => {}
            Column::Uuid => model.uuid = row.get(index)?,
            Column::Name => model.name = row.get(index)?,
            Column::Username => model.username = row.get(index)?,
            Column::Email => model.email = row.get(index)?,
            Column::HashedPassword => model.hashed_password = row.get(index)?,
            Column::ProfileImageUrl => model.profile_image_url = row.get(index)?,
            Column::IsSuperuser => model.is_superuser = row.get(index)?,
            Column::TierId => model.tier_id = row.get(index)?,
            Column::TokenVersion => model.token_version = row.get(index)?,
            Column::CreatedAt => model.created_at = row.get(index)?,
            Column::UpdatedAt => model.updated_at = row.get(index)?,
            Column::IsDeleted => model.is_deleted = row.get(index)?,
            Column::DeletedAt => model.deleted_at = row.get(index)?,
            Column::EmailVerifiedAt => model.email_verified_at = row.get(index)?,
        }
    }
    Ok(model)
}
