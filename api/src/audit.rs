//! The audit trail: who changed what, when, from where — and who was shown personal data
//! unmasked. A row is written with [`record`] inside the transaction of the change it
//! describes, so a change and its record commit or vanish together; a read of personal data
//! is recorded by [`record_read`] in a short transaction of its own.
//!
//! The trail is a hash chain: each row has the next `seq` number, the previous row's hash
//! (`prev_hash`) and its own (`row_hash`, SHA-256 over a canonical form of its fields), and the
//! chain's head row names the last link. On SQLite, whose writers take turns, [`record`] links
//! rows into it as it writes them. On PostgreSQL, whose writers commit side by side, rows are
//! written unsealed and linked after their commit by the server's sealer ([`spawn_sealer`]):
//! one task that takes the head, links every committed unsealed row in one statement per 500,
//! and moves the head, about [`SEAL_GATHER`] after the commits that woke it — so no request
//! waits for the head, and a burst of pushes is sealed in a few large writes. A process
//! without a sealer (the command line) seals its rows at commit (`db::commit` → [`seal`]); a
//! server stopped before its sealer ran seals them at its next start ([`seal_pending`]).
//! Triggers refuse any other UPDATE and any DELETE not covered by a retention checkpoint;
//! [`verify`] walks the chain and names the first entry that was altered, removed or added
//! behind the application's back; [`prune`] removes entries older than the retention period
//! and leaves a checkpoint, so what is kept still verifies.
//! Nothing in the application updates or deletes audit rows otherwise.

use std::{fmt, sync::Arc};

use chrono::{DateTime, Duration, SecondsFormat, SubsecRound, Utc};
use entity::{audit_chain_head, audit_checkpoint, audit_log, user::Role};
use sea_orm::{
    AccessMode,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    IsolationLevel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement,
    TransactionOptions, TransactionTrait,
    sea_query::{CaseStatement, Expr},
};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::auth::RequestMeta;

/// The actor of an audited change.
#[derive(Debug, Clone)]
pub struct AuditActor {
    /// `user`, `api_token` or `system`.
    pub actor_type: &'static str,
    /// The user or token id.
    pub actor_id: Option<Uuid>,
    /// The role in force.
    pub role: Option<Role>,
    /// The request id.
    pub request_id: Option<String>,
    /// The client address.
    pub client_addr: Option<String>,
}

impl AuditActor {
    /// The command line (`minqing admin create`, `seed-demo`).
    pub fn system() -> Self {
        Self {
            actor_type: "system",
            actor_id: None,
            role: None,
            request_id: None,
            client_addr: None,
        }
    }

    /// A user acting before they hold a token (login).
    pub fn user(id: Uuid, role: impl Into<Option<Role>>, meta: &RequestMeta) -> Self {
        Self {
            actor_type: "user",
            actor_id: Some(id),
            role: role.into(),
            request_id: meta.request_id.clone(),
            client_addr: meta.client_addr.clone(),
        }
    }
}

/// What happened to which record.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// `<entity>.<verb>`, e.g. `user.create`.
    pub action: &'static str,
    /// The kind of record.
    pub entity_type: &'static str,
    /// The record.
    pub entity_id: Option<Uuid>,
    /// What changed; never secrets.
    pub changes: Option<Value>,
}

impl AuditEntry {
    /// An entry without a change description.
    pub fn new(action: &'static str, entity_type: &'static str, entity_id: Uuid) -> Self {
        Self {
            action,
            entity_type,
            entity_id: Some(entity_id),
            changes: None,
        }
    }

    /// Adds the change description.
    pub fn with_changes(mut self, changes: Value) -> Self {
        self.changes = Some(changes);
        self
    }
}

/// Writes one audit row on `db` (pass the transaction of the change).
pub async fn record(
    db: &impl ConnectionTrait,
    actor: &AuditActor,
    entry: AuditEntry,
) -> Result<(), DbErr> {
    record_many(db, actor, vec![entry]).await
}

/// Writes one audit row per entry in one statement per 500 (a batch of changes, each its
/// own mutation). On SQLite the rows are linked into the chain as they are written
/// ([`link_now`]); on PostgreSQL they are written unsealed, and sealed after the commit (see
/// the module's documentation).
pub async fn record_many(
    db: &impl ConnectionTrait,
    actor: &AuditActor,
    entries: Vec<AuditEntry>,
) -> Result<(), DbErr> {
    let entries = entries
        .into_iter()
        .map(|entry| (actor.clone(), entry))
        .collect();
    record_each(db, entries).await
}

