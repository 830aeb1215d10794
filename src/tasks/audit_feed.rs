//! Reading the audit log forward for this instance's subscribers (see
//! [`crate::services::audit_feed`]): every `CHANGE_POLL_INTERVAL` while
//! anybody listens, and at once when a write on this instance recorded
//! events. With nobody listening it waits for a subscriber and reads
//! nothing, and starts again from that subscriber's position rather than
//! replaying what happened meanwhile.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

use crate::services::audit_feed::{AuditFeed, AuditTail};

pub async fn run(
    db: DatabaseConnection,
    feed: Arc<AuditFeed>,
    interval: Duration,
    cancel: CancellationToken,
) {
    let mut tail: Option<AuditTail> = None;
    loop {
        if !feed.has_subscribers() {
            tail = None;
        }
        let start = feed.take_start();
        if tail.is_none() {
            tail = start.map(AuditTail::after);
        }
        let Some(reader) = tail.as_mut() else {
            // Idle: a subscriber wakes us once it has said where to start.
            tokio::select! {
                () = cancel.cancelled() => break,
                () = feed.woken() => continue,
            }
        };
        let more = match reader.read(&db).await {
            Ok((events, more)) => {
                for event in events {
                    feed.publish(event);
                }
                more
            }
            Err(error) => {
                tracing::warn!(%error, "could not read the audit log for subscribers");
                false
            }
        };
        if more {
            continue;
        }
        tokio::select! {
            () = cancel.cancelled() => break,
            () = tokio::time::sleep(interval) => {}
            () = feed.woken() => {}
        }
    }
}
