//! An exception to the working week: a public holiday, or a make-up working day (调休) on a
//! weekend. Days without a row follow the week: Monday to Friday work, Saturday and Sunday rest.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What kind of exception a day is.
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
pub enum DayKind {
    /// 法定节假日: a public holiday — no work, even on a weekday.
    #[sea_orm(string_value = "holiday")]
    Holiday,
    /// 调休上班: a make-up working day on a Saturday or Sunday.
    #[sea_orm(string_value = "workday")]
    Workday,
}

/// A row of `calendar_days`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "calendar_days")]
pub struct Model {
    /// The day.
    #[sea_orm(primary_key, auto_increment = false)]
    pub date: Date,
    /// Holiday or make-up working day.
    pub kind: DayKind,
    /// What it is for, e.g. 春节, 国庆节.
    pub name: String,
}

/// Relations of `calendar_days`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
