//! `passwordStrength`: live feedback while a person picks a password, with
//! the same rules `register` applies (see `services::passwords`). Anonymous
//! and rate limited like every root field; the password is never logged.

use async_graphql::{Context, Object, ResultExt, SimpleObject};

use super::app_context;
use crate::error::AppError;
use crate::services::passwords;

/// How a candidate password fares.
#[derive(SimpleObject)]
pub struct PasswordCheck {
    /// Whether `register`, `changePassword` and a reset would take it.
    pub acceptable: bool,
    /// An estimate of how hard it is to guess: 0 (at once) to 4 (very hard).
    pub score: i32,
    /// Why it would be refused, then what the estimator noticed.
    pub warnings: Vec<String>,
}

#[derive(Default)]
pub struct PasswordQuery;

#[Object]
impl PasswordQuery {
    /// Check a candidate password for an account that will have `username`
    /// and `email` (pass them when known: a password containing either is
    /// refused).
    async fn password_strength(
        &self,
        ctx: &Context<'_>,
        password: String,
        username: Option<String>,
        email: Option<String>,
    ) -> async_graphql::Result<PasswordCheck> {
        let max_bytes = app_context(ctx)?.passwords.max_password_bytes();
        // A few milliseconds of CPU, more for long input: off the workers.
        let check = tokio::task::spawn_blocking(move || {
            passwords::estimate(&password, username.as_deref(), email.as_deref(), max_bytes)
        })
        .await
        .map_err(AppError::internal)
        .extend()?;
        Ok(PasswordCheck {
            acceptable: check.acceptable,
            score: i32::from(check.score),
            warnings: check.warnings,
        })
    }
}
