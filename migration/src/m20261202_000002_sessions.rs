//! Sessions: one row per login, which every later token of that login (its
//! refreshes) belongs to. The row holds the refresh-token chain: the one
//! refresh token that may be used next (`refresh_jti`), the one it replaced
//! and when (for the reuse grace), and the access token minted with it (so
//! a grace-period retry gets the same pair). Ending the row ends every token
//! of the session; it is kept until its refresh tokens could no longer be
//! presented, so a replay is still recognised as one.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Session {
    Table,
    Id,
    UserId,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    UserAgent,
    IpAddress,
    RefreshJti,
    AccessJti,
    PreviousRefreshJti,
    RotatedAt,
    EndedAt,
    EndReason,
}

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Session::Table)
                    .if_not_exists()
                    .col(uuid(Session::Id).primary_key())
                    .col(integer(Session::UserId))
                    .col(timestamp_with_time_zone(Session::CreatedAt))
                    .col(timestamp_with_time_zone(Session::LastUsedAt))
                    .col(timestamp_with_time_zone(Session::ExpiresAt))
                    .col(string_len_null(Session::UserAgent, 256))
                    .col(string_len_null(Session::IpAddress, 64))
                    .col(uuid(Session::RefreshJti))
                    .col(uuid(Session::AccessJti))
                    .col(uuid_null(Session::PreviousRefreshJti))
                    .col(timestamp_with_time_zone(Session::RotatedAt))
                    .col(timestamp_with_time_zone_null(Session::EndedAt))
                    .col(string_len_null(Session::EndReason, 32))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_session_user")
                            .from(Session::Table, Session::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("ix_session_user_id", Session::UserId),
            ("ix_session_expires_at", Session::ExpiresAt),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Session::Table)
                        .col(column)
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Session::Table).if_exists().to_owned())
            .await
    }
}
