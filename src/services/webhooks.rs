//! Webhook endpoints (superusers manage them) and the deliveries of events
//! to them. Every audit event is offered to the enabled endpoints that
//! asked for its type ([`fan_out`], called by `audit::record` inside the
//! event's write): each gets a delivery row and an outbox job in the same
//! transaction, so a committed event is delivered at least once, and a
//! rolled-back one never.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::audit::{self, EventType};
use super::outbox::{self, Job};
use super::write::{Actor, Write};
use crate::entities::{audit_event, webhook, webhook_delivery};
use crate::error::{AppError, AppResult};
use crate::state::AppContext;
use crate::webhooks::{address, signature};

pub const WEBHOOK_NOT_FOUND: &str = "Webhook not found";
pub const DELIVERY_NOT_FOUND: &str = "Webhook delivery not found";
/// The type of the event `testWebhook` sends.
pub const TEST_EVENT: &str = "webhook.test";

/// A new endpoint, as a superuser typed it.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
}

/// A partial update: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    /// `true` re-enables a disabled endpoint (its failure count restarts).
    pub enabled: Option<bool>,
}

/// The event types of an endpoint: at least one, each a known type, a
/// family (`user.*`) of known types, or `*`.
fn event_patterns(events: &[String]) -> AppResult<Vec<String>> {
    let mut patterns: Vec<String> = Vec::new();
    for event in events {
        let event = event.trim();
        let known = EventType::ALL
            .iter()
            .any(|known| audit::type_matches(event, known.as_str()))
            || event == TEST_EVENT;
        if !known {
            return Err(AppError::bad_input(format!(
                "`{event}` is no event type; see the README's list (`user.registered`, `user.*`, `*`, …)"
            )));
        }
        if !patterns.iter().any(|pattern| pattern == event) {
            patterns.push(event.to_owned());
        }
    }
    if patterns.is_empty() {
        return Err(AppError::bad_input(
            "events must name at least one event type",
        ));
    }
    Ok(patterns)
}

fn description(value: Option<&str>) -> AppResult<String> {
    let value = value.unwrap_or_default().trim();
    if value.chars().count() > 256 {
        return Err(AppError::bad_input(
            "description must be at most 256 characters",
        ));
    }
    Ok(value.to_owned())
}

async fn endpoint_url(ctx: &AppContext, url: &str) -> AppResult<String> {
    address::check(url, &ctx.config.webhooks)
        .await
        .map(String::from)
        .map_err(|reason| AppError::bad_input(format!("url {reason}")))
}

/// The event types `hook` asked for.
#[must_use]
pub fn patterns(hook: &webhook::Model) -> Vec<String> {
    serde_json::from_str(&hook.events).unwrap_or_default()
}

/// Whether `hook` asked for events of type `event_type`.
#[must_use]
pub fn subscribes(hook: &webhook::Model, event_type: &str) -> bool {
    patterns(hook)
        .iter()
        .any(|pattern| audit::type_matches(pattern, event_type))
}

/// Create an endpoint with a fresh secret (the caller shows it once).
pub async fn create(
    ctx: &AppContext,
    actor: &Actor,
    input: NewWebhook,
) -> AppResult<webhook::Model> {
    let url = endpoint_url(ctx, &input.url).await?;
    let events = event_patterns(&input.events)?;
    let description = description(input.description.as_deref())?;
    let now = Utc::now();
    let mut write = Write::begin(ctx, actor).await?;
    let created = webhook::ActiveModel {
        url: Set(url),
        events: Set(json!(events).to_string()),
        description: Set(description),
        secret: Set(signature::new_secret()),
        enabled: Set(true),
        consecutive_failures: Set(0),
        disabled_reason: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(write.db())
    .await?;
    audit::record(
        &mut write,
        EventType::WebhookCreated,
        None,
        json!({ "webhookId": created.id, "events": events }),
    )
    .await?;
    write.commit().await?;
    Ok(created)
}

async fn find(db: &impl ConnectionTrait, id: i32) -> AppResult<webhook::Model> {
    webhook::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or_else(|| AppError::NotFound(WEBHOOK_NOT_FOUND.to_owned()))
}

pub async fn update(
    ctx: &AppContext,
    actor: &Actor,
    id: i32,
    changes: WebhookChanges,
) -> AppResult<webhook::Model> {
    let url = match &changes.url {
        Some(url) => Some(endpoint_url(ctx, url).await?),
        None => None,
    };
    let events = changes.events.as_deref().map(event_patterns).transpose()?;
    let description = changes
        .description
        .as_deref()
        .map(|value| description(Some(value)))
        .transpose()?;
    let mut write = Write::begin(ctx, actor).await?;
    let mut row = find(write.db(), id).await?.into_active_model();
    let mut fields = Vec::new();
    if let Some(url) = url {
        row.url = Set(url);
        fields.push("url");
    }
    if let Some(events) = &events {
        row.events = Set(json!(events).to_string());
        fields.push("events");
    }
    if let Some(description) = description {
        row.description = Set(description);
        fields.push("description");
    }
    if let Some(enabled) = changes.enabled {
        row.enabled = Set(enabled);
        if enabled {
            row.consecutive_failures = Set(0);
            row.disabled_reason = Set(None);
        }
        fields.push("enabled");
    }
    row.updated_at = Set(Utc::now());
    let updated = row.update(write.db()).await?;
    audit::record(
        &mut write,
        EventType::WebhookUpdated,
        None,
        json!({ "webhookId": id, "fields": fields }),
    )
    .await?;
    write.commit().await?;
    Ok(updated)
}

/// Delete an endpoint and its deliveries (jobs still queued find nothing
/// to send and end).
pub async fn delete(ctx: &AppContext, actor: &Actor, id: i32) -> AppResult<()> {
    let mut write = Write::begin(ctx, actor).await?;
    let hook = find(write.db(), id).await?;
    webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::WebhookId.eq(hook.id))
        .exec(write.db())
        .await?;
    webhook::Entity::delete_by_id(hook.id)
        .exec(write.db())
        .await?;
    audit::record(
        &mut write,
        EventType::WebhookDeleted,
        None,
        json!({ "webhookId": id }),
    )
    .await?;
    write.commit().await
}

