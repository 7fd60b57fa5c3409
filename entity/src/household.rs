//! A household (户) of the roster.

use sea_orm::entity::prelude::*;

/// A row of `households`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "households")]
pub struct Model {
    /// Primary key; a phone may choose it (UUID v4 or v7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// County.
    pub county_id: Uuid,
    /// Town.
    pub town_id: Uuid,
    /// Village.
    pub village_id: Uuid,
    /// Head of household (户主).
    pub head_name: String,
    /// Contact phone.
    pub phone: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Members of the household.
    pub members_count: Option<i32>,
    /// The head's resident ID number (18 characters, checksum-valid).
    pub id_card_number: Option<String>,
    /// WGS-84 latitude.
    pub latitude: Option<f64>,
    /// WGS-84 longitude.
    pub longitude: Option<f64>,
    /// Visit-priority tags as a bit set (see `HouseholdTag` in the API).
    pub tags: i32,
    /// Free notes.
    pub notes: Option<String>,
    /// When a visit last reached this household.
    pub last_visited_at: Option<DateTimeUtc>,
    /// Optimistic-concurrency version, +1 on every change.
    pub version: i32,
    /// Who registered it.
    pub created_by: Option<Uuid>,
    /// Created.
    pub created_at: DateTimeUtc,
    /// Last changed.
    pub updated_at: DateTimeUtc,
    /// Sync: the commit-ordered change sequence of the last write (0 until committed).
    pub change_seq: i64,
    /// Sync: the change sequence of the write that created the row.
    pub created_seq: i64,
    /// Sync: the device that created the row through a push.
    pub origin_device: Option<String>,
}

/// Relations of `households`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
