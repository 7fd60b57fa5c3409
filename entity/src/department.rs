//! A department: a town office or a county bureau that can receive escalated issues.

use sea_orm::entity::prelude::*;

/// A row of `departments`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "departments")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The town or county the department belongs to.
    pub org_unit_id: Uuid,
    /// Chinese name, e.g. 县交通运输局.
    pub name: String,
    /// Stable code, unique.
    pub code: String,
    /// When the row was created.
    pub created_at: DateTimeUtc,
}

/// Relations of `departments`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
