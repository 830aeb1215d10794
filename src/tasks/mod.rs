//! Background work, in one place. `serve` starts every task here once, after
//! the server is prepared and before it listens; on SIGTERM it cancels them
//! and waits for each to finish the step it is in. Command-line commands
//! (`migrate`, `create-superuser`) start none.
//!
//! Each task is a small loop in a file of its own that waits on its timer
//! or wake-up *and* on the shared cancellation token, so stopping never
//! interrupts a step halfway. Every task is safe to run on several
//! instances at once: the change feed, the audit log (for subscribers) and
//! the signing keys are only read,
//! each outbox job is claimed by one instance, and purging deletes rows
//! that no instance needs any more.

mod audit_feed;
mod change_feed;
mod outbox;
mod purge;
mod signing_keys;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::config::SigningAlgorithm;
use crate::error::AppResult;
use crate::mail::Mailer;
use crate::state::AppContext;

/// The running background tasks of one server. Dropping it aborts them;
/// [`Tasks::shutdown`] stops them gently.
pub struct Tasks {
    cancel: CancellationToken,
    running: JoinSet<()>,
    names: Vec<&'static str>,
}

impl Tasks {
    /// Start every task `app` needs. Returns once each is ready to do its
    /// job: the session cache has caught up with the change feed and, on
    /// PostgreSQL, the listener is subscribed, so no change made after this
    /// returns is missed.
    pub async fn start(app: &AppContext) -> AppResult<Self> {
        let mut tasks = Self {
            cancel: CancellationToken::new(),
            running: JoinSet::new(),
            names: Vec::new(),
        };
        if app.sessions.is_enabled() {
            change_feed::start(&mut tasks, app).await?;
        }
        let mailer = Mailer::from_config(&app.config)?;
        // Its own small pool, a connection per job in hand: the worker never
        // waits behind requests for a connection, and its statements are
        // not counted as the requests' (the benchmark reports statements per
        // request).
        let worker = AppContext {
            db: crate::db::connect_more(&app.config, outbox::JOBS_AT_ONCE).await?,
            ..app.clone()
        };
        let senders = outbox::Senders {
            mailer,
            webhooks: crate::webhooks::Sender::from_config(&app.config.webhooks)?,
        };
        tasks.spawn("outbox", outbox::run(worker, senders, tasks.cancellation()));
        tasks.spawn("purge", purge::run(app.clone(), tasks.cancellation()));
        tasks.spawn(
            "audit feed",
            audit_feed::run(
                app.db.clone(),
                Arc::clone(&app.audit_feed),
                app.config.change_poll_interval,
                tasks.cancellation(),
            ),
        );
        if app.config.jwt_algorithm != SigningAlgorithm::HS256 {
            tasks.spawn(
                "signing-key reload",
                signing_keys::run(app.clone(), tasks.cancellation()),
            );
        }
        Ok(tasks)
    }

    /// The names of the running tasks, in start order.
    #[must_use]
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    /// A token a new task stops on.
    fn cancellation(&self) -> CancellationToken {
        self.cancel.child_token()
    }

    fn spawn(&mut self, name: &'static str, task: impl Future<Output = ()> + Send + 'static) {
        self.names.push(name);
        self.running
            .spawn(task.instrument(tracing::info_span!("task", name)));
    }

    /// Ask every task to stop, and wait up to `grace` for them to finish the
    /// step they are in; abort whatever is still running then.
    pub async fn shutdown(mut self, grace: Duration) {
        self.cancel.cancel();
        let drained = tokio::time::timeout(grace, async {
            while self.running.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                ?grace,
                "background tasks did not stop in time; aborting them"
            );
            self.running.abort_all();
        }
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        // The join set aborts what is left; cancelling first lets a task
        // between two steps end on its own.
        self.cancel.cancel();
    }
}

/// Wait for `duration`, or less when `cancel` fires first; `false` then.
async fn sleep_unless_cancelled(cancel: &CancellationToken, duration: Duration) -> bool {
    tokio::select! {
        () = cancel.cancelled() => false,
        () = tokio::time::sleep(duration) => true,
    }
}
