//! Resetting a forgotten password: `requestPasswordReset` puts the request
//! in the outbox, the outbox worker mails a link if the address has an
//! account, and `resetPassword` redeems the link's token.
//!
//! The request does the same work whatever the address: it counts the mail
//! limits and writes one outbox row, and always answers `true`. Whether
//! the address has an account is looked up later, by the worker, so neither
//! the answer nor its timing tells a caller which addresses are registered.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::account_mail::{self, Page};
use super::account_tokens::{self, Purpose};
use super::audit::{self, EventType};
use super::outbox::{self, Job};
use super::session_store::{self, EndReason};
use super::validation;
use super::write::{Actor, Origin, Write};
use serde_json::json;

use crate::entities::user;
use crate::error::{AppError, AppResult, INVALID_TOKEN};
use crate::mail::Template;
use crate::ratelimit::{RequestLimits, mail as mail_limits};
use crate::state::AppContext;

/// `requestPasswordReset`: queue the request for `email`.
pub async fn request(
    ctx: &AppContext,
    actor: &Actor,
    limits: &RequestLimits,
    email: &str,
) -> AppResult<()> {
    let email = validation::email(email)?;
    mail_limits::check_request(&ctx.limiter, &ctx.config.mail, limits, &email).await?;
    let mut write = Write::begin(ctx, actor).await?;
    let origin = actor.origin().clone();
    outbox::enqueue(&mut write, &Job::PasswordResetRequest { email, origin }).await?;
    write.commit().await
}

/// The outbox job of a request: mail a reset link to the active account
/// with address `email`, if there is one, record
/// `user.password_reset_requested` for it (from the request's `origin`),
/// and finish job `job_id` in the same transaction.
pub async fn answer_request(
    app: &AppContext,
    job_id: i64,
    email: &str,
    origin: &Origin,
) -> AppResult<()> {
    // Read before the write begins, so the write holds its lock (the
    // SQLite write lock, see `Write::begin`) no longer than it must.
    let account = user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .filter(user::Column::IsDeleted.eq(false))
        .one(&app.db)
        .await?;
    let actor = Actor::new(None, origin.clone());
    let mut write = Write::begin(app, &actor).await?;
    if let Some(account) = account {
        audit::record(
            &mut write,
            EventType::PasswordResetRequested,
            Some(account.id),
            json!({}),
        )
        .await?;
        let ttl = app.config.mail.password_reset_ttl;
        let token = account_tokens::issue(
            &write,
            &account,
            Purpose::ResetPassword,
            &account.email,
            ttl,
        )
        .await?;
        account_mail::send(
            &mut write,
            Template::ResetPassword,
            &account.email,
            &account,
            Some((Page::Reset, &token, ttl)),
            &[],
        )
        .await?;
    }
    outbox::finish(write.db(), job_id).await?;
    write.commit().await
}

/// `resetPassword`: redeem a reset token and set `new_password` (with the
/// password rules). Every session of the user ends and they are told by
/// mail; the address counts as verified (the link reached it). A password
/// that breaks the rules leaves the token usable.
pub async fn reset(
    ctx: &AppContext,
    actor: &Actor,
    token: &str,
    new_password: &str,
) -> AppResult<()> {
    // Checked before the slow hash; checked again when redeeming.
    let (_, account) = account_tokens::find_valid(&ctx.db, Purpose::ResetPassword, token).await?;
    validation::check_new_password(new_password, &account.username, &account.email, &ctx.config)?;
    let hashed = ctx.passwords.hash(new_password).await?;
    let mut write = Write::begin(ctx, actor).await?;
    let (_, account) = account_tokens::redeem(&write, Purpose::ResetPassword, token).await?;
    let now = Utc::now();
    let updated = user::Entity::update_many()
        .col_expr(user::Column::HashedPassword, Expr::value(hashed))
        .col_expr(
            user::Column::TokenVersion,
            Expr::col(user::Column::TokenVersion).add(1),
        )
        .col_expr(user::Column::UpdatedAt, Expr::value(now))
        // The link reached the address: it is proved, if it was not yet.
        .col_expr(
            user::Column::EmailVerifiedAt,
            Expr::value(account.email_verified_at.unwrap_or(now)),
        )
        .filter(user::Column::Id.eq(account.id))
        .filter(user::Column::HashedPassword.eq(account.hashed_password.as_str()))
        .filter(user::Column::IsDeleted.eq(false))
        .exec(write.db())
        .await?;
    if updated.rows_affected != 1 {
        return Err(AppError::bad_input(INVALID_TOKEN));
    }
    session_store::end_all(&mut write, account.id, None, EndReason::PasswordChanged).await?;
    write.user_changed(account.id);
    audit::record(
        &mut write,
        EventType::PasswordReset,
        Some(account.id),
        json!({}),
    )
    .await?;
    notify_password_changed(&mut write, &account).await?;
    write.commit().await
}

/// Queue the "your password was changed" notice to `account`.
pub async fn notify_password_changed(
    write: &mut Write<'_>,
    account: &user::Model,
) -> AppResult<()> {
    account_mail::send(
        write,
        Template::PasswordChanged,
        &account.email,
        account,
        None,
        &[],
    )
    .await
}
