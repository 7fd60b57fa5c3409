//! Connecting to the database, and the one way to start a writing transaction.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbErr,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

use crate::config::{DatabaseSettings, Engine};

/// How long SQLite waits for another writer before it gives up with "busy".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens the pool. SQLite is put in WAL mode with foreign keys on, a busy timeout and
/// `synchronous = NORMAL`: in WAL mode that is durable across a process crash (SIGKILL),
/// though not across power loss, and about three times faster than `FULL` for small
/// transactions — the trade every WAL deployment of SQLite makes.
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(settings.url.clone());
    options
        .max_connections(settings.max_connections)
        .min_connections(1)
        .acquire_timeout(settings.acquire_timeout)
        .connect_timeout(settings.acquire_timeout)
        .idle_timeout(Duration::from_secs(300))
        .test_before_acquire(true)
        .sqlx_logging(false);
    if settings.engine() == Engine::Sqlite {
        options.map_sqlx_sqlite_opts(|sqlite| {
            sqlite
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
        });
    }
    Database::connect(options).await
}

/// Connects and applies every pending migration.
pub async fn connect_and_migrate(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    let db = connect(settings).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
}

/// Starts a transaction that will write. On SQLite it begins `IMMEDIATE`, taking the write
/// lock at once: a deferred transaction that reads and then writes can fail with
/// "database is locked" whatever the busy timeout, because SQLite cannot upgrade its lock.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// True when the database answers and has every migration applied.
pub async fn is_ready(db: &DatabaseConnection) -> Result<bool, DbErr> {
    db.ping().await?;
    Ok(Migrator::get_pending_migrations_read_only(db)
        .await?
        .is_empty())
}

/// The tables the field app keeps (see the sync migration): rows written with
/// `change_seq = 0` are stamped at commit.
const SYNCED_TABLES: [&str; 8] = [
    "org_units",
    "households",
    "enterprises",
    "visits",
    "issues",
    "issue_events",
    "pairings",
    "sync_tombstones",
];

/// Commits a writing transaction. Rows of synced tables it marked as changed
/// (`change_seq = 0`) are first stamped with the next value of the sync counter; the counter
/// row stays locked until the commit, so sequence numbers follow commit order. Every writing
/// transaction ends here (a test checks that no other code calls `commit`).
pub async fn commit(txn: DatabaseTransaction) -> Result<(), DbErr> {
    stamp_changes(&txn).await?;
    txn.commit().await
}

async fn stamp_changes(txn: &DatabaseTransaction) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    let pending = SYNCED_TABLES
        .iter()
        .map(|table| format!("SELECT 1 FROM {table} WHERE change_seq = 0"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let any_pending = txn
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT 1 AS pending FROM ({pending}) AS changed LIMIT 1"),
        ))
        .await?
        .is_some();
    if !any_pending {
        return Ok(());
    }
    let seq: i64 = txn
        .query_one_raw(Statement::from_string(
            backend,
            "UPDATE sync_counter SET value = value + 1 WHERE id = 1 RETURNING value".to_owned(),
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("sync_counter".to_owned()))?
        .try_get("", "value")?;
    for table in SYNCED_TABLES {
        txn.execute_unprepared(&format!(
            "UPDATE {table} SET change_seq = {seq}, \
             created_seq = CASE WHEN created_seq = 0 THEN {seq} ELSE created_seq END \
             WHERE change_seq = 0"
        ))
        .await?;
    }
    Ok(())
}
