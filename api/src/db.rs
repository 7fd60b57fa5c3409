//! Connecting to the database, and the one way to start a writing transaction.

use std::time::Duration;

use migration::{Migrator, MigratorTrait, STAMPED_TABLES};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

use crate::config::{DatabaseSettings, Engine};

/// How long SQLite waits for another writer before it gives up with "busy".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements each SQLite connection keeps (sqlx's default is 100). A statement
/// with a long `IN (…)` list is a program of thousands of steps, and lists of every length
/// are distinct statements: 100 of them per connection held ~10 MiB after one export of the
/// county's ledger (massif). The statements every request runs stay cached.
const SQLITE_STATEMENT_CACHE: usize = 24;

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
        // PostgreSQL: the ping on acquire is what notices, within the acquire timeout, a
        // database that stopped answering (`hardening.rs`): without it a request waits on its
        // statement for as long as TCP takes to give up.
        .test_before_acquire(true)
        .statement_timeout(settings.statement_timeout)
        .sqlx_logging(false);
    if settings.engine() == Engine::Sqlite {
        // A SQLite connection is a file in this process: there is nothing to ping, and the
        // ping was one more hand-off to its worker thread per statement.
        options.test_before_acquire(false);
        // One call: sea-orm keeps only the last function given.
        let background_checkpoints = settings.background_checkpoints;
        options.map_sqlx_sqlite_opts(move |sqlite| {
            let sqlite = sqlite
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .statement_cache_capacity(SQLITE_STATEMENT_CACHE);
            if background_checkpoints {
                sqlite.pragma("wal_autocheckpoint", "0")
            } else {
                sqlite
            }
        });
    }
    Database::connect(options).await
}

/// How often the server's checkpointer copies committed pages from SQLite's write-ahead log
/// into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// Pages (4 KiB) the write-ahead log may hold before the checkpointer copies them in the
/// write turn: 64 MiB.
const WAL_PAGES_BEFORE_TURN: i64 = 16_384;

/// SQLite: starts the server's checkpointer, a task that, every [`CHECKPOINT_EVERY`] in
/// which this process committed through [`commit`], copies the pages committed to the write-ahead log into the
/// database file (`PRAGMA wal_checkpoint(PASSIVE)`: it waits for no reader or writer, and
/// copies what no reader still needs); an idle server does nothing.
///
/// With SQLite's own automatic checkpoints, which the server's connections turn off
/// (`DatabaseSettings::background_checkpoints`), the commit that grows the log past 1,000
/// pages copies it while every other writer waits its turn behind that commit: pushes of 100
/// visits then took 300 ms or more instead of 60–100 (BENCHMARKS.md, session 13).
///
/// The log starts over from its beginning only when a writer finds every page of it copied,
/// and under a steady stream of writes a copy made beside them never catches up: the log
/// grew by 150 MB a second under the bench's pushes. So once it holds more than
/// [`WAL_PAGES_BEFORE_TURN`] pages and its copy left some behind, the checkpointer takes the
/// write turn (`begin_write`'s queue) to copy the rest, and the next writer starts the log
/// over. If even that copy leaves pages (a long read still needs them), it leaves the turn
/// alone for [`TURN_BACKOFF`]. The first tick copies whatever the start left. A checkpoint
/// that fails (the disk full, say) is tried again at the next tick, and logged the first time
/// and every 10 s while it lasts.
pub fn spawn_checkpointer(db: DatabaseConnection) {
    if db.get_database_backend() != DbBackend::Sqlite {
        return;
    }
    tokio::spawn(async move {
        let mut every = tokio::time::interval(CHECKPOINT_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // None at first: what the migrations and the start wrote is copied at the first tick.
        let mut seen = None;
        let mut turn_after = tokio::time::Instant::now();
        let mut failures = 0u32;
        loop {
            every.tick().await;
            let commits = COMMITS.load(std::sync::atomic::Ordering::Relaxed);
            if seen == Some(commits) {
                continue;
            }
            match checkpoint_wal(&db, &mut turn_after, WAL_PAGES_BEFORE_TURN).await {
                Ok(()) => {
                    seen = Some(commits);
                    failures = 0;
                }
                Err(error) => {
                    failures += 1;
                    // The first failure, then one in 50 (every 10 s while it lasts).
                    if failures % 50 == 1 {
                        tracing::warn!(%error, failures, "WAL checkpoint failed; trying again shortly");
                    }
                }
            }
        }
    });
}

/// How long the checkpointer leaves the write turn alone after a copy in it could not copy
/// everything (a long read holds the log): it would only hold writers back again.
const TURN_BACKOFF: Duration = Duration::from_secs(2);

/// One round of the checkpointer: a copy beside the writers; then, if the log holds more than
/// `pages_before_turn` pages and some are left, another in the write turn (not before
/// `turn_after`, which a copy in the turn that still leaves pages moves [`TURN_BACKOFF`] on).
async fn checkpoint_wal(
    db: &DatabaseConnection,
    turn_after: &mut tokio::time::Instant,
    pages_before_turn: i64,
) -> Result<(), DbErr> {
    let (pages, copied) = passive_checkpoint(db).await?;
    if pages > pages_before_turn && copied < pages && tokio::time::Instant::now() >= *turn_after {
        let _turn = SQLITE_WRITE_TURN.lock().await;
        let (pages, copied) = passive_checkpoint(db).await?;
        if copied < pages {
            *turn_after = tokio::time::Instant::now() + TURN_BACKOFF;
        }
    }
    Ok(())
}

/// `PRAGMA wal_checkpoint(PASSIVE)`: the pages in the log, and how many of them are copied.
async fn passive_checkpoint(db: &DatabaseConnection) -> Result<(i64, i64), DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA wal_checkpoint(PASSIVE)",
        ))
        .await?;
    // (busy, pages in the log, pages copied); -1 and -1 when not in WAL mode.
    Ok(match row {
        Some(row) => (row.try_get_by_index(1)?, row.try_get_by_index(2)?),
        None => (0, 0),
    })
}

