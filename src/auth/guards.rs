//! Guards: where authorisation lives. Resolvers declare who may call them
//! with `#[graphql(guard = "…")]` instead of checking roles by hand, and
//! applications extending the schema protect their fields the same way.
//!
//! What a caller may do is decided by [`Capabilities`]; the guards only ask
//! it and turn a "no" into the right error.

use async_graphql::{Context, ErrorExtensions, Guard};
use sea_orm::EntityTrait;

use super::caller::{Authentication, Caller};
use super::capability::Capabilities;
use crate::entities::tier;
use crate::error::AppError;
use crate::state::AppContext;

/// The caller of this request, as attached by the HTTP layer.
pub fn authentication<'a>(ctx: &'a Context<'_>) -> &'a Authentication {
    ctx.data_opt::<Authentication>()
        .unwrap_or(&Authentication::Anonymous)
}

/// The authenticated caller, or an `UNAUTHENTICATED` GraphQL error.
pub fn require_caller<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Caller> {
    authentication(ctx)
        .require()
        .map_err(|error| error.extend())
}

/// Any authenticated user.
pub struct LoggedIn;

impl Guard for LoggedIn {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        require_caller(ctx).map(|_| ())
    }
}

/// Only superusers.
pub struct Superuser;

impl Guard for Superuser {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let caller = require_caller(ctx)?;
        if Capabilities::of(caller).is_superuser() {
            Ok(())
        } else {
            Err(AppError::Forbidden("Superuser privileges required".to_owned()).extend())
        }
    }
}

/// The user named by the field's `username` argument themselves, or a
/// superuser: `guard = "OwnerOrSuperuser::new(&username, \"update\")"`.
pub struct OwnerOrSuperuser<'a> {
    username: &'a str,
    verb: &'static str,
}

impl<'a> OwnerOrSuperuser<'a> {
    #[must_use]
    pub fn new(username: &'a str, verb: &'static str) -> Self {
        Self { username, verb }
    }
}

impl Guard for OwnerOrSuperuser<'_> {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let caller = require_caller(ctx)?;
        if Capabilities::of(caller).can_manage_named(self.username) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!("Cannot {} other users", self.verb)).extend())
        }
    }
}

/// Callers on the named tier: `guard = "RequireTier(\"pro\")"`.
pub struct RequireTier(pub &'static str);

impl Guard for RequireTier {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let caller = require_caller(ctx)?;
        let refused = || AppError::Forbidden(format!("This requires the {} tier", self.0)).extend();
        let Some(tier_id) = caller.user.tier_id else {
            return Err(refused());
        };
        let app = ctx
            .data::<AppContext>()
            .map_err(|_| AppError::internal("AppContext missing").extend())?;
        let tier = tier::Entity::find_by_id(tier_id)
            .one(&app.db)
            .await
            .map_err(|error| AppError::from(error).extend())?;
        match tier {
            Some(tier) if tier.name == self.0 => Ok(()),
            _ => Err(refused()),
        }
    }
}
