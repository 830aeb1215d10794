//! The session rows: opened at login, rotated at each refresh, ended by a
//! logout, a revocation, a password change, a deletion or a replayed
//! refresh token, listed for their owner, purged once useless.
//!
//! The refresh chain lives on the row: `refresh_jti` is the one refresh
//! token that may be used next. Using it swaps in a new pair with one
//! conditional `UPDATE … WHERE refresh_jti = <presented>`, so of several
//! racing uses exactly one rotates the chain. The others, and any retry
//! within `REFRESH_REUSE_GRACE` of that rotation, find their token as the
//! row's `previous_refresh_jti` and are answered with the same new pair:
//! two tabs refreshing at once, or a response lost on a bad network, do
//! not log the user out. A refresh token presented later than that, or one
//! from further back in the chain, can only be a copy: the whole session
//! ends, on every instance.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

use serde_json::json;

use super::audit::{self, EventType};
use super::write::{Actor, Write};
use crate::entities::session;
use crate::error::{AppError, AppResult};
use crate::state::AppContext;

pub const SESSION_NOT_FOUND: &str = "Session not found";

/// The most sessions a listing shows (the newest).
pub const MAX_LISTED: u64 = 100;

/// Why a session ended, as stored in `end_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Logout,
    /// Ended from another session of the user, or by a superuser.
    Revoked,
    /// A used refresh token was presented again after the grace period.
    RefreshTokenReused,
    PasswordChanged,
    UserDeleted,
}

impl EndReason {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::Revoked => "revoked",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::PasswordChanged => "password_changed",
            Self::UserDeleted => "user_deleted",
        }
    }
}

fn after(start: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(duration)
        .ok()
        .and_then(|duration| start.checked_add_signed(duration))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Open a session for `user_id` in `write`, from the actor's address and
/// user agent, ending `max_age` from now.
pub async fn open(write: &Write<'_>, user_id: i32, max_age: Duration) -> AppResult<session::Model> {
    let now = Utc::now();
    let origin = write.actor().origin();
    let row = session::ActiveModel {
        id: Set(Uuid::new_v4()),
        user_id: Set(user_id),
        created_at: Set(now),
        last_used_at: Set(now),
        expires_at: Set(after(now, max_age)),
        user_agent: Set(origin.user_agent.clone()),
        ip_address: Set(origin.ip.map(|ip| ip.to_string())),
        refresh_jti: Set(Uuid::new_v4()),
        access_jti: Set(Uuid::new_v4()),
        previous_refresh_jti: Set(None),
        rotated_at: Set(now),
        ended_at: Set(None),
        end_reason: Set(None),
    };
    Ok(row.insert(write.db()).await?)
}

/// What presenting a refresh token did to its session.
#[derive(Debug)]
pub enum Rotation {
    /// The token was the live one: the session has a new pair.
    Rotated(session::Model),
    /// The token was used moments ago (within the grace): answer with the
    /// pair that use produced.
    Repeated(session::Model),
    /// The token was used long ago, or is older still: the session ended.
    Reused(session::Model),
    /// No such live session (ended, expired, or never this user's).
    Dead,
}

/// Use refresh token `jti` of session `sid`, which belongs to `user_id`.
pub async fn rotate(
    write: &mut Write<'_>,
    sid: Uuid,
    user_id: i32,
    jti: Uuid,
    grace: Duration,
) -> AppResult<Rotation> {
    let now = Utc::now();
    let rotated = session::Entity::update_many()
        .col_expr(session::Column::RefreshJti, Expr::value(Uuid::new_v4()))
        .col_expr(session::Column::AccessJti, Expr::value(Uuid::new_v4()))
        .col_expr(session::Column::PreviousRefreshJti, Expr::value(Some(jti)))
        .col_expr(session::Column::RotatedAt, Expr::value(now))
        .col_expr(session::Column::LastUsedAt, Expr::value(now))
        .filter(session::Column::Id.eq(sid))
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::RefreshJti.eq(jti))
        .filter(session::Column::EndedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(now))
        .exec(write.db())
        .await?;
    let Some(row) = session::Entity::find_by_id(sid)
        .filter(session::Column::UserId.eq(user_id))
        .one(write.db())
        .await?
    else {
        return Ok(Rotation::Dead);
    };
    if rotated.rows_affected == 1 {
        return Ok(Rotation::Rotated(row));
    }
    if row.ended_at.is_some() || row.expires_at <= now {
        return Ok(Rotation::Dead);
    }
    if row.previous_refresh_jti == Some(jti) && now <= after(row.rotated_at, grace) {
        return Ok(Rotation::Repeated(row));
    }
    end(write, &row, EndReason::RefreshTokenReused).await?;
    audit::record(
        write,
        EventType::SessionReuseDetected,
        Some(user_id),
        json!({ "sessionId": sid }),
    )
    .await?;
    Ok(Rotation::Reused(row))
}

