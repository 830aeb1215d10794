//! bcrypt hashing, off the async workers and bounded.
//!
//! A hash at the default cost takes a few hundred milliseconds of CPU. Each
//! one runs on the blocking pool behind a semaphore sized to the cores, so a
//! burst of logins queues for hashing instead of starving request handling.

use std::sync::Arc;

use tokio::sync::{OnceCell, Semaphore};

use crate::error::{AppError, AppResult};

/// bcrypt reads at most this many bytes; longer passwords are refused rather
/// than silently truncated.
pub const MAX_PASSWORD_BYTES: usize = 72;

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
