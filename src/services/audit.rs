//! The audit log: who did what to whom, when and from where. Every
//! security-relevant change calls [`record`] with its own [`Write`], so the
//! event commits (or rolls back) with the change, and the webhook
//! deliveries of the event are queued in the same transaction.
//!
//! An event never holds a password, token, secret or hash: callers pass
//! details they chose field by field (for `user.updated`, the names of the
//! fields changed, not their values). Events are kept `AUDIT_RETENTION`. A
//! user purged permanently keeps their trail, with its personal fields
//! (address, user agent, details) blanked by [`redact_user`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::{Value, json};

use super::webhooks;
use super::write::Write;
use crate::entities::audit_event;
use crate::error::{AppError, AppResult};

/// What happened. The names are the public `type` of events and webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    UserRegistered,
    LoginSucceeded,
    LoginFailed,
    Logout,
    SessionRevoked,
    SessionReuseDetected,
    PasswordChanged,
    PasswordResetRequested,
    PasswordReset,
    EmailVerified,
    EmailChanged,
    UserUpdated,
    UserDeleted,
    UserRestored,
    UserPurged,
    TierChanged,
    SuperuserChanged,
    SigningKeyRotated,
    TierCreated,
    TierRenamed,
    TierDeleted,
    RateLimitCreated,
    RateLimitUpdated,
    RateLimitDeleted,
    WebhookCreated,
    WebhookUpdated,
    WebhookDeleted,
    WebhookDisabled,
}

impl EventType {
    /// Every type, in the order the README lists them.
    pub const ALL: [Self; 28] = [
        Self::UserRegistered,
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::Logout,
        Self::SessionRevoked,
        Self::SessionReuseDetected,
        Self::PasswordChanged,
        Self::PasswordResetRequested,
        Self::PasswordReset,
        Self::EmailVerified,
        Self::EmailChanged,
        Self::UserUpdated,
        Self::UserDeleted,
        Self::UserRestored,
        Self::UserPurged,
        Self::TierChanged,
        Self::SuperuserChanged,
        Self::SigningKeyRotated,
        Self::TierCreated,
        Self::TierRenamed,
        Self::TierDeleted,
        Self::RateLimitCreated,
        Self::RateLimitUpdated,
        Self::RateLimitDeleted,
        Self::WebhookCreated,
        Self::WebhookUpdated,
        Self::WebhookDeleted,
        Self::WebhookDisabled,
    ];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserRegistered => "user.registered",
            Self::LoginSucceeded => "user.login_succeeded",
            Self::LoginFailed => "user.login_failed",
            Self::Logout => "user.logout",
            Self::SessionRevoked => "session.revoked",
            Self::SessionReuseDetected => "session.reuse_detected",
            Self::PasswordChanged => "user.password_changed",
            Self::PasswordResetRequested => "user.password_reset_requested",
            Self::PasswordReset => "user.password_reset",
            Self::EmailVerified => "user.email_verified",
            Self::EmailChanged => "user.email_changed",
            Self::UserUpdated => "user.updated",
            Self::UserDeleted => "user.deleted",
            Self::UserRestored => "user.restored",
            Self::UserPurged => "user.purged",
            Self::TierChanged => "user.tier_changed",
            Self::SuperuserChanged => "user.superuser_changed",
            Self::SigningKeyRotated => "signing_key.rotated",
            Self::TierCreated => "tier.created",
            Self::TierRenamed => "tier.renamed",
            Self::TierDeleted => "tier.deleted",
            Self::RateLimitCreated => "rate_limit.created",
            Self::RateLimitUpdated => "rate_limit.updated",
            Self::RateLimitDeleted => "rate_limit.deleted",
            Self::WebhookCreated => "webhook.created",
            Self::WebhookUpdated => "webhook.updated",
            Self::WebhookDeleted => "webhook.deleted",
            Self::WebhookDisabled => "webhook.disabled",
        }
    }
}

