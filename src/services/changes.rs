//! The change feed: how every instance learns that a session it cached has
//! gone stale (see [`crate::auth::session_cache`] for the guarantees).
//!
//! Writers call [`commit`]: it appends the changes inside their transaction,
//! commits, and forgets the stale sessions of this instance at once. Every
//! instance runs [`poll`] on a timer: it reads the head number, then the
//! entries it has not seen. The head row is locked from the bump to the
//! commit, so entries commit in number order with no holes; when the entries
//! it reads do not fill the range (pruned after a long outage), the instance
//! forgets every cached session instead of guessing.
//!
//! On PostgreSQL, [`record`] also sends a `NOTIFY` (delivered at commit) and
//! each instance listens for it, so a change usually reaches every instance
//! within milliseconds instead of at the next tick. The notification is only
//! a wake-up call: the feed stays the source of truth, so a notification
//! lost with a dropped connection costs at most one poll interval.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, Set,
};
use tokio::sync::Notify;

use crate::auth::session_cache::{Change, SessionCache};
use crate::entities::{auth_change, auth_change_head};
use crate::error::{AppError, AppResult};
use crate::state::AppContext;

/// How long entries stay in the feed. An instance that could not poll for
/// longer finds a hole and forgets everything.
pub const RETENTION: Duration = Duration::from_secs(60 * 60);

/// Past this many unseen entries, forgetting everything is cheaper than
/// reading them.
const MAX_CATCH_UP: i64 = 10_000;

const HEAD_ID: i32 = 1;

/// The PostgreSQL channel that wakes every instance's poller.
const CHANNEL: &str = "usergraph_auth_change";

/// How long a lost listener waits before it connects again.
const LISTENER_RETRY: Duration = Duration::from_secs(1);

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

/// Record `changes`, commit `txn`, and forget the stale sessions here.
pub async fn commit(
    ctx: &AppContext,
    txn: DatabaseTransaction,
    changes: &[Change],
) -> AppResult<()> {
    record(&txn, changes).await?;
    txn.commit().await?;
    ctx.sessions.forget(changes);
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

/// Poll every `interval`, and on PostgreSQL (`listen_url`) also as soon as
/// a change is notified, while the cache is in use: the task ends when the
/// last context holding the cache is gone. The listener is subscribed
/// before this returns, so no change made after start-up is missed.
pub async fn start_poller(
    db: DatabaseConnection,
    cache: &Arc<SessionCache>,
    interval: Duration,
    listen_url: Option<String>,
) {
    let cache = Arc::downgrade(cache);
    let wake = Arc::new(Notify::new());
    if let Some(url) = listen_url {
        let first = match subscribe(&url).await {
            Ok(listener) => Some(listener),
            Err(error) => {
                tracing::warn!(%error, "cannot listen for changes; polling on the timer");
                None
            }
        };
        spawn_listener(url, first, Arc::downgrade(&wake));
    }
    tokio::spawn(async move {
        // The first poll ran at start-up; the next is one interval later.
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = wake.notified() => {}
            }
            let Some(cache) = cache.upgrade() else {
                break;
            };
            if let Err(error) = poll(&db, &cache).await {
                tracing::warn!(%error, "could not read the change feed; cached sessions expire");
            }
        }
    });
}

async fn subscribe(url: &str) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Wake the poller on every notification on [`CHANNEL`], subscribing again
/// after a lost connection, until the poller is gone.
fn spawn_listener(url: String, first: Option<PgListener>, wake: Weak<Notify>) {
    tokio::spawn(async move {
        let mut next = first;
        while wake.strong_count() > 0 {
            let result = match next.take() {
                Some(listener) => listen(listener, &wake).await,
                None => match subscribe(&url).await {
                    // Changes made while unsubscribed were caught by the
                    // timer; wake the poller once in case one was missed.
                    Ok(listener) => {
                        if let Some(wake) = wake.upgrade() {
                            wake.notify_one();
                        }
                        listen(listener, &wake).await
                    }
                    Err(error) => Err(error),
                },
            };
            if let Err(error) = result {
                tracing::debug!(%error, "change-feed listener lost; polling on the timer meanwhile");
            }
            tokio::time::sleep(LISTENER_RETRY).await;
        }
    });
}

async fn listen(mut listener: PgListener, wake: &Weak<Notify>) -> Result<(), sea_orm::sqlx::Error> {
    loop {
        listener.recv().await?;
        let Some(wake) = wake.upgrade() else {
            return Ok(());
        };
        // Stores a permit if the poller is busy: a burst is one more poll.
        wake.notify_one();
    }
}

/// Delete entries older than [`RETENTION`]. Returns how many.
pub async fn prune(db: &DatabaseConnection) -> AppResult<u64> {
    let cutoff = Utc::now() - RETENTION;
    let result = auth_change::Entity::delete_many()
        .filter(auth_change::Column::CreatedAt.lt(cutoff))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
