//! The keys that sign tokens (issue 12), kept in the database so every
//! instance signs and verifies with the same ones and they survive
//! restarts. One key is `active` (new tokens use it); a rotated-out key is
//! `retired` and keeps verifying until every token it signed has expired.
//! HS256 keeps using `JWT_SECRET` and stores nothing here.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SigningKey {
    Table,
    Kid,
    Algorithm,
    PrivateKey,
    PublicKey,
    CreatedAt,
    State,
    RetiredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SigningKey::Table)
                    .if_not_exists()
                    .col(string_len(SigningKey::Kid, 64).primary_key())
                    .col(string_len(SigningKey::Algorithm, 16))
                    // PKCS#8 DER: never served, logged or returned.
                    .col(blob(SigningKey::PrivateKey))
                    // Ed25519: the 32-byte point; P-256: SEC1 uncompressed.
                    .col(blob(SigningKey::PublicKey))
                    .col(timestamp_with_time_zone(SigningKey::CreatedAt))
                    .col(string_len(SigningKey::State, 16))
                    .col(timestamp_with_time_zone_null(SigningKey::RetiredAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_signing_key_state")
                    .table(SigningKey::Table)
                    .col(SigningKey::State)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(SigningKey::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
