//! Creating an account, checking names while signing up, reading yourself.

use async_graphql::{Context, Object, ResultExt};

use super::types::{RegisterInput, User};
use super::{actor, app_context};
use crate::auth::LoggedIn;
use crate::auth::guards::{authentication, require_caller};
use crate::entities::user;
use crate::services::{users, validation};

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

    /// Whether a username is free (deleted users keep theirs). Invalid
    /// usernames are `BAD_USER_INPUT`.
    async fn username_available(
        &self,
        ctx: &Context<'_>,
        username: String,
    ) -> async_graphql::Result<bool> {
        let username = validation::username(&username).extend()?;
        users::is_free(
            &app_context(ctx)?.db,
            user::Column::Username,
            &username,
            None,
        )
        .await
        .extend()
    }

    /// Whether an email address is free. Invalid addresses are
    /// `BAD_USER_INPUT`.
    async fn email_available(
        &self,
        ctx: &Context<'_>,
        email: String,
    ) -> async_graphql::Result<bool> {
        let email = validation::email(&email).extend()?;
        users::is_free(&app_context(ctx)?.db, user::Column::Email, &email, None)
            .await
            .extend()
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
        let user = users::register(app, &actor(ctx), input.into(), false)
            .await
            .extend()?;
        Ok(User::seen_by_owner(user))
    }
}
