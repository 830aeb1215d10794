//! Schema migrations for usergraph.
//!
//! Run at server start-up (`usergraph serve`) or alone (`usergraph migrate`).
//! On PostgreSQL the server wraps [`Migrator::up`] in an advisory lock so that
//! several instances starting at once apply each migration exactly once.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_initial;
mod m20261126_000002_auth_changes;
mod m20261202_000001_signing_keys;
mod m20261202_000002_sessions;
mod m20261203_000001_mail;
mod m20261203_000002_events;
mod m20261204_000001_live_user_index;

/// Every migration of the schema, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_initial::Migration),
            Box::new(m20261126_000002_auth_changes::Migration),
            Box::new(m20261202_000001_signing_keys::Migration),
            Box::new(m20261202_000002_sessions::Migration),
            Box::new(m20261203_000001_mail::Migration),
            Box::new(m20261203_000002_events::Migration),
            Box::new(m20261204_000001_live_user_index::Migration),
        ]
    }
}
