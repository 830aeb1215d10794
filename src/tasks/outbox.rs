//! The outbox worker: runs the jobs of `services::outbox` a few at a time
//! (so one slow webhook receiver does not hold up mail), woken
//! by a write on this instance that added one, or every
//! `OUTBOX_POLL_INTERVAL` for retries and jobs other instances wrote.
//!
//! Each job kind is a small handler below. A job that fails is tried again
//! later (`MAIL_RETRY_BASE`, doubling, at most five minutes apart) until
//! `MAIL_MAX_ATTEMPTS`, then it is marked failed and logged. A webhook
//! delivery keeps its own schedule (`services::webhook_deliveries`).
//! Stopping waits for the jobs in hand; jobs not yet claimed stay in the
//! table.

use tokio_util::sync::CancellationToken;

use crate::mail::Mailer;
use crate::services::outbox::{self, AfterFailure, Claimed, Job};
use crate::services::{password_reset, webhook_deliveries};
use crate::state::AppContext;
use crate::webhooks::Sender;

/// Jobs claimed and run together.
pub const JOBS_AT_ONCE: u32 = 4;

/// What the handlers send with.
pub struct Senders {
    pub mailer: Mailer,
    pub webhooks: Sender,
}

pub async fn run(app: AppContext, senders: Senders, cancel: CancellationToken) {
    tracing::info!(mail = %senders.mailer.describe(), "outbox worker started");
    loop {
        drain(&app, &senders, &cancel).await;
        match outbox::backlog(&app.db).await {
            Ok((waiting, oldest_age)) => app.metrics.outbox_backlog(waiting, oldest_age),
            Err(error) => tracing::debug!(%error, "cannot measure the outbox"),
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = app.outbox_wakeup.notified() => {}
            () = tokio::time::sleep(app.config.mail.poll_interval) => {}
        }
    }
}

/// Run due jobs until none is left (or the server stops).
async fn drain(app: &AppContext, senders: &Senders, cancel: &CancellationToken) {
    while !cancel.is_cancelled() {
        let claimed = match outbox::claim(&app.db, u64::from(JOBS_AT_ONCE)).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "cannot read the outbox; trying again at the next poll");
                return;
            }
        };
        if claimed.is_empty() {
            return;
        }
        futures::future::join_all(claimed.into_iter().map(|job| run_one(app, senders, job))).await;
    }
}

async fn run_one(app: &AppContext, senders: &Senders, claimed: Claimed) {
    let Claimed { row, job } = claimed;
    let outcome = match &job {
        Some(Job::Mail(mail)) => match senders.mailer.send(mail).await {
            Ok(()) => outbox::finish(&app.db, row.id)
                .await
                .map_err(|error| error.to_string()),
            Err(error) => Err(error),
        },
        // Finishes the job in its own transaction.
        Some(Job::PasswordResetRequest { email, origin }) => {
            password_reset::answer_request(app, row.id, email, origin)
                .await
                .map_err(|error| error.to_string())
        }
        // Records its outcome and next try itself; an error here is the
        // database's, and the job is tried again like any other.
        Some(Job::WebhookDelivery { delivery_id }) => {
            webhook_deliveries::attempt(app, &senders.webhooks, &row, *delivery_id)
                .await
                .map_err(|error| error.to_string())
        }
        None => Err(format!("unknown job kind `{}`", row.kind)),
    };
    let Err(error) = outcome else {
        return;
    };
    let mail = &app.config.mail;
    match outbox::fail(&app.db, &row, &error, mail.max_attempts, mail.retry_base).await {
        Ok(AfterFailure::RetryIn(delay)) => tracing::warn!(
            job = row.id,
            kind = %row.kind,
            attempt = row.attempts,
            %error,
            "outbox job failed; trying again in {delay:?}"
        ),
        Ok(AfterFailure::GaveUp) => tracing::error!(
            job = row.id,
            kind = %row.kind,
            attempts = row.attempts,
            %error,
            "outbox job failed for good (MAIL_MAX_ATTEMPTS reached)"
        ),
        Err(record_error) => tracing::warn!(
            job = row.id,
            %error,
            %record_error,
            "outbox job failed and the failure could not be recorded; it runs again after its lease"
        ),
    }
}
