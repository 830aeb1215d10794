//! The audit log: `auditEvents` for superusers. A user's own security
//! events are `User.securityEvents` (see `types::user`).

use async_graphql::{Context, ErrorExtensions, InputObject, Object, ResultExt};
use chrono::{DateTime, Utc};

use super::app_context;
use super::types::AuditEventPage;
use crate::auth::Superuser;
use crate::error::{AppError, AppResult};
use crate::services::audit::{self, AuditFilter};
use crate::services::users;

/// The most events one page holds.
pub const MAX_EVENTS_PER_PAGE: i32 = 100;
pub const DEFAULT_EVENTS_PER_PAGE: i32 = 20;

/// Which events to list; every field narrows the list.
#[derive(InputObject, Default)]
pub struct AuditEventFilter {
    /// Exact types (`user.login_failed`) or families (`user.*`).
    pub types: Option<Vec<String>>,
    /// Events about this user.
    pub username: Option<String>,
    /// Events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Events before this time.
    pub until: Option<DateTime<Utc>>,
}

/// A page size within 1–100.
pub fn page_size(first: i32) -> AppResult<u64> {
    if (1..=MAX_EVENTS_PER_PAGE).contains(&first) {
        Ok(u64::try_from(first).unwrap_or(1))
    } else {
        Err(AppError::bad_input(format!(
            "first must be between 1 and {MAX_EVENTS_PER_PAGE}"
        )))
    }
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Audit events, newest first. Superusers only.
    #[graphql(
        guard = "Superuser",
        complexity = "super::complexity::page(first, child_complexity)"
    )]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditEventFilter>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<AuditEventPage> {
        let app = app_context(ctx)?;
        let filter = filter.unwrap_or_default();
        let size = page_size(first.unwrap_or(DEFAULT_EVENTS_PER_PAGE)).map_err(|e| e.extend())?;
        let before = audit::parse_cursor(after.as_deref()).map_err(|e| e.extend())?;
        let subject_user_id = match &filter.username {
            // A name nobody has (or a purged user's) has no events.
            Some(username) => match users::find_any(&app.db, username).await {
                Ok(user) => Some(user.id),
                Err(AppError::NotFound(_)) => return Ok(AuditEventPage::new(Vec::new(), false)),
                Err(error) => return Err(error.extend()),
            },
            None => None,
        };
        let filter = AuditFilter {
            types: filter.types.unwrap_or_default(),
            subject_user_id,
            since: filter.since,
            until: filter.until,
        };
        let (rows, has_more) = audit::page(&app.db, &filter, size, before).await.extend()?;
        Ok(AuditEventPage::new(rows, has_more))
    }
}
