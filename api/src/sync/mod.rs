//! Offline sync for the field app, following WatermelonDB's sync backend contract
//! (API.md, "Sync protocol"): [`pull`] sends what changed in the caller's scope since the
//! phone's cursor, read from one snapshot; [`push`] applies the phone's changes in one
//! transaction through the same domain functions as the REST endpoints.
//!
//! Every transaction that writes a synced table stamps its rows (on SQLite with its stamp taken
//! in its write turn, `db::WriteTxn::stamp`, or at `db::commit`; on PostgreSQL by a trigger,
//! migrations 12 and 14); the cursor (`timestamp`) a pull hands out is a stamp such that every
//! change stamped at or below it had committed when the pull's snapshot was taken, and every
//! change committed later is stamped above it. A pull sends the changes stamped in
//! `(last_pulled_at, cursor]`, so none is missed or sent twice, and a push's record changed
//! after `last_pulled_at` is exactly one stamped above it. Wall clocks are never the cursor.

pub mod pull;
pub mod push;
pub mod records;

use chrono::Utc;
use entity::sync_tombstone;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait};
use uuid::Uuid;

/// The tables the field app keeps, as it names them.
pub const TABLES: [&str; 7] = [
    "villages",
    "households",
    "enterprises",
    "visits",
    "issues",
    "issue_events",
    "pairings",
];

/// Records a deletion so that phones learn of it on their next pull. `place` is (county,
/// town, village) for scoping the tombstone.
pub async fn record_deletion(
    db: &impl ConnectionTrait,
    table: &str,
    record_id: Uuid,
    place: Option<(Uuid, Uuid, Uuid)>,
) -> Result<(), DbErr> {
    sync_tombstone::Entity::insert(sync_tombstone::ActiveModel::from(sync_tombstone::Model {
        id: Uuid::now_v7(),
        table_name: table.to_owned(),
        record_id,
        county_id: place.map(|(county, _, _)| county),
        town_id: place.map(|(_, town, _)| town),
        village_id: place.map(|(_, _, village)| village),
        change_seq: 0,
        created_seq: 0,
        origin_device: None,
        deleted_at: Utc::now(),
    }))
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The current cursor (see the module's documentation), read in the caller's snapshot — make
/// it the snapshot's first statement.
///
/// - SQLite: the `sync_counter` row, moved by each writing transaction before its commit.
/// - PostgreSQL: stamps are transaction ids plus the counter's value ([`SETTLED_STAMP_PG`]).
pub async fn current_cursor(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            format!("SELECT {SETTLED_STAMP_PG} + value AS value FROM sync_counter WHERE id = 1")
        }
        _ => "SELECT value FROM sync_counter WHERE id = 1".to_owned(),
    };
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(backend, sql))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("sync_counter".to_owned()))?;
    row.try_get("", "value")
}

/// PostgreSQL: the highest transaction id (without the counter's value) at or below which
/// every transaction of this database has ended, as of the statement's snapshot — the first
/// statement of a `REPEATABLE READ` transaction fixes it. A snapshot lists the ids still
/// running below its `xmax`; every other id below `xmax` has ended (and the snapshot sees it if
/// it committed). The lowest running id less one would do, but ids are shared by every
/// database of the server, and a long transaction elsewhere would hold every cursor back: ids
/// that `pg_stat_activity` shows running in another database are passed over. An id not found
/// there (it ended meanwhile) is kept, which can only make the cursor lower, never skip a change.
pub const SETTLED_STAMP_PG: &str = "(COALESCE((SELECT MIN(x::text::bigint) \
     FROM pg_snapshot_xip(pg_current_snapshot()) AS x \
     WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity AS a \
     WHERE a.backend_xid = xid(x) AND a.datname IS DISTINCT FROM current_database())), \
     pg_snapshot_xmax(pg_current_snapshot())::text::bigint) - 1)";
