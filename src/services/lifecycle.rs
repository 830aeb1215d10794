//! An account's life after registration: soft deletion, restoring,
//! permanent removal, tiers and the superuser flag.
//!
//! Operations that could remove the last active superuser run in a
//! transaction that first takes a lock all such operations share (an
//! advisory lock on PostgreSQL; the write lock on SQLite, taken by a no-op
//! write so the transaction waits instead of failing). Two superusers
//! deleting each other at once therefore cannot leave nobody in charge.
//!
//! Every change here can end or alter sessions, so it goes into the change
//! feed with the write.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, Set,
};

use super::audit::{self, EventType};
use super::session_store::{self, EndReason};
use super::users;
use super::write::{Actor, Write};
use serde_json::json;

use crate::entities::{post, tier, token_blacklist, user};
use crate::error::{AppError, AppResult};
use crate::state::AppContext;

pub const LAST_SUPERUSER: &str = "The last superuser cannot be deleted or demoted";
pub const TIER_NOT_FOUND: &str = "Tier not found";

/// Key of the advisory lock serialising superuser removals on PostgreSQL.
const SUPERUSER_LOCK_KEY: i64 = 0x7375_7065_7275_7372;

async fn lock_superusers(txn: &DatabaseTransaction) -> AppResult<()> {
    let statement = match txn.get_database_backend() {
        DbBackend::Postgres => format!("SELECT pg_advisory_xact_lock({SUPERUSER_LOCK_KEY})"),
        _ => r#"UPDATE "user" SET id = id WHERE 1 = 0"#.to_owned(),
    };
    txn.execute_unprepared(&statement).await?;
    Ok(())
}

/// Refuse when `target` is the only active superuser.
async fn ensure_not_last_superuser(
    txn: &DatabaseTransaction,
    target: &user::Model,
) -> AppResult<()> {
    if !target.is_superuser || target.is_deleted {
        return Ok(());
    }
    let others = user::Entity::find()
        .filter(user::Column::IsSuperuser.eq(true))
        .filter(user::Column::IsDeleted.eq(false))
        .filter(user::Column::Id.ne(target.id))
        .count(txn)
        .await?;
    if others == 0 {
        return Err(AppError::Forbidden(LAST_SUPERUSER.to_owned()));
    }
    Ok(())
}

/// Soft-delete the active user `username`: they can no longer log in,
/// refresh, or use any earlier token, and those tokens stay dead when the
/// user is restored (the token version moves on); their username and email
/// stay taken.
pub async fn soft_delete(
    ctx: &AppContext,
    actor: &Actor,
    username: &str,
) -> AppResult<user::Model> {
    let mut write = Write::begin(ctx, actor).await?;
    lock_superusers(write.db()).await?;
    let target = users::find_active(write.db(), username).await?;
    ensure_not_last_superuser(write.db(), &target).await?;
    let token_version = target.token_version.wrapping_add(1);
    let mut row = target.into_active_model();
    let now = Utc::now();
    row.token_version = Set(token_version);
    row.is_deleted = Set(true);
    row.deleted_at = Set(Some(now));
    row.updated_at = Set(now);
    let deleted = row.update(write.db()).await?;
    session_store::end_all(&mut write, deleted.id, None, EndReason::UserDeleted).await?;
    write.user_changed(deleted.id);
    audit::record(
        &mut write,
        EventType::UserDeleted,
        Some(deleted.id),
        json!({}),
    )
    .await?;
    write.commit().await?;
    Ok(deleted)
}

/// Undo a soft delete. Restoring an active user changes nothing.
pub async fn restore(ctx: &AppContext, actor: &Actor, username: &str) -> AppResult<user::Model> {
    let mut write = Write::begin(ctx, actor).await?;
    let target = users::find_any(write.db(), username).await?;
    if !target.is_deleted {
        return Ok(target);
    }
    let mut row = target.into_active_model();
    row.is_deleted = Set(false);
    row.deleted_at = Set(None);
    row.updated_at = Set(Utc::now());
    let restored = row.update(write.db()).await?;
    write.user_changed(restored.id);
    audit::record(
        &mut write,
        EventType::UserRestored,
        Some(restored.id),
        json!({}),
    )
    .await?;
    write.commit().await?;
    Ok(restored)
}

/// Remove `username` and everything that belongs to it, all or nothing.
/// Tokens of the removed user stop working because their subject no longer
/// exists.
pub async fn delete_permanently(
    ctx: &AppContext,
    actor: &Actor,
    username: &str,
) -> AppResult<user::Model> {
    let mut write = Write::begin(ctx, actor).await?;
    lock_superusers(write.db()).await?;
    let target = users::find_any(write.db(), username).await?;
    ensure_not_last_superuser(write.db(), &target).await?;
    post::Entity::delete_many()
        .filter(post::Column::CreatedByUserId.eq(target.id))
        .exec(write.db())
        .await?;
    token_blacklist::Entity::delete_many()
        .filter(token_blacklist::Column::UserId.eq(target.id))
        .exec(write.db())
        .await?;
    user::Entity::delete_by_id(target.id)
        .exec(write.db())
        .await?;
    write.user_changed(target.id);
    // The trail stays, without who it was (see `audit::redact_user`).
    audit::redact_user(&write, target.id).await?;
    audit::record(
        &mut write,
        EventType::UserPurged,
        Some(target.id),
        json!({}),
    )
    .await?;
    write.commit().await?;
    Ok(target)
}

/// Put the active user `username` on tier `tier_id`, or on none.
pub async fn set_tier(
    ctx: &AppContext,
    actor: &Actor,
    username: &str,
    tier_id: Option<i32>,
) -> AppResult<user::Model> {
    let mut write = Write::begin(ctx, actor).await?;
    let target = users::find_active(write.db(), username).await?;
    if let Some(id) = tier_id
        && tier::Entity::find_by_id(id)
            .one(write.db())
            .await?
            .is_none()
    {
        return Err(AppError::NotFound(TIER_NOT_FOUND.to_owned()));
    }
    let previous_tier = target.tier_id;
    let mut row = target.into_active_model();
    row.tier_id = Set(tier_id);
    row.updated_at = Set(Utc::now());
    let updated = row
        .update(write.db())
        .await
        .map_err(|error| match error.sql_err() {
            // The tier was deleted between the check and the update.
            Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_)) => {
                AppError::NotFound(TIER_NOT_FOUND.to_owned())
            }
            _ => AppError::from(error),
        })?;
    write.user_changed(updated.id);
    audit::record(
        &mut write,
        EventType::TierChanged,
        Some(updated.id),
        json!({ "fromTierId": previous_tier, "toTierId": tier_id }),
    )
    .await?;
    write.commit().await?;
    Ok(updated)
}

/// Grant or take away superuser rights; the last superuser keeps them.
pub async fn set_superuser(
    ctx: &AppContext,
    actor: &Actor,
    username: &str,
    is_superuser: bool,
) -> AppResult<user::Model> {
    let mut write = Write::begin(ctx, actor).await?;
    lock_superusers(write.db()).await?;
    let target = users::find_active(write.db(), username).await?;
    if !is_superuser {
        ensure_not_last_superuser(write.db(), &target).await?;
    }
    let mut row = target.into_active_model();
    row.is_superuser = Set(is_superuser);
    row.updated_at = Set(Utc::now());
    let updated = row.update(write.db()).await?;
    write.user_changed(updated.id);
    audit::record(
        &mut write,
        EventType::SuperuserChanged,
        Some(updated.id),
        json!({ "isSuperuser": is_superuser }),
    )
    .await?;
    write.commit().await?;
    Ok(updated)
}
