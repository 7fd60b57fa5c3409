//! An issue (问题): a matter a resident raised, owned by its first visitor, with a deadline.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::visit::Channel;

/// The four categories (分类汇总).
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
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 干部作风: cadre conduct.
    #[sea_orm(string_value = "cadre_conduct")]
    CadreConduct,
    /// 实际困难: practical difficulty.
    #[sea_orm(string_value = "practical_difficulty")]
    PracticalDifficulty,
    /// 工作不足: work shortcoming.
    #[sea_orm(string_value = "work_shortcoming")]
    WorkShortcoming,
    /// 发展建议: development suggestion.
    #[sea_orm(string_value = "development_suggestion")]
    DevelopmentSuggestion,
}

/// The level that handles an issue (分级建账).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// 村
    #[sea_orm(string_value = "village")]
    Village,
    /// 镇
    #[sea_orm(string_value = "town")]
    Town,
    /// 县
    #[sea_orm(string_value = "county")]
    County,
}

/// Where an issue stands.
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
pub enum Status {
    /// 待办: recorded, not yet worked on.
    #[sea_orm(string_value = "open")]
    Open,
    /// 办理中: being worked on.
    #[sea_orm(string_value = "in_progress")]
    InProgress,
    /// 已办结: done; the applicant is to be told.
    #[sea_orm(string_value = "resolved")]
    Resolved,
    /// 已销号: struck off by a leader.
    #[sea_orm(string_value = "closed")]
    Closed,
}

/// A row of `issues`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "issues")]
pub struct Model {
    /// The client's UUID.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// County.
    pub county_id: Uuid,
    /// Town.
    pub town_id: Uuid,
    /// Village.
    pub village_id: Uuid,
    /// The visit it was raised in.
    pub visit_id: Option<Uuid>,
    /// How it came in.
    pub channel: Channel,
    /// The applicant's household.
    pub applicant_household_id: Option<Uuid>,
    /// 申请人姓名.
    pub applicant_name: String,
    /// The applicant's phone.
    pub applicant_phone: Option<String>,
    /// Category.
    pub category: Category,
    /// 申办事项: what is asked.
    pub matter: String,
    /// Answered on the spot (当场答复): counted, not in the ledger.
    pub answered_on_spot: bool,
    /// The answer given on the spot.
    pub spot_answer: Option<String>,
    /// Current level.
    pub level: Level,
    /// 主办责任人: the first visitor, for the whole life.
    pub lead_responsible_id: Uuid,
    /// The org unit handling it now (village, town or county).
    pub handler_org_unit_id: Uuid,
    /// The department handling it now, once escalated.
    pub handler_department_id: Option<Uuid>,
    /// For cadre-conduct complaints: the cadre named (who must never see it).
    pub named_cadre_id: Option<Uuid>,
    /// 办结时限 (local date); none only for issues answered on the spot.
    pub deadline: Option<Date>,
    /// Status.
    pub status: Status,
    /// Marked a practical deed (实事).
    pub is_deed: bool,
    /// 办理情况: the latest progress note.
    pub latest_progress: Option<String>,
    /// What was done.
    pub resolution: Option<String>,
    /// The applicant has been told the result (反馈).
    pub feedback_given: bool,
    /// Whether the applicant was satisfied, once told.
    pub applicant_satisfied: Option<bool>,
    /// When it was resolved.
    pub resolved_at: Option<DateTimeUtc>,
    /// When it was struck off.
    pub closed_at: Option<DateTimeUtc>,
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

/// Relations of `issues`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
