//! One audit event: who did what to whom, when and from where. Written in
//! the transaction of the change it records; see `services::audit`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub occurred_at: DateTimeUtc,
    /// `user.registered`, `session.revoked`, … (see `services::audit::EventType`).
    pub event_type: String,
    /// `user`, `anonymous` or `system`.
    pub actor_kind: String,
    pub actor_user_id: Option<i32>,
    /// The user the event is about (no foreign key: the trail outlives them).
    pub subject_user_id: Option<i32>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// A JSON object; never a password, token, secret or hash.
    pub details: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
