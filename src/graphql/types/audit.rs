//! Audit events and webhooks as the API shows them. A webhook's secret
//! appears once, in the `WebhookWithSecret` its creation answers.

use async_graphql::{ID, Json, SimpleObject};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::entities::{audit_event, webhook, webhook_delivery};
use crate::services::{audit, webhooks};

/// Something security-relevant that happened.
#[derive(SimpleObject)]
pub struct AuditEvent {
    pub id: ID,
    /// `user.registered`, `session.revoked`, … (see the README's list).
    #[graphql(name = "type")]
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    /// `user`, `anonymous` or `system`.
    pub actor_type: String,
    /// The user who made the change, when it was a logged-in user.
    pub actor_user_id: Option<i32>,
    /// The user the event is about.
    pub user_id: Option<i32>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The `x-request-id` of the request that caused it.
    pub request_id: Option<String>,
    /// What else there is to know; never a password, token, secret or hash.
    pub details: Json<Value>,
}

impl From<audit_event::Model> for AuditEvent {
    fn from(event: audit_event::Model) -> Self {
        let details = Json(audit::details(&event));
        Self {
            id: ID(event.id.to_string()),
            event_type: event.event_type,
            occurred_at: event.occurred_at,
            actor_type: event.actor_kind,
            actor_user_id: event.actor_user_id,
            user_id: event.subject_user_id,
            ip: event.ip,
            user_agent: event.user_agent,
            request_id: event.request_id,
            details,
        }
    }
}

/// A page of events, newest first.
#[derive(SimpleObject)]
pub struct AuditEventPage {
    pub items: Vec<AuditEvent>,
    pub has_more: bool,
    /// Pass as `after` for the next (older) page.
    pub end_cursor: Option<String>,
}

impl AuditEventPage {
    #[must_use]
    pub fn new(rows: Vec<audit_event::Model>, has_more: bool) -> Self {
        let end_cursor = rows.last().map(|row| row.id.to_string());
        Self {
            items: rows.into_iter().map(AuditEvent::from).collect(),
            has_more,
            end_cursor,
        }
    }
}

/// An endpoint events are POSTed to.
#[derive(SimpleObject)]
pub struct Webhook {
    pub id: i32,
    pub url: String,
    /// The event types it receives (`user.registered`, `user.*`, `*`).
    pub events: Vec<String>,
    pub description: String,
    pub enabled: bool,
    /// Why it was disabled automatically (a 410, or too many failures).
    pub disabled_reason: Option<String>,
    /// Failed tries in a row.
    pub consecutive_failures: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<webhook::Model> for Webhook {
    fn from(hook: webhook::Model) -> Self {
        Self {
            events: webhooks::patterns(&hook),
            id: hook.id,
            url: hook.url,
            description: hook.description,
            enabled: hook.enabled,
            disabled_reason: hook.disabled_reason,
            consecutive_failures: hook.consecutive_failures,
            created_at: hook.created_at,
            updated_at: hook.updated_at,
        }
    }
}

/// A new endpoint and its signing secret, shown this once.
#[derive(SimpleObject)]
pub struct WebhookWithSecret {
    pub webhook: Webhook,
    /// `whsec_…`: verify the `webhook-signature` header with it. Not shown
    /// again.
    pub secret: String,
}

/// One event sent (or being sent) to one endpoint.
#[derive(SimpleObject)]
pub struct WebhookDelivery {
    pub id: i64,
    pub webhook_id: i32,
    /// The `webhook-id` header: the same on every try and redelivery.
    pub message_id: String,
    pub event_type: String,
    /// `pending`, `succeeded`, `failed` or `skipped`.
    pub status: String,
    pub attempts: i32,
    pub last_status_code: Option<i32>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The start of the last response body, or why the try failed.
    pub last_response: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<webhook_delivery::Model> for WebhookDelivery {
    fn from(delivery: webhook_delivery::Model) -> Self {
        Self {
            id: delivery.id,
            webhook_id: delivery.webhook_id,
            message_id: delivery.message_id,
            event_type: delivery.event_type,
            status: delivery.status,
            attempts: delivery.attempts,
            last_status_code: delivery.last_status_code,
            last_attempt_at: delivery.last_attempt_at,
            last_response: delivery.last_error,
            created_at: delivery.created_at,
        }
    }
}

/// A page of deliveries, newest first.
#[derive(SimpleObject)]
pub struct WebhookDeliveryPage {
    pub items: Vec<WebhookDelivery>,
    pub has_more: bool,
    pub end_cursor: Option<String>,
}

impl WebhookDeliveryPage {
    #[must_use]
    pub fn new(rows: Vec<webhook_delivery::Model>, has_more: bool) -> Self {
        let end_cursor = rows.last().map(|row| row.id.to_string());
        Self {
            items: rows.into_iter().map(WebhookDelivery::from).collect(),
            has_more,
            end_cursor,
        }
    }
}
