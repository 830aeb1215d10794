//! Changing a profile and a password.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};

use super::audit::{self, EventType};
use super::session_store::{self, EndReason};
use super::users::{self, EMAIL_TAKEN, USERNAME_TAKEN, conflict_message};
use super::write::{Actor, Write};
use super::{email_verification, password_reset, validation};
use serde_json::json;

use crate::entities::user;
use crate::error::{AppError, AppResult};
use crate::ratelimit::RequestLimits;
use crate::ratelimit::login as login_limits;
use crate::state::AppContext;

/// A partial update: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct ProfileChanges {
    pub name: Option<String>,
    pub username: Option<String>,
    pub email: Option<String>,
    pub profile_image_url: Option<String>,
}

/// Apply `changes` to the active user `username`, with the registration
/// rules. The unique indexes decide races; the pre-check gives the message.
///
/// Only a superuser changes an address here (`FORBIDDEN` for others; the
/// unchanged address is accepted): it takes effect at once, unverified, and
/// the new address is mailed a verification link. Users change their own
/// with `changeEmail`, which the new address confirms.
pub async fn update_user(
    ctx: &AppContext,
    actor: &Actor,
    username: &str,
    changes: ProfileChanges,
) -> AppResult<user::Model> {
    let target = users::find_active(&ctx.db, username).await?;
    let name = changes.name.as_deref().map(validation::name).transpose()?;
    let new_username = changes
        .username
        .as_deref()
        .map(validation::username)
        .transpose()?;
    let email = changes
        .email
        .as_deref()
        .map(validation::email)
        .transpose()?;
    let image = changes
        .profile_image_url
        .as_deref()
        .map(|url| validation::http_url("profileImageUrl", url))
        .transpose()?;

    let email_changed = email.as_ref().is_some_and(|email| *email != target.email);
    // Which fields were given, for the audit event (never their values).
    let fields: Vec<&str> = [
        ("name", name.is_some()),
        ("username", new_username.is_some()),
        ("email", email.is_some()),
        ("profileImageUrl", image.is_some()),
    ]
    .into_iter()
    .filter_map(|(field, given)| given.then_some(field))
    .collect();
    if email_changed
        && !actor
            .caller()
            .is_some_and(|caller| caller.user.is_superuser)
    {
        return Err(AppError::Forbidden(EMAIL_NEEDS_CONFIRMATION.to_owned()));
    }
    if let Some(email) = &email
        && !users::is_free(&ctx.db, user::Column::Email, email, Some(target.id)).await?
    {
        return Err(AppError::Conflict(EMAIL_TAKEN.to_owned()));
    }
    if let Some(new_username) = &new_username
        && !users::is_free(
            &ctx.db,
            user::Column::Username,
            new_username,
            Some(target.id),
        )
        .await?
    {
        return Err(AppError::Conflict(USERNAME_TAKEN.to_owned()));
    }

    let mut row = target.into_active_model();
    if let Some(name) = name {
        row.name = Set(name);
    }
    if let Some(new_username) = new_username {
        row.username = Set(new_username);
    }
    if let Some(email) = email {
        row.email = Set(email);
    }
    if email_changed {
        row.email_verified_at = Set(None);
    }
    if let Some(image) = image {
        row.profile_image_url = Set(image);
    }
    row.updated_at = Set(Utc::now());
    let mut write = Write::begin(ctx, actor).await?;
    let updated = row
        .update(write.db())
        .await
        .map_err(|error| AppError::from_unique_violation(error, conflict_message))?;
    write.user_changed(updated.id);
    if email_changed {
        email_verification::send_link(&mut write, &updated).await?;
        audit::record(
            &mut write,
            EventType::EmailChanged,
            Some(updated.id),
            json!({ "confirmed": false }),
        )
        .await?;
    }
    audit::record(
        &mut write,
        EventType::UserUpdated,
        Some(updated.id),
        json!({ "fields": fields }),
    )
    .await?;
    write.commit().await?;
    Ok(updated)
}

pub const EMAIL_NEEDS_CONFIRMATION: &str =
    "Changing an email address needs the new address to confirm it: use changeEmail";

pub const WRONG_CURRENT_PASSWORD: &str = "Current password is incorrect";

/// Replace the password of `account` after checking the current one, end
/// every session the user has (every token issued before now carries the old
/// token version), including the one making the change, and tell them by mail.
///
/// Each check of the current password draws on the account's login budget,
/// so a stolen access token is no faster a password oracle than `login`.
pub async fn change_password(
    ctx: &AppContext,
    actor: &Actor,
    limits: &RequestLimits,
    account: &user::Model,
    current_password: &str,
    new_password: &str,
) -> AppResult<()> {
    login_limits::check_account(&ctx.limiter, &ctx.config.limits, limits, account.id).await?;
    if !ctx
        .passwords
        .verify(current_password, &account.hashed_password)
        .await?
    {
        return Err(AppError::bad_input(WRONG_CURRENT_PASSWORD));
    }
    validation::check_new_password(new_password, &account.username, &account.email, &ctx.config)?;
    let hashed = ctx.passwords.hash(new_password).await?;
    let mut write = Write::begin(ctx, actor).await?;
    let updated = user::Entity::update_many()
        .col_expr(user::Column::HashedPassword, Expr::value(hashed))
        .col_expr(
            user::Column::TokenVersion,
            Expr::col(user::Column::TokenVersion).add(1),
        )
        .col_expr(user::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(user::Column::Id.eq(account.id))
        .filter(user::Column::IsDeleted.eq(false))
        .exec(write.db())
        .await?;
    if updated.rows_affected == 0 {
        return Err(AppError::NotFound(users::USER_NOT_FOUND.to_owned()));
    }
    session_store::end_all(&mut write, account.id, None, EndReason::PasswordChanged).await?;
    write.user_changed(account.id);
    audit::record(
        &mut write,
        EventType::PasswordChanged,
        Some(account.id),
        json!({}),
    )
    .await?;
    password_reset::notify_password_changed(&mut write, account).await?;
    write.commit().await
}
