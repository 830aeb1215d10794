//! Batched look-ups of what belongs to many users at once: one statement
//! per relation, used by the DataLoaders and by listings that prefetch.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

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
