//! bcrypt hashing, off the async workers and bounded.
//!
//! A hash at the default cost takes a few hundred milliseconds of CPU. Each
//! one runs on the blocking pool behind a semaphore sized to the cores, so a
//! burst of logins queues for hashing instead of starving request handling.
//!
//! The threads that hash also run at a lower CPU priority (nice
//! [`HASHING_NICENESS`]): on an idle machine hashing still gets every core,
//! but a request that wakes up while both cores are hashing gets one at
//! once instead of waiting out the scheduler's time slice. Under full load,
//! logins slow down before reads do.

use std::sync::Arc;

use tokio::sync::{OnceCell, Semaphore};

use crate::error::{AppError, AppResult};

/// bcrypt reads at most this many bytes; longer passwords are refused rather
/// than silently truncated.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// The niceness of a thread once it has hashed. Raising it needs no
/// privilege; it is never lowered again, so a blocking-pool thread that
/// hashed once stays at it.
pub const HASHING_NICENESS: i32 = 10;

/// Lower this thread's priority, once per thread.
fn lower_priority_once() {
    thread_local! {
        static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    LOWERED.with(|lowered| {
        if !lowered.replace(true) {
            #[cfg(unix)]
            if let Err(error) = rustix::process::setpriority_process(
                Some(rustix::thread::gettid()),
                HASHING_NICENESS,
            ) {
                tracing::debug!(%error, "cannot lower the priority of a hashing thread");
            }
        }
    });
}

pub struct PasswordHasher {
    cost: u32,
    permits: Arc<Semaphore>,
    /// A hash of a random password, verified against when the account does
    /// not exist so that unknown users take as long as wrong passwords.
    dummy_hash: OnceCell<String>,
}

impl PasswordHasher {
    #[must_use]
    pub fn new(cost: u32) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Self {
            cost,
            permits: Arc::new(Semaphore::new(cores)),
            dummy_hash: OnceCell::new(),
        }
    }

    pub async fn hash(&self, password: &str) -> AppResult<String> {
        let cost = self.cost;
        if password.len() > MAX_PASSWORD_BYTES {
            return Err(AppError::bad_input(format!(
                "password must be at most {MAX_PASSWORD_BYTES} bytes"
            )));
        }
        let password = password.to_owned();
        // Up to 72 bytes every byte counts (`non_truncating_hash` also refuses
        // exactly 72 because of the terminating NUL, which carries nothing).
        self.run_bounded(move || bcrypt::hash(password, cost)).await
    }

    /// True when `password` matches `hash`. A password bcrypt cannot take
    /// (over 72 bytes) never matches, after the same amount of work.
    pub async fn verify(&self, password: &str, hash: &str) -> AppResult<bool> {
        let hash = hash.to_owned();
        let candidate = truncate_for_timing(password);
        let too_long = password.len() > MAX_PASSWORD_BYTES;
        let matches = self
            .run_bounded(move || bcrypt::verify(candidate, &hash))
            .await?;
        Ok(matches && !too_long)
    }

    /// Spend the time of one verification without an account to check.
    pub async fn verify_dummy(&self, password: &str) -> AppResult<()> {
        let dummy = self
            .dummy_hash
            .get_or_try_init(|| async {
                let random = uuid::Uuid::new_v4().to_string();
                self.hash(&random).await
            })
            .await?;
        self.verify(password, dummy).await.map(|_| ())
    }

    async fn run_bounded<T, E>(
        &self,
        work: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) -> AppResult<T>
    where
        T: Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(AppError::internal)?;
        let outcome = tokio::task::spawn_blocking(move || {
            lower_priority_once();
            let outcome = work();
            drop(permit);
            outcome
        })
        .await
        .map_err(AppError::internal)?;
        outcome.map_err(|error| AppError::internal(format!("bcrypt: {error}")))
    }
}

fn truncate_for_timing(password: &str) -> Vec<u8> {
    let bytes = password.as_bytes();
    bytes[..bytes.len().min(MAX_PASSWORD_BYTES)].to_vec()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn own_niceness() -> i32 {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap_or(i32::MIN)
    }

    #[test]
    fn a_thread_that_hashes_runs_at_a_lower_priority() {
        let (before, after) = std::thread::spawn(|| {
            let before = own_niceness();
            lower_priority_once();
            lower_priority_once();
            (before, own_niceness())
        })
        .join()
        .unwrap_or((i32::MIN, i32::MIN));
        assert!(before < HASHING_NICENESS, "started at {before}");
        assert_eq!(after, HASHING_NICENESS);
    }

    #[tokio::test]
    async fn hashing_still_works_on_the_lowered_threads() {
        let hasher = PasswordHasher::new(4);
        let hash = hasher.hash("Str0ng!pass").await.unwrap_or_default();
        assert!(hasher.verify("Str0ng!pass", &hash).await.unwrap_or(false));
        assert!(!hasher.verify("Wr0ng!pass", &hash).await.unwrap_or(true));
    }
}
