//! Minqing's schema, as an ordered list of migrations. The schema is created only here:
//! the server applies pending migrations at start-up, and `minqing migrate` runs them by hand.
//! Every migration has a real `down`.

pub use sea_orm_migration::prelude::*;

mod m20261127_000001_organisation;
mod m20261127_000002_identity;
mod m20261127_000003_roster;
mod m20261128_000004_ledger;
mod m20261128_000005_sync;
mod m20261128_000006_idempotency;
mod m20261128_000007_campaigns;
mod m20261128_000008_calendar;
mod m20261128_000009_surveys;
mod m20261128_000010_audit_chain;
mod m20261128_000011_ledger_order;
mod m20261128_000012_stamp_on_write;
mod m20261128_000013_audit_unsealed;
mod m20261128_000014_stamp_once_per_transaction;
mod m20261128_000015_audit_seal_without_plpgsql;

pub use m20261128_000012_stamp_on_write::STAMPED_TABLES;

/// The migrator used by the server, the CLI and the tests.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_organisation::Migration),
            Box::new(m20261127_000002_identity::Migration),
            Box::new(m20261127_000003_roster::Migration),
            Box::new(m20261128_000004_ledger::Migration),
            Box::new(m20261128_000005_sync::Migration),
            Box::new(m20261128_000006_idempotency::Migration),
            Box::new(m20261128_000007_campaigns::Migration),
            Box::new(m20261128_000008_calendar::Migration),
            Box::new(m20261128_000009_surveys::Migration),
            Box::new(m20261128_000010_audit_chain::Migration),
            Box::new(m20261128_000011_ledger_order::Migration),
            Box::new(m20261128_000012_stamp_on_write::Migration),
            Box::new(m20261128_000013_audit_unsealed::Migration),
            Box::new(m20261128_000014_stamp_once_per_transaction::Migration),
            Box::new(m20261128_000015_audit_seal_without_plpgsql::Migration),
        ]
    }
}
