//! A webhook endpoint: where events of the chosen types are POSTed, signed
//! with the endpoint's secret. See `services::webhooks`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub url: String,
    /// The event types sent, as a JSON array (`user.registered`, `user.*`, `*`).
    pub events: String,
    pub description: String,
    /// The signing secret, `whsec_<base64>`. Kept as is (signing needs it),
    /// shown to its creator once, never in the API again.
    pub secret: String,
    pub enabled: bool,
    /// Failed tries in a row (reset by a success).
    pub consecutive_failures: i32,
    /// Why the endpoint was disabled automatically, if it was.
    pub disabled_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
