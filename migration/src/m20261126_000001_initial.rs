//! The initial schema: users, tiers, rate-limit rules, revoked tokens, posts.
//!
//! Uniqueness (username, email, uuid, tier name, one rule per tier and path)
//! lives in unique indexes, so the database and not a racy pre-check has the
//! last word. Every column a query filters on has an index.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tier {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
    Uuid,
    Name,
    Username,
    Email,
    HashedPassword,
    ProfileImageUrl,
    IsSuperuser,
    TierId,
    TokenVersion,
    CreatedAt,
    UpdatedAt,
    IsDeleted,
    DeletedAt,
}

#[derive(DeriveIden)]
enum RateLimit {
    Table,
    Id,
    TierId,
    Path,
    Limit,
    Period,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TokenBlacklist {
    Table,
    TokenId,
    UserId,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Post {
    Table,
    Id,
    CreatedByUserId,
    Title,
    Text,
    MediaUrl,
    CreatedAt,
    UpdatedAt,
    IsDeleted,
    DeletedAt,
}

fn index(name: &str, table: impl IntoIden, column: impl IntoIden) -> IndexCreateStatement {
    Index::create()
        .name(name)
        .table(table)
        .col(column)
        .if_not_exists()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tier::Table)
                    .if_not_exists()
                    .col(pk_auto(Tier::Id))
                    .col(string_len_uniq(Tier::Name, 64))
                    .col(timestamp_with_time_zone(Tier::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(User::Table)
                    .if_not_exists()
                    .col(pk_auto(User::Id))
                    .col(uuid(User::Uuid))
                    .col(string_len(User::Name, 30))
                    .col(string_len(User::Username, 20))
                    .col(string_len(User::Email, 254))
                    .col(string_len(User::HashedPassword, 128))
                    .col(string_len(User::ProfileImageUrl, 2048))
                    .col(boolean(User::IsSuperuser).default(false))
                    .col(integer_null(User::TierId))
                    .col(integer(User::TokenVersion).default(0))
                    .col(timestamp_with_time_zone(User::CreatedAt))
                    .col(timestamp_with_time_zone(User::UpdatedAt))
                    .col(boolean(User::IsDeleted).default(false))
                    .col(timestamp_with_time_zone_null(User::DeletedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_tier")
                            .from(User::Table, User::TierId)
                            .to(Tier::Table, Tier::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("uq_user_uuid", User::Uuid),
            ("uq_user_username", User::Username),
            ("uq_user_email", User::Email),
        ] {
            manager
                .create_index(index(name, User::Table, column).unique().to_owned())
                .await?;
        }
        manager
            .create_index(index("ix_user_tier_id", User::Table, User::TierId))
            .await?;
        manager
            .create_index(index("ix_user_is_deleted", User::Table, User::IsDeleted))
            .await?;
        manager
            .create_index(index(
                "ix_user_is_superuser",
                User::Table,
                User::IsSuperuser,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RateLimit::Table)
                    .if_not_exists()
                    .col(pk_auto(RateLimit::Id))
                    .col(integer(RateLimit::TierId))
                    .col(string_len(RateLimit::Path, 64))
                    .col(integer(RateLimit::Limit))
                    .col(integer(RateLimit::Period))
                    .col(string_len_uniq(RateLimit::Name, 64))
                    .col(timestamp_with_time_zone(RateLimit::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_rate_limit_tier")
                            .from(RateLimit::Table, RateLimit::TierId)
                            .to(Tier::Table, Tier::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_rate_limit_tier_path")
                    .table(RateLimit::Table)
                    .col(RateLimit::TierId)
                    .col(RateLimit::Path)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(TokenBlacklist::Table)
                    .if_not_exists()
                    .col(uuid(TokenBlacklist::TokenId).primary_key())
                    .col(integer_null(TokenBlacklist::UserId))
                    .col(timestamp_with_time_zone(TokenBlacklist::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_token_blacklist_user")
                            .from(TokenBlacklist::Table, TokenBlacklist::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_token_blacklist_expires_at",
                TokenBlacklist::Table,
                TokenBlacklist::ExpiresAt,
            ))
            .await?;
        manager
            .create_index(index(
                "ix_token_blacklist_user_id",
                TokenBlacklist::Table,
                TokenBlacklist::UserId,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Post::Table)
                    .if_not_exists()
                    .col(pk_auto(Post::Id))
                    .col(integer(Post::CreatedByUserId))
                    .col(string_len(Post::Title, 30))
                    .col(text(Post::Text))
                    .col(string_len_null(Post::MediaUrl, 2048))
                    .col(timestamp_with_time_zone(Post::CreatedAt))
                    .col(timestamp_with_time_zone(Post::UpdatedAt))
                    .col(boolean(Post::IsDeleted).default(false))
                    .col(timestamp_with_time_zone_null(Post::DeletedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_post_user")
                            .from(Post::Table, Post::CreatedByUserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_post_author_deleted")
                    .table(Post::Table)
                    .col(Post::CreatedByUserId)
                    .col(Post::IsDeleted)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Post::Table.into_iden(),
            TokenBlacklist::Table.into_iden(),
            RateLimit::Table.into_iden(),
            User::Table.into_iden(),
            Tier::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
