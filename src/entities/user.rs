//! A registered account. `uuid` is the immutable identity tokens point at;
//! `username` and `email` can change. `token_version` is bumped whenever every
//! existing session of the user must stop working (password change).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub uuid: Uuid,
    pub name: String,
    #[sea_orm(unique)]
    pub username: String,
    #[sea_orm(unique)]
    pub email: String,
    pub hashed_password: String,
    pub profile_image_url: String,
    pub is_superuser: bool,
    pub tier_id: Option<i32>,
    pub token_version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub is_deleted: bool,
    pub deleted_at: Option<DateTimeUtc>,
    /// When the user proved the current address is theirs; `None`: not yet.
    pub email_verified_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::tier::Entity",
        from = "Column::TierId",
        to = "super::tier::Column::Id"
    )]
    Tier,
    #[sea_orm(has_many = "super::post::Entity")]
    Post,
}

impl Related<super::tier::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tier.def()
    }
}

impl Related<super::post::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Post.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
impl Model {
    /// A live account for unit tests that need a row but no database.
    pub(crate) fn sample(id: i32, username: &str, is_superuser: bool) -> Self {
        let now = chrono::Utc::now();
        Self {
            id,
            uuid: Uuid::new_v4(),
            name: username.to_owned(),
            username: username.to_owned(),
            email: format!("{username}@example.com"),
            hashed_password: String::new(),
            profile_image_url: String::new(),
            is_superuser,
            tier_id: None,
            token_version: 0,
            created_at: now,
            updated_at: now,
            is_deleted: false,
            deleted_at: None,
            email_verified_at: None,
        }
    }
}
