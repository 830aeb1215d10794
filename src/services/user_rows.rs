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
//! Rows are decoded by position: `id` first, then the asked-for columns in
//! order. The fields of a model that were not read hold placeholders
//! (empty text, zero, `false`, `None`, the Unix epoch, the nil UUID) that
//! nobody reads (see `listing::Columns`).

use chrono::DateTime;
use sea_orm::{ConnectionTrait, DbErr, IdenStatic, Iterable, QueryResult, Statement, Value};
use uuid::Uuid;

use super::sql::parameter;
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
    let mut list = String::from("\"id\"");
    for column in read.iter().filter(|c| !matches!(c, Column::Id)) {
        list.push_str(", \"");
        list.push_str(column.as_str());
        list.push('"');
    }
    list
}

/// The live user called `username` (already normalised), with `id` and
/// the columns `read`.
pub async fn find_active(
    db: &impl ConnectionTrait,
    username: &str,
    read: &[Column],
) -> Result<Option<user::Model>, DbErr> {
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT {} FROM \"user\" WHERE \"username\" = {} AND \"is_deleted\" = false LIMIT 1",
        select_list(read),
        parameter(backend, 1),
    );
    let statement = Statement::from_sql_and_values(backend, sql, [username.into()]);
    db.query_one_raw(statement)
        .await?
        .map(|row| decode(&row, read))
        .transpose()
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
pub async fn page(
    db: &impl ConnectionTrait,
    read: &[Column],
    start: Start,
    limit: u64,
) -> Result<Vec<user::Model>, DbErr> {
    let backend = db.get_database_backend();
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let (condition, values): (String, [Value; 2]) = match start {
        Start::Offset(offset) => (
            format!(
                "ORDER BY \"id\" ASC LIMIT {} OFFSET {}",
                parameter(backend, 1),
                parameter(backend, 2)
            ),
            [
                limit.into(),
                i64::try_from(offset).unwrap_or(i64::MAX).into(),
            ],
        ),
        Start::After(after) => (
            format!(
                "AND \"id\" > {} ORDER BY \"id\" ASC LIMIT {}",
                parameter(backend, 1),
                parameter(backend, 2)
            ),
            [after.into(), limit.into()],
        ),
    };
    let sql = format!(
        "SELECT {} FROM \"user\" WHERE \"is_deleted\" = false {condition}",
        select_list(read)
    );
    db.query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?
        .iter()
        .map(|row| decode(row, read))
        .collect()
}

/// A user from a row holding `id` and then the columns `read`, in order.
pub fn decode(row: &QueryResult, read: &[Column]) -> Result<user::Model, DbErr> {
    let mut model = user::Model {
        id: row.try_get_by_index(0)?,
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
            Column::Uuid => model.uuid = row.try_get_by_index(index)?,
            Column::Name => model.name = row.try_get_by_index(index)?,
            Column::Username => model.username = row.try_get_by_index(index)?,
            Column::Email => model.email = row.try_get_by_index(index)?,
            Column::HashedPassword => model.hashed_password = row.try_get_by_index(index)?,
            Column::ProfileImageUrl => model.profile_image_url = row.try_get_by_index(index)?,
            Column::IsSuperuser => model.is_superuser = row.try_get_by_index(index)?,
            Column::TierId => model.tier_id = row.try_get_by_index(index)?,
            Column::TokenVersion => model.token_version = row.try_get_by_index(index)?,
            Column::CreatedAt => model.created_at = row.try_get_by_index(index)?,
            Column::UpdatedAt => model.updated_at = row.try_get_by_index(index)?,
            Column::IsDeleted => model.is_deleted = row.try_get_by_index(index)?,
            Column::DeletedAt => model.deleted_at = row.try_get_by_index(index)?,
            Column::EmailVerifiedAt => model.email_verified_at = row.try_get_by_index(index)?,
        }
    }
    Ok(model)
}
