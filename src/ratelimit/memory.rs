//! The in-process store: an exact sliding-window log per key.
//!
//! Each key keeps the instants of the calls it allowed within the last
//! period, so no window of that length ever holds more than `limit` calls
//! (a fixed window would allow two bursts around its boundary). Memory is
//! bounded by `limit` instants per active key; idle keys are swept now and
//! then.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{Decision, Rule};

/// Sweep idle keys once every this many checks.
const SWEEP_EVERY: u64 = 1024;

#[derive(Default)]
pub struct MemoryStore {
    windows: Mutex<HashMap<String, Window>>,
    checks: AtomicU64,
}

struct Window {
    allowed_at: VecDeque<Instant>,
    period: Duration,
}

impl MemoryStore {
    /// Count one call against `key` now.
    pub fn check(&self, key: &str, rule: Rule) -> Decision {
        self.check_at(key, rule, Instant::now())
    }

    /// Drop the counters of `keys`.
    pub fn forget(&self, keys: &[String]) {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for key in keys {
            windows.remove(key);
        }
    }

    pub(crate) fn check_at(&self, key: &str, rule: Rule, now: Instant) -> Decision {
        // A poisoned lock only means another thread panicked mid-check; the
        // log is still a valid log.
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            windows.retain(|_, window| {
                window
                    .allowed_at
                    .back()
                    .is_some_and(|last| now.saturating_duration_since(*last) < window.period)
            });
        }
        let window = windows.entry(key.to_owned()).or_insert_with(|| Window {
            allowed_at: VecDeque::new(),
            period: rule.period,
        });
        window.period = rule.period;
        while window
            .allowed_at
            .front()
            .is_some_and(|first| now.saturating_duration_since(*first) >= rule.period)
        {
            window.allowed_at.pop_front();
        }
        let used = u32::try_from(window.allowed_at.len()).unwrap_or(u32::MAX);
        let allowed = used < rule.limit;
        if allowed {
            window.allowed_at.push_back(now);
        }
        let frees_at = window
            .allowed_at
            .front()
            .map_or(now, |first| *first + rule.period);
        Decision {
            allowed,
            limit: rule.limit,
            remaining: rule.limit.saturating_sub(used + u32::from(allowed)),
            reset: frees_at.saturating_duration_since(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(limit: u32, seconds: u64) -> Rule {
        Rule {
            limit,
            period: Duration::from_secs(seconds),
        }
    }

    #[test]
    fn allows_the_limit_then_refuses_until_the_oldest_call_leaves_the_window() {
        let store = MemoryStore::default();
        let start = Instant::now();
        for expected_remaining in [2, 1, 0] {
            let decision = store.check_at("k", rule(3, 60), start);
            assert!(decision.allowed);
            assert_eq!(decision.remaining, expected_remaining);
        }
        let refused = store.check_at("k", rule(3, 60), start + Duration::from_secs(59));
        assert!(!refused.allowed);
        assert_eq!(refused.reset, Duration::from_secs(1));
        assert!(
            store
                .check_at("k", rule(3, 60), start + Duration::from_secs(60))
                .allowed
        );
    }

    #[test]
    fn no_double_burst_at_a_window_boundary() {
        let store = MemoryStore::default();
        let start = Instant::now();
        // Three calls late in one minute...
        for _ in 0..3 {
            assert!(
                store
                    .check_at("k", rule(3, 60), start + Duration::from_secs(59))
                    .allowed
            );
        }
        // ...and none early in the next, because the window slides.
        let early = store.check_at("k", rule(3, 60), start + Duration::from_secs(61));
        assert!(!early.allowed);
        assert_eq!(early.reset, Duration::from_secs(58));
    }

    #[test]
    fn keys_are_independent() {
        let store = MemoryStore::default();
        let now = Instant::now();
        assert!(store.check_at("a", rule(1, 60), now).allowed);
        assert!(!store.check_at("a", rule(1, 60), now).allowed);
        assert!(store.check_at("b", rule(1, 60), now).allowed);
    }
}
