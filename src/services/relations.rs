//! Batched look-ups of what belongs to many users at once: one statement
//! per relation, used by the DataLoaders and by listings that prefetch.

use std::collections::HashMap;

use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Order, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, Iterable, Statement, Value};

use super::sql;
use crate::entities::{post, tier};
use crate::error::AppResult;

// The two look-ups a listing makes for every page are written by hand:
// through SeaORM, building a statement with an `IN` list of a hundred ids
// cost more than running it (docs/performance.md, issue 16).

/// Tiers by id.
pub async fn tiers_by_id(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> AppResult<HashMap<i32, tier::Model>> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT \"id\", \"name\", \"created_at\" FROM \"tier\" WHERE \"id\" IN ({})",
        sql::parameters(backend, 1, ids.len())
    );
    let values = ids.iter().map(|id| Value::from(*id));
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    let mut tiers = HashMap::with_capacity(rows.len());
    for row in rows {
        let tier = tier::Model {
            id: row.try_get_by_index(0)?,
            name: row.try_get_by_index(1)?,
            created_at: row.try_get_by_index(2)?,
        };
        tiers.insert(tier.id, tier);
    }
    Ok(tiers)
}

/// Live posts per author; every asked-for author is present (0 if none).
pub async fn live_post_counts(
    db: &impl ConnectionTrait,
    user_ids: &[i32],
) -> AppResult<HashMap<i32, u64>> {
    let mut by_user: HashMap<i32, u64> = user_ids.iter().map(|id| (*id, 0)).collect();
    if user_ids.is_empty() {
        return Ok(by_user);
    }
    let backend = db.get_database_backend();
    let sql = format!(
        "SELECT \"created_by_user_id\", COUNT(\"id\") FROM \"post\" \
         WHERE \"created_by_user_id\" IN ({}) AND \"is_deleted\" = false \
         GROUP BY \"created_by_user_id\"",
        sql::parameters(backend, 1, user_ids.len())
    );
    let values = user_ids.iter().map(|id| Value::from(*id));
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    for row in rows {
        let user_id: i32 = row.try_get_by_index(0)?;
        let posts: i64 = row.try_get_by_index(1)?;
        by_user.insert(user_id, u64::try_from(posts).unwrap_or(0));
    }
    Ok(by_user)
}

/// The same page of live posts (newest first, `limit` after skipping
/// `offset`) for many authors in one statement: each author's posts are
/// numbered with a window function and the wanted rows kept.
pub async fn post_pages(
    db: &impl ConnectionTrait,
    user_ids: &[i32],
    offset: u64,
    limit: u64,
) -> AppResult<HashMap<i32, Vec<post::Model>>> {
    let numbered = Query::select()
        .column(Asterisk)
        .expr_as(
            Expr::cust("ROW_NUMBER() OVER (PARTITION BY created_by_user_id ORDER BY id DESC)"),
            Alias::new("row_number"),
        )
        .from(post::Entity)
        .and_where(post::Column::CreatedByUserId.is_in(user_ids.iter().copied()))
        .and_where(post::Column::IsDeleted.eq(false))
        .to_owned();
    let first = i64::try_from(offset).unwrap_or(i64::MAX);
    let last = i64::try_from(offset.saturating_add(limit)).unwrap_or(i64::MAX);
    let page = Query::select()
        .columns(post::Column::iter())
        .from_subquery(numbered, Alias::new("numbered"))
        .and_where(Expr::col(Alias::new("row_number")).gt(first))
        .and_where(Expr::col(Alias::new("row_number")).lte(last))
        .order_by(Alias::new("row_number"), Order::Asc)
        .to_owned();
    let statement = db.get_database_backend().build(&page);
    let rows = post::Entity::find().from_raw_sql(statement).all(db).await?;
    let mut pages: HashMap<i32, Vec<post::Model>> =
        user_ids.iter().map(|id| (*id, Vec::new())).collect();
    for post in rows {
        pages.entry(post.created_by_user_id).or_default().push(post);
    }
    Ok(pages)
}
