//! Guards: where authorisation lives. Resolvers declare who may call them
//! with `#[graphql(guard = "…")]` instead of checking roles by hand.

use async_graphql::{Context, ErrorExtensions, Guard};

use super::caller::Authentication;
use crate::error::AppError;

/// The caller of this request, as attached by the HTTP layer.
pub fn authentication<'a>(ctx: &'a Context<'_>) -> &'a Authentication {
    ctx.data_opt::<Authentication>()
        .unwrap_or(&Authentication::Anonymous)
}

/// The authenticated caller, or an `UNAUTHENTICATED` GraphQL error.
pub fn require_caller<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a super::Caller> {
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
        if caller.user.is_superuser {
            Ok(())
        } else {
            Err(AppError::Forbidden("Superuser privileges required".to_owned()).extend())
        }
    }
}
