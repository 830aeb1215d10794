//! Live events over WebSocket (`graphql-transport-ws`, see
//! `http::subscriptions`): the audit log for superusers, and a user's own
//! security events, as the `AuditEvent`s the queries list. Each start of a
//! subscription counts against the caller's rate limit like a query of the
//! same field; the events it then delivers do not.

use std::sync::Arc;

use async_graphql::futures_util::{Stream, StreamExt};
use async_graphql::{Context, ErrorExtensions, Subscription};

use super::types::AuditEvent;
use super::{app_context, rate_limiting};
use crate::auth::guards::require_caller;
use crate::auth::session_watch::SessionWatch;
use crate::auth::{LoggedIn, Superuser};
use crate::entities::user;
use crate::services::audit::AuditFilter;
use crate::services::audit_feed::{self, StillAllowed};

#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Audit events as they are recorded, on this instance or another.
    /// `types` takes exact types or families (`user.*`), as
    /// `auditEvents(filter: { types })` does; none: every event.
    /// Superusers only.
    #[graphql(guard = "Superuser")]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        types: Option<Vec<String>>,
    ) -> async_graphql::Result<impl Stream<Item = AuditEvent> + use<>> {
        let filter = AuditFilter {
            types: types.unwrap_or_default(),
            ..AuditFilter::default()
        };
        let is_superuser: StillAllowed = |user: &user::Model| user.is_superuser;
        live_events(ctx, "auditEvents", filter, is_superuser).await
    }

    /// The caller's own security events as they are recorded: the ones
    /// `User.securityEvents` lists (logins, sessions, password and address
    /// changes).
    #[graphql(guard = "LoggedIn")]
    async fn my_security_events(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = AuditEvent> + use<>> {
        let caller = require_caller(ctx)?;
        let filter = AuditFilter::security_events_of(caller.user.id);
        live_events(ctx, "mySecurityEvents", filter, |_| true).await
    }
}

/// Count the start, then stream the events `filter` selects for as long
/// as the connection's session lasts.
async fn live_events(
    ctx: &Context<'_>,
    field: &str,
    filter: AuditFilter,
    allowed: StillAllowed,
) -> async_graphql::Result<impl Stream<Item = AuditEvent> + use<>> {
    rate_limiting::count_subscription_start(ctx, field).await?;
    let app = app_context(ctx)?.clone();
    let watch = ctx.data_opt::<Arc<SessionWatch>>().cloned();
    let receiver = app
        .audit_feed
        .subscribe(&app.db)
        .await
        .map_err(|error| error.extend())?;
    Ok(audit_feed::live(app, receiver, filter, watch, allowed)
        .map(|event| AuditEvent::from(event.as_ref().clone())))
}