/// Connects and applies every pending migration.
pub async fn connect_and_migrate(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    let db = connect(settings).await?;
    Migrator::up(&db, None).await?;
    keep_stamps_ahead(&db).await?;
    Ok(db)
}

/// PostgreSQL: makes sure new change stamps (transaction id + `sync_counter.value`) come out
/// above every stamp stored and every cursor handed out. Transaction ids start again after a
/// logical restore (`pg_dump` into a new cluster); without this, new changes would be stamped
/// below what the phones already hold, and they would never pull them. Raises the counter's
/// value when needed; one short statement at start.
async fn keep_stamps_ahead(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let highest = STAMPED_TABLES
        .iter()
        .map(|table| format!("SELECT MAX(change_seq) AS stamp FROM {table}"))
        .chain(["SELECT MAX(seq) AS stamp FROM sync_device_scopes".to_owned()])
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    db.execute_unprepared(&format!(
        "UPDATE sync_counter SET value = needed.value FROM (SELECT COALESCE(MAX(stamp), 0) \
         - pg_snapshot_xmax(pg_current_snapshot())::text::bigint + 1 AS value \
         FROM ({highest}) AS stamps) AS needed \
         WHERE sync_counter.id = 1 AND sync_counter.value < needed.value"
    ))
    .await?;
    Ok(())
}

/// How long a request waits its turn to write before it is answered 503.
pub const WRITE_TURN_WAIT: Duration = Duration::from_secs(15);

/// SQLite has one writer at a time. Left to itself, its busy handler polls with growing
/// sleeps, and under sustained load a waiting writer can starve past any timeout
/// ("database is locked"). Writers therefore queue here first, in arrival order, and SQLite
/// sees one at a time. PostgreSQL writers do not queue.
static SQLITE_WRITE_TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A writing transaction (and, on SQLite, the turn to write). End it with [`commit`]; dropping
/// it rolls back.
pub struct WriteTxn {
    txn: DatabaseTransaction,
    /// PostgreSQL: the sealer of this pool, when the server runs one (`audit::sealer_of`).
    sealer: Option<std::sync::Arc<tokio::sync::Notify>>,
    _turn: Option<tokio::sync::MutexGuard<'static, ()>>,
    /// SQLite: this transaction's change stamp, once something asked for it ([`WriteTxn::stamp`]).
    stamp: tokio::sync::OnceCell<i64>,
}

impl WriteTxn {
    /// The change stamp to write in the rows of synced tables this transaction writes. On
    /// SQLite the next value of the `sync_counter` row, taken at the first call and held to
    /// the commit (the write turn keeps other writers out, so stamps follow commit order); a
    /// row written with it needs no restamping at commit. On PostgreSQL `0`, the mark of a
    /// changed row: its trigger stamps each row so marked as it is written (migrations 12 and
    /// 14). The stamp is kept for the whole transaction: a savepoint rolled back after taking
    /// it would leave the counter behind the stamp (none is used around it).
    pub async fn stamp(&self) -> Result<i64, DbErr> {
        if self.txn.get_database_backend() != DbBackend::Sqlite {
            return Ok(0);
        }
        self.stamp
            .get_or_try_init(|| next_stamp(&self.txn))
            .await
            .copied()
    }
}

