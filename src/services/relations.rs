//! Batched look-ups of what belongs to many users at once: one statement
//! per relation, used by the DataLoaders and by listings that prefetch.

use std::collections::HashMap;

use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Order, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, Iterable, QueryFilter, QuerySelect};

use crate::entities::{post, tier};
use crate::error::AppResult;

/// Tiers by id.
pub async fn tiers_by_id(
    db: &impl ConnectionTrait,
    ids: &[i32],
) -> AppResult<HashMap<i32, tier::Model>> {
    let tiers = tier::Entity::find()
        .filter(tier::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    Ok(tiers.into_iter().map(|tier| (tier.id, tier)).collect())
}

/// Live posts per author; every asked-for author is present (0 if none).
pub async fn live_post_counts(
    db: &impl ConnectionTrait,
    user_ids: &[i32],
) -> AppResult<HashMap<i32, u64>> {
    let counts: Vec<(i32, i64)> = post::Entity::find()
        .select_only()
        .column(post::Column::CreatedByUserId)
        .column_as(Expr::col(post::Column::Id).count(), "posts")
        .filter(post::Column::CreatedByUserId.is_in(user_ids.iter().copied()))
        .filter(post::Column::IsDeleted.eq(false))
        .group_by(post::Column::CreatedByUserId)
        .into_tuple()
        .all(db)
        .await?;
    let mut by_user: HashMap<i32, u64> = user_ids.iter().map(|id| (*id, 0)).collect();
    for (user_id, posts) in counts {
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
