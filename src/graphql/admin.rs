//! What only superusers do with users: restore, remove for good, move
//! between tiers, grant or revoke superuser rights, and look at counts.

use async_graphql::{Context, Object, ResultExt};

use super::types::admin::{UserRateLimits, UserStats};
use super::types::{RateLimit, Tier, User};
use super::{actor, app_context, root_fields};
use crate::auth::Superuser;
use crate::auth::guards::authentication;
use crate::services::{lifecycle, listing, rate_limits, users};

#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// A user, their tier and the rules it applies (empty without a tier).
    #[graphql(guard = "Superuser")]
    async fn rate_limits(
        &self,
        ctx: &Context<'_>,
        username: String,
    ) -> async_graphql::Result<UserRateLimits> {
        let app = app_context(ctx)?;
        let found = users::find_active(&app.db, &username).await.extend()?;
        let (tier, rules) = match found.tier_id {
            Some(id) => (
                super::loaders::tier(ctx, id).await?,
                rate_limits::for_tier(app, id).await.extend()?,
            ),
            None => (None, Vec::new()),
        };
        Ok(UserRateLimits {
            user: User::seen_by(found, authentication(ctx)),
            tier: tier.map(Tier::from),
            rate_limits: rules.into_iter().map(RateLimit::from).collect(),
        })
    }

    /// Counts over all users.
    #[graphql(guard = "Superuser")]
    async fn user_stats(&self, ctx: &Context<'_>) -> async_graphql::Result<UserStats> {
        Ok(listing::stats(app_context(ctx)?).await.extend()?.into())
    }
}

#[derive(Default)]
pub struct AdminMutation;

#[Object]
impl AdminMutation {
    /// Undo a soft delete.
    #[graphql(guard = "Superuser")]
    async fn restore_user(
        &self,
        ctx: &Context<'_>,
        username: String,
    ) -> async_graphql::Result<User> {
        let restored = lifecycle::restore(app_context(ctx)?, &actor(ctx), &username)
            .await
            .extend()?;
        Ok(User::seen_by(restored, authentication(ctx)))
    }

    /// Remove a user and everything of theirs, in one transaction.
    #[graphql(guard = "Superuser")]
    async fn delete_user_permanently(
        &self,
        ctx: &Context<'_>,
        username: String,
    ) -> async_graphql::Result<bool> {
        let app = app_context(ctx)?;
        let removed = lifecycle::delete_permanently(app, &actor(ctx), &username)
            .await
            .extend()?;
        app.limiter.forget_user(removed.id, root_fields(ctx)).await;
        if let Some(caller) = authentication(ctx).caller()
            && caller.user.id == removed.id
        {
            caller.end_session();
        }
        Ok(true)
    }

    /// Put a user on a tier; `null` takes them off any tier.
    #[graphql(guard = "Superuser")]
    async fn set_tier(
        &self,
        ctx: &Context<'_>,
        username: String,
        tier_id: Option<i32>,
    ) -> async_graphql::Result<User> {
        let updated = lifecycle::set_tier(app_context(ctx)?, &actor(ctx), &username, tier_id)
            .await
            .extend()?;
        Ok(User::seen_by(updated, authentication(ctx)))
    }

    /// Grant or take away superuser rights; the last superuser keeps them.
    #[graphql(guard = "Superuser")]
    async fn set_superuser(
        &self,
        ctx: &Context<'_>,
        username: String,
        is_superuser: bool,
    ) -> async_graphql::Result<User> {
        let updated =
            lifecycle::set_superuser(app_context(ctx)?, &actor(ctx), &username, is_superuser)
                .await
                .extend()?;
        Ok(User::seen_by(updated, authentication(ctx)))
    }
}
