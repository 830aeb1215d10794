//! Tiers: named service levels that users are put on.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, Set, SqlErr,
};

use super::audit::{self, EventType};
use super::lifecycle::TIER_NOT_FOUND;
use super::validation;
use super::write::{Actor, Write};
use serde_json::json;

use crate::entities::{tier, user};
use crate::error::{AppError, AppResult};
use crate::state::AppContext;

pub const TIER_NAME_TAKEN: &str = "Tier name already exists";
pub const TIER_IN_USE: &str = "Tier still has users; move them to another tier first";

fn tier_name(value: &str) -> AppResult<String> {
    validation::clean_text("tier name", value, (1, 64))
}

pub async fn list(ctx: &AppContext) -> AppResult<Vec<tier::Model>> {
    Ok(tier::Entity::find()
        .order_by_asc(tier::Column::Id)
        .all(&ctx.db)
        .await?)
}

pub async fn find(db: &impl ConnectionTrait, name: &str) -> AppResult<tier::Model> {
    tier::Entity::find()
        .filter(tier::Column::Name.eq(name.trim()))
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(TIER_NOT_FOUND.to_owned()))
}

pub async fn create(ctx: &AppContext, actor: &Actor, name: &str) -> AppResult<tier::Model> {
    let row = tier::ActiveModel {
        name: Set(tier_name(name)?),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    let mut write = Write::begin(ctx, actor).await?;
    let created = row
        .insert(write.db())
        .await
        .map_err(|error| AppError::from_unique_violation(error, |_| TIER_NAME_TAKEN.to_owned()))?;
    audit::record(
        &mut write,
        EventType::TierCreated,
        None,
        json!({ "tierId": created.id, "name": created.name }),
    )
    .await?;
    write.commit().await?;
    Ok(created)
}

pub async fn rename(
    ctx: &AppContext,
    actor: &Actor,
    name: &str,
    new_name: &str,
) -> AppResult<tier::Model> {
    let new_name = tier_name(new_name)?;
    let mut write = Write::begin(ctx, actor).await?;
    let previous = find(write.db(), name).await?;
    let previous_name = previous.name.clone();
    let mut row = previous.into_active_model();
    row.name = Set(new_name);
    let renamed = row
        .update(write.db())
        .await
        .map_err(|error| AppError::from_unique_violation(error, |_| TIER_NAME_TAKEN.to_owned()))?;
    audit::record(
        &mut write,
        EventType::TierRenamed,
        None,
        json!({ "tierId": renamed.id, "from": previous_name, "to": renamed.name }),
    )
    .await?;
    write.commit().await?;
    Ok(renamed)
}

/// Delete a tier and its rate-limit rules; refused while users are on it
/// (soft-deleted users included: restoring them must find their tier).
pub async fn delete(ctx: &AppContext, actor: &Actor, name: &str) -> AppResult<()> {
    let mut write = Write::begin(ctx, actor).await?;
    let tier = find(write.db(), name).await?;
    let members = user::Entity::find()
        .filter(user::Column::TierId.eq(tier.id))
        .count(write.db())
        .await?;
    if members > 0 {
        return Err(AppError::Conflict(TIER_IN_USE.to_owned()));
    }
    tier::Entity::delete_by_id(tier.id)
        .exec(write.db())
        .await
        .map_err(|error| match error.sql_err() {
            // A user joined the tier after the check: the foreign key refuses.
            Some(SqlErr::ForeignKeyConstraintViolation(_)) => {
                AppError::Conflict(TIER_IN_USE.to_owned())
            }
            _ => AppError::from(error),
        })?;
    audit::record(
        &mut write,
        EventType::TierDeleted,
        None,
        json!({ "tierId": tier.id, "name": tier.name }),
    )
    .await?;
    write.commit().await
}
