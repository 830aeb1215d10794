//! The outbox: the one queue of background jobs. A job is written inside
//! the [`Write`] of the change that causes it, so it exists exactly when
//! the change committed; the outbox worker (`tasks::outbox`) runs it after.
//!
//! Claiming is a lease: one `UPDATE` moves the job's `run_after` past the
//! lease and counts the attempt, on rows picked with `FOR UPDATE SKIP
//! LOCKED` on PostgreSQL, so with several instances each job is claimed by
//! one of them. A finished job is deleted; a failed try moves `run_after`
//! to the next retry (exponential, at most [`MAX_RETRY_DELAY`] apart); the
//! last allowed try marks it failed. An instance that dies mid-job leaves
//! it to be claimed again once the lease has run out.

use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Set,
};
use serde::{Deserialize, Serialize};

use super::write::{Origin, Write};
use crate::entities::outbox_job;
use crate::error::{AppError, AppResult};
use crate::mail::Mail;

/// Longest wait between two tries of a job.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(5 * 60);

/// How long a claimed job is left to its worker before another may take
/// it: longer than any delivery may take (SMTP steps time out after 30 s).
pub const LEASE: Duration = Duration::from_secs(120);

/// Something to do after a change committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Job {
    /// Deliver a rendered mail.
    Mail(Mail),
    /// Somebody asked to reset the password of whatever account has this
    /// address. Looked up by the worker, so the request itself does the
    /// same work whether or not the address has an account; `origin` is
    /// where the request came from, for its audit event.
    PasswordResetRequest {
        email: String,
        #[serde(default)]
        origin: Origin,
    },
    /// Send the webhook delivery with this id (`services::webhook_deliveries`).
    WebhookDelivery { delivery_id: i64 },
}

impl Job {
    fn kind(&self) -> &'static str {
        match self {
            Self::Mail(_) => "mail",
            Self::PasswordResetRequest { .. } => "password_reset_request",
            Self::WebhookDelivery { .. } => "webhook_delivery",
        }
    }
}

/// A claimed job: its row (id, tries so far) and what to do.
#[derive(Debug)]
pub struct Claimed {
    pub row: outbox_job::Model,
    /// `None` when the payload cannot be read (written by a newer version).
    pub job: Option<Job>,
}

/// Put `job` in the outbox as part of `write`; the local worker is woken
/// when the write commits.
pub async fn enqueue(write: &mut Write<'_>, job: &Job) -> AppResult<()> {
    let payload = serde_json::to_string(job).map_err(AppError::internal)?;
    let now = Utc::now();
    outbox_job::ActiveModel {
        kind: Set(job.kind().to_owned()),
        payload: Set(payload),
        attempts: Set(0),
        run_after: Set(now),
        last_error: Set(None),
        created_at: Set(now),
        failed_at: Set(None),
        ..Default::default()
    }
    .insert(write.db())
    .await?;
    write.outbox_job_added();
    Ok(())
}

/// Claim up to `limit` jobs that are due, for [`LEASE`].
pub async fn claim(db: &impl ConnectionTrait, limit: u64) -> AppResult<Vec<Claimed>> {
    let now = Utc::now();
    let due = outbox_job::Entity::find()
        .select_only()
        .column(outbox_job::Column::Id)
        .filter(outbox_job::Column::FailedAt.is_null())
        .filter(outbox_job::Column::RunAfter.lte(now))
        .order_by_asc(outbox_job::Column::RunAfter)
        .limit(limit)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .into_query();
    let lease_end = now + chrono::Duration::from_std(LEASE).map_err(AppError::internal)?;
    let rows = outbox_job::Entity::update_many()
        .col_expr(outbox_job::Column::RunAfter, Expr::value(lease_end))
        .col_expr(
            outbox_job::Column::Attempts,
            Expr::col(outbox_job::Column::Attempts).add(1),
        )
        .filter(outbox_job::Column::Id.in_subquery(due))
        // Re-checked here: on PostgreSQL a row another instance claimed
        // between the pick and the update no longer qualifies.
        .filter(outbox_job::Column::RunAfter.lte(now))
        .exec_with_returning(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let job = serde_json::from_str(&row.payload).ok();
            Claimed { row, job }
        })
        .collect())
}

/// The job is done: delete it (its payload may hold a token).
pub async fn finish(db: &impl ConnectionTrait, id: i64) -> AppResult<()> {
    outbox_job::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// What became of a failed try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    RetryIn(Duration),
    GaveUp,
}

/// The try of `row` failed with `error`: schedule the next one, or mark
/// the job failed after `max_attempts` tries.
pub async fn fail(
    db: &impl ConnectionTrait,
    row: &outbox_job::Model,
    error: &str,
    max_attempts: u32,
    retry_base: Duration,
) -> AppResult<AfterFailure> {
    let attempts = u32::try_from(row.attempts).unwrap_or(u32::MAX);
    let next = (attempts < max_attempts).then(|| retry_delay(attempts, retry_base));
    fail_after(db, row, error, next).await
}

/// The try of `row` failed with `error`: try again after `next`, or (with
/// `None`) mark the job failed. For job kinds with a schedule of their own
/// (webhook deliveries).
pub async fn fail_after(
    db: &impl ConnectionTrait,
    row: &outbox_job::Model,
    error: &str,
    next: Option<Duration>,
) -> AppResult<AfterFailure> {
    let now = Utc::now();
    let excerpt: String = error.chars().take(500).collect();
    let mut update = outbox_job::ActiveModel {
        id: Set(row.id),
        last_error: Set(Some(excerpt)),
        ..Default::default()
    };
    let outcome = match next {
        Some(delay) => {
            update.run_after =
                Set(now + chrono::Duration::from_std(delay).map_err(AppError::internal)?);
            AfterFailure::RetryIn(delay)
        }
        None => {
            update.failed_at = Set(Some(now));
            AfterFailure::GaveUp
        }
    };
    update.update(db).await?;
    Ok(outcome)
}

/// The wait after the `attempts`-th try: `base`, doubled per further try,
/// at most [`MAX_RETRY_DELAY`].
#[must_use]
pub fn retry_delay(attempts: u32, base: Duration) -> Duration {
    let doublings = Ord::min(attempts.saturating_sub(1), 20);
    base.saturating_mul(1 << doublings).min(MAX_RETRY_DELAY)
}

/// Jobs waiting (failed ones excluded) and how long the oldest has waited.
pub async fn backlog(db: &impl ConnectionTrait) -> AppResult<(u64, Duration)> {
    let waiting = depth(db).await?;
    let oldest = outbox_job::Entity::find()
        .filter(outbox_job::Column::FailedAt.is_null())
        .order_by_asc(outbox_job::Column::CreatedAt)
        .one(db)
        .await?;
    let age = oldest
        .and_then(|job| (Utc::now() - job.created_at).to_std().ok())
        .unwrap_or_default();
    Ok((waiting, age))
}

/// Jobs not yet done (failed ones excluded).
pub async fn depth(db: &impl ConnectionTrait) -> AppResult<u64> {
    Ok(outbox_job::Entity::find()
        .filter(outbox_job::Column::FailedAt.is_null())
        .count(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_up_to_five_minutes() {
        let base = Duration::from_secs(10);
        let delays: Vec<u64> = (1..=8)
            .map(|try_| retry_delay(try_, base).as_secs())
            .collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(retry_delay(u32::MAX, base), MAX_RETRY_DELAY);
    }
}
