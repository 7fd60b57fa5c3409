//! A campaign (活动): its phases, visit quotas per position, deed targets and assessment
//! weights — data per year and org unit, so that next year's campaign needs no new code.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::user::Position;

/// One phase (阶段) with its dates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Phase {
    /// Short key, e.g. `publicity`.
    #[schema(example = "publicity")]
    pub key: String,
    /// Name people read, e.g. 宣传发动.
    #[schema(example = "宣传发动")]
    pub name: String,
    /// First day (local date).
    pub starts_on: Date,
    /// Last day (local date).
    pub ends_on: Date,
}

/// The phases, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
pub struct Phases(pub Vec<Phase>);

/// What a quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuotaMeasure {
    /// Distinct households visited (走访户数).
    Households,
    /// Household visits, repeats included (走访户次).
    Visits,
}

/// A visit quota (走访任务) for one position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Quota {
    /// The position it applies to.
    pub position: Position,
    /// What is counted.
    pub measure: QuotaMeasure,
    /// How many during the campaign.
    #[schema(minimum = 1, example = 120)]
    pub target: i32,
}

/// The quotas of a campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
pub struct Quotas(pub Vec<Quota>);

/// The weights of the annual score (一测一考), in percent; they add up to 100.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, FromJsonQueryResult,
)]
pub struct Weights {
    /// Duty days kept (一线工作日).
    pub duties: i32,
    /// Visits against the quota.
    pub visits: i32,
    /// Pairing contacts kept (结对联系).
    pub contacts: i32,
    /// Issues resolved in time.
    pub issues_in_time: i32,
    /// Residents' satisfaction survey (一测).
    pub satisfaction: i32,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            duties: 20,
            visits: 25,
            contacts: 15,
            issues_in_time: 20,
            satisfaction: 20,
        }
    }
}

/// A row of `campaigns`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaigns")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The county or town it runs in; a town without its own campaign follows its county's.
    pub org_unit_id: Uuid,
    /// Name, e.g. 2026年“访民情·听民意·解民忧”活动.
    pub name: String,
    /// The campaign year.
    pub year: i32,
    /// The first day of its first phase.
    pub starts_on: Date,
    /// The last day of its last phase.
    pub ends_on: Date,
    /// Phases, in order.
    pub phases: Phases,
    /// Visit quotas per position.
    pub quotas: Quotas,
    /// Deeds (实事) each cadre must complete.
    pub deeds_per_cadre: i32,
    /// Deeds in each town's first batch.
    pub first_batch_deeds: i32,
    /// The day the first batch is due.
    pub first_batch_due: Date,
    /// Weights of the annual score.
    pub weights: Weights,
    /// Optimistic-concurrency version.
    pub version: i32,
    /// Created.
    pub created_at: DateTimeUtc,
    /// Last changed.
    pub updated_at: DateTimeUtc,
}

/// Relations of `campaigns`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
