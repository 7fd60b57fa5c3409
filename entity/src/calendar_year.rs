//! A year whose calendar (holidays and make-up working days) was loaded.

use sea_orm::entity::prelude::*;

/// A row of `calendar_years`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "calendar_years")]
pub struct Model {
    /// The year, e.g. 2026.
    #[sea_orm(primary_key, auto_increment = false)]
    pub year: i32,
    /// How many exception days were loaded for it.
    pub days: i32,
    /// Who loaded it (a user or API token).
    pub loaded_by: Option<Uuid>,
    /// When.
    pub loaded_at: DateTimeUtc,
}

/// Relations of `calendar_years`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
