//! The audit trail becomes tamper-evident and append-only.
//!
//! Each entry gets `seq` (its place in one chain), `prev_hash` (the entry before's hash) and
//! `row_hash` (SHA-256 over its fields and `prev_hash`). They are filled at commit by
//! `audit::seal`, which locks the one row of `audit_chain_head` (the last `seq` and hash), so
//! the chain is linear however many writers there are. Entries written before this migration
//! are left unsealed and join the chain, in id (time) order, at the first audited commit after
//! it — the hashing lives in one place, the application.
//!
//! Triggers refuse, on both engines, any UPDATE of an entry except sealing it (setting the
//! three chain columns of an unsealed entry, every other column unchanged), and any DELETE of
//! an entry that no retention checkpoint (`audit_checkpoints`, written by `minqing audit
//! prune`) covers. Checkpoints themselves are append-only. A superuser can still disable the
//! triggers; `minqing audit verify` then detects what was changed.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The `prev_hash` of the first entry.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Columns an entry is sealed with; every other column must stay as inserted.
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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for column in [
            big_integer_null(AuditLog::Seq),
            string_len_null(AuditLog::PrevHash, 64),
            string_len_null(AuditLog::RowHash, 64),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AuditLog::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        // Unique (several NULLs allowed on both engines); also finds the unsealed entries.
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_log_seq")
                    .table(AuditLog::Table)
                    .col(AuditLog::Seq)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditChainHead::Table)
                    .col(integer(AuditChainHead::Id).primary_key())
                    .col(big_integer(AuditChainHead::LastSeq))
                    .col(string_len(AuditChainHead::LastHash, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(AuditChainHead::Table)
                    .columns([
                        AuditChainHead::Id,
                        AuditChainHead::LastSeq,
                        AuditChainHead::LastHash,
                    ])
                    .values_panic([1.into(), 0_i64.into(), GENESIS.into()])
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditCheckpoints::Table)
                    .col(big_integer(AuditCheckpoints::Seq).primary_key())
                    .col(string_len(AuditCheckpoints::RowHash, 64))
                    .col(timestamp_with_time_zone(AuditCheckpoints::Cutoff))
                    .col(big_integer(AuditCheckpoints::PrunedCount))
                    .col(timestamp_with_time_zone(AuditCheckpoints::PrunedAt))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                let unchanged = CONTENT_COLUMNS
                    .iter()
                    .map(|column| {
                        // `json` has no equality operator: compare its text.
                        let cast = if *column == "changes" { "::text" } else { "" };
                        format!("NEW.{column}{cast} IS NOT DISTINCT FROM OLD.{column}{cast}")
                    })
                    .collect::<Vec<_>>()
                    .join(" AND ");
                db.execute_unprepared(&format!(
                    r#"CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF OLD.seq IS NULL AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL
           AND NEW.row_hash IS NOT NULL AND {unchanged} THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only: entry % cannot be changed', OLD.id;
    ELSIF TG_OP = 'DELETE' THEN
        IF OLD.seq IS NOT NULL
           AND OLD.seq <= (SELECT COALESCE(MAX(seq), 0) FROM audit_checkpoints) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_log is append-only: entry % is removed only by the retention prune', OLD.id;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END
$$"#
                ))
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log \
                     FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log \
                     FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
                )
                .await?;
                db.execute_unprepared(
                    r#"CREATE FUNCTION audit_checkpoints_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_checkpoints is append-only: % refused', TG_OP;
END
$$"#,
                )
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER audit_checkpoints_append_only \
                     BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_checkpoints \
                     FOR EACH STATEMENT EXECUTE FUNCTION audit_checkpoints_append_only()",
                )
                .await?;
            }
            _ => {
                let unchanged = CONTENT_COLUMNS
                    .iter()
                    .map(|column| format!("NEW.{column} IS OLD.{column}"))
                    .collect::<Vec<_>>()
                    .join(" AND ");
                db.execute_unprepared(&format!(
                    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log \
                     WHEN NOT (OLD.seq IS NULL AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL \
                     AND NEW.row_hash IS NOT NULL AND {unchanged}) \
                     BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: an entry cannot be changed'); END"
                ))
                .await?;
                db.execute_unprepared(
                    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log \
                     WHEN OLD.seq IS NULL \
                     OR OLD.seq > (SELECT COALESCE(MAX(seq), 0) FROM audit_checkpoints) \
                     BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: entries are removed only by the retention prune'); END",
                )
                .await?;
                for (name, event) in [
                    ("audit_checkpoints_no_update", "UPDATE"),
                    ("audit_checkpoints_no_delete", "DELETE"),
                ] {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER {name} BEFORE {event} ON audit_checkpoints \
                         BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END"
                    ))
                    .await?;
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Postgres => {
                for statement in [
                    "DROP TRIGGER IF EXISTS audit_checkpoints_append_only ON audit_checkpoints",
                    "DROP FUNCTION IF EXISTS audit_checkpoints_append_only()",
                    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
                    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
                    "DROP FUNCTION IF EXISTS audit_log_append_only()",
                ] {
                    db.execute_unprepared(statement).await?;
                }
            }
            _ => {
                for trigger in [
                    "audit_checkpoints_no_update",
                    "audit_checkpoints_no_delete",
                    "audit_log_no_update",
                    "audit_log_no_delete",
                ] {
                    db.execute_unprepared(&format!("DROP TRIGGER IF EXISTS {trigger}"))
                        .await?;
                }
            }
        }
        manager
            .drop_table(Table::drop().table(AuditCheckpoints::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AuditChainHead::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_audit_log_seq")
                    .table(AuditLog::Table)
                    .to_owned(),
            )
            .await?;
        for column in [AuditLog::RowHash, AuditLog::PrevHash, AuditLog::Seq] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AuditLog::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditLog {
    Table,
    Seq,
    PrevHash,
    RowHash,
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditChainHead {
    Table,
    Id,
    LastSeq,
    LastHash,
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditCheckpoints {
    Table,
    Seq,
    RowHash,
    Cutoff,
    PrunedCount,
    PrunedAt,
}