/// [`record_many`] for entries of several actors (visits of several callers committed
/// together), each with its own.
pub async fn record_each(
    db: &impl ConnectionTrait,
    entries: Vec<(AuditActor, AuditEntry)>,
) -> Result<(), DbErr> {
    // Microseconds, as both engines keep them: a row hashed before it is written hashes the
    // same when it is read back.
    let now = Utc::now().trunc_subsecs(6);
    let mut rows: Vec<audit_log::Model> = entries
        .into_iter()
        .map(|(actor, entry)| audit_log::Model {
            id: Uuid::now_v7(),
            occurred_at: now,
            actor_type: actor.actor_type.to_owned(),
            actor_id: actor.actor_id,
            actor_role: actor.role.map(crate::auth::role_name),
            action: entry.action.to_owned(),
            entity_type: entry.entity_type.to_owned(),
            entity_id: entry.entity_id,
            changes: entry.changes,
            request_id: actor.request_id,
            client_addr: actor.client_addr,
            seq: None,
            prev_hash: None,
            row_hash: None,
        })
        .collect();
    if db.get_database_backend() == DbBackend::Sqlite {
        link_now(db, &mut rows).await?;
    }
    for chunk in rows.chunks(500) {
        audit_log::Entity::insert_many(chunk.iter().cloned().map(audit_log::ActiveModel::from))
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// SQLite: gives rows their `seq` and hashes before they are written — no second write of
/// each row at commit. The transaction holds the chain's head until it commits, as every
/// SQLite writer holds the database (one at a time, `db::begin_write`). Rows written before
/// the chain existed go first: while any wait unsealed, these are written unsealed too, and
/// the commit seals them all, in id order.
async fn link_now(db: &impl ConnectionTrait, rows: &mut [audit_log::Model]) -> Result<(), DbErr> {
    if rows.is_empty() || any_unsealed(db, None).await? {
        return Ok(());
    }
    let Some(head) = audit_chain_head::Entity::find_by_id(1).one(db).await? else {
        return Ok(());
    };
    let (mut seq, mut hash) = (head.last_seq, head.last_hash);
    for row in rows.iter_mut() {
        seq += 1;
        let row_hash = entry_hash(row, seq, &hash);
        row.seq = Some(seq);
        row.prev_hash = Some(std::mem::replace(&mut hash, row_hash.clone()));
        row.row_hash = Some(row_hash);
    }
    move_head(db, seq, hash).await
}

/// Moves the chain's head to the entry at `seq` with `hash`.
async fn move_head(db: &impl ConnectionTrait, seq: i64, hash: String) -> Result<(), DbErr> {
    audit_chain_head::Entity::update_many()
        .col_expr(audit_chain_head::Column::LastSeq, Expr::val(seq))
        .col_expr(audit_chain_head::Column::LastHash, Expr::val(hash))
        .filter(audit_chain_head::Column::Id.eq(1))
        .exec(db)
        .await?;
    Ok(())
}

/// Records, in a short writing transaction of its own, an entry about a read (reads have no
/// transaction to share): that the caller was shown personal data unmasked. The caller
/// answers only once it is stored, so nothing is shown that the trail does not know of.
pub async fn record_read(
    db: &DatabaseConnection,
    actor: &AuditActor,
    entry: AuditEntry,
) -> Result<(), DbErr> {
    let txn = crate::db::begin_write(db).await?;
    record(&txn, actor, entry).await?;
    crate::db::commit(txn).await
}

/// The `prev_hash` of the first entry of the chain.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How many unsealed rows [`seal`] reads, and links in one statement, at a time.
const SEAL_PAGE: u64 = 500;

/// Links every unsealed audit row the transaction sees — on PostgreSQL, the rows committed
/// since the last seal; on SQLite, rows written before the chain existed — into the chain:
/// takes the head (on PostgreSQL waiting for it: whoever holds it is sealing, and nothing it
/// holds waits on anything else), numbers the rows in id (time) order, hashes them, writes
/// their links in one statement per [`SEAL_PAGE`] rows and moves the head. The order of the
/// chain is the order of linking, not of ids. With nothing to seal it costs, on SQLite (every
/// commit), one index probe; on PostgreSQL (the sealer, woken by commits, which nearly always
/// finds rows) the head's lock and that probe.
pub async fn seal(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    let head = match db.get_database_backend() {
        DbBackend::Postgres => {
            audit_chain_head::Entity::find_by_id(1)
                .lock_exclusive()
                .one(db)
                .await?
        }
        _ if !any_unsealed(db, None).await? => return Ok(()),
        _ => audit_chain_head::Entity::find_by_id(1).one(db).await?,
    }
    .ok_or_else(|| DbErr::RecordNotFound("audit_chain_head".to_owned()))?;
    let (mut seq, mut hash) = (head.last_seq, head.last_hash.clone());
    loop {
        // Read after the lock: rows another sealer linked meanwhile are not seen again.
        let rows = audit_log::Entity::find()
            .filter(audit_log::Column::Seq.is_null())
            .order_by_asc(audit_log::Column::Id)
            .limit(SEAL_PAGE)
            .all(db)
            .await?;
        if rows.is_empty() {
            break;
        }
        let mut links = Vec::with_capacity(rows.len());
        for row in &rows {
            seq += 1;
            let row_hash = entry_hash(row, seq, &hash);
            links.push(Link {
                id: row.id,
                seq,
                prev_hash: std::mem::replace(&mut hash, row_hash.clone()),
                row_hash,
            });
        }
        write_links(db, &links).await?;
        if (rows.len() as u64) < SEAL_PAGE {
            break;
        }
    }
    if seq != head.last_seq {
        move_head(db, seq, hash).await?;
    }
    Ok(())
}

/// Seals, in a writing transaction of its own, the committed rows left unsealed: the
/// sealer's work, and the server's at start and stop (rows a stopped server committed before
/// its sealer ran).
pub async fn seal_pending(db: &DatabaseConnection) -> Result<(), DbErr> {
    let txn = crate::db::begin_write(db).await?;
    crate::db::commit_sealed(txn).await
}

/// The sealers running in this process, each with the pool it seals for (one per server; a
/// test process runs several servers, each on its own database).
static SEALERS: std::sync::Mutex<Vec<(PoolKey, Arc<Notify>)>> = std::sync::Mutex::new(Vec::new());

/// A PostgreSQL pool's identity: the address of its connection options, which the pool holds
/// (and its sealer holds the pool) while a sealer is registered for it.
type PoolKey = usize;

fn pool_key(db: &DatabaseConnection) -> Option<PoolKey> {
    (db.get_database_backend() == DbBackend::Postgres)
        .then(|| Arc::as_ptr(&db.get_postgres_connection_pool().connect_options()) as PoolKey)
}

/// How long the sealer lets commits gather after one woke it: under a burst of pushes it
/// seals a few large pages instead of one small transaction per commit; alone, an entry
/// waits this long, and the seal's own transaction, to be linked.
const SEAL_GATHER: std::time::Duration = std::time::Duration::from_millis(50);

/// How long the sealer waits after a failed seal (the database away) before it tries again,
/// doubling after each failure up to [`SEAL_RETRY_MAX`].
const SEAL_RETRY: std::time::Duration = std::time::Duration::from_secs(1);
const SEAL_RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(60);

/// The sealer of `db`'s pool, if one runs in this process (`db::begin_write`): a writing
/// transaction on it leaves its audit rows to the sealer and wakes it after its commit.
pub fn sealer_of(db: &DatabaseConnection) -> Option<Arc<Notify>> {
    let key = pool_key(db)?;
    let sealers = SEALERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    sealers
        .iter()
        .find(|(pool, _)| *pool == key)
        .map(|(_, wake)| wake.clone())
}

/// Starts the sealer of a server on PostgreSQL (SQLite links rows as it writes them): a task
/// that seals committed rows shortly after the commits on `db`'s pool that wake it
/// (`db::commit`). It runs until the runtime stops; a seal it leaves half done is rolled back
/// and done again by the next. It does not look on its own: a row slipped into the table
/// behind the application's back stays outside the chain, for [`verify`] to see, until the
/// next commit wakes the sealer — which links it with the rest, as a seal at commit always
/// did. A seal that fails (the database away) is logged as an error and tried again after
/// [`SEAL_RETRY`], doubling up to [`SEAL_RETRY_MAX`]: writes go on, the chain waits.
pub fn spawn_sealer(db: DatabaseConnection) {
    let Some(key) = pool_key(&db) else {
        return;
    };
    // Registered before it is spawned, so every transaction begun after this returns leaves
    // its rows to it; removed when the task is dropped with its runtime, polled or not.
    let registered = Registered::new(key);
    let wake = registered.wake.clone();
    tokio::spawn(async move {
        let _registered = registered;
        let mut retry = SEAL_RETRY;
        loop {
            let woken = wake.notified();
            tokio::pin!(woken);
            // Registered before sealing: a commit during the seal wakes the next round.
            woken.as_mut().enable();
            if let Err(error) = seal_pending(&db).await {
                tracing::error!(%error, retry_in_s = retry.as_secs(), "audit rows not sealed");
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(SEAL_RETRY_MAX);
                continue;
            }
            retry = SEAL_RETRY;
            woken.await;
            tokio::time::sleep(SEAL_GATHER).await;
        }
    });
}

/// A sealer's entry in [`SEALERS`], removed when it is dropped.
struct Registered {
    key: PoolKey,
    wake: Arc<Notify>,
}

impl Registered {
    fn new(key: PoolKey) -> Self {
        let wake = Arc::new(Notify::new());
        SEALERS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((key, wake.clone()));
        Self { key, wake }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        SEALERS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|(key, wake)| !(*key == self.key && Arc::ptr_eq(wake, &self.wake)));
    }
}

/// Does this connection see any unsealed row (up to `up_to`, if given: ids are
/// time-ordered)? One probe of the unsealed rows' index.
async fn any_unsealed(db: &impl ConnectionTrait, up_to: Option<Uuid>) -> Result<bool, DbErr> {
    let mut query = audit_log::Entity::find()
        .select_only()
        .column(audit_log::Column::Id)
        .filter(audit_log::Column::Seq.is_null());
    if let Some(up_to) = up_to {
        query = query.filter(audit_log::Column::Id.lte(up_to));
    }
    Ok(query.into_tuple::<Uuid>().one(db).await?.is_some())
}

/// An entry's place in the chain, as [`seal`] writes it.
#[derive(Debug, serde::Serialize)]
struct Link {
    id: Uuid,
    seq: i64,
    prev_hash: String,
    row_hash: String,
}

/// Writes the links of several unsealed rows in one statement: on PostgreSQL an `UPDATE …
/// FROM jsonb_to_recordset($1)`, one statement text whatever the number of rows (prepared
/// once); on SQLite, which seals only rows older than the chain, a `CASE` per column. Fails
/// unless every row was still unsealed.
async fn write_links(db: &impl ConnectionTrait, links: &[Link]) -> Result<(), DbErr> {
    let sealed = match db.get_database_backend() {
        DbBackend::Postgres => {
            let links = serde_json::to_value(links)
                .map_err(|error| DbErr::Custom(format!("audit links: {error}")))?;
            db.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "UPDATE audit_log SET seq = link.seq, prev_hash = link.prev_hash, \
                 row_hash = link.row_hash \
                 FROM jsonb_to_recordset($1::jsonb) \
                 AS link(id uuid, seq bigint, prev_hash text, row_hash text) \
                 WHERE audit_log.id = link.id AND audit_log.seq IS NULL",
                [links.into()],
            ))
            .await?
            .rows_affected()
        }
        _ => {
            let (mut seqs, mut prevs, mut hashes) = (
                CaseStatement::new(),
                CaseStatement::new(),
                CaseStatement::new(),
            );
            for link in links {
                let this = || audit_log::Column::Id.eq(link.id);
                seqs = seqs.case(this(), link.seq);
                prevs = prevs.case(this(), link.prev_hash.as_str());
                hashes = hashes.case(this(), link.row_hash.as_str());
            }
            audit_log::Entity::update_many()
                .col_expr(audit_log::Column::Seq, seqs.into())
                .col_expr(audit_log::Column::PrevHash, prevs.into())
                .col_expr(audit_log::Column::RowHash, hashes.into())
                .filter(audit_log::Column::Id.is_in(links.iter().map(|link| link.id)))
                .filter(audit_log::Column::Seq.is_null())
                .exec(db)
                .await?
                .rows_affected
        }
    };
    if sealed != links.len() as u64 {
        return Err(DbErr::Custom(format!(
            "audit chain: sealed {sealed} of {} entries",
            links.len()
        )));
    }
    Ok(())
}

