//! The residents' satisfaction survey (一测): a round in a village, its one-time codes, its
//! responses and each response's rating of each cadre.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A resident's rating of a cadre (满意 / 基本满意 / 不满意).
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
pub enum Rating {
    /// 满意.
    #[sea_orm(string_value = "satisfied")]
    Satisfied,
    /// 基本满意.
    #[sea_orm(string_value = "basically_satisfied")]
    BasicallySatisfied,
    /// 不满意.
    #[sea_orm(string_value = "unsatisfied")]
    Unsatisfied,
}

/// The cadres a round asks about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
pub struct RatedCadres(pub Vec<Uuid>);

/// Rows of `survey_rounds`.
pub mod round {
    use super::*;

    /// A survey round in a village.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "survey_rounds")]
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
        /// Title.
        pub title: String,
        /// First day answers are taken.
        pub opens_on: Date,
        /// Last day.
        pub closes_on: Date,
        /// The cadres rated: the village's cadres when the round was created.
        pub cadres: RatedCadres,
        /// The leader who created it.
        pub created_by: Uuid,
        /// Created.
        pub created_at: DateTimeUtc,
    }

    /// Relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Rows of `survey_codes`.
pub mod code {
    use super::*;

    /// A one-time code for answering through the public link (stored hashed).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "survey_codes")]
    pub struct Model {
        /// SHA-256 of the code, hex.
        #[sea_orm(primary_key, auto_increment = false)]
        pub code_hash: String,
        /// The round.
        pub round_id: Uuid,
        /// Created.
        pub created_at: DateTimeUtc,
        /// When it was used; a code answers once.
        pub used_at: Option<DateTimeUtc>,
    }

    /// Relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Rows of `survey_responses`.
pub mod response {
    use super::*;

    /// One resident's response.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "survey_responses")]
    pub struct Model {
        /// The client's UUID (a retry does not count twice).
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The round.
        pub round_id: Uuid,
        /// The household, when a cadre recorded it.
        pub household_id: Option<Uuid>,
        /// The cadre who recorded it; none through the public link.
        pub recorded_by: Option<Uuid>,
        /// The code used through the public link.
        pub code_hash: Option<String>,
        /// Received.
        pub created_at: DateTimeUtc,
    }

    /// Relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Rows of `survey_answers`.
pub mod answer {
    use super::*;

    /// A response's rating of one cadre.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "survey_answers")]
    pub struct Model {
        /// The response.
        #[sea_orm(primary_key, auto_increment = false)]
        pub response_id: Uuid,
        /// The cadre rated.
        #[sea_orm(primary_key, auto_increment = false)]
        pub cadre_id: Uuid,
        /// The round (for grouping without a join).
        pub round_id: Uuid,
        /// The rating.
        pub rating: Rating,
    }

    /// Relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
