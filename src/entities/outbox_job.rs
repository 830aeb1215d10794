//! One job of the outbox: something to do after a change committed (send a
//! mail), written in that change's transaction. See `services::outbox`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox_job")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// What kind of job (`mail`, `password_reset_request`), naming how
    /// `payload` is read.
    pub kind: String,
    /// The job's data, as JSON.
    pub payload: String,
    /// Tries so far, counted when a worker claims the job.
    pub attempts: i32,
    /// Not before this time: the next try, or the end of a worker's lease.
    pub run_after: DateTimeUtc,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    /// Set when the job ran out of attempts; it is not tried again.
    pub failed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
