//! One event for one webhook endpoint, and how sending it went. The outbox
//! job `Job::WebhookDelivery` sends it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_delivery")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub webhook_id: i32,
    /// The `webhook-id` header, `msg_<uuid>`: the same on every try and
    /// redelivery, so a receiver can drop duplicates.
    pub message_id: String,
    pub event_type: String,
    /// The JSON body, `{ type, timestamp, data }`.
    pub payload: String,
    /// `pending`, `succeeded`, `failed` or `skipped` (endpoint disabled).
    pub status: String,
    pub attempts: i32,
    pub last_status_code: Option<i32>,
    pub last_attempt_at: Option<DateTimeUtc>,
    /// A short excerpt of the last response body or the error.
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
