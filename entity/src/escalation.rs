//! An escalation of an issue: village → town, or town → county, to a department.

use sea_orm::entity::prelude::*;

use crate::issue::Level;

/// A row of `escalations`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "escalations")]
pub struct Model {
    /// Id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The issue.
    pub issue_id: Uuid,
    /// Level before.
    pub from_level: Level,
    /// Level after.
    pub to_level: Level,
    /// The org unit that handled it before.
    pub from_org_unit_id: Uuid,
    /// The org unit that handles it now.
    pub to_org_unit_id: Uuid,
    /// The department it was sent to.
    pub department_id: Uuid,
    /// Why it could not be solved below.
    pub reason: String,
    /// The deadline set with it.
    pub new_deadline: Date,
    /// Who escalated (the lead responsible person).
    pub escalated_by: Uuid,
    /// When.
    pub escalated_at: DateTimeUtc,
    /// The department member who accepted it.
    pub accepted_by: Option<Uuid>,
    /// When it was accepted.
    pub accepted_at: Option<DateTimeUtc>,
}

/// Relations of `escalations`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