/// The hash of an entry at `seq` after `prev_hash`: SHA-256, in lower-case hex, of the JSON
/// array `[1, seq, id, occurred_at, actor_type, actor_id, actor_role, action, entity_type,
/// entity_id, changes, request_id, client_addr, prev_hash]`, written canonically (object keys
/// sorted, no spaces; `occurred_at` as RFC 3339 UTC with nanoseconds). The leading 1 is the
/// version of this form.
pub fn entry_hash(row: &audit_log::Model, seq: i64, prev_hash: &str) -> String {
    let fields = serde_json::json!([
        1,
        seq,
        row.id,
        row.occurred_at.to_rfc3339_opts(SecondsFormat::Nanos, true),
        row.actor_type,
        row.actor_id,
        row.actor_role,
        row.action,
        row.entity_type,
        row.entity_id,
        row.changes,
        row.request_id,
        row.client_addr,
        prev_hash,
    ]);
    let mut text = String::new();
    write_canonical(&fields, &mut text);
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// JSON with object keys in sorted order and no whitespace, whatever order the value's map
/// keeps (the hash must not depend on `serde_json` features or the column type).
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The first link of the chain that does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    /// The entry's place in the chain (`None`: entries not in the chain at all).
    pub seq: Option<i64>,
    /// The entry, when it is still there.
    pub entry_id: Option<Uuid>,
    /// What does not hold.
    pub problem: String,
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries checked.
    pub entries: u64,
    /// `seq` of the newest entry (the head).
    pub head_seq: i64,
    /// Its hash: write it down somewhere else to notice, later, a rewrite of everything before.
    pub head_hash: String,
    /// The first broken link; `None` when the chain holds.
    pub broken: Option<ChainBreak>,
}

