//! A duty day (一线工作日) of a village: who sits in at the village office on that day.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Why this person is on duty.
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
pub enum DutyKind {
    /// 包村领导: the village-contact leader's Thursday (odd ISO weeks).
    #[sea_orm(string_value = "leader")]
    Leader,
    /// 包村干部: a village-contact cadre's turn in the rotation.
    #[sea_orm(string_value = "cadre")]
    Cadre,
}

/// A row of `duties`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "duties")]
pub struct Model {
    /// Id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// County.
    pub county_id: Uuid,
    /// Town.
    pub town_id: Uuid,
    /// Village.
    pub village_id: Uuid,
    /// The day (local date).
    pub duty_date: Date,
    /// Who is on duty (after any swap).
    pub user_id: Uuid,
    /// Leader's day or a cadre's turn.
    pub kind: DutyKind,
    /// A leader's Thursday covered by the cadre rotation because no leader was assigned.
    pub leader_fallback: bool,
    /// Who was rostered before a swap (the first person rostered, over several swaps).
    pub swapped_from_user_id: Option<Uuid>,
    /// Why it was swapped.
    pub swap_reason: Option<String>,
    /// Created.
    pub created_at: DateTimeUtc,
    /// Last changed.
    pub updated_at: DateTimeUtc,
}

/// Relations of `duties`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