/// An update that ends sessions now, for `reason`; callers add which.
fn ending(reason: EndReason) -> sea_orm::UpdateMany<session::Entity> {
    session::Entity::update_many()
        .col_expr(session::Column::EndedAt, Expr::value(Some(Utc::now())))
        .col_expr(
            session::Column::EndReason,
            Expr::value(Some(reason.as_str().to_owned())),
        )
}

/// End `row` (if it is still live) and forget its cached tokens everywhere.
pub async fn end(
    write: &mut Write<'_>,
    row: &session::Model,
    reason: EndReason,
) -> AppResult<bool> {
    let ended = ending(reason)
        .filter(session::Column::Id.eq(row.id))
        .filter(session::Column::EndedAt.is_null())
        .exec(write.db())
        .await?;
    // Cached access tokens are remembered per token, not per session: the
    // owner's are all looked at again, which costs one query each.
    write.user_changed(row.user_id);
    Ok(ended.rows_affected == 1)
}

/// End the live session `sid` of `user_id`; `false` when there is none
/// (another user's session is as unknown as a made-up id).
pub async fn end_of_user(
    write: &mut Write<'_>,
    user_id: i32,
    sid: Uuid,
    reason: EndReason,
) -> AppResult<bool> {
    let row = live(user_id)
        .filter(session::Column::Id.eq(sid))
        .one(write.db())
        .await?;
    match row {
        Some(row) => end(write, &row, reason).await,
        None => Ok(false),
    }
}

/// End every live session of `user_id` but `except`; how many ended.
pub async fn end_all(
    write: &mut Write<'_>,
    user_id: i32,
    except: Option<Uuid>,
    reason: EndReason,
) -> AppResult<u64> {
    let mut query = ending(reason)
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::EndedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(Utc::now()));
    if let Some(except) = except {
        query = query.filter(session::Column::Id.ne(except));
    }
    let ended = query.exec(write.db()).await?.rows_affected;
    if ended > 0 {
        write.user_changed(user_id);
    }
    Ok(ended)
}

/// The live sessions of `user_id`.
fn live(user_id: i32) -> sea_orm::Select<session::Entity> {
    session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .filter(session::Column::EndedAt.is_null())
        .filter(session::Column::ExpiresAt.gt(Utc::now()))
}

/// The live sessions of `user_id`, newest first (at most [`MAX_LISTED`]).
pub async fn list(db: &impl ConnectionTrait, user_id: i32) -> AppResult<Vec<session::Model>> {
    Ok(live(user_id)
        .order_by_desc(session::Column::CreatedAt)
        .order_by_desc(session::Column::Id)
        .limit(MAX_LISTED)
        .all(db)
        .await?)
}

/// Delete sessions that can no longer matter: past their absolute end, or
/// ended longer ago than a refresh token lives (`keep_ended`), after which
/// a replay of one of their tokens fails its own expiry check anyway.
pub async fn purge(db: &impl ConnectionTrait, keep_ended: Duration) -> AppResult<u64> {
    let now = Utc::now();
    let ended_before = chrono::Duration::from_std(keep_ended)
        .ok()
        .and_then(|keep| now.checked_sub_signed(keep))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let result = session::Entity::delete_many()
        .filter(
            sea_orm::Condition::any()
                .add(session::Column::ExpiresAt.lt(now))
                .add(session::Column::EndedAt.lt(ended_before)),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// End the live session `sid` of `user_id` as a revocation, in a write of
/// its own: `NOT_FOUND` when it is not one of theirs.
pub async fn revoke(ctx: &AppContext, actor: &Actor, user_id: i32, sid: Uuid) -> AppResult<()> {
    let mut write = Write::begin(ctx, actor).await?;
    if !end_of_user(&mut write, user_id, sid, EndReason::Revoked).await? {
        return Err(AppError::NotFound(SESSION_NOT_FOUND.to_owned()));
    }
    audit::record(
        &mut write,
        EventType::SessionRevoked,
        Some(user_id),
        json!({ "sessionId": sid, "count": 1 }),
    )
    .await?;
    write.commit().await
}

/// End every live session of `user_id` but `except`, as revocations, in a
/// write of its own; how many ended.
pub async fn revoke_all(
    ctx: &AppContext,
    actor: &Actor,
    user_id: i32,
    except: Option<Uuid>,
) -> AppResult<u64> {
    let mut write = Write::begin(ctx, actor).await?;
    let ended = end_all(&mut write, user_id, except, EndReason::Revoked).await?;
    if ended > 0 {
        audit::record(
            &mut write,
            EventType::SessionRevoked,
            Some(user_id),
            json!({ "count": ended }),
        )
        .await?;
    }
    write.commit().await?;
    Ok(ended)
}