impl VerifyReport {
    /// Does the chain hold?
    pub fn is_ok(&self) -> bool {
        self.broken.is_none()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.broken {
            None => write!(
                f,
                "ok: {} entries, head {} (seq {})",
                self.entries, self.head_hash, self.head_seq
            ),
            Some(ChainBreak {
                seq,
                entry_id,
                problem,
            }) => {
                write!(f, "broken")?;
                if let Some(seq) = seq {
                    write!(f, " at seq {seq}")?;
                }
                if let Some(id) = entry_id {
                    write!(f, " (entry {id})")?;
                }
                write!(f, ": {problem}")
            }
        }
    }
}

/// How long [`verify`] gives entries it finds unsealed to be sealed (on PostgreSQL the
/// sealer links committed rows about 50 ms after their commit; a backlog after a burst or an
/// outage takes longer) before it counts them as outside the chain. It looks again every
/// 50 ms and goes on as soon as they are sealed.
const SEAL_SETTLE: std::time::Duration = std::time::Duration::from_secs(5);

/// How many entries [`verify`] reads at a time.
const VERIFY_PAGE: u64 = 1000;

/// Walks the chain in `seq` order, in pages, in one snapshot, and reports the first link that
/// does not hold: an entry whose fields no longer give its hash (altered), whose `prev_hash` is
/// not the hash of the entry before (altered and re-hashed, or inserted), a missing `seq`
/// (deleted), a start not covered by a retention checkpoint, an end short of the head, or
/// entries outside the chain. Read-only.
pub async fn verify(db: &DatabaseConnection) -> Result<VerifyReport, DbErr> {
    // Entries unsealed now may be waiting for their seal: look again a moment later, at
    // those (ids are time-ordered; later ones are not judged this time).
    let unsealed_before = audit_log::Entity::find()
        .select_only()
        .column(audit_log::Column::Id)
        .filter(audit_log::Column::Seq.is_null())
        .order_by_desc(audit_log::Column::Id)
        .into_tuple::<Uuid>()
        .one(db)
        .await?;
    if let Some(bound) = unsealed_before {
        let settle_by = tokio::time::Instant::now() + SEAL_SETTLE;
        while tokio::time::Instant::now() < settle_by && any_unsealed(db, Some(bound)).await? {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    let snapshot = match db.get_database_backend() {
        DbBackend::Postgres => {
            db.begin_with_options(TransactionOptions {
                isolation_level: Some(IsolationLevel::RepeatableRead),
                access_mode: Some(AccessMode::ReadOnly),
                sqlite_transaction_mode: None,
            })
            .await?
        }
        // SQLite in WAL mode: a read transaction sees one snapshot from its first read.
        _ => db.begin().await?,
    };
    let report = verify_in(&snapshot, unsealed_before).await;
    // Nothing was written: dropping the snapshot ends it.
    drop(snapshot);
    report
}

async fn verify_in(
    db: &impl ConnectionTrait,
    unsealed_before: Option<Uuid>,
) -> Result<VerifyReport, DbErr> {
    let head = audit_chain_head::Entity::find_by_id(1)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("audit_chain_head".to_owned()))?;
    let mut report = VerifyReport {
        entries: 0,
        head_seq: head.last_seq,
        head_hash: head.last_hash.clone(),
        broken: None,
    };
    let broken = |seq: Option<i64>, entry_id: Option<Uuid>, problem: String| ChainBreak {
        seq,
        entry_id,
        problem,
    };
    let unsealed = match unsealed_before {
        Some(bound) => {
            audit_log::Entity::find()
                .filter(audit_log::Column::Seq.is_null())
                .filter(audit_log::Column::Id.lte(bound))
                .order_by_asc(audit_log::Column::Id)
                .one(db)
                .await?
        }
        None => None,
    };
    if let Some(row) = unsealed {
        report.broken = Some(broken(
            None,
            Some(row.id),
            "an entry is outside the chain: inserted directly in the database, or committed \
             by a server stopped before it sealed it, or written before the chain existed \
             (a server seals those when it starts, and at its next audited write)"
                .to_owned(),
        ));
        return Ok(report);
    }
    let beyond = audit_log::Entity::find()
        .filter(audit_log::Column::Seq.gt(head.last_seq))
        .order_by_asc(audit_log::Column::Seq)
        .one(db)
        .await?;
    if let Some(row) = beyond {
        report.broken = Some(broken(
            row.seq,
            Some(row.id),
            format!(
                "the entry is beyond the chain's head (seq {}): added behind the application's back",
                head.last_seq
            ),
        ));
        return Ok(report);
    }

    // (seq, hash) of the link before the next entry; `None` until the first entry is read.
    let mut last: Option<(i64, String)> = None;
    loop {
        let mut page = audit_log::Entity::find().order_by_asc(audit_log::Column::Seq);
        page = match &last {
            Some((seq, _)) => page.filter(audit_log::Column::Seq.gt(*seq)),
            None => page.filter(audit_log::Column::Seq.is_not_null()),
        };
        let rows = page.limit(VERIFY_PAGE).all(db).await?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let seq = row.seq.unwrap_or_default();
            let (expected_seq, expected_prev) = match last.take() {
                Some((before, hash)) => (before + 1, hash),
                None => match start_of_chain(db, seq).await? {
                    Some(hash) => (seq, hash),
                    None => {
                        report.broken = Some(broken(
                            Some(seq),
                            Some(row.id),
                            format!(
                                "the chain starts here, but entries 1 to {} are missing and no \
                                 retention checkpoint covers them",
                                seq - 1
                            ),
                        ));
                        return Ok(report);
                    }
                },
            };
            if seq != expected_seq {
                report.broken = Some(broken(
                    Some(expected_seq),
                    None,
                    format!(
                        "entries {expected_seq} to {} are missing (deleted)",
                        seq - 1
                    ),
                ));
                return Ok(report);
            }
            if row.prev_hash.as_deref() != Some(expected_prev.as_str()) {
                report.broken = Some(broken(
                    Some(seq),
                    Some(row.id),
                    format!(
                        "prev_hash does not match the hash of entry {}: that entry was altered \
                         and re-hashed, or this one was put in its place",
                        seq - 1
                    ),
                ));
                return Ok(report);
            }
            let recomputed = entry_hash(&row, seq, &expected_prev);
            if row.row_hash.as_deref() != Some(recomputed.as_str()) {
                report.broken = Some(broken(
                    Some(seq),
                    Some(row.id),
                    "the entry's fields no longer give its hash: it was altered".to_owned(),
                ));
                return Ok(report);
            }
            report.entries += 1;
            last = Some((seq, recomputed));
        }
    }
    let (end_seq, end_hash) = match last {
        Some(end) => end,
        // No entries: everything was pruned (or nothing written yet).
        None => match latest_checkpoint(db).await? {
            Some(checkpoint) => (checkpoint.seq, checkpoint.row_hash),
            None => (0, GENESIS_HASH.to_owned()),
        },
    };
    if end_seq != head.last_seq {
        report.broken = Some(broken(
            Some(end_seq + 1),
            None,
            format!(
                "entries {} to {} are missing: the chain ends before its head",
                end_seq + 1,
                head.last_seq
            ),
        ));
    } else if end_hash != head.last_hash {
        report.broken = Some(broken(
            Some(end_seq),
            None,
            "the newest entry's hash is not the one recorded as the chain's head".to_owned(),
        ));
    }
    Ok(report)
}

