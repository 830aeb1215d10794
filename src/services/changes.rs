//! The change feed: how every instance learns that a session it cached has
//! gone stale (see [`crate::auth::session_cache`] for the guarantees).
//!
//! Writes go through [`super::write::Write`]: it appends the changes inside
//! the write's transaction ([`record`]), commits, and forgets the stale
//! sessions of this instance at once. Every instance runs [`poll`] on a
//! timer (the change-feed task in [`crate::tasks`]): it reads the head
//! number, then the entries it has not seen. The head row is locked from the
//! bump to the commit, so entries commit in number order with no holes; when
//! the entries it reads do not fill the range (pruned after a long outage),
//! the instance forgets every cached session instead of guessing.
//!
//! On PostgreSQL, [`record`] also sends a `NOTIFY` on [`CHANNEL`] (delivered
//! at commit) and each instance listens for it, so a change usually reaches
//! every instance within milliseconds instead of at the next tick.

use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, Set,
};

use crate::auth::session_cache::{Change, SessionCache};
use crate::entities::{auth_change, auth_change_head};
use crate::error::{AppError, AppResult};

/// Past this many unseen entries, forgetting everything is cheaper than
/// reading them.
const MAX_CATCH_UP: i64 = 10_000;

const HEAD_ID: i32 = 1;

/// The PostgreSQL channel that wakes every instance's poller.
pub const CHANNEL: &str = "usergraph_auth_change";

/// Append `changes` to the feed inside `txn`.
pub async fn record(txn: &DatabaseTransaction, changes: &[Change]) -> AppResult<()> {
    let Ok(count) = i64::try_from(changes.len()) else {
        return Err(AppError::internal("too many changes in one transaction"));
    };
    if count == 0 {
        return Ok(());
    }
    let head = auth_change_head::Entity::update_many()
        .col_expr(
            auth_change_head::Column::Seq,
            Expr::col(auth_change_head::Column::Seq).add(count),
        )
        .filter(auth_change_head::Column::Id.eq(HEAD_ID))
        .exec_with_returning(txn)
        .await?
        .first()
        .map(|row| row.seq)
        .ok_or_else(|| AppError::internal("the change feed has no head row"))?;
    let now = Utc::now();
    let rows = (head - count + 1..=head).zip(changes).map(|(seq, change)| {
        let (user_id, token_id) = match *change {
            Change::User(id) => (Some(id), None),
            Change::Token(jti) => (None, Some(jti)),
        };
        auth_change::ActiveModel {
            seq: Set(seq),
            user_id: Set(user_id),
            token_id: Set(token_id),
            created_at: Set(now),
        }
    });
    auth_change::Entity::insert_many(rows)
        .exec_without_returning(txn)
        .await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!("NOTIFY {CHANNEL}")).await?;
    }
    Ok(())
}

/// Catch `cache` up with the feed.
pub async fn poll(db: &DatabaseConnection, cache: &SessionCache) -> AppResult<()> {
    let started = Instant::now();
    let head = head(db).await?;
    let seen = cache.seen();
    if head == seen {
        cache.synced(head, Some(&[]), started);
        return Ok(());
    }
    if head < seen || head - seen > MAX_CATCH_UP {
        cache.synced(head, None, started);
        return Ok(());
    }
    let rows = auth_change::Entity::find()
        .filter(auth_change::Column::Seq.gt(seen))
        .filter(auth_change::Column::Seq.lte(head))
        .order_by_asc(auth_change::Column::Seq)
        .all(db)
        .await?;
    let complete = i64::try_from(rows.len()).is_ok_and(|found| found == head - seen);
    if !complete {
        cache.synced(head, None, started);
        return Ok(());
    }
    let changes: Vec<Change> = rows
        .iter()
        .filter_map(|row| match (row.user_id, row.token_id) {
            (Some(id), _) => Some(Change::User(id)),
            (None, Some(jti)) => Some(Change::Token(jti)),
            (None, None) => None,
        })
        .collect();
    cache.synced(head, Some(&changes), started);
    Ok(())
}

async fn head(db: &impl ConnectionTrait) -> AppResult<i64> {
    auth_change_head::Entity::find_by_id(HEAD_ID)
        .one(db)
        .await?
        .map(|row| row.seq)
        .ok_or_else(|| AppError::internal("the change feed has no head row"))
}

/// Delete entries older than `retention` (`CHANGE_FEED_RETENTION`). Returns
/// how many.
pub async fn prune(db: &DatabaseConnection, retention: Duration) -> AppResult<u64> {
    let cutoff = Utc::now()
        - chrono::Duration::from_std(retention).unwrap_or_else(|_| chrono::Duration::hours(1));
    let result = auth_change::Entity::delete_many()
        .filter(auth_change::Column::CreatedAt.lt(cutoff))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
