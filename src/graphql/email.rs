//! Proving and changing an email address: the mutations of
//! `services::email_verification` and `services::email_change`.

use std::sync::Arc;

use async_graphql::{Context, Object, ResultExt};

use super::types::User;
use super::{actor, app_context};
use crate::auth::LoggedIn;
use crate::auth::guards::require_caller;
use crate::ratelimit::RequestLimits;
use crate::services::{email_change, email_verification};

#[derive(Default)]
pub struct EmailMutation;

#[Object]
impl EmailMutation {
    /// Mail the caller a fresh verification link (earlier links stop
    /// working). `true` also when the address is already verified (nothing
    /// is sent then). Limited per address and per client (`MAIL_RATE_LIMIT`).
    #[graphql(guard = "LoggedIn")]
    async fn request_email_verification(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let caller = require_caller(ctx)?;
        let limits = RequestLimits::from_request_data(ctx.data_opt::<Arc<RequestLimits>>());
        email_verification::request(app_context(ctx)?, &actor(ctx), &limits, &caller.user)
            .await
            .extend()?;
        Ok(true)
    }

    /// Verify an address with the token of a verification link. Any bad
    /// token is `BAD_USER_INPUT` "Invalid or expired token".
    async fn verify_email(&self, ctx: &Context<'_>, token: String) -> async_graphql::Result<User> {
        let user = email_verification::verify(app_context(ctx)?, &actor(ctx), &token)
            .await
            .extend()?;
        // The token proves control of the address, which could reset the
        // password anyway: the holder sees the account as its owner does.
        Ok(User::seen_by_owner(user))
    }

    /// Ask to change your address: the new address gets a confirmation link
    /// (if no other account has it; the answer is the same either way) and
    /// the current one a notice. Nothing changes until
    /// `confirmEmailChange`.
    #[graphql(guard = "LoggedIn")]
    async fn change_email(
        &self,
        ctx: &Context<'_>,
        new_email: String,
        current_password: String,
    ) -> async_graphql::Result<bool> {
        let caller = require_caller(ctx)?;
        let limits = RequestLimits::from_request_data(ctx.data_opt::<Arc<RequestLimits>>());
        email_change::request(
            app_context(ctx)?,
            &actor(ctx),
            &limits,
            &caller.user,
            &new_email,
            &current_password,
        )
        .await
        .extend()?;
        Ok(true)
    }

    /// Confirm an address change with the token of the link sent to the new
    /// address. `CONFLICT` if another account took the address meanwhile.
    async fn confirm_email_change(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> async_graphql::Result<User> {
        let user = email_change::confirm(app_context(ctx)?, &actor(ctx), &token)
            .await
            .extend()?;
        Ok(User::seen_by_owner(user))
    }
}
