//! An organisation unit: county, town, management district or village.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The level of an organisation unit.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    /// 县
    #[sea_orm(string_value = "county")]
    County,
    /// 镇
    #[sea_orm(string_value = "town")]
    Town,
    /// 管区
    #[sea_orm(string_value = "district")]
    District,
    /// 村
    #[sea_orm(string_value = "village")]
    Village,
}

/// A row of `org_units`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "org_units")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The unit above (none for a county).
    pub parent_id: Option<Uuid>,
    /// County, town, district or village.
    pub kind: OrgKind,
    /// Chinese name, e.g. 东关村.
    pub name: String,
    /// Administrative division code, unique.
    pub code: String,
    /// The county this unit is in (itself for a county).
    pub county_id: Uuid,
    /// The town this unit is in (itself for a town; none for a county).
    pub town_id: Option<Uuid>,
    /// The management district this unit is in, if any.
    pub district_id: Option<Uuid>,
    /// The office's phone (a village office's number, shown on the public duty roster).
    pub office_phone: Option<String>,
    /// When the row was created.
    pub created_at: DateTimeUtc,
    /// Sync: the commit-ordered change sequence of the last write (0 until committed).
    pub change_seq: i64,
    /// Sync: the change sequence of the write that created the row.
    pub created_seq: i64,
    /// Sync: the device that created the row through a push.
    pub origin_device: Option<String>,
}

/// Relations of `org_units`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