/// The `prev_hash` the oldest kept entry must carry: zeros for entry 1, else the hash a
/// retention checkpoint recorded for the entry before it.
async fn start_of_chain(
    db: &impl ConnectionTrait,
    first_seq: i64,
) -> Result<Option<String>, DbErr> {
    if first_seq == 1 {
        return Ok(Some(GENESIS_HASH.to_owned()));
    }
    Ok(audit_checkpoint::Entity::find_by_id(first_seq - 1)
        .one(db)
        .await?
        .map(|checkpoint| checkpoint.row_hash))
}

async fn latest_checkpoint(
    db: &impl ConnectionTrait,
) -> Result<Option<audit_checkpoint::Model>, DbErr> {
    audit_checkpoint::Entity::find()
        .order_by_desc(audit_checkpoint::Column::Seq)
        .one(db)
        .await
}

/// The shortest retention allowed: network logs are kept at least six months (网络安全法
/// art. 21).
pub const MIN_RETENTION_DAYS: u32 = 180;

/// Why [`prune`] did nothing.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    /// A retention under [`MIN_RETENTION_DAYS`].
    #[error("audit retention must be at least {MIN_RETENTION_DAYS} days, not {0}")]
    RetentionTooShort(u32),
    /// The chain is broken: nothing is removed, so the evidence stays.
    #[error("the audit chain is broken, so nothing was pruned: {0}")]
    ChainBroken(VerifyReport),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// What [`prune`] removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneReport {
    /// Entries older than this were due.
    pub cutoff: DateTime<Utc>,
    /// How many were removed.
    pub removed: u64,
    /// The last removed entry's `seq` (the new checkpoint), when any was removed.
    pub through_seq: Option<i64>,
}