/// Starts a transaction that will write. On SQLite it waits its turn (see
/// `SQLITE_WRITE_TURN`) and begins `IMMEDIATE`, taking the write lock at once: a deferred
/// transaction that reads and then writes can fail with "database is locked" whatever the
/// busy timeout, because SQLite cannot upgrade its lock.
pub async fn begin_write(db: &DatabaseConnection) -> Result<WriteTxn, DbErr> {
    begin_write_within(db, WRITE_TURN_WAIT).await
}

/// [`begin_write`] for a request that has waited already: on SQLite it waits at most `wait`
/// for its turn (a turn free at once is taken even when `wait` is zero).
pub async fn begin_write_within(
    db: &DatabaseConnection,
    wait: Duration,
) -> Result<WriteTxn, DbErr> {
    let turn = match db.get_database_backend() {
        DbBackend::Sqlite => Some(
            tokio::time::timeout(wait, SQLITE_WRITE_TURN.lock())
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
    Ok(WriteTxn {
        txn,
        sealer: crate::audit::sealer_of(db),
        _turn: turn,
        stamp: tokio::sync::OnceCell::new(),
    })
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

/// Commits a writing transaction. Rows of synced tables it marked as changed
/// (`change_seq = 0`) get their change stamp: on SQLite, which has one writer at a time, the
/// transaction's stamp ([`WriteTxn::stamp`], the next value of the `sync_counter` row, held
/// until the commit, so stamps follow commit order); on PostgreSQL, which commits
/// concurrently, a trigger has already stamped each row as it was written with the
/// transaction's id (migration 12), and the pull's cursor makes up for ids not being in commit
/// order (`sync::current_cursor`). The transaction's audit rows are linked into the hash
/// chain: on SQLite as they were written (rows older than the chain are sealed here); on
/// PostgreSQL by the server's sealer just after the commit (`audit::spawn_sealer`, woken
/// here), or here, before the commit, in a process that runs no sealer (the command line).
/// A request with an `Idempotency-Key` marks its key carried out in the same transaction
/// (`idempotency::mark_carried_out`). Every writing transaction ends here (a test checks that
/// no other code calls `commit`).
pub async fn commit(write: WriteTxn) -> Result<(), DbErr> {
    crate::idempotency::mark_carried_out(&write.txn).await?;
    let committed = match &write.sealer {
        Some(sealer) => {
            let sealer = sealer.clone();
            let committed = write.txn.commit().await;
            // Whatever the answer: a commit that failed after it was applied has rows too.
            sealer.notify_waiters();
            committed
        }
        None => commit_sealed(write).await,
    };
    COMMITS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    committed
}

/// Writing transactions this process has ended with [`commit`]: the checkpointer works only
/// after some ([`spawn_checkpointer`]).
static COMMITS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// [`commit`], sealing the transaction's unsealed audit rows (and any others committed
/// unsealed) before it commits.
pub(crate) async fn commit_sealed(write: WriteTxn) -> Result<(), DbErr> {
    if write.get_database_backend() == DbBackend::Sqlite {
        stamp_changes(&write).await?;
    }
    crate::audit::seal(&write.txn).await?;
    write.txn.commit().await
}

/// SQLite: stamps the rows this transaction marked as changed (`change_seq = 0`) with its
/// stamp; rows written with [`WriteTxn::stamp`] already carry it.
async fn stamp_changes(write: &WriteTxn) -> Result<(), DbErr> {
    let backend = write.get_database_backend();
    // Which synced tables this transaction marked.
    let pending = STAMPED_TABLES
        .iter()
        .map(|table| format!("SELECT '{table}' AS marked FROM (SELECT 1 FROM {table} WHERE change_seq = 0 LIMIT 1) AS {table}_marked"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let marked: Vec<String> = write
        .query_all_raw(Statement::from_string(backend, pending))
        .await?
        .iter()
        .filter_map(|row| row.try_get::<String>("", "marked").ok())
        .filter(|table| STAMPED_TABLES.contains(&table.as_str()))
        .collect();
    if marked.is_empty() {
        return Ok(());
    }
    let seq = write.stamp().await?;
    for table in marked {
        write
            .execute_unprepared(&format!(
                "UPDATE {table} SET change_seq = {seq}, \
                 created_seq = CASE WHEN created_seq = 0 THEN {seq} ELSE created_seq END \
                 WHERE change_seq = 0"
            ))
            .await?;
    }
    Ok(())
}

/// Takes the next value of the `sync_counter` row (SQLite, in the write turn).
async fn next_stamp(txn: &DatabaseTransaction) -> Result<i64, DbErr> {
    txn.query_one_raw(Statement::from_string(
        txn.get_database_backend(),
        "UPDATE sync_counter SET value = value + 1 WHERE id = 1 RETURNING value".to_owned(),
    ))
    .await?
    .ok_or_else(|| DbErr::RecordNotFound("sync_counter".to_owned()))?
    .try_get("", "value")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new SQLite file opened as the server opens it (its own checkpoints off), with one
    /// table; the file is removed when the returned guard is dropped.
    async fn server_sqlite_file() -> (DatabaseConnection, RemoveOnDrop) {
        let path = std::env::temp_dir().join(format!("minqing-wal-{}.db", uuid::Uuid::now_v7()));
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let db = connect(&DatabaseSettings::new(url).with_background_checkpoints())
            .await
            .expect("the file opens");
        db.execute_unprepared("CREATE TABLE pages (body BLOB)")
            .await
            .expect("a table");
        (db, RemoveOnDrop(path))
    }

    struct RemoveOnDrop(std::path::PathBuf);

    impl Drop for RemoveOnDrop {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
            }
        }
    }

    /// Writes `pages` rows of 4,000 bytes: a page of the log each, and some.
    async fn write_pages(db: &DatabaseConnection, pages: u32) {
        db.execute_unprepared(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {pages}) \
             INSERT INTO pages SELECT randomblob(4000) FROM n"
        ))
        .await
        .expect("written");
    }

    /// Whether `round` finishes while this test holds the write turn (within 5 s: a loaded
    /// machine is slow, but a round waiting for the turn never finishes).
    async fn finishes_without_the_turn(round: impl std::future::Future<Output = ()>) -> bool {
        let _turn = SQLITE_WRITE_TURN.lock().await;
        tokio::time::timeout(Duration::from_secs(5), round)
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_long_log_that_a_read_holds_is_copied_in_the_write_turn_then_left_alone_a_while() {
        let (db, _file) = server_sqlite_file().await;
        let reader = db.begin().await.expect("a read");
        reader
            .execute_unprepared("SELECT count(*) FROM pages")
            .await
            .expect("the read holds the log from here");
        write_pages(&db, 40).await;
        let mut turn_after = tokio::time::Instant::now();

        // Past 10 pages, with pages the read holds back: the round waits for the write turn.
        let waited = {
            let turn = SQLITE_WRITE_TURN.lock().await;
            let mut round = std::pin::pin!(checkpoint_wal(&db, &mut turn_after, 10));
            match tokio::time::timeout(Duration::from_millis(300), round.as_mut()).await {
                Ok(finished) => finished.map(|()| false),
                Err(_) => {
                    drop(turn);
                    round.await.map(|()| true)
                }
            }
            .expect("the round")
        };
        let backed_off = turn_after > tokio::time::Instant::now();
        // Backing off, the next round copies beside the writers only: it does not wait.
        let left_alone = finishes_without_the_turn(async {
            checkpoint_wal(&db, &mut turn_after, 10)
                .await
                .expect("round")
        })
        .await;

        assert!(waited, "the round waited for the write turn");
        assert!(
            backed_off,
            "the read still held pages, so the turn is left alone a while"
        );
        assert!(
            left_alone,
            "a round while backing off does not take the turn"
        );
    }

    #[tokio::test]
    async fn a_log_copied_beside_the_writers_is_not_copied_again_in_the_turn_and_starts_over() {
        let (db, _file) = server_sqlite_file().await;
        write_pages(&db, 40).await;
        let (pages_written, _) = passive_checkpoint(&db).await.expect("the log's length");
        write_pages(&db, 40).await;
        let mut turn_after = tokio::time::Instant::now();

        let beside = finishes_without_the_turn(async {
            checkpoint_wal(&db, &mut turn_after, 10)
                .await
                .expect("round")
        })
        .await;
        // Every page copied: the next writer writes the log from its beginning again.
        write_pages(&db, 1).await;
        let (pages_after, copied_after) = passive_checkpoint(&db).await.expect("the log's length");

        assert!(pages_written > 10, "the log held {pages_written} pages");
        assert!(
            beside,
            "nothing left behind: the round did not take the turn"
        );
        assert!(
            pages_after < 10,
            "the log started over: {pages_after} pages ({copied_after} copied)"
        );
    }
}