pub async fn list(ctx: &AppContext) -> AppResult<Vec<webhook::Model>> {
    Ok(webhook::Entity::find()
        .order_by_asc(webhook::Column::Id)
        .all(&ctx.db)
        .await?)
}

/// The body of a delivery: `{ type, timestamp, data }`.
fn body(event_type: &str, timestamp: chrono::DateTime<Utc>, data: &Value) -> String {
    json!({ "type": event_type, "timestamp": timestamp.to_rfc3339(), "data": data }).to_string()
}

/// Queue a delivery of `payload` to `hook_id` in `write`.
async fn queue(
    write: &mut Write<'_>,
    hook_id: i32,
    event_type: &str,
    payload: String,
) -> AppResult<webhook_delivery::Model> {
    let delivery = webhook_delivery::ActiveModel {
        webhook_id: Set(hook_id),
        message_id: Set(format!("msg_{}", Uuid::new_v4().simple())),
        event_type: Set(event_type.to_owned()),
        payload: Set(payload),
        status: Set("pending".to_owned()),
        attempts: Set(0),
        last_status_code: Set(None),
        last_attempt_at: Set(None),
        last_error: Set(None),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(write.db())
    .await?;
    outbox::enqueue(
        write,
        &Job::WebhookDelivery {
            delivery_id: delivery.id,
        },
    )
    .await?;
    Ok(delivery)
}

/// Queue `event` for every enabled endpoint that asked for its type.
pub async fn fan_out(write: &mut Write<'_>, event: &audit_event::Model) -> AppResult<()> {
    let hooks = webhook::Entity::find()
        .filter(webhook::Column::Enabled.eq(true))
        .all(write.db())
        .await?;
    let mut hooks = hooks
        .into_iter()
        .filter(|hook| subscribes(hook, &event.event_type))
        .peekable();
    if hooks.peek().is_none() {
        return Ok(());
    }
    let payload = body(&event.event_type, event.occurred_at, &audit::to_json(event));
    for hook in hooks {
        queue(write, hook.id, &event.event_type, payload.clone()).await?;
    }
    Ok(())
}

/// `testWebhook`: queue a `webhook.test` event for endpoint `id` alone.
pub async fn test(ctx: &AppContext, actor: &Actor, id: i32) -> AppResult<webhook_delivery::Model> {
    let mut write = Write::begin(ctx, actor).await?;
    let hook = find(write.db(), id).await?;
    let now = Utc::now();
    let payload = body(
        TEST_EVENT,
        now,
        &json!({ "webhookId": hook.id, "message": "A test event from usergraph" }),
    );
    let delivery = queue(&mut write, hook.id, TEST_EVENT, payload).await?;
    write.commit().await?;
    Ok(delivery)
}

/// One page of the deliveries of endpoint `webhook_id`, newest first.
pub async fn deliveries(
    ctx: &AppContext,
    webhook_id: i32,
    first: u64,
    before: Option<i64>,
) -> AppResult<(Vec<webhook_delivery::Model>, bool)> {
    find(&ctx.db, webhook_id).await?;
    let mut query =
        webhook_delivery::Entity::find().filter(webhook_delivery::Column::WebhookId.eq(webhook_id));
    if let Some(before) = before {
        query = query.filter(webhook_delivery::Column::Id.lt(before));
    }
    let mut rows = query
        .order_by_desc(webhook_delivery::Column::Id)
        .limit(first + 1)
        .all(&ctx.db)
        .await?;
    let has_more = rows.len() as u64 > first;
    rows.truncate(usize::try_from(first).unwrap_or(usize::MAX));
    Ok((rows, has_more))
}

/// `redeliverWebhook`: send delivery `id` again, with its message id (so
/// the receiver can tell it is the same event), from a fresh schedule.
pub async fn redeliver(
    ctx: &AppContext,
    actor: &Actor,
    id: i64,
) -> AppResult<webhook_delivery::Model> {
    let mut write = Write::begin(ctx, actor).await?;
    let delivery = webhook_delivery::Entity::find_by_id(id)
        .one(write.db())
        .await?
        .ok_or_else(|| AppError::NotFound(DELIVERY_NOT_FOUND.to_owned()))?;
    let hook = find(write.db(), delivery.webhook_id).await?;
    if !hook.enabled {
        return Err(AppError::bad_input(
            "The webhook is disabled; enable it with updateWebhook first",
        ));
    }
    let mut row = delivery.into_active_model();
    row.status = Set("pending".to_owned());
    let pending = row.update(write.db()).await?;
    outbox::enqueue(&mut write, &Job::WebhookDelivery { delivery_id: id }).await?;
    write.commit().await?;
    Ok(pending)
}