/// The types a user sees in their own `securityEvents`: their logins,
/// sessions, password and address changes.
pub const SECURITY_TYPES: &[&str] = &[
    "user.login_succeeded",
    "user.login_failed",
    "user.logout",
    "session.*",
    "user.password_*",
    "user.email_*",
    "mfa.*",
    "passkey.*",
];

/// Who made a change, as stored in `actor_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    User,
    Anonymous,
    System,
}

impl ActorKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Anonymous => "anonymous",
            Self::System => "system",
        }
    }
}

/// Record `event` about `subject_user_id` in `write`, with the write's
/// actor and origin, and queue its webhook deliveries. `details` must be a
/// JSON object free of secrets (see the module documentation).
pub async fn record(
    write: &mut Write<'_>,
    event: EventType,
    subject_user_id: Option<i32>,
    details: Value,
) -> AppResult<audit_event::Model> {
    let actor = write.actor();
    let kind = if actor.caller().is_some() {
        ActorKind::User
    } else if actor.is_system() {
        ActorKind::System
    } else {
        ActorKind::Anonymous
    };
    let origin = actor.origin();
    let row = audit_event::ActiveModel {
        occurred_at: Set(Utc::now()),
        event_type: Set(event.as_str().to_owned()),
        actor_kind: Set(kind.as_str().to_owned()),
        actor_user_id: Set(actor.user_id()),
        subject_user_id: Set(subject_user_id),
        ip: Set(origin.ip.map(|ip| ip.to_string())),
        user_agent: Set(origin
            .user_agent
            .as_deref()
            .map(|agent| agent.chars().take(256).collect())),
        request_id: Set(origin
            .request_id
            .as_deref()
            .map(|id| id.chars().take(128).collect())),
        details: Set(details.to_string()),
        ..Default::default()
    }
    .insert(write.db())
    .await?;
    write.audit_event_added();
    webhooks::fan_out(write, &row).await?;
    Ok(row)
}

/// An event as the API, webhooks and subscriptions show it.
#[must_use]
pub fn to_json(event: &audit_event::Model) -> Value {
    json!({
        "id": event.id,
        "type": event.event_type,
        "occurredAt": event.occurred_at.to_rfc3339(),
        "actor": { "type": event.actor_kind, "userId": event.actor_user_id },
        "userId": event.subject_user_id,
        "ip": event.ip,
        "userAgent": event.user_agent,
        "requestId": event.request_id,
        "details": details(event),
    })
}

/// The details of `event` as JSON (an empty object if unreadable).
#[must_use]
pub fn details(event: &audit_event::Model) -> Value {
    serde_json::from_str(&event.details).unwrap_or_else(|_| json!({}))
}

/// Which events a listing shows.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Exact types, or families ending in `.*` / `_*` (`user.*`); empty: all.
    pub types: Vec<String>,
    pub subject_user_id: Option<i32>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl AuditFilter {
    /// Whether `event` passes the types and user of this filter (the times
    /// are for listings; a live event is always new).
    #[must_use]
    pub fn matches(&self, event: &audit_event::Model) -> bool {
        let type_ok = self.types.is_empty()
            || self
                .types
                .iter()
                .any(|pattern| type_matches(pattern, &event.event_type));
        let user_ok = self
            .subject_user_id
            .is_none_or(|user_id| event.subject_user_id == Some(user_id));
        type_ok && user_ok
    }

    /// The events a user sees about themselves (`securityEvents`).
    #[must_use]
    pub fn security_events_of(user_id: i32) -> Self {
        Self {
            types: SECURITY_TYPES.iter().map(|t| (*t).to_owned()).collect(),
            subject_user_id: Some(user_id),
            ..Self::default()
        }
    }
}

/// Whether `pattern` (an exact type, `family.*`, `prefix_*` or `*`)
/// matches the type `event_type`.
#[must_use]
pub fn type_matches(pattern: &str, event_type: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => event_type.starts_with(prefix),
        None => pattern == event_type,
    }
}

