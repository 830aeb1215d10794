//! The shared store: the same sliding-window log as `memory.rs`, kept in a
//! Redis sorted set per key so every instance counts against one budget.
//!
//! One Lua script does the whole check (trim, count, add, expire) atomically,
//! so concurrent calls on any number of instances can never both take the
//! last slot. Time comes from Redis's own clock, so instances with skewed
//! clocks still agree.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};

use super::{Decision, Rule};

const SLIDING_WINDOW: &str = r"
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local member = ARGV[3]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period)
local used = redis.call('ZCARD', key)
local allowed = 0
if used < limit then
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, period)
  allowed = 1
  used = used + 1
end
local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
local reset = 0
if first[2] then reset = tonumber(first[2]) + period - now end
return {allowed, limit - used, reset}
";

pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
    script: Script,
}

impl RedisStore {
    /// Set up the connection without waiting for it: a Redis that is down at
    /// start-up is handled like one that goes down later.
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> Result<Self, String> {
        let client = Client::open(url).map_err(|error| format!("REDIS_URL: {error}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(1));
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|error| format!("REDIS_URL: {error}"))?;
        Ok(Self {
            connection,
            prefix: prefix.to_owned(),
            timeout,
            script: Script::new(SLIDING_WINDOW),
        })
    }

    /// Delete the counters of `keys`.
    pub async fn forget(&self, keys: &[String]) -> Result<(), String> {
        let mut connection = self.connection.clone();
        let keys: Vec<String> = keys
            .iter()
            .map(|key| format!("{}:{key}", self.prefix))
            .collect();
        let mut command = redis::cmd("DEL");
        command.arg(keys);
        let call = command.query_async::<i64>(&mut connection);
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| "Redis did not answer in time".to_owned())?
            .map(|_| ())
            .map_err(|error| error.to_string())
    }

    /// `PING`, within the timeout: for readiness and `usergraph doctor`.
    pub async fn ping(&self) -> Result<(), String> {
        let mut connection = self.connection.clone();
        let command = redis::cmd("PING");
        let call = command.query_async::<String>(&mut connection);
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| "Redis did not answer in time".to_owned())?
            .map(|_| ())
            .map_err(|error| error.to_string())
    }

    /// Count one call against `key`; an error means Redis did not answer in
    /// time or at all.
    pub async fn check(&self, key: &str, rule: Rule) -> Result<Decision, String> {
        let mut connection = self.connection.clone();
        let period_ms = u64::try_from(rule.period.as_millis()).unwrap_or(u64::MAX);
        let member = uuid::Uuid::new_v4().simple().to_string();
        let mut invocation = self.script.key(format!("{}:{key}", self.prefix));
        invocation.arg(rule.limit).arg(period_ms).arg(member);
        let call = invocation.invoke_async::<(i64, i64, i64)>(&mut connection);
        let (allowed, remaining, reset_ms) = tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| "Redis did not answer in time".to_owned())?
            .map_err(|error| error.to_string())?;
        Ok(Decision {
            allowed: allowed == 1,
            limit: rule.limit,
            remaining: u32::try_from(remaining.max(0)).unwrap_or(u32::MAX),
            reset: Duration::from_millis(u64::try_from(reset_ms.max(0)).unwrap_or(0)),
        })
    }
}
