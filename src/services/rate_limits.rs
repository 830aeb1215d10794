//! Rate-limit rules: per tier, per GraphQL root field (`path`), `limit`
//! calls per `period` seconds. Enforcement lives with the rate limiter; this
//! is where rules are kept valid (positive numbers, one rule per tier and
//! path, a path that names a real root field).

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};

use super::audit::{self, EventType};
use super::write::{Actor, Write};
use super::{tiers, validation};
use serde_json::{Value, json};

use crate::entities::rate_limit;
use crate::error::{AppError, AppResult};
use crate::state::AppContext;

pub const RULE_NOT_FOUND: &str = "Rate limit not found";

#[derive(Debug, Clone)]
pub struct NewRule {
    pub path: String,
    pub limit: i32,
    pub period: i32,
    pub name: String,
}

#[derive(Debug, Clone, Default)]
pub struct RuleChanges {
    pub path: Option<String>,
    pub limit: Option<i32>,
    pub period: Option<i32>,
    pub name: Option<String>,
}

fn conflict(detail: &str) -> String {
    if detail.contains("name") && !detail.contains("path") {
        "A rate limit with this name already exists".to_owned()
    } else {
        "This tier already has a rate limit for this path".to_owned()
    }
}

fn positive(field: &str, value: i32) -> AppResult<i32> {
    if value > 0 {
        Ok(value)
    } else {
        Err(AppError::bad_input(format!(
            "{field} must be a positive number"
        )))
    }
}

/// `path` must name one of `root_fields`.
fn path(value: &str, root_fields: &[String]) -> AppResult<String> {
    let value = value.trim();
    if root_fields.iter().any(|field| field == value) {
        Ok(value.to_owned())
    } else {
        Err(AppError::bad_input(format!(
            "path must name a GraphQL root field, such as login or register; `{value}` is not one"
        )))
    }
}

/// A rule as its audit events describe it.
fn described(rule: &rate_limit::Model) -> Value {
    json!({
        "rateLimitId": rule.id,
        "tierId": rule.tier_id,
        "name": rule.name,
        "path": rule.path,
        "limit": rule.limit,
        "period": rule.period,
    })
}

fn rule_name(value: &str) -> AppResult<String> {
    validation::clean_text("name", value, (1, 64))
}

pub async fn for_tier(ctx: &AppContext, tier_id: i32) -> AppResult<Vec<rate_limit::Model>> {
    Ok(rate_limit::Entity::find()
        .filter(rate_limit::Column::TierId.eq(tier_id))
        .order_by_asc(rate_limit::Column::Id)
        .all(&ctx.db)
        .await?)
}

pub async fn create(
    ctx: &AppContext,
    actor: &Actor,
    tier_name: &str,
    rule: NewRule,
    root_fields: &[String],
) -> AppResult<rate_limit::Model> {
    let mut write = Write::begin(ctx, actor).await?;
    let tier = tiers::find(write.db(), tier_name).await?;
    let row = rate_limit::ActiveModel {
        tier_id: Set(tier.id),
        path: Set(path(&rule.path, root_fields)?),
        limit: Set(positive("limit", rule.limit)?),
        period: Set(positive("period", rule.period)?),
        name: Set(rule_name(&rule.name)?),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    let created = row
        .insert(write.db())
        .await
        .map_err(|error| AppError::from_unique_violation(error, conflict))?;
    audit::record(
        &mut write,
        EventType::RateLimitCreated,
        None,
        described(&created),
    )
    .await?;
    write.commit().await?;
    Ok(created)
}

async fn find(
    db: &impl ConnectionTrait,
    tier_name: &str,
    name: &str,
) -> AppResult<rate_limit::Model> {
    let tier = tiers::find(db, tier_name).await?;
    rate_limit::Entity::find()
        .filter(rate_limit::Column::TierId.eq(tier.id))
        .filter(rate_limit::Column::Name.eq(name.trim()))
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(RULE_NOT_FOUND.to_owned()))
}

pub async fn update(
    ctx: &AppContext,
    actor: &Actor,
    tier_name: &str,
    name: &str,
    changes: RuleChanges,
    root_fields: &[String],
) -> AppResult<rate_limit::Model> {
    let mut write = Write::begin(ctx, actor).await?;
    let mut row = find(write.db(), tier_name, name).await?.into_active_model();
    if let Some(value) = changes.path {
        row.path = Set(path(&value, root_fields)?);
    }
    if let Some(value) = changes.limit {
        row.limit = Set(positive("limit", value)?);
    }
    if let Some(value) = changes.period {
        row.period = Set(positive("period", value)?);
    }
    if let Some(value) = changes.name {
        row.name = Set(rule_name(&value)?);
    }
    let updated = row
        .update(write.db())
        .await
        .map_err(|error| AppError::from_unique_violation(error, conflict))?;
    audit::record(
        &mut write,
        EventType::RateLimitUpdated,
        None,
        described(&updated),
    )
    .await?;
    write.commit().await?;
    Ok(updated)
}

pub async fn delete(ctx: &AppContext, actor: &Actor, tier_name: &str, name: &str) -> AppResult<()> {
    let mut write = Write::begin(ctx, actor).await?;
    let rule = find(write.db(), tier_name, name).await?;
    rate_limit::Entity::delete_by_id(rule.id)
        .exec(write.db())
        .await?;
    audit::record(
        &mut write,
        EventType::RateLimitDeleted,
        None,
        described(&rule),
    )
    .await?;
    write.commit().await
}
