//! An assignment (包村) of a cadre to a village, with dates.

use sea_orm::entity::prelude::*;

/// A row of `village_assignments`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "village_assignments")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The cadre.
    pub user_id: Uuid,
    /// The village.
    pub village_id: Uuid,
    /// First day of the assignment.
    pub starts_on: Date,
    /// Last day, if it has ended or will end.
    pub ends_on: Option<Date>,
    /// Created.
    pub created_at: DateTimeUtc,
}

/// Relations of `village_assignments`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
