//! Tiers and rate-limit rules: superusers only.

use async_graphql::{Context, InputObject, Object, ResultExt};

use super::types::{RateLimit, Tier};
use super::{actor, app_context, root_fields};
use crate::auth::Superuser;
use crate::services::rate_limits::{self, NewRule, RuleChanges};
use crate::services::tiers;

#[derive(Default)]
pub struct TierQuery;

#[Object]
impl TierQuery {
    #[graphql(
        guard = "Superuser",
        complexity = "super::complexity::short_list(child_complexity)"
    )]
    async fn tiers(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Tier>> {
        let all = tiers::list(app_context(ctx)?).await.extend()?;
        Ok(all.into_iter().map(Tier::from).collect())
    }

    #[graphql(guard = "Superuser")]
    async fn tier(&self, ctx: &Context<'_>, name: String) -> async_graphql::Result<Option<Tier>> {
        Ok(Some(
            tiers::find(&app_context(ctx)?.db, &name)
                .await
                .extend()?
                .into(),
        ))
    }
}

#[derive(InputObject)]
pub struct RateLimitInput {
    /// A GraphQL root field, such as `login`.
    pub path: String,
    /// Calls allowed per period (positive).
    pub limit: i32,
    /// Seconds (positive).
    pub period: i32,
    /// Unique name of the rule.
    pub name: String,
}

/// Leave a field out to keep it.
#[derive(InputObject)]
pub struct UpdateRateLimitInput {
    pub path: Option<String>,
    pub limit: Option<i32>,
    pub period: Option<i32>,
    pub name: Option<String>,
}

#[derive(Default)]
pub struct TierMutation;

#[Object]
impl TierMutation {
    #[graphql(guard = "Superuser")]
    async fn create_tier(&self, ctx: &Context<'_>, name: String) -> async_graphql::Result<Tier> {
        Ok(tiers::create(app_context(ctx)?, &actor(ctx), &name)
            .await
            .extend()?
            .into())
    }

    #[graphql(guard = "Superuser")]
    async fn update_tier(
        &self,
        ctx: &Context<'_>,
        name: String,
        new_name: String,
    ) -> async_graphql::Result<Tier> {
        Ok(
            tiers::rename(app_context(ctx)?, &actor(ctx), &name, &new_name)
                .await
                .extend()?
                .into(),
        )
    }

    /// Refused with `CONFLICT` while users are on the tier.
    #[graphql(guard = "Superuser")]
    async fn delete_tier(&self, ctx: &Context<'_>, name: String) -> async_graphql::Result<bool> {
        tiers::delete(app_context(ctx)?, &actor(ctx), &name)
            .await
            .extend()?;
        Ok(true)
    }

    #[graphql(guard = "Superuser")]
    async fn create_rate_limit(
        &self,
        ctx: &Context<'_>,
        tier_name: String,
        input: RateLimitInput,
    ) -> async_graphql::Result<RateLimit> {
        let rule = NewRule {
            path: input.path,
            limit: input.limit,
            period: input.period,
            name: input.name,
        };
        let created = rate_limits::create(
            app_context(ctx)?,
            &actor(ctx),
            &tier_name,
            rule,
            root_fields(ctx),
        )
        .await
        .extend()?;
        Ok(created.into())
    }

    #[graphql(guard = "Superuser")]
    async fn update_rate_limit(
        &self,
        ctx: &Context<'_>,
        tier_name: String,
        name: String,
        input: UpdateRateLimitInput,
    ) -> async_graphql::Result<RateLimit> {
        let changes = RuleChanges {
            path: input.path,
            limit: input.limit,
            period: input.period,
            name: input.name,
        };
        let updated = rate_limits::update(
            app_context(ctx)?,
            &actor(ctx),
            &tier_name,
            &name,
            changes,
            root_fields(ctx),
        )
        .await
        .extend()?;
        Ok(updated.into())
    }

    #[graphql(guard = "Superuser")]
    async fn delete_rate_limit(
        &self,
        ctx: &Context<'_>,
        tier_name: String,
        name: String,
    ) -> async_graphql::Result<bool> {
        rate_limits::delete(app_context(ctx)?, &actor(ctx), &tier_name, &name)
            .await
            .extend()?;
        Ok(true)
    }
}
