//! PostgreSQL: the stamp trigger reads `sync_counter` once per transaction, not once per row.
//!
//! Migration 12's `sync_stamp()` ran `(SELECT value FROM sync_counter WHERE id = 1)` for every
//! row it stamped — a query through SPI per row, 200 of them for a push of 100 visits (each
//! visit and its household). A transaction's stamp never changes (its id plus the counter's
//! value, which only moves at start-up), so the first row computes it and keeps it in a
//! transaction-local setting (`minqing.stamp`, gone at commit or rollback); the other rows read
//! it back, an expression PL/pgSQL evaluates without a query. SQLite has no trigger (it stamps
//! at commit).

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Migration 12's function, restored by `down`.
const PER_ROW: &str = r#"CREATE OR REPLACE FUNCTION sync_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.change_seq = 0 THEN
            NEW.change_seq := pg_current_xact_id()::text::bigint
                + (SELECT value FROM sync_counter WHERE id = 1);
            IF NEW.created_seq = 0 THEN
                NEW.created_seq := NEW.change_seq;
            END IF;
        END IF;
        RETURN NEW;
    END $$"#;

const ONCE_PER_TRANSACTION: &str = r#"CREATE OR REPLACE FUNCTION sync_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        stamp text := current_setting('minqing.stamp', true);
    BEGIN
        IF NEW.change_seq = 0 THEN
            IF stamp IS NULL OR stamp = '' THEN
                stamp := (pg_current_xact_id()::text::bigint
                    + (SELECT value FROM sync_counter WHERE id = 1))::text;
                PERFORM set_config('minqing.stamp', stamp, true);
            END IF;
            NEW.change_seq := stamp::bigint;
            IF NEW.created_seq = 0 THEN
                NEW.created_seq := NEW.change_seq;
            END IF;
        END IF;
        RETURN NEW;
    END $$"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(ONCE_PER_TRANSACTION)
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager.get_connection().execute_unprepared(PER_ROW).await?;
        Ok(())
    }
}
