//! The outbox worker: runs the jobs of `services::outbox` one by one, woken
//! by a write on this instance that added one, or every
//! `OUTBOX_POLL_INTERVAL` for retries and jobs other instances wrote.
//!
//! Each job kind is a small handler below. A job that fails is tried again
//! later (`MAIL_RETRY_BASE`, doubling, at most five minutes apart) until
//! `MAIL_MAX_ATTEMPTS`, then it is marked failed and logged. Stopping waits
//! for the job in hand; jobs not yet claimed stay in the table.

use tokio_util::sync::CancellationToken;

use crate::mail::Mailer;
use crate::services::outbox::{self, AfterFailure, Claimed, Job};
use crate::services::password_reset;
use crate::state::AppContext;

pub async fn run(app: AppContext, mailer: Mailer, cancel: CancellationToken) {
    tracing::info!(mail = %mailer.describe(), "outbox worker started");
    loop {
        drain(&app, &mailer, &cancel).await;
        tokio::select! {
            () = cancel.cancelled() => return,
            () = app.outbox_wakeup.notified() => {}
            () = tokio::time::sleep(app.config.mail.poll_interval) => {}
        }
    }
}

/// Run due jobs until none is left (or the server stops).
async fn drain(app: &AppContext, mailer: &Mailer, cancel: &CancellationToken) {
    while !cancel.is_cancelled() {
        let claimed = match outbox::claim(&app.db, 1).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "cannot read the outbox; trying again at the next poll");
                return;
            }
        };
        if claimed.is_empty() {
            return;
        }
        for job in claimed {
            run_one(app, mailer, job).await;
        }
    }
}

async fn run_one(app: &AppContext, mailer: &Mailer, claimed: Claimed) {
    let Claimed { row, job } = claimed;
    let outcome = match &job {
        Some(Job::Mail(mail)) => match mailer.send(mail).await {
            Ok(()) => outbox::finish(&app.db, row.id)
                .await
                .map_err(|error| error.to_string()),
            Err(error) => Err(error),
        },
        // Finishes the job in its own transaction.
        Some(Job::PasswordResetRequest { email }) => {
            password_reset::answer_request(app, row.id, email)
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
