//! Mail that arrives: the outbox every background job goes through (a mail
//! today, a webhook delivery later), the single-use tokens the mails carry,
//! and when a user's address was proved theirs.
//!
//! An outbox row is written in the transaction of the change that causes
//! it, so a job exists exactly when its change committed. A worker claims a
//! row by pushing its `run_after` forward (a lease): an instance that dies
//! mid-job leaves the row to be claimed again when the lease runs out, and
//! a delivered job is deleted. `failed_at` marks a job that ran out of
//! attempts; it stays for an operator to look at.
//!
//! Account tokens are stored as the SHA-256 of the token, never the token.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
    EmailVerifiedAt,
}

#[derive(DeriveIden)]
enum OutboxJob {
    Table,
    Id,
    Kind,
    Payload,
    Attempts,
    RunAfter,
    LastError,
    CreatedAt,
    FailedAt,
}

#[derive(DeriveIden)]
enum AccountToken {
    Table,
    Id,
    UserId,
    Kind,
    TokenHash,
    Email,
    BoundTo,
    ExpiresAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(User::Table)
                    .add_column(timestamp_with_time_zone_null(User::EmailVerifiedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OutboxJob::Table)
                    .if_not_exists()
                    .col(big_pk_auto(OutboxJob::Id))
                    .col(string_len(OutboxJob::Kind, 32))
                    .col(text(OutboxJob::Payload))
                    .col(integer(OutboxJob::Attempts))
                    .col(timestamp_with_time_zone(OutboxJob::RunAfter))
                    .col(string_len_null(OutboxJob::LastError, 512))
                    .col(timestamp_with_time_zone(OutboxJob::CreatedAt))
                    .col(timestamp_with_time_zone_null(OutboxJob::FailedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_outbox_job_run_after")
                    .table(OutboxJob::Table)
                    .col(OutboxJob::RunAfter)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AccountToken::Table)
                    .if_not_exists()
                    .col(pk_auto(AccountToken::Id))
                    .col(integer(AccountToken::UserId))
                    .col(string_len(AccountToken::Kind, 16))
                    .col(string_len_uniq(AccountToken::TokenHash, 64))
                    .col(string_len(AccountToken::Email, 320))
                    .col(string_len_null(AccountToken::BoundTo, 320))
                    .col(timestamp_with_time_zone(AccountToken::ExpiresAt))
                    .col(timestamp_with_time_zone(AccountToken::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_account_token_user")
                            .from(AccountToken::Table, AccountToken::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("ix_account_token_user_id", AccountToken::UserId),
            ("ix_account_token_expires_at", AccountToken::ExpiresAt),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AccountToken::Table)
                        .col(column)
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AccountToken::Table.into_iden(),
            OutboxJob::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(User::Table)
                    .drop_column(User::EmailVerifiedAt)
                    .to_owned(),
            )
            .await
    }
}