fn type_condition(types: &[String]) -> Condition {
    let mut condition = Condition::any();
    for pattern in types {
        condition = condition.add(match pattern.strip_suffix('*') {
            Some(prefix) => {
                let escaped = prefix
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                Expr::col(audit_event::Column::EventType)
                    .like(LikeExpr::new(format!("{escaped}%")).escape('\\'))
            }
            None => audit_event::Column::EventType.eq(pattern.as_str()),
        });
    }
    condition
}

/// One page of events, newest first: up to `first` events older than the
/// event `before` (a cursor), and whether more follow.
pub async fn page(
    db: &impl ConnectionTrait,
    filter: &AuditFilter,
    first: u64,
    before: Option<i64>,
) -> AppResult<(Vec<audit_event::Model>, bool)> {
    let mut query = audit_event::Entity::find();
    if !filter.types.is_empty() {
        query = query.filter(type_condition(&filter.types));
    }
    if let Some(user_id) = filter.subject_user_id {
        query = query.filter(audit_event::Column::SubjectUserId.eq(user_id));
    }
    if let Some(since) = filter.since {
        query = query.filter(audit_event::Column::OccurredAt.gte(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(audit_event::Column::OccurredAt.lt(until));
    }
    if let Some(before) = before {
        query = query.filter(audit_event::Column::Id.lt(before));
    }
    let mut rows = query
        .order_by_desc(audit_event::Column::Id)
        .limit(first + 1)
        .all(db)
        .await?;
    let has_more = rows.len() as u64 > first;
    rows.truncate(usize::try_from(first).unwrap_or(usize::MAX));
    Ok((rows, has_more))
}

/// A page cursor (an event id, as handed out in `endCursor`).
pub fn parse_cursor(cursor: Option<&str>) -> AppResult<Option<i64>> {
    cursor
        .map(|cursor| {
            cursor
                .parse::<i64>()
                .map_err(|_| AppError::bad_input("after must be an endCursor from a page"))
        })
        .transpose()
}

/// Blank the personal fields of every event about, or made by, `user_id`
/// (a permanent deletion): the trail stays, who it was does not.
pub async fn redact_user(write: &Write<'_>, user_id: i32) -> AppResult<()> {
    audit_event::Entity::update_many()
        .col_expr(audit_event::Column::Ip, Expr::value(None::<String>))
        .col_expr(audit_event::Column::UserAgent, Expr::value(None::<String>))
        .col_expr(audit_event::Column::Details, Expr::value("{}"))
        .filter(audit_event::Column::SubjectUserId.eq(user_id))
        .exec(write.db())
        .await?;
    audit_event::Entity::update_many()
        .col_expr(audit_event::Column::Ip, Expr::value(None::<String>))
        .col_expr(audit_event::Column::UserAgent, Expr::value(None::<String>))
        .filter(audit_event::Column::ActorUserId.eq(user_id))
        .exec(write.db())
        .await?;
    Ok(())
}

/// Delete events older than `retention`; how many.
pub async fn prune(db: &impl ConnectionTrait, retention: Duration) -> AppResult<u64> {
    let Some(cutoff) = chrono::Duration::from_std(retention)
        .ok()
        .and_then(|keep| Utc::now().checked_sub_signed(keep))
    else {
        return Ok(0);
    };
    let result = audit_event::Entity::delete_many()
        .filter(audit_event::Column::OccurredAt.lt(cutoff))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_exact_types_and_families() {
        assert!(type_matches("user.registered", "user.registered"));
        assert!(!type_matches("user.registered", "user.registered2"));
        assert!(type_matches("user.*", "user.login_failed"));
        assert!(type_matches("user.password_*", "user.password_reset"));
        assert!(type_matches("*", "tier.created"));
        assert!(!type_matches("session.*", "user.logout"));
    }

    #[test]
    fn every_type_has_a_distinct_dotted_name() {
        let mut names: Vec<&str> = EventType::ALL.iter().map(|event| event.as_str()).collect();
        assert!(names.iter().all(|name| name.contains('.')));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EventType::ALL.len());
    }
}
