//! Moving users in from elsewhere: a JSON Lines file ([`jsonl`]) or a
//! FastAPI-boilerplate database ([`fastapi`]).
//!
//! Every row is checked with the registration rules before anything is
//! written, except the password, which arrives hashed and stays so (its
//! format must be one login can verify; it is upgraded at the user's next
//! login when the settings ask for more). A run is all-or-nothing, in one
//! transaction with batched inserts, unless the caller skips invalid rows.
//! Users are matched by username: one already present is left alone, so
//! running the same import twice changes nothing the second time.

pub mod fastapi;
pub mod jsonl;
mod users;

pub use users::IncomingUser;

/// How an import runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Check and report, write nothing.
    pub dry_run: bool,
    /// Import the valid rows even when some are refused.
    pub skip_invalid: bool,
}

/// A row that cannot be imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Where the row is: `line 12` of a file, `user 7` of a database.
    pub place: String,
    pub reason: String,
}

/// What an import did (or, in a dry run or when refused, would do).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Rows read.
    pub read: usize,
    /// Users written (or that would be).
    pub imported: usize,
    /// Users whose username was already taken: left as they are.
    pub already_present: usize,
    pub refused: Vec<Refusal>,
    /// Tiers, rate-limit rules and posts written (FastAPI-boilerplate).
    pub tiers: usize,
    pub rate_limits: usize,
    pub posts: usize,
    /// Whether anything was written.
    pub written: bool,
}

impl Report {
    /// Whether the run changed, or would change, nothing at all.
    #[must_use]
    pub fn nothing_to_do(&self) -> bool {
        self.imported == 0 && self.tiers == 0 && self.rate_limits == 0 && self.posts == 0
    }
}

/// Where an import is, for a progress line: `done` of `total` rows through
/// `stage` ("checked", "written").
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub stage: &'static str,
    pub done: usize,
    pub total: usize,
}
