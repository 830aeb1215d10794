//! A single-use token a mail carries: to verify an address, reset a
//! password or confirm an email change. Only its SHA-256 is stored, and
//! each token is bound to the state it was issued for (see
//! `services::account_tokens`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "account_token")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub user_id: i32,
    /// `verify_email`, `reset_password` or `change_email`.
    pub kind: String,
    /// SHA-256 of the token, base64url.
    #[sea_orm(unique)]
    pub token_hash: String,
    /// The address the mail went to (for an email change: the new address).
    pub email: String,
    /// What must not have changed for the token to stay good: a fingerprint
    /// of the password hash (reset) or the current address (email change).
    pub bound_to: Option<String>,
    pub expires_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
