//! PostgreSQL stamps synced rows as they are written, not at commit.
//!
//! Until now every writing transaction, on both engines, took the next value of the
//! `sync_counter` row just before its commit and restamped the rows it had marked
//! (`change_seq = 0`); the counter row stayed locked through the commit. On PostgreSQL that
//! made every writer wait for the previous writer's commit (and its fsync), and wrote each
//! synced row twice. Here a trigger gives each marked row, as it is written, the stamp
//! `transaction id + sync_counter.value`: one write, and no row that all writers share. (The
//! counter's value, which PostgreSQL no longer moves, keeps new stamps above those handed out
//! before.) Transaction ids are not in commit order; `sync::current_cursor` hands out cursors
//! below the oldest transaction still running, so no change is missed. SQLite, which has one
//! writer at a time, keeps the counter.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables whose rows carry `change_seq` (those the field app keeps, and tombstones).
pub const STAMPED_TABLES: [&str; 8] = [
    "org_units",
    "households",
    "enterprises",
    "visits",
    "issues",
    "issue_events",
    "pairings",
    "sync_tombstones",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            r#"CREATE FUNCTION sync_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.change_seq = 0 THEN
            NEW.change_seq := pg_current_xact_id()::text::bigint
                + (SELECT value FROM sync_counter WHERE id = 1);
            IF NEW.created_seq = 0 THEN
                NEW.created_seq := NEW.change_seq;
            END IF;
        END IF;
        RETURN NEW;
    END $$"#,
        )
        .await?;
        for table in STAMPED_TABLES {
            db.execute_unprepared(&format!(
                "CREATE TRIGGER {table}_sync_stamp BEFORE INSERT OR UPDATE ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION sync_stamp()"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for table in STAMPED_TABLES {
            db.execute_unprepared(&format!(
                "DROP TRIGGER IF EXISTS {table}_sync_stamp ON {table}"
            ))
            .await?;
        }
        db.execute_unprepared("DROP FUNCTION IF EXISTS sync_stamp()")
            .await?;
        Ok(())
    }
}
