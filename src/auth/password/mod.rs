//! Password hashing, off the async workers and bounded.
//!
//! New passwords are hashed as the settings say (bcrypt or argon2id, see
//! [`formats`]); stored hashes are verified in the format they state, so
//! hashes imported from elsewhere keep working and are upgraded at the next
//! login ([`Verdict::Match`] says when).
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

pub mod formats;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use tokio::sync::{OnceCell, Semaphore};

use self::formats::{HashPolicy, StoredHash};
use crate::error::{AppError, AppResult};

pub use self::formats::{ARGON2_MAX_PASSWORD_BYTES, BCRYPT_MAX_PASSWORD_BYTES};

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

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The password is right; `rehash` when the stored hash is of another
    /// algorithm or weaker than the current settings ask for.
    Match { rehash: bool },
    /// The password is wrong.
    Mismatch,
    /// The stored hash is in no known format: nothing can match it.
    UnknownFormat,
}

impl Verdict {
    #[must_use]
    pub fn matches(self) -> bool {
        matches!(self, Self::Match { .. })
    }
}

/// How long hashes wait for a core, for `/metrics`: the hashes waiting now,
/// and a histogram of each one's wait. Clones share their values.
#[derive(Clone)]
pub struct HashingQueue {
    pub waiting: prometheus_client::metrics::gauge::Gauge,
    pub wait_seconds: prometheus_client::metrics::histogram::Histogram,
}

