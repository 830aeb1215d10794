//! The change feed behind the session cache: every write that can make a
//! cached session wrong (a revoked token, a changed, demoted or deleted
//! user) appends a numbered row here in the same transaction.
//!
//! `auth_change_head` holds the last number handed out. Bumping it locks the
//! row until commit, so numbers commit in order and without gaps; an
//! instance that reads the head and then the rows up to it has missed
//! nothing, whichever instance wrote them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuthChangeHead {
    Table,
    Id,
    Seq,
}

#[derive(DeriveIden)]
enum AuthChange {
    Table,
    Seq,
    UserId,
    TokenId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuthChangeHead::Table)
                    .if_not_exists()
                    .col(integer(AuthChangeHead::Id).primary_key())
                    .col(big_integer(AuthChangeHead::Seq))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(AuthChangeHead::Table)
                    .columns([AuthChangeHead::Id, AuthChangeHead::Seq])
                    .values_panic([1.into(), 0i64.into()])
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuthChange::Table)
                    .if_not_exists()
                    .col(big_integer(AuthChange::Seq).primary_key())
                    .col(integer_null(AuthChange::UserId))
                    .col(uuid_null(AuthChange::TokenId))
                    .col(timestamp_with_time_zone(AuthChange::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_auth_change_created_at")
                    .table(AuthChange::Table)
                    .col(AuthChange::CreatedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuthChange::Table.into_iden(),
            AuthChangeHead::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
