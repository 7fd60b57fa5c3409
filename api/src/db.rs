//! Connecting to the database, and the one way to start a writing transaction.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
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
        .statement_timeout(settings.statement_timeout)
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

/// How long a request waits its turn to write before it is answered 503.
const WRITE_TURN_WAIT: Duration = Duration::from_secs(15);

/// SQLite has one writer at a time. Left to itself, its busy handler polls with growing
/// sleeps, and under sustained load a waiting writer can starve past any timeout
/// ("database is locked"). Writers therefore queue here first, in arrival order, and SQLite
/// sees one at a time. PostgreSQL writers do not queue.
static SQLITE_WRITE_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A writing transaction (and, on SQLite, the turn to write). End it with [`commit`]; dropping
/// it rolls back.
pub struct WriteTxn {
    txn: DatabaseTransaction,
    _turn: Option<tokio::sync::MutexGuard<'static, ()>>,
}

/// Starts a transaction that will write. On SQLite it waits its turn (see
/// `SQLITE_WRITE_TURN`) and begins `IMMEDIATE`, taking the write lock at once: a deferred
/// transaction that reads and then writes can fail with "database is locked" whatever the
/// busy timeout, because SQLite cannot upgrade its lock.
pub async fn begin_write(db: &DatabaseConnection) -> Result<WriteTxn, DbErr> {
    let turn = match db.get_database_backend() {
        DbBackend::Sqlite => Some(
            tokio::time::timeout(WRITE_TURN_WAIT, SQLITE_WRITE_TURN.lock())
                .await
                .map_err(|_| DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout))?,
        ),
        _ => None,
    };
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
        .await?;
    Ok(WriteTxn { txn, _turn: turn })
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<sea_orm::ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<sea_orm::ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<sea_orm::QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.txn.support_returning()
    }
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
/// row stays locked until the commit, so sequence numbers follow commit order. Then the
/// transaction's audit rows are sealed into the hash chain (`audit::seal`). Every writing
/// transaction ends here (a test checks that no other code calls `commit`).
pub async fn commit(write: WriteTxn) -> Result<(), DbErr> {
    stamp_changes(&write.txn).await?;
    crate::audit::seal(&write.txn).await?;
    write.txn.commit().await
}

async fn stamp_changes(txn: &DatabaseTransaction) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    // Which synced tables this transaction marked — found before taking the counter's lock,
    // so the lock is held only for the stamping itself and the commit.
    let pending = SYNCED_TABLES
        .iter()
        .map(|table| format!("SELECT '{table}' AS marked FROM (SELECT 1 FROM {table} WHERE change_seq = 0 LIMIT 1) AS {table}_marked"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let marked: Vec<String> = txn
        .query_all_raw(Statement::from_string(backend, pending))
        .await?
        .iter()
        .filter_map(|row| row.try_get::<String>("", "marked").ok())
        .filter(|table| SYNCED_TABLES.contains(&table.as_str()))
        .collect();
    if marked.is_empty() {
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
    for table in marked {
        txn.execute_unprepared(&format!(
            "UPDATE {table} SET change_seq = {seq}, \
             created_seq = CASE WHEN created_seq = 0 THEN {seq} ELSE created_seq END \
             WHERE change_seq = 0"
        ))
        .await?;
    }
    Ok(())
}
