//! Resetting a forgotten password: the mutations of
//! `services::password_reset`.

use std::sync::Arc;

use async_graphql::{Context, Object, ResultExt};

use super::{actor, app_context};
use crate::ratelimit::RequestLimits;
use crate::services::password_reset;

#[derive(Default)]
pub struct PasswordResetMutation;

#[Object]
impl PasswordResetMutation {
    /// Mail a reset link to the account with this address, if there is
    /// one. Always `true`, with the same work and timing either way.
    /// Limited per address and per client (`MAIL_RATE_LIMIT`).
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        email: String,
    ) -> async_graphql::Result<bool> {
        let limits = RequestLimits::from_request_data(ctx.data_opt::<Arc<RequestLimits>>());
        password_reset::request(app_context(ctx)?, &actor(ctx), &limits, &email)
            .await
            .extend()?;
        Ok(true)
    }

    /// Set a new password with the token of a reset link. Every session of
    /// the user ends. Any bad token is `BAD_USER_INPUT` "Invalid or expired
    /// token"; a password that breaks the rules leaves the token usable.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> async_graphql::Result<bool> {
        password_reset::reset(app_context(ctx)?, &actor(ctx), &token, &new_password)
            .await
            .extend()?;
        Ok(true)
    }
}
