//! Keeping this instance's session cache in step with the change feed (see
//! [`crate::services::changes`]): a poll every `CHANGE_POLL_INTERVAL`, and on
//! PostgreSQL a listener whose notifications wake the poller at once. The
//! notification is only a wake-up call: the feed stays the source of truth,
//! so a notification lost with a dropped connection costs at most one poll
//! interval.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use sea_orm::sqlx::postgres::PgListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::Tasks;
use crate::auth::SessionCache;
use crate::error::AppResult;
use crate::services::audit_feed::AuditFeed;
use crate::services::changes;
use crate::state::AppContext;

/// How long a lost listener waits before it connects again.
const LISTENER_RETRY: Duration = Duration::from_secs(1);

/// Catch up with the feed, subscribe to notifications (PostgreSQL), then
/// start the poller and the listener.
pub async fn start(tasks: &mut Tasks, app: &AppContext) -> AppResult<()> {
    // The feed is read on a connection of its own: it never queues behind
    // requests, and its statements are not counted as theirs.
    let feed = crate::db::connect_more(&app.config, 1).await?;
    changes::poll(&feed, &app.sessions).await?;
    let wake = Arc::new(Notify::new());
    if !app.config.is_sqlite() {
        let url = app.config.database_url.clone();
        let first = match subscribe(&url).await {
            Ok(listener) => Some(listener),
            Err(error) => {
                tracing::warn!(%error, "cannot listen for changes; polling on the timer");
                None
            }
        };
        let listener = listen(
            url,
            first,
            Arc::clone(&wake),
            Arc::clone(&app.audit_feed),
            tasks.cancellation(),
        );
        tasks.spawn("change-feed listener", listener);
    }
    let poller = poll(
        feed,
        Arc::clone(&app.sessions),
        app.config.change_poll_interval,
        wake,
        tasks.cancellation(),
    );
    tasks.spawn("change-feed poller", poller);
    Ok(())
}

/// Poll every `interval`, and whenever the listener wakes us.
async fn poll(
    db: DatabaseConnection,
    cache: Arc<SessionCache>,
    interval: Duration,
    wake: Arc<Notify>,
    cancel: CancellationToken,
) {
    // The first poll ran at start-up; the next is one interval later.
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            _ = ticker.tick() => {}
            () = wake.notified() => {}
        }
        if let Err(error) = changes::poll(&db, &cache).await {
            tracing::warn!(%error, "could not read the change feed; cached sessions expire");
        }
    }
    let _ = db.close().await;
}

async fn subscribe(url: &str) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(changes::CHANNEL).await?;
    Ok(listener)
}

/// Wake the poller on every notification, subscribing again after a lost
/// connection. The audit feed is woken too (when anybody subscribes): a
/// change that ends sessions records its event in the same transaction,
/// so a logout reaches other instances' subscribers, and closes their
/// sockets on that session, as fast as it reaches their caches.
async fn listen(
    url: String,
    first: Option<PgListener>,
    wake: Arc<Notify>,
    audit_feed: Arc<AuditFeed>,
    cancel: CancellationToken,
) {
    let mut next = first;
    loop {
        let listener = match next.take() {
            Some(listener) => Ok(listener),
            None => subscribe(&url).await.inspect(|_| {
                // Changes made while unsubscribed were caught by the timer;
                // wake the poller once in case one was missed.
                wake.notify_one();
            }),
        };
        let lost = match listener {
            Ok(mut listener) => loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    received = listener.recv() => match received {
                        // Stores a permit if the poller is busy: a burst is
                        // one more poll.
                        Ok(_) => {
                            wake.notify_one();
                            audit_feed.wake();
                        }
                        Err(error) => break error,
                    },
                }
            },
            Err(error) => error,
        };
        tracing::debug!(error = %lost, "change-feed listener lost; polling on the timer meanwhile");
        if !super::sleep_unless_cancelled(&cancel, LISTENER_RETRY).await {
            return;
        }
    }
}
