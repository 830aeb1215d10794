//! The live audit feed behind GraphQL subscriptions: every instance reads
//! the `audit_event` table forward and hands each new event to its own
//! subscribers through a broadcast channel. Reading the table (rather than
//! passing events between processes) is what makes an event recorded on
//! another instance arrive too, with no broker beyond the database.
//!
//! The reader ([`AuditTail`]) goes by event id. On SQLite writes take turns
//! (`BEGIN IMMEDIATE`), so ids commit in order. On PostgreSQL an id is
//! drawn at insert and two writes may commit out of order: an id below the
//! highest one seen may still appear. The tail therefore remembers the ids
//! it skipped and asks for them again at each poll, for [`GAP_GRACE`]; an
//! id still missing then belonged to a rolled-back write (or one open for
//! longer than that, whose event is then not streamed; it stays in the
//! log).
//!
//! The feed only reads while somebody listens: with no subscriber the task
//! in `tasks::audit_feed` sleeps until one arrives, so an idle server (and
//! the benchmark) pays nothing. A write on this instance wakes the reader
//! at commit; on PostgreSQL the change feed's notification (sent by writes
//! that end or alter sessions: logouts, revocations, password changes)
//! wakes it on every instance, so the events that close sockets travel
//! fastest. Other instances' events are otherwise found by the next poll
//! (`CHANGE_POLL_INTERVAL`, 100 ms). A `NOTIFY` of its own for every event
//! would cut that delay, but it would cost every write that records one (a
//! login, first of all) a notification on every deployment, subscribers or
//! not; a tenth of a second for a live view of the log did not seem worth
//! it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::Stream;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::{Notify, broadcast};

use super::audit::AuditFilter;
use crate::auth::caller::Freshness;
use crate::auth::session_watch::{Liveness, SessionWatch};
use crate::entities::{audit_event, user};
use crate::error::AppResult;
use crate::state::AppContext;

/// How long an id skipped by the tail is asked for again before it is
/// taken for a rolled-back write.
pub const GAP_GRACE: Duration = Duration::from_secs(10);

/// Events one read takes; a full read is followed by another at once.
const READ_BATCH: u64 = 256;

/// Events a slow subscriber may fall behind by before it misses some.
const CHANNEL_CAPACITY: usize = 1024;

/// At most this many skipped ids are remembered (the oldest go first).
const MAX_MISSING: usize = 4096;

/// An event as every subscriber receives it.
pub type FeedEvent = Arc<audit_event::Model>;

/// One instance's feed: the channel subscribers listen on, and how they
/// wake the reader.
pub struct AuditFeed {
    sender: broadcast::Sender<FeedEvent>,
    wake: Notify,
    /// The lowest event id a subscriber that arrived while the reader was
    /// idle has already seen: where the reader starts again.
    start_after: Mutex<Option<i64>>,
}

impl Default for AuditFeed {
    fn default() -> Self {
        Self::new()
    }
}

impl AuditFeed {
    #[must_use]
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(CHANNEL_CAPACITY);
        Self {
            sender,
            wake: Notify::new(),
            start_after: Mutex::new(None),
        }
    }

    /// Listen for events recorded from now on. The receiver exists before
    /// the newest id is read, so nothing committed after that read is
    /// missed, whether the reader was running or idle.
    pub async fn subscribe(
        &self,
        db: &impl ConnectionTrait,
    ) -> AppResult<broadcast::Receiver<FeedEvent>> {
        let receiver = self.sender.subscribe();
        let newest = newest_id(db).await?;
        {
            let mut start = self
                .start_after
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            *start = Some(start.map_or(newest, |earlier| earlier.min(newest)));
        }
        self.wake.notify_one();
        Ok(receiver)
    }

    /// Whether anybody listens.
    #[must_use]
    pub fn has_subscribers(&self) -> bool {
        self.sender.receiver_count() > 0
    }

    /// Events were committed on this instance: read them now rather than
    /// at the next poll (when anybody listens).
    pub fn wake(&self) {
        if self.has_subscribers() {
            self.wake.notify_one();
        }
    }

    /// Wait for [`Self::wake`] or a new subscriber.
    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Where a reader starting now begins, set by the subscribers that
    /// arrived since it last ran (taken once).
    pub fn take_start(&self) -> Option<i64> {
        self.start_after
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Hand `event` to every subscriber of this instance.
    pub fn publish(&self, event: audit_event::Model) {
        // No receiver left is not an error: the reader goes idle next turn.
        let _ = self.sender.send(Arc::new(event));
    }
}

/// The highest event id committed so far (0 for an empty log).
pub async fn newest_id(db: &impl ConnectionTrait) -> AppResult<i64> {
    let newest: Option<Option<i64>> = audit_event::Entity::find()
        .select_only()
        .column_as(audit_event::Column::Id.max(), "newest")
        .into_tuple()
        .one(db)
        .await?;
    Ok(newest.flatten().unwrap_or(0))
}

/// A reader's position in the log: the highest id read, and the ids below
/// it not seen yet (with when they were first missed).
#[derive(Debug)]
pub struct AuditTail {
    high: i64,
    missing: BTreeMap<i64, Instant>,
}

impl AuditTail {
    /// A reader that has seen every event up to `high`.
    #[must_use]
    pub fn after(high: i64) -> Self {
        Self {
            high,
            missing: BTreeMap::new(),
        }
    }

