//! Creating an account and reading yourself.

use async_graphql::{Context, Object, ResultExt};

use super::app_context;
use super::types::{RegisterInput, User};
use crate::auth::LoggedIn;
use crate::auth::guards::{authentication, require_caller};
use crate::services::users;

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The caller, from `Authorization: Bearer <accessToken>`.
    #[graphql(guard = "LoggedIn")]
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<User> {
        let caller = require_caller(ctx)?;
        Ok(User::seen_by(caller.user.clone(), authentication(ctx)))
    }
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Create an account. Duplicate email or username is `CONFLICT`.
    async fn register(
        &self,
        ctx: &Context<'_>,
        input: RegisterInput,
    ) -> async_graphql::Result<User> {
        let app = app_context(ctx)?;
        let user = users::register(app, input.into(), false).await.extend()?;
        Ok(User::seen_by_owner(user))
    }
}
