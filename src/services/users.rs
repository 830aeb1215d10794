//! Creating and finding accounts.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::audit::{self, EventType};
use super::write::{Actor, Write};
use super::{email_verification, user_rows, validation};
use crate::db::direct::Via;
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

/// Validate, hash and insert a new account, and mail it a verification
/// link (a superuser, created by the operator, starts verified). The friendly pre-check saves a
/// password hash for the common case; the unique indexes decide races.
pub async fn register(
    ctx: &AppContext,
    actor: &Actor,
    input: NewUser,
    is_superuser: bool,
) -> AppResult<user::Model> {
    let name = validation::name(&input.name)?;
    let username = validation::username(&input.username)?;
    let email = validation::email(&input.email)?;
    validation::check_new_password(&input.password, &username, &email, &ctx.config)?;

    if !is_free(&ctx.db, user::Column::Email, &email, None).await? {
        return Err(AppError::Conflict(EMAIL_TAKEN.to_owned()));
    }
    if !is_free(&ctx.db, user::Column::Username, &username, None).await? {
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
        // The operator creating a superuser vouches for the address.
        email_verified_at: Set(is_superuser.then_some(now)),
        ..Default::default()
    };
    let mut write = Write::begin(ctx, actor).await?;
    let created = row
        .insert(write.db())
        .await
        .map_err(|error| AppError::from_unique_violation(error, conflict_message))?;
    if created.email_verified_at.is_none() {
        email_verification::send_link(&mut write, &created).await?;
    }
    audit::record(
        &mut write,
        EventType::UserRegistered,
        Some(created.id),
        json!({ "uuid": created.uuid, "username": created.username }),
    )
    .await?;
    write.commit().await?;
    Ok(created)
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

pub const USER_NOT_FOUND: &str = "User not found";

/// The active (not soft-deleted) user called `username`, or `NOT_FOUND`.
pub async fn find_active(db: &impl ConnectionTrait, username: &str) -> AppResult<user::Model> {
    find_active_reading(Via::Orm(db), username, &user_rows::all_columns()).await
}

/// [`find_active`], reading `id` and the columns `read` only (the others
/// hold placeholders, see `listing::Columns`).
pub async fn find_active_reading<C: ConnectionTrait>(
    via: Via<'_, C>,
    username: &str,
    read: &[user::Column],
) -> AppResult<user::Model> {
    user_rows::find_active(via, &username.trim().to_lowercase(), read)
        .await?
        .ok_or_else(|| AppError::NotFound(USER_NOT_FOUND.to_owned()))
}

/// The user called `username`, deleted or not, or `NOT_FOUND`.
pub async fn find_any(db: &impl ConnectionTrait, username: &str) -> AppResult<user::Model> {
    user::Entity::find()
        .filter(user::Column::Username.eq(username.trim().to_lowercase()))
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(USER_NOT_FOUND.to_owned()))
}

/// Whether `value` is free in `column`, ignoring the row `except` (the user
/// being edited). Soft-deleted users keep their names reserved.
pub async fn is_free(
    db: &impl ConnectionTrait,
    column: user::Column,
    value: &str,
    except: Option<i32>,
) -> AppResult<bool> {
    let mut query = user::Entity::find().filter(column.eq(value));
    if let Some(id) = except {
        query = query.filter(user::Column::Id.ne(id));
    }
    Ok(query.count(db).await? == 0)
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
