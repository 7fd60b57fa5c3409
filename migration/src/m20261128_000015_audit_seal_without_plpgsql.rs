//! PostgreSQL: sealing an audit entry no longer runs PL/pgSQL.
//!
//! Migration 10's trigger ran `audit_log_append_only()` for every updated row, and the function
//! let the row through when the update only sealed it. On PostgreSQL every entry is sealed by
//! an `UPDATE` after its commit (`audit::spawn_sealer`), so the function ran once per entry:
//! measured on a sealing `UPDATE` of 400 entries, 0.7–3.2 ms of its 8–14 ms. The update
//! trigger now carries the same test as its `WHEN` condition, which PostgreSQL evaluates
//! without calling the function: a seal passes untouched, and anything else still reaches the
//! function, which refuses it. Deletes keep the trigger as it was (a `WHEN` of a trigger on
//! `DELETE` cannot read `NEW`). SQLite's triggers already test in `WHEN`.

use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Migration 10's columns an entry keeps as inserted when it is sealed, frozen here: this
/// migration's trigger must come out the same whatever later code does.
const CONTENT_COLUMNS: [&str; 11] = [
    "id",
    "occurred_at",
    "actor_type",
    "actor_id",
    "actor_role",
    "action",
    "entity_type",
    "entity_id",
    "changes",
    "request_id",
    "client_addr",
];

/// The seal test of migration 10's function: the chain columns set on an unsealed entry,
/// every other column unchanged. Never NULL (only `IS [NOT] NULL` and `IS NOT DISTINCT
/// FROM`): a `WHEN` that came out NULL would let the row through.
fn only_sealed() -> String {
    let unchanged = CONTENT_COLUMNS
        .iter()
        .map(|column| {
            // `json` has no equality operator: compare its text.
            let cast = if *column == "changes" { "::text" } else { "" };
            format!("NEW.{column}{cast} IS NOT DISTINCT FROM OLD.{column}{cast}")
        })
        .collect::<Vec<_>>()
        .join(" AND ");
    format!(
        "OLD.seq IS NULL AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL \
         AND NEW.row_hash IS NOT NULL AND {unchanged}"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared("DROP TRIGGER audit_log_append_only ON audit_log")
            .await?;
        db.execute_unprepared(
            "CREATE TRIGGER audit_log_append_only BEFORE DELETE ON audit_log \
             FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
        )
        .await?;
        db.execute_unprepared(&format!(
            "CREATE TRIGGER audit_log_no_change BEFORE UPDATE ON audit_log \
             FOR EACH ROW WHEN (NOT ({})) EXECUTE FUNCTION audit_log_append_only()",
            only_sealed()
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared("DROP TRIGGER audit_log_no_change ON audit_log")
            .await?;
        db.execute_unprepared("DROP TRIGGER audit_log_append_only ON audit_log")
            .await?;
        db.execute_unprepared(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log \
             FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
        )
        .await?;
        Ok(())
    }
}
