//! Deleting what nobody needs any more, every `PURGE_INTERVAL`: revoked-token
//! rows of tokens that have expired anyway, sessions past their end (or
//! ended longer ago than a refresh token lives), expired account tokens
//! (mailed links), change-feed entries past `CHANGE_FEED_RETENTION`, and
//! audit events past `AUDIT_RETENTION`.
//! Several instances purging at once delete the same rows; that is harmless.

use tokio_util::sync::CancellationToken;

use crate::services::{account_tokens, audit, changes, revocation, session_store};
use crate::state::AppContext;

pub async fn run(app: AppContext, cancel: CancellationToken) {
    while super::sleep_unless_cancelled(&cancel, app.config.purge_interval).await {
        purge_once(&app).await;
    }
}

async fn purge_once(app: &AppContext) {
    match revocation::purge_expired(&app.db).await {
        Ok(0) => {}
        Ok(purged) => tracing::debug!(purged, "purged expired revoked tokens"),
        Err(error) => tracing::warn!(%error, "could not purge expired revoked tokens"),
    }
    match session_store::purge(&app.db, app.config.refresh_token_ttl).await {
        Ok(0) => {}
        Ok(purged) => tracing::debug!(purged, "purged expired and long-ended sessions"),
        Err(error) => tracing::warn!(%error, "could not purge sessions"),
    }
    match account_tokens::purge_expired(&app.db).await {
        Ok(0) => {}
        Ok(purged) => tracing::debug!(purged, "purged expired account tokens"),
        Err(error) => tracing::warn!(%error, "could not purge expired account tokens"),
    }
    match changes::prune(&app.db, app.config.change_feed_retention).await {
        Ok(0) => {}
        Ok(pruned) => tracing::debug!(pruned, "pruned old change-feed entries"),
        Err(error) => tracing::warn!(%error, "could not prune the change feed"),
    }
    match audit::prune(&app.db, app.config.audit_retention).await {
        Ok(0) => {}
        Ok(pruned) => tracing::debug!(pruned, "pruned old audit events"),
        Err(error) => tracing::warn!(%error, "could not prune the audit log"),
    }
}
