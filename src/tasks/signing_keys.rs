//! Reloading the signing keys from the database, so a rotation made on
//! another instance (or by `usergraph keys rotate`) is used here within
//! seconds, without a restart. A token naming a kid this instance does not
//! know wakes the task early; it then waits a second before it can be woken
//! again, so forged kids cost at most one query a second.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::auth::keys;
use crate::state::AppContext;

/// How often the keys are read when nothing asks sooner.
const RELOAD_INTERVAL: Duration = Duration::from_secs(5);
/// The shortest time between two reloads.
const MIN_GAP: Duration = Duration::from_secs(1);

pub async fn run(app: AppContext, cancel: CancellationToken) {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(RELOAD_INTERVAL) => {}
            () = app.tokens.reload_wanted() => {}
        }
        match keys::load(&app.db, &app.config).await {
            Ok(loaded) => app.tokens.replace(loaded),
            Err(error) => tracing::warn!(%error, "could not reload the signing keys"),
        }
        if !super::sleep_unless_cancelled(&cancel, MIN_GAP).await {
            return;
        }
    }
}
