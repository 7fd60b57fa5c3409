//! A 123 pairing (结对): a cadre paired with a household.

use sea_orm::entity::prelude::*;

/// A row of `pairings`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "pairings")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The cadre.
    pub cadre_id: Uuid,
    /// The household paired with.
    pub household_id: Uuid,
    /// County of the household.
    pub county_id: Uuid,
    /// Town of the household.
    pub town_id: Uuid,
    /// Village of the household.
    pub village_id: Uuid,
    /// Created.
    pub created_at: DateTimeUtc,
    /// Sync: the commit-ordered change sequence of the last write (0 until committed).
    pub change_seq: i64,
    /// Sync: the change sequence of the write that created the row.
    pub created_seq: i64,
    /// Sync: the device that created the row through a push.
    pub origin_device: Option<String>,
}

/// Relations of `pairings`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
