//! Proving an address: `register` (and a superuser's change of an address)
//! mails a link, `requestEmailVerification` mails a fresh one, and
//! `verifyEmail` redeems it. With `REQUIRE_EMAIL_VERIFICATION`, `login`
//! refuses unverified addresses (see `services::sessions`).

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::account_mail::{self, Page};
use super::account_tokens::{self, Purpose};
use super::audit::{self, EventType};
use super::write::{Actor, Write};
use serde_json::json;

use crate::entities::user;
use crate::error::{AppError, AppResult, INVALID_TOKEN};
use crate::mail::Template;
use crate::ratelimit::{RequestLimits, mail as mail_limits};
use crate::state::AppContext;

/// Queue a verification mail for `user`'s current address within `write`.
pub async fn send_link(write: &mut Write<'_>, user: &user::Model) -> AppResult<()> {
    let ttl = write.app().config.mail.email_verification_ttl;
    let token = account_tokens::issue(write, user, Purpose::VerifyEmail, &user.email, ttl).await?;
    account_mail::send(
        write,
        Template::VerifyEmail,
        &user.email,
        user,
        Some((Page::Verify, &token, ttl)),
        &[],
    )
    .await
}

/// `requestEmailVerification`: a fresh link for the caller (earlier ones
/// stop working), within the mail limits. An address already verified gets
/// nothing, and the answer is the same.
pub async fn request(
    ctx: &AppContext,
    actor: &Actor,
    limits: &RequestLimits,
    account: &user::Model,
) -> AppResult<()> {
    mail_limits::check_request(&ctx.limiter, &ctx.config.mail, limits, &account.email).await?;
    if account.email_verified_at.is_some() {
        return Ok(());
    }
    let mut write = Write::begin(ctx, actor).await?;
    send_link(&mut write, account).await?;
    write.commit().await
}

/// `verifyEmail`: redeem a verification token; the address it was sent to
/// is now verified.
pub async fn verify(ctx: &AppContext, actor: &Actor, token: &str) -> AppResult<user::Model> {
    let mut write = Write::begin(ctx, actor).await?;
    let (row, account) = account_tokens::redeem(&write, Purpose::VerifyEmail, token).await?;
    let now = Utc::now();
    let updated = user::Entity::update_many()
        .col_expr(user::Column::EmailVerifiedAt, Expr::value(now))
        .filter(user::Column::Id.eq(account.id))
        .filter(user::Column::Email.eq(row.email.as_str()))
        .filter(user::Column::IsDeleted.eq(false))
        .exec(write.db())
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::bad_input(INVALID_TOKEN));
    }
    write.user_changed(account.id);
    audit::record(
        &mut write,
        EventType::EmailVerified,
        Some(account.id),
        json!({}),
    )
    .await?;
    write.commit().await?;
    Ok(user::Model {
        email_verified_at: Some(now),
        ..account
    })
}