impl HashingQueue {
    fn new() -> Self {
        Self {
            waiting: prometheus_client::metrics::gauge::Gauge::default(),
            wait_seconds: prometheus_client::metrics::histogram::Histogram::new([
                0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
        }
    }
}

pub struct PasswordHasher {
    policy: HashPolicy,
    permits: Arc<Semaphore>,
    queue: HashingQueue,
    /// A hash of a random password, verified against when the account does
    /// not exist so that unknown users take as long as wrong passwords.
    dummy_hash: OnceCell<String>,
    /// Accounts whose unreadable hash was already logged, so a stream of
    /// failed logins to one of them logs one line, not one per attempt.
    unknown_formats_logged: Mutex<HashSet<i32>>,
}

impl PasswordHasher {
    #[must_use]
    pub fn new(policy: HashPolicy) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Self {
            policy,
            permits: Arc::new(Semaphore::new(cores)),
            queue: HashingQueue::new(),
            dummy_hash: OnceCell::new(),
            unknown_formats_logged: Mutex::new(HashSet::new()),
        }
    }

    /// The queue in front of the hashing threads, for `/metrics`.
    #[must_use]
    pub fn queue(&self) -> HashingQueue {
        self.queue.clone()
    }

    /// How new passwords are hashed.
    #[must_use]
    pub fn policy(&self) -> HashPolicy {
        self.policy
    }

    /// The longest new password the current settings take, in bytes.
    #[must_use]
    pub fn max_password_bytes(&self) -> usize {
        self.policy.max_password_bytes()
    }

    /// Hash `password` as the settings say. A password longer than the
    /// algorithm takes is refused, never truncated.
    pub async fn hash(&self, password: &str) -> AppResult<String> {
        let policy = self.policy;
        let max = policy.max_password_bytes();
        if password.len() > max {
            return Err(AppError::bad_input(format!(
                "password must be at most {max} bytes"
            )));
        }
        let password = password.to_owned();
        // Up to 72 bytes every byte counts for bcrypt (its terminating NUL
        // carries nothing).
        self.run_bounded(move || policy.hash_blocking(password.as_bytes()))
            .await
    }

    /// True when `password` matches `hash`. A password the hash's algorithm
    /// cannot take (over 72 bytes for bcrypt, 256 for argon2) never matches,
    /// after the same amount of work; neither does a hash in no known format.
    pub async fn verify(&self, password: &str, hash: &str) -> AppResult<bool> {
        Ok(self.check(password, hash).await?.matches())
    }

    /// Check `password` against `hash` and say whether the hash should be
    /// replaced (see [`HashPolicy::wants_rehash`]). A hash in no known format
    /// costs the work of a verification and never matches.
    pub async fn check(&self, password: &str, hash: &str) -> AppResult<Verdict> {
        let Some(format) = StoredHash::parse(hash) else {
            self.verify_dummy(password).await?;
            return Ok(Verdict::UnknownFormat);
        };
        let max = format.max_password_bytes();
        let candidate = truncate_for_timing(password, max);
        let too_long = password.len() > max;
        let hash = hash.to_owned();
        let matches = self
            .run_bounded(move || formats::verify_blocking(format, &candidate, &hash))
            .await?;
        Ok(if matches && !too_long {
            Verdict::Match {
                rehash: self.policy.wants_rehash(format)
                    && password.len() <= self.policy.max_password_bytes(),
            }
        } else {
            Verdict::Mismatch
        })
    }

    /// True the first time it is asked about `user_id`: whether an unreadable
    /// hash of that account still needs its log line.
    pub fn first_unknown_format(&self, user_id: i32) -> bool {
        self.unknown_formats_logged
            .lock()
            .map(|mut logged| logged.insert(user_id))
            .unwrap_or(false)
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
        let Some(format) = StoredHash::parse(dummy) else {
            return Err(AppError::internal("the dummy hash is unreadable"));
        };
        let candidate = truncate_for_timing(password, format.max_password_bytes());
        let dummy = dummy.clone();
        self.run_bounded(move || formats::verify_blocking(format, &candidate, &dummy))
            .await
            .map(|_| ())
    }

    async fn run_bounded<T, E>(
        &self,
        work: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) -> AppResult<T>
    where
        T: Send + 'static,
        E: std::fmt::Display + Send + 'static,
    {
        self.queue.waiting.inc();
        let queued = std::time::Instant::now();
        let permit = Arc::clone(&self.permits).acquire_owned().await;
        self.queue.waiting.dec();
        self.queue
            .wait_seconds
            .observe(queued.elapsed().as_secs_f64());
        let permit = permit.map_err(AppError::internal)?;
        let outcome = tokio::task::spawn_blocking(move || {
            lower_priority_once();
            let outcome = work();
            drop(permit);
            outcome
        })
        .await
        .map_err(AppError::internal)?;
        outcome.map_err(|error| AppError::internal(format!("password hashing: {error}")))
    }
}

fn truncate_for_timing(password: &str, max: usize) -> Vec<u8> {
    let bytes = password.as_bytes();
    bytes[..bytes.len().min(max)].to_vec()
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
    async fn a_hash_in_no_known_format_never_matches() {
        let hasher = PasswordHasher::new(HashPolicy::Bcrypt { cost: 4 });
        for stored in [
            "Str0ng!pass",
            "",
            "$1$abc$def",
            "$argon2d$v=19$m=8,t=1,p=1$YWJjZGVmZ2g$YWJj",
        ] {
            let verdict = hasher.check("Str0ng!pass", stored).await.ok();
            assert_eq!(verdict, Some(Verdict::UnknownFormat), "{stored}");
        }
        assert!(hasher.first_unknown_format(7));
        assert!(!hasher.first_unknown_format(7));
    }

    #[tokio::test]
    async fn argon2id_takes_long_passwords_bcrypt_refuses_them() {
        let long = format!("Aa1!{}", "x".repeat(ARGON2_MAX_PASSWORD_BYTES - 4));
        let argon2 = PasswordHasher::new(HashPolicy::Argon2id {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        });
        let hash = argon2.hash(&long).await.unwrap_or_default();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert_eq!(
            argon2.check(&long, &hash).await.ok(),
            Some(Verdict::Match { rehash: false })
        );
        assert!(argon2.hash(&format!("{long}x")).await.is_err());
        // The 257th byte matters: a longer password never matches.
        assert!(
            !argon2
                .verify(&format!("{long}x"), &hash)
                .await
                .unwrap_or(true)
        );

        let bcrypt = PasswordHasher::new(HashPolicy::Bcrypt { cost: 4 });
        assert!(bcrypt.hash(&long).await.is_err());
        // A bcrypt login of this argon2id hash matches, but cannot move the
        // password back to bcrypt: no rehash.
        assert_eq!(
            bcrypt.check(&long, &hash).await.ok(),
            Some(Verdict::Match { rehash: false })
        );
        let short = argon2.hash("Str0ng!pass").await.unwrap_or_default();
        assert_eq!(
            bcrypt.check("Str0ng!pass", &short).await.ok(),
            Some(Verdict::Match { rehash: true })
        );
    }

    #[tokio::test]
    async fn hashing_still_works_on_the_lowered_threads() {
        let hasher = PasswordHasher::new(HashPolicy::Bcrypt { cost: 4 });
        let hash = hasher.hash("Str0ng!pass").await.unwrap_or_default();
        assert!(hasher.verify("Str0ng!pass", &hash).await.unwrap_or(false));
        assert!(!hasher.verify("Wr0ng!pass", &hash).await.unwrap_or(true));
    }
}
