//! Changing an address with proof: `changeEmail` (with the current
//! password) mails a confirmation link to the new address and a notice to
//! the old one; the address changes only at `confirmEmailChange`, which
//! checks uniqueness again (another account may have taken the address
//! meanwhile). A confirmed change also verifies the new address.
//!
//! Whether the new address belongs to another account is not revealed: the
//! answer is the same, and only a free address gets a confirmation link.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::account_mail::{self, Page};
use super::account_tokens::{self, Purpose};
use super::audit::{self, EventType};
use super::profile::WRONG_CURRENT_PASSWORD;
use super::users::{self, EMAIL_TAKEN, conflict_message};
use super::validation;
use super::write::{Actor, Write};
use serde_json::json;

use crate::entities::user;
use crate::error::{AppError, AppResult, INVALID_TOKEN};
use crate::mail::Template;
use crate::ratelimit::{RequestLimits, login as login_limits, mail as mail_limits};
use crate::state::AppContext;

pub const SAME_ADDRESS: &str = "That is already your email address";

/// `changeEmail`: ask to move `account` to `new_email`.
pub async fn request(
    ctx: &AppContext,
    actor: &Actor,
    limits: &RequestLimits,
    account: &user::Model,
    new_email: &str,
    current_password: &str,
) -> AppResult<()> {
    let new_email = validation::email(new_email)?;
    if new_email == account.email {
        return Err(AppError::bad_input(SAME_ADDRESS));
    }
    mail_limits::check_request(&ctx.limiter, &ctx.config.mail, limits, &new_email).await?;
    login_limits::check_account(&ctx.limiter, &ctx.config.limits, limits, account.id).await?;
    if !ctx
        .passwords
        .verify(current_password, &account.hashed_password)
        .await?
    {
        return Err(AppError::bad_input(WRONG_CURRENT_PASSWORD));
    }
    let free = users::is_free(&ctx.db, user::Column::Email, &new_email, None).await?;
    let mut write = Write::begin(ctx, actor).await?;
    if free {
        let ttl = ctx.config.mail.email_verification_ttl;
        let token =
            account_tokens::issue(&write, account, Purpose::ChangeEmail, &new_email, ttl).await?;
        account_mail::send(
            &mut write,
            Template::ConfirmEmailChange,
            &new_email,
            account,
            Some((Page::Email, &token, ttl)),
            &[],
        )
        .await?;
    }
    account_mail::send(
        &mut write,
        Template::EmailChangeRequested,
        &account.email,
        account,
        None,
        &[("new_email", &new_email)],
    )
    .await?;
    write.commit().await
}

/// `confirmEmailChange`: redeem the token; the account's address becomes
/// the one the token was sent to (verified), unless another account has
/// taken it meanwhile (`CONFLICT`, and the token stays usable).
pub async fn confirm(ctx: &AppContext, actor: &Actor, token: &str) -> AppResult<user::Model> {
    let mut write = Write::begin(ctx, actor).await?;
    let (row, account) = account_tokens::redeem(&write, Purpose::ChangeEmail, token).await?;
    if !users::is_free(
        write.db(),
        user::Column::Email,
        &row.email,
        Some(account.id),
    )
    .await?
    {
        return Err(AppError::Conflict(EMAIL_TAKEN.to_owned()));
    }
    let now = Utc::now();
    let updated = user::Entity::update_many()
        .col_expr(user::Column::Email, Expr::value(row.email.as_str()))
        .col_expr(user::Column::EmailVerifiedAt, Expr::value(now))
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        .filter(user::Column::Id.eq(account.id))
        .filter(user::Column::Email.eq(account.email.as_str()))
        .filter(user::Column::IsDeleted.eq(false))
        .exec(write.db())
        .await
        .map_err(|error| AppError::from_unique_violation(error, conflict_message))?;
    if updated.rows_affected != 1 {
        return Err(AppError::bad_input(INVALID_TOKEN));
    }
    write.user_changed(account.id);
    audit::record(
        &mut write,
        EventType::EmailChanged,
        Some(account.id),
        json!({ "confirmed": true }),
    )
    .await?;
    write.commit().await?;
    Ok(user::Model {
        email: row.email,
        email_verified_at: Some(now),
        updated_at: now,
        ..account
    })
}
