//! Sessions this instance has already checked against the database, so an
//! authenticated read (`me`) costs no round trip.
//!
//! An entry says "access token `jti` belongs to this live user, as of then".
//! It is only as good as the change feed ([`crate::services::changes`]):
//! every write that could make an entry wrong (a revoked token, a changed,
//! demoted or deleted user) appends to the feed in its own transaction,
//! forgets the entries here at once, and every other instance forgets them
//! at its next poll. So:
//!
//! - on the instance that made a change, it holds from the next request on;
//! - on the others, within one poll interval (`CHANGE_POLL_INTERVAL`);
//! - if polling stops working, the cache stops answering after four missed
//!   polls (at least two seconds, so a busy machine does not flap) and every
//!   request goes to the database again;
//! - an entry lives at most `SESSION_CACHE_TTL`, which bounds what a hand
//!   edit of the database (outside the feed) can leave behind.
//!
//! A look-up that started before a change was forgotten must not put its
//! older answer back: [`SessionCache::ticket`] takes the cache's generation
//! before the database read, and [`SessionCache::fill`] drops the answer if
//! anything was forgotten in between.
//!
//! Times are passed in (`now`) so the rules can be tested without sleeping.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::entities::user;

/// What one change-feed entry makes stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Everything about this user (profile, rights, tier, password, deletion).
    User(i32),
    /// One access token, revoked.
    Token(Uuid),
}

/// Proof of the generation a database look-up started in.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

#[derive(Debug)]
struct Entry {
    user: user::Model,
    expires: Instant,
}

#[derive(Debug)]
struct Inner {
    entries: HashMap<Uuid, Entry>,
    /// Bumped by every forget, so fills that started earlier are dropped.
    generation: u64,
    /// The last change-feed number applied.
    seen: i64,
    /// When the last successful poll started.
    synced_at: Option<Instant>,
}

#[derive(Debug)]
pub struct SessionCache {
    inner: Mutex<Inner>,
    capacity: usize,
    ttl: Duration,
    /// How old the last successful poll may be for entries to be served.
    trust_for: Duration,
}

