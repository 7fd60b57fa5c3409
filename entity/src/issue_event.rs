//! An event in an issue's append-only timeline.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What happened.
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
pub enum EventKind {
    /// Recorded.
    #[sea_orm(string_value = "created")]
    Created,
    /// 办理情况: a progress note.
    #[sea_orm(string_value = "progress")]
    Progress,
    /// 办结: resolved, with what was done.
    #[sea_orm(string_value = "resolved")]
    Resolved,
    /// 反馈: the applicant was told, and said whether satisfied.
    #[sea_orm(string_value = "feedback")]
    Feedback,
    /// 销号: struck off by a leader.
    #[sea_orm(string_value = "closed")]
    Closed,
    /// Reopened (the applicant was not satisfied).
    #[sea_orm(string_value = "reopened")]
    Reopened,
    /// 督办: urged by a leader.
    #[sea_orm(string_value = "urged")]
    Urged,
    /// The deadline was extended by a leader.
    #[sea_orm(string_value = "deadline_extended")]
    DeadlineExtended,
    /// Escalated to the next level.
    #[sea_orm(string_value = "escalated")]
    Escalated,
    /// An escalation was accepted by the department.
    #[sea_orm(string_value = "escalation_accepted")]
    EscalationAccepted,
}

/// A row of `issue_events`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "issue_events")]
pub struct Model {
    /// Id (UUIDv7: the timeline's order).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The issue.
    pub issue_id: Uuid,
    /// What happened.
    pub kind: EventKind,
    /// Who.
    pub actor_id: Option<Uuid>,
    /// Their role.
    pub actor_role: Option<String>,
    /// The note (progress, resolution, reason).
    pub note: Option<String>,
    /// Details (satisfaction, deadlines, levels).
    pub data: Option<Json>,
    /// When.
    pub occurred_at: DateTimeUtc,
    /// Sync: the commit-ordered change sequence of the last write (0 until committed).
    pub change_seq: i64,
    /// Sync: the change sequence of the write that created the row.
    pub created_seq: i64,
    /// Sync: the device that created the row through a push.
    pub origin_device: Option<String>,
}

/// Relations of `issue_events`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