impl fmt::Display for PruneReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.through_seq {
            Some(seq) => write!(
                f,
                "pruned {} audit entries older than {} (through seq {seq}); checkpoint written",
                self.removed,
                self.cutoff.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
            None => write!(
                f,
                "no audit entries older than {} to prune",
                self.cutoff.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
        }
    }
}

/// Removes, in one transaction, the entries older than `retention_days` before `now`: the
/// oldest run of the chain up to the first entry that is still young enough (an old entry
/// sealed after a young one stays until that one goes). First it writes a checkpoint — the
/// last removed entry's `seq` and hash — which is what lets the database triggers accept the
/// deletes and lets [`verify`] check the first kept entry. It records `audit.prune`. A broken
/// chain is not pruned.
pub async fn prune(
    db: &DatabaseConnection,
    retention_days: u32,
    now: DateTime<Utc>,
) -> Result<PruneReport, PruneError> {
    if retention_days < MIN_RETENTION_DAYS {
        return Err(PruneError::RetentionTooShort(retention_days));
    }
    let cutoff = now - Duration::days(i64::from(retention_days));
    let mut report = PruneReport {
        cutoff,
        removed: 0,
        through_seq: None,
    };
    let verified = verify(db).await?;
    if !verified.is_ok() {
        return Err(PruneError::ChainBroken(verified));
    }
    let txn = crate::db::begin_write(db).await?;
    let first_kept: Option<i64> = audit_log::Entity::find()
        .select_only()
        .column_as(audit_log::Column::Seq.min(), "seq")
        .filter(audit_log::Column::Seq.is_not_null())
        .filter(audit_log::Column::OccurredAt.gte(cutoff))
        .into_tuple::<Option<i64>>()
        .one(&txn)
        .await?
        .flatten();
    let through = match first_kept {
        Some(seq) => seq - 1,
        None => audit_log::Entity::find()
            .select_only()
            .column_as(audit_log::Column::Seq.max(), "seq")
            .into_tuple::<Option<i64>>()
            .one(&txn)
            .await?
            .flatten()
            .unwrap_or(0),
    };
    let already = latest_checkpoint(&txn)
        .await?
        .map_or(0, |checkpoint| checkpoint.seq);
    if through <= already {
        // Nothing old enough: the transaction ends unused.
        return Ok(report);
    }
    let last = audit_log::Entity::find()
        .filter(audit_log::Column::Seq.eq(through))
        .one(&txn)
        .await?
        .and_then(|row| row.row_hash)
        .ok_or_else(|| DbErr::RecordNotFound(format!("audit entry seq {through}")))?;
    let due = audit_log::Entity::find()
        .filter(audit_log::Column::Seq.lte(through))
        .count(&txn)
        .await?;
    audit_checkpoint::Entity::insert(audit_checkpoint::ActiveModel {
        seq: Set(through),
        row_hash: Set(last),
        cutoff: Set(cutoff),
        pruned_count: Set(i64::try_from(due).unwrap_or(i64::MAX)),
        pruned_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await?;
    let removed = audit_log::Entity::delete_many()
        .filter(audit_log::Column::Seq.lte(through))
        .exec(&txn)
        .await?
        .rows_affected;
    record(
        &txn,
        &AuditActor::system(),
        AuditEntry {
            action: "audit.prune",
            entity_type: "audit_log",
            entity_id: None,
            changes: Some(serde_json::json!({
                "retention_days": retention_days,
                "cutoff": cutoff,
                "through_seq": through,
                "removed": removed,
            })),
        },
    )
    .await?;
    crate::db::commit(txn).await?;
    report.removed = removed;
    report.through_seq = Some(through);
    Ok(report)
}

/// `{field: {"from": old, "to": new}}` for every top-level field that differs.
pub fn diff(before: &Value, after: &Value) -> Value {
    let empty = Map::new();
    let before = before.as_object().unwrap_or(&empty);
    let after = after.as_object().unwrap_or(&empty);
    let mut changes = Map::new();
    for (field, new) in after {
        let old = before.get(field).unwrap_or(&Value::Null);
        if old != new {
            changes.insert(field.clone(), serde_json::json!({"from": old, "to": new}));
        }
    }
    Value::Object(changes)
}

/// Names a field in `changes` (from [`diff`] over masked views) whose value changed where
/// its mask hides it — a middle digit of a phone or ID number corrected — with its masked
/// values, so that the trail still shows that it changed without holding the number.
pub fn note_masked_change(
    changes: &mut Value,
    field: &str,
    before: Option<&str>,
    after: Option<&str>,
    mask: fn(&str) -> String,
) {
    if let Some(object) = changes.as_object_mut()
        && before != after
        && !object.contains_key(field)
    {
        object.insert(
            field.to_owned(),
            serde_json::json!({"from": before.map(mask), "to": after.map(mask)}),
        );
    }
}

/// Filters for reading the trail.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Kind of record.
    pub entity_type: Option<String>,
    /// The record.
    pub entity_id: Option<Uuid>,
    /// The actor.
    pub actor_id: Option<Uuid>,
    /// From (inclusive).
    pub since: Option<DateTime<Utc>>,
    /// Until (exclusive).
    pub until: Option<DateTime<Utc>>,
}

/// Newest first; `before` is the id of the last row of the previous page.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &AuditFilter,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<audit_log::Model>, DbErr> {
    let mut query = audit_log::Entity::find();
    if let Some(entity_type) = &filter.entity_type {
        query = query.filter(audit_log::Column::EntityType.eq(entity_type.clone()));
    }
    if let Some(entity_id) = filter.entity_id {
        query = query.filter(audit_log::Column::EntityId.eq(entity_id));
    }
    if let Some(actor_id) = filter.actor_id {
        query = query.filter(audit_log::Column::ActorId.eq(actor_id));
    }
    if let Some(since) = filter.since {
        query = query.filter(audit_log::Column::OccurredAt.gte(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(audit_log::Column::OccurredAt.lt(until));
    }
    if let Some(before) = before {
        query = query.filter(audit_log::Column::Id.lt(before));
    }
    query
        .order_by_desc(audit_log::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_form_sorts_keys_at_every_depth_and_has_no_spaces() {
        let mut text = String::new();
        write_canonical(
            &serde_json::json!({"b": [1, {"z": null, "a": "名"}], "a": 1.5}),
            &mut text,
        );
        assert_eq!(text, r#"{"a":1.5,"b":[1,{"a":"名","z":null}]}"#);
    }

    #[test]
    fn diff_lists_only_changed_fields() {
        let before = serde_json::json!({"name": "张三", "active": true});
        let after = serde_json::json!({"name": "张三", "active": false});
        assert_eq!(
            diff(&before, &after),
            serde_json::json!({"active": {"from": true, "to": false}})
        );
    }
}
