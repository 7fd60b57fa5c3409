//! An enterprise (企业): a visit target like a household.

use sea_orm::entity::prelude::*;

/// A row of `enterprises`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "enterprises")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// County.
    pub county_id: Uuid,
    /// Town.
    pub town_id: Uuid,
    /// Village, when the enterprise sits in one.
    pub village_id: Option<Uuid>,
    /// Name.
    pub name: String,
    /// Contact person.
    pub contact_name: Option<String>,
    /// Contact phone.
    pub contact_phone: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Free notes.
    pub notes: Option<String>,
    /// Optimistic-concurrency version.
    pub version: i32,
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

/// Relations of `enterprises`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
