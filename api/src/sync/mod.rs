//! Offline sync for the field app, following WatermelonDB's sync backend contract
//! (API.md, "Sync protocol"): [`pull`] sends what changed in the caller's scope since the
//! phone's cursor, read from one snapshot; [`push`] applies the phone's changes in one
//! transaction through the same domain functions as the REST endpoints.
//!
//! The cursor (`timestamp`) is the value of the `sync_counter` row: every transaction that
//! writes a synced table stamps its rows with the next value at commit (`db::commit`), so the
//! cursor is strictly increasing and follows commit order. Wall clocks are never the cursor.

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

/// The current cursor: the last sequence number stamped.
pub async fn current_cursor(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT value FROM sync_counter WHERE id = 1".to_owned(),
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("sync_counter".to_owned()))?;
    row.try_get("", "value")
}