impl SessionCache {
    /// A cache of at most `capacity` sessions (0 turns it off), each kept at
    /// most `ttl`, trusted while a poll succeeded within four
    /// `poll_interval`s (and at least two seconds).
    #[must_use]
    pub fn new(capacity: usize, ttl: Duration, poll_interval: Duration) -> Self {
        Self {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                generation: 0,
                seen: 0,
                synced_at: None,
            }),
            capacity,
            ttl,
            trust_for: (poll_interval * 4).max(Duration::from_secs(2)),
        }
    }

    #[must_use]
    pub fn is_enabled(&self) -> bool {
        self.capacity > 0
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The map holds no invariant a panicking holder could break halfway.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn trusted(&self, inner: &Inner, now: Instant) -> bool {
        inner
            .synced_at
            .is_some_and(|synced| now.saturating_duration_since(synced) <= self.trust_for)
    }

    /// The user of access token `jti`, if this instance checked it recently
    /// and nothing since has made the answer stale.
    #[must_use]
    pub fn get(&self, jti: Uuid, now: Instant) -> Option<user::Model> {
        if !self.is_enabled() {
            return None;
        }
        let inner = self.lock();
        if !self.trusted(&inner, now) {
            return None;
        }
        inner
            .entries
            .get(&jti)
            .filter(|entry| entry.expires > now)
            .map(|entry| entry.user.clone())
    }

    /// Take before reading the database for [`fill`](Self::fill).
    #[must_use]
    pub fn ticket(&self) -> Ticket {
        Ticket(self.lock().generation)
    }

    /// Remember that `jti` belongs to `user`, unless something was forgotten
    /// since `ticket` was taken (the answer may predate that change).
    pub fn fill(&self, ticket: Ticket, jti: Uuid, user: user::Model, now: Instant) {
        if !self.is_enabled() {
            return;
        }
        let mut inner = self.lock();
        if inner.generation != ticket.0 || !self.trusted(&inner, now) {
            return;
        }
        if inner.entries.len() >= self.capacity {
            inner.entries.retain(|_, entry| entry.expires > now);
            if inner.entries.len() >= self.capacity {
                inner.entries.clear();
            }
        }
        let expires = now + self.ttl;
        inner.entries.insert(jti, Entry { user, expires });
    }

    /// Forget what `changes` make stale.
    pub fn forget(&self, changes: &[Change]) {
        if changes.is_empty() {
            return;
        }
        let mut inner = self.lock();
        inner.generation += 1;
        for change in changes {
            match *change {
                Change::Token(jti) => {
                    inner.entries.remove(&jti);
                }
                Change::User(id) => inner.entries.retain(|_, entry| entry.user.id != id),
            }
        }
    }

    /// The last change-feed number applied.
    #[must_use]
    pub fn seen(&self) -> i64 {
        self.lock().seen
    }

    /// When the last successful poll started (`None` before the first):
    /// how stale this instance's view of the feed may be.
    #[must_use]
    pub fn synced_at(&self) -> Option<Instant> {
        self.lock().synced_at
    }

    /// A poll that started at `started` found `changes`, the feed up to
    /// `head`; `None` when some were missing (pruned or rolled back), which
    /// forgets everything.
    pub fn synced(&self, head: i64, changes: Option<&[Change]>, started: Instant) {
        match changes {
            Some(changes) => self.forget(changes),
            None => self.forget_all(),
        }
        let mut inner = self.lock();
        inner.seen = head;
        if inner.synced_at.is_none_or(|synced| synced < started) {
            inner.synced_at = Some(started);
        }
    }

    pub fn forget_all(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.entries.clear();
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i32) -> user::Model {
        user::Model::sample(id, &format!("user{id}"), false)
    }

    const POLL: Duration = Duration::from_millis(250);

    fn synced_cache(now: Instant) -> SessionCache {
        let cache = SessionCache::new(3, Duration::from_secs(60), POLL);
        cache.synced(0, Some(&[]), now);
        cache
    }

    #[test]
    fn a_filled_session_is_served_until_its_user_changes() {
        let now = Instant::now();
        let cache = synced_cache(now);
        let (jti, other) = (Uuid::new_v4(), Uuid::new_v4());
        cache.fill(cache.ticket(), jti, user(1), now);
        cache.fill(cache.ticket(), other, user(2), now);
        assert_eq!(cache.get(jti, now).map(|user| user.id), Some(1));

        cache.forget(&[Change::User(1)]);
        assert!(cache.get(jti, now).is_none());
        assert_eq!(cache.get(other, now).map(|user| user.id), Some(2));

        cache.forget(&[Change::Token(other)]);
        assert!(cache.get(other, now).is_none());
    }

    #[test]
    fn a_look_up_that_raced_a_change_is_not_cached() {
        let now = Instant::now();
        let cache = synced_cache(now);
        let jti = Uuid::new_v4();
        let ticket = cache.ticket();
        // The database read happens here; a change is forgotten meanwhile.
        cache.forget(&[Change::User(7)]);
        cache.fill(ticket, jti, user(1), now);
        assert!(cache.get(jti, now).is_none());
        cache.fill(cache.ticket(), jti, user(1), now);
        assert!(cache.get(jti, now).is_some());
    }

    #[test]
    fn nothing_is_served_once_polling_has_stopped_working() {
        let start = Instant::now();
        let cache = synced_cache(start);
        let jti = Uuid::new_v4();
        cache.fill(cache.ticket(), jti, user(1), start);
        assert!(
            cache
                .get(jti, start + Duration::from_millis(1900))
                .is_some()
        );
        let later = start + Duration::from_millis(2100);
        assert!(cache.get(jti, later).is_none());
        cache.synced(0, Some(&[]), later);
        assert!(cache.get(jti, later).is_some());
    }

    #[test]
    fn an_unsynced_cache_serves_nothing_and_keeps_nothing() {
        let now = Instant::now();
        let cache = SessionCache::new(3, Duration::from_secs(60), POLL);
        let jti = Uuid::new_v4();
        cache.fill(cache.ticket(), jti, user(1), now);
        assert!(cache.is_empty());
        assert!(cache.get(jti, now).is_none());
    }

    #[test]
    fn entries_expire_and_the_size_is_bounded() {
        let now = Instant::now();
        let cache = synced_cache(now);
        let jti = Uuid::new_v4();
        cache.fill(cache.ticket(), jti, user(1), now);
        assert!(cache.get(jti, now + Duration::from_secs(61)).is_none());
        for id in 0..10 {
            cache.fill(cache.ticket(), Uuid::new_v4(), user(id), now);
            assert!(cache.len() <= 3);
        }
    }

    #[test]
    fn a_gap_in_the_feed_forgets_everything() {
        let now = Instant::now();
        let cache = synced_cache(now);
        cache.fill(cache.ticket(), Uuid::new_v4(), user(1), now);
        cache.synced(5, None, now);
        assert!(cache.is_empty());
        assert_eq!(cache.seen(), 5);
    }

    #[test]
    fn a_cache_of_size_zero_is_off() {
        let now = Instant::now();
        let cache = SessionCache::new(0, Duration::from_secs(60), POLL);
        cache.synced(0, Some(&[]), now);
        let jti = Uuid::new_v4();
        cache.fill(cache.ticket(), jti, user(1), now);
        assert!(cache.get(jti, now).is_none());
    }
}
