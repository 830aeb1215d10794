//! Rate limiting: every root field, per user (or per IP when anonymous),
//! plus `login` per target account and per IP.
//!
//! The limiter counts in this process (one instance) or in Redis (any number
//! of instances). When Redis fails the server keeps answering; what limits do
//! meanwhile is `RATE_LIMIT_ON_STORE_ERROR` (default: count in memory, so
//! brute force stays bounded per instance instead of unbounded).

pub mod client_ip;
pub mod login;
pub mod mail;
pub mod memory;
pub mod redis;
pub mod request;
pub mod rules;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use client_ip::ClientIp;
pub use request::RequestLimits;

use crate::config::{LimitsConfig, OnStoreError};
use crate::error::{AppError, AppResult};
use memory::MemoryStore;
use redis::RedisStore;

/// At most `limit` calls in any window of `period`. Both are positive by
/// construction (see `rules::Rule::new`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub limit: u32,
    pub period: Duration,
}

/// The outcome of counting one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    /// Calls left in the current window after this one.
    pub remaining: u32,
    /// Until the oldest counted call leaves the window (one more slot frees).
    pub reset: Duration,
}

impl Decision {
    /// Whole seconds until a retry can succeed, at least one.
    #[must_use]
    pub fn retry_after(&self) -> u64 {
        let seconds = self.reset.as_secs() + u64::from(self.reset.subsec_nanos() > 0);
        seconds.max(1)
    }

    /// The error a refused call answers with.
    #[must_use]
    pub fn to_error(&self) -> AppError {
        AppError::RateLimited {
            retry_after: self.retry_after(),
        }
    }
}

pub struct RateLimiter {
    shared: Option<RedisStore>,
    local: MemoryStore,
    on_store_error: OnStoreError,
    store_down: AtomicBool,
}

impl RateLimiter {
    /// Counters in this process only.
    #[must_use]
    pub fn in_memory() -> Self {
        Self {
            shared: None,
            local: MemoryStore::default(),
            on_store_error: OnStoreError::Memory,
            store_down: AtomicBool::new(false),
        }
    }

    /// Redis when `REDIS_URL` is set, else memory.
    pub fn from_config(config: &LimitsConfig) -> AppResult<Self> {
        let shared = match &config.redis_url {
            Some(url) => Some(
                RedisStore::new(url, &config.redis_key_prefix, config.redis_timeout)
                    .map_err(AppError::Config)?,
            ),
            None => None,
        };
        Ok(Self {
            shared,
            on_store_error: config.on_store_error,
            ..Self::in_memory()
        })
    }

    /// Whether counters are shared through Redis.
    #[must_use]
    pub fn has_store(&self) -> bool {
        self.shared.is_some()
    }

    /// Whether the shared store (Redis) answers; `None` when there is none.
    pub async fn ping_store(&self) -> Option<Result<(), String>> {
        match &self.shared {
            Some(shared) => Some(shared.ping().await),
            None => None,
        }
    }

    /// Count one call against `key` under `rule`.
    pub async fn check(&self, key: &str, rule: Rule) -> Decision {
        let Some(shared) = &self.shared else {
            return self.local.check(key, rule);
        };
        match shared.check(key, rule).await {
            Ok(decision) => {
                if self.store_down.swap(false, Ordering::Relaxed) {
                    tracing::warn!("rate-limit store (Redis) reachable again");
                }
                decision
            }
            Err(error) => {
                if self.store_down.swap(true, Ordering::Relaxed) {
                    tracing::debug!(%error, "rate-limit store (Redis) still unreachable");
                } else {
                    tracing::error!(
                        %error,
                        on_store_error = ?self.on_store_error,
                        "rate-limit store (Redis) unreachable; serving on"
                    );
                }
                self.on_store_failure(key, rule)
            }
        }
    }

    /// Forget every counter kept for user `user_id` (their root-field calls,
    /// for each of `root_fields`, and their login account), so a removed
    /// account leaves nothing behind and a later account reusing the id
    /// starts afresh.
    pub async fn forget_user(&self, user_id: i32, root_fields: &[String]) {
        let mut keys: Vec<String> = root_fields
            .iter()
            .map(|field| user_field_key(field, user_id))
            .collect();
        keys.push(login_account_key(user_id));
        self.local.forget(&keys);
        if let Some(shared) = &self.shared
            && let Err(error) = shared.forget(&keys).await
        {
            tracing::warn!(%error, user_id, "could not delete the user's rate-limit counters in Redis");
        }
    }

    fn on_store_failure(&self, key: &str, rule: Rule) -> Decision {
        match self.on_store_error {
            OnStoreError::Memory => self.local.check(key, rule),
            OnStoreError::Allow => Decision {
                allowed: true,
                limit: rule.limit,
                remaining: rule.limit,
                reset: Duration::ZERO,
            },
            OnStoreError::Deny => Decision {
                allowed: false,
                limit: rule.limit,
                remaining: 0,
                reset: Duration::from_secs(1),
            },
        }
    }
}

/// The counter of root field `field` for logged-in user `user_id`.
#[must_use]
pub fn user_field_key(field: &str, user_id: i32) -> String {
    format!("field:{field}:user:{user_id}")
}

/// The counter of root field `field` for anonymous callers from `client`
/// (a [`RequestLimits::client_key`]).
#[must_use]
pub fn ip_field_key(field: &str, client: &str) -> String {
    format!("field:{field}:ip:{client}")
}

/// The counter of login attempts against account `user_id`.
#[must_use]
pub fn login_account_key(user_id: i32) -> String {
    format!("login:account:{user_id}")
}
