//! A user: a cadre, leader, village official, department staff member, viewer or admin.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a user (or API token) may do; scope says where.
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
pub enum Role {
    /// Everything, including users, org units, tokens and campaigns; whole deployment.
    #[sea_orm(string_value = "admin")]
    Admin,
    /// Reads everything in their town or county; assigns, urges, approves, strikes off.
    #[sea_orm(string_value = "leader")]
    Leader,
    /// Registers households, records visits and issues in their assigned villages.
    #[sea_orm(string_value = "cadre")]
    Cadre,
    /// Like a cadre, for their own village.
    #[sea_orm(string_value = "village_official")]
    VillageOfficial,
    /// Handles issues escalated to their department.
    #[sea_orm(string_value = "department")]
    Department,
    /// Read-only dashboards, ledger and exports, personal data masked.
    #[sea_orm(string_value = "viewer")]
    Viewer,
}

/// A cadre's position; it decides visit quotas and duty.
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
pub enum Position {
    /// 包村领导: a town leader responsible for some villages.
    #[sea_orm(string_value = "village_contact_leader")]
    VillageContactLeader,
    /// 包村干部: a town cadre assigned to villages.
    #[sea_orm(string_value = "village_contact_cadre")]
    VillageContactCadre,
    /// 村两委: village party branch and committee member.
    #[sea_orm(string_value = "village_official")]
    VillageOfficial,
    /// 管区书记: management district secretary.
    #[sea_orm(string_value = "district_secretary")]
    DistrictSecretary,
    /// 党委书记: town party secretary, head of the leading group.
    #[sea_orm(string_value = "party_secretary")]
    PartySecretary,
    /// 部门工作人员: staff of a town office or county department.
    #[sea_orm(string_value = "department_staff")]
    DepartmentStaff,
    /// 其他: administrators and observers without a campaign position.
    #[sea_orm(string_value = "other")]
    Other,
}

/// A row of `users`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// Primary key (UUIDv7).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Login name, unique.
    pub username: String,
    /// Name shown to people (Chinese).
    pub display_name: String,
    /// Mobile number.
    pub phone: Option<String>,
    /// Campaign position.
    pub position: Position,
    /// Role.
    pub role: Role,
    /// The org unit the user's scope reaches (county, town, district or village).
    pub scope_org_unit_id: Option<Uuid>,
    /// The department of department staff.
    pub department_id: Option<Uuid>,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Inactive users cannot log in and their tokens stop working.
    pub active: bool,
    /// Created.
    pub created_at: DateTimeUtc,
    /// Last changed.
    pub updated_at: DateTimeUtc,
}

/// Relations of `users`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

/// A user's village assignments (包村, cadres), read with the user when a request is
/// authenticated (`users LEFT JOIN village_assignments ON users.id = user_id`).
impl Related<super::village_assignment::Entity> for Entity {
    fn to() -> RelationDef {
        Entity::belongs_to(super::village_assignment::Entity)
            .from(Column::Id)
            .to(super::village_assignment::Column::UserId)
            .into()
    }
}

impl ActiveModelBehavior for ActiveModel {}
