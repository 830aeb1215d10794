//! Creating and finding accounts.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use uuid::Uuid;

use super::validation;
use crate::entities::user;
use crate::error::{AppError, AppResult};
use crate::state::AppContext;

pub const DEFAULT_PROFILE_IMAGE_URL: &str = "https://www.profileimageurl.com";
pub const EMAIL_TAKEN: &str = "Email is already registered";
pub const USERNAME_TAKEN: &str = "Username not available";

/// What a new account is made from, as the client sent it.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub name: String,
    pub username: String,
    pub email: String,
    pub password: String,
}

/// Validate, hash and insert a new account. The friendly pre-check saves a
/// password hash for the common case; the unique indexes decide races.
pub async fn register(
    ctx: &AppContext,
    input: NewUser,
    is_superuser: bool,
) -> AppResult<user::Model> {
    let name = validation::name(&input.name)?;
    let username = validation::username(&input.username)?;
    let email = validation::email(&input.email)?;
    validation::password(&input.password)?;

    if exists(ctx, user::Column::Email, &email).await? {
        return Err(AppError::Conflict(EMAIL_TAKEN.to_owned()));
    }
    if exists(ctx, user::Column::Username, &username).await? {
        return Err(AppError::Conflict(USERNAME_TAKEN.to_owned()));
    }
    let hashed_password = ctx.passwords.hash(&input.password).await?;
    let now = Utc::now();
    let row = user::ActiveModel {
        uuid: Set(Uuid::new_v4()),
        name: Set(name),
        username: Set(username),
        email: Set(email),
        hashed_password: Set(hashed_password),
        profile_image_url: Set(DEFAULT_PROFILE_IMAGE_URL.to_owned()),
        is_superuser: Set(is_superuser),
        tier_id: Set(None),
        token_version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        is_deleted: Set(false),
        deleted_at: Set(None),
        ..Default::default()
    };
    row.insert(&ctx.db)
        .await
        .map_err(|error| AppError::from_unique_violation(error, conflict_message))
}

/// Which friendly message a unique violation deserves, from the constraint
/// text the database reported (index name on PostgreSQL, column on SQLite).
#[must_use]
pub fn conflict_message(detail: &str) -> String {
    if detail.contains("email") {
        EMAIL_TAKEN.to_owned()
    } else {
        USERNAME_TAKEN.to_owned()
    }
}

async fn exists(ctx: &AppContext, column: user::Column, value: &str) -> AppResult<bool> {
    let count = user::Entity::find()
        .filter(column.eq(value))
        .count(&ctx.db)
        .await?;
    Ok(count > 0)
}

/// The account a login identifier names, deleted or not: an identifier with
/// `@` is an email address, anything else a username. Both are compared
/// lower-cased.
pub async fn find_by_login_identifier(
    ctx: &AppContext,
    identifier: &str,
) -> AppResult<Option<user::Model>> {
    let identifier = identifier.trim().to_lowercase();
    let column = if identifier.contains('@') {
        user::Column::Email
    } else {
        user::Column::Username
    };
    Ok(user::Entity::find()
        .filter(column.eq(identifier))
        .one(&ctx.db)
        .await?)
}
