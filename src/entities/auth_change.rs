//! One entry of the change feed: a user whose cached sessions must go
//! (`user_id`), or one revoked access token (`token_id`). `seq` comes from
//! [`auth_change_head`](super::auth_change_head) and has no gaps.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "auth_change")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub user_id: Option<i32>,
    pub token_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
