//! A deleted record of a synced table, kept so that phones learn of the deletion.

use sea_orm::entity::prelude::*;

/// A row of `sync_tombstones`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_tombstones")]
pub struct Model {
    /// Id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The synced table (`pairings`, …).
    pub table_name: String,
    /// The deleted record.
    pub record_id: Uuid,
    /// Its village (for scoping the tombstone).
    pub village_id: Option<Uuid>,
    /// Its town.
    pub town_id: Option<Uuid>,
    /// Its county.
    pub county_id: Option<Uuid>,
    /// The change sequence of the deletion.
    pub change_seq: i64,
    /// Unused for tombstones; kept so that stamping treats every synced table alike.
    pub created_seq: i64,
    /// The device that deleted it through a push.
    pub origin_device: Option<String>,
    /// When.
    pub deleted_at: DateTimeUtc,
}

/// Relations of `sync_tombstones`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
