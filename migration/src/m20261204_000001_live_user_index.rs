//! An index of live users' ids, for deep pages of the listing.
//!
//! A page by number skips `offset` live users in id order. Through the
//! primary key PostgreSQL visits every skipped row in the table to check
//! `is_deleted`; through this partial index it reads ids alone (an
//! index-only scan once the table is vacuumed), and the page's rows are
//! then fetched by id (`services::user_rows::page`). 100 users at offsets
//! up to 100,000: 254 → 644 statements per second with pgbench on the
//! benchmark's machine (docs/performance.md, issue 16). SQLite already
//! reads ids alone through `ix_user_is_deleted`, which holds the rowid;
//! the index costs it little and keeps the schema the same on both.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // A partial index: written as SQL, which both backends accept.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS \"ix_user_live_id\" ON \"user\" (\"id\") \
                 WHERE \"is_deleted\" = false",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS \"ix_user_live_id\"")
            .await?;
        Ok(())
    }
}
