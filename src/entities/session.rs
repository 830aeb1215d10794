//! One login and everything it leads to: every token minted by the login
//! and by its refreshes carries this row's id (`sid`), and ending the row
//! ends them all. See `services::session_store` for the refresh chain.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "session")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: i32,
    pub created_at: DateTimeUtc,
    /// The last login or refresh (access tokens are checked without a write).
    pub last_used_at: DateTimeUtc,
    /// The absolute end of the session (`SESSION_MAX_AGE` after login).
    pub expires_at: DateTimeUtc,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    /// The refresh token that may be used next.
    pub refresh_jti: Uuid,
    /// The access token minted together with `refresh_jti`.
    pub access_jti: Uuid,
    /// The refresh token `refresh_jti` replaced, accepted again within
    /// `REFRESH_REUSE_GRACE` of `rotated_at` (answered with the same pair).
    pub previous_refresh_jti: Option<Uuid>,
    /// When the current pair was minted (the login, or the last refresh).
    pub rotated_at: DateTimeUtc,
    pub ended_at: Option<DateTimeUtc>,
    /// Why it ended: `logout`, `revoked`, `refresh_token_reused`, …
    pub end_reason: Option<String>,
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