    /// Read what is new, and the skipped ids that have appeared since.
    /// Returns the events in id order, and whether there may be more.
    pub async fn read(
        &mut self,
        db: &impl ConnectionTrait,
    ) -> AppResult<(Vec<audit_event::Model>, bool)> {
        let mut rows = audit_event::Entity::find()
            .filter(audit_event::Column::Id.gt(self.high))
            .order_by_asc(audit_event::Column::Id)
            .limit(READ_BATCH)
            .all(db)
            .await?;
        let full = rows.len() as u64 == READ_BATCH;
        if !self.missing.is_empty() {
            let late = audit_event::Entity::find()
                .filter(audit_event::Column::Id.is_in(self.missing.keys().copied()))
                .all(db)
                .await?;
            rows.extend(late);
        }
        Ok((self.absorb(rows, Instant::now()), full))
    }

    /// Keep the rows not seen before, in id order, and update the position:
    /// ids jumped over become missing, missing ids found or too old are
    /// forgotten.
    pub fn absorb(
        &mut self,
        mut rows: Vec<audit_event::Model>,
        now: Instant,
    ) -> Vec<audit_event::Model> {
        rows.sort_by_key(|row| row.id);
        rows.dedup_by_key(|row| row.id);
        let mut fresh = Vec::with_capacity(rows.len());
        for row in rows {
            if row.id > self.high {
                for skipped in self.high + 1..row.id {
                    if self.missing.len() >= MAX_MISSING {
                        self.missing.pop_first();
                    }
                    self.missing.insert(skipped, now);
                }
                self.high = row.id;
                fresh.push(row);
            } else if self.missing.remove(&row.id).is_some() {
                fresh.push(row);
            }
        }
        self.missing
            .retain(|_, since| now.saturating_duration_since(*since) < GAP_GRACE);
        fresh
    }
}

/// Who may go on receiving a subscription's events, asked again whenever
/// an event about the subscriber arrives (a superuser demoted meanwhile
/// stops receiving `auditEvents`).
pub type StillAllowed = fn(&user::Model) -> bool;

/// The events of `receiver` that `filter` selects, for as long as the
/// subscriber's session lasts (see `auth::session_watch`): an event about
/// the subscriber is only delivered once the session has been checked
/// against the database, and the stream ends when the session has ended or
/// `allowed` says no.
pub fn live(
    app: AppContext,
    receiver: broadcast::Receiver<FeedEvent>,
    filter: AuditFilter,
    watch: Option<Arc<SessionWatch>>,
    allowed: StillAllowed,
) -> impl Stream<Item = FeedEvent> + Send + 'static {
    let state = (app, receiver, filter, watch);
    futures::stream::unfold(
        state,
        move |(app, mut receiver, filter, watch)| async move {
            loop {
                let received = match &watch {
                    Some(watch) => tokio::select! {
                        () = watch.ended() => return None,
                        received = receiver.recv() => received,
                    },
                    None => receiver.recv().await,
                };
                let event = match received {
                    Ok(event) => event,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "a slow subscriber missed audit events");
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                };
                if let Some(watch) = &watch
                    && watch.concerns(event.subject_user_id)
                {
                    match watch.check(&app, Freshness::Database).await {
                        Liveness::Ended => return None,
                        Liveness::Live(user) if !allowed(&user) => return None,
                        Liveness::Live(_) | Liveness::Unknown => {}
                    }
                }
                if filter.matches(&event) {
                    return Some((event, (app, receiver, filter, watch)));
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn event(id: i64) -> audit_event::Model {
        audit_event::Model {
            id,
            occurred_at: Utc::now(),
            event_type: "user.registered".to_owned(),
            actor_kind: "anonymous".to_owned(),
            actor_user_id: None,
            subject_user_id: None,
            ip: None,
            user_agent: None,
            request_id: None,
            details: "{}".to_owned(),
        }
    }

    fn ids(rows: &[audit_event::Model]) -> Vec<i64> {
        rows.iter().map(|row| row.id).collect()
    }

    #[test]
    fn new_events_are_handed_out_once_in_order() {
        let mut tail = AuditTail::after(10);
        let now = Instant::now();
        assert_eq!(ids(&tail.absorb(vec![event(12), event(11)], now)), [11, 12]);
        assert_eq!(ids(&tail.absorb(vec![event(12)], now)), Vec::<i64>::new());
        assert_eq!(ids(&tail.absorb(vec![event(9)], now)), Vec::<i64>::new());
    }

    #[test]
    fn an_event_committed_late_below_the_highest_still_arrives() {
        let mut tail = AuditTail::after(10);
        let now = Instant::now();
        assert_eq!(ids(&tail.absorb(vec![event(13)], now)), [13]);
        assert_eq!(tail.missing.keys().copied().collect::<Vec<_>>(), [11, 12]);
        let later = now + Duration::from_secs(1);
        assert_eq!(ids(&tail.absorb(vec![event(12)], later)), [12]);
        assert_eq!(ids(&tail.absorb(vec![event(12)], later)), Vec::<i64>::new());
    }

    #[test]
    fn a_gap_is_given_up_after_the_grace() {
        let mut tail = AuditTail::after(0);
        let now = Instant::now();
        tail.absorb(vec![event(2)], now);
        tail.absorb(Vec::new(), now + GAP_GRACE);
        assert!(tail.missing.is_empty());
        assert_eq!(
            ids(&tail.absorb(vec![event(1)], now + GAP_GRACE)),
            Vec::<i64>::new()
        );
    }
}
