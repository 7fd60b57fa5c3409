//! The residents' satisfaction survey (一测): rounds per village, one-time codes for answering
//! through the public link, responses, and each response's rating of each cadre.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SurveyRounds::Table)
                    .col(pk_uuid(SurveyRounds::Id))
                    .col(uuid(SurveyRounds::CountyId))
                    .col(uuid(SurveyRounds::TownId))
                    .col(uuid(SurveyRounds::VillageId))
                    .col(string_len(SurveyRounds::Title, 100))
                    .col(date(SurveyRounds::OpensOn))
                    .col(date(SurveyRounds::ClosesOn))
                    .col(json(SurveyRounds::Cadres))
                    .col(uuid(SurveyRounds::CreatedBy))
                    .col(timestamp_with_time_zone(SurveyRounds::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_survey_rounds_village")
                            .from(SurveyRounds::Table, SurveyRounds::VillageId)
                            .to(OrgUnits::Table, OrgUnits::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_survey_rounds_village")
                    .table(SurveyRounds::Table)
                    .col(SurveyRounds::VillageId)
                    .col(SurveyRounds::OpensOn)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SurveyCodes::Table)
                    .col(string_len(SurveyCodes::CodeHash, 64).primary_key())
                    .col(uuid(SurveyCodes::RoundId))
                    .col(timestamp_with_time_zone(SurveyCodes::CreatedAt))
                    .col(timestamp_with_time_zone_null(SurveyCodes::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_survey_codes_round")
                            .from(SurveyCodes::Table, SurveyCodes::RoundId)
                            .to(SurveyRounds::Table, SurveyRounds::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SurveyResponses::Table)
                    .col(pk_uuid(SurveyResponses::Id))
                    .col(uuid(SurveyResponses::RoundId))
                    .col(uuid_null(SurveyResponses::HouseholdId))
                    .col(uuid_null(SurveyResponses::RecordedBy))
                    .col(string_len_null(SurveyResponses::CodeHash, 64))
                    .col(timestamp_with_time_zone(SurveyResponses::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_survey_responses_round")
                            .from(SurveyResponses::Table, SurveyResponses::RoundId)
                            .to(SurveyRounds::Table, SurveyRounds::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // One response per household and round (NULLs — public answers — are distinct).
        manager
            .create_index(
                Index::create()
                    .name("idx_survey_responses_round_household")
                    .table(SurveyResponses::Table)
                    .col(SurveyResponses::RoundId)
                    .col(SurveyResponses::HouseholdId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SurveyAnswers::Table)
                    .col(uuid(SurveyAnswers::ResponseId))
                    .col(uuid(SurveyAnswers::RoundId))
                    .col(uuid(SurveyAnswers::CadreId))
                    .col(string_len(SurveyAnswers::Rating, 32))
                    .primary_key(
                        Index::create()
                            .col(SurveyAnswers::ResponseId)
                            .col(SurveyAnswers::CadreId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_survey_answers_response")
                            .from(SurveyAnswers::Table, SurveyAnswers::ResponseId)
                            .to(SurveyResponses::Table, SurveyResponses::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_survey_answers_cadre", SurveyAnswers::CadreId),
            ("idx_survey_answers_round", SurveyAnswers::RoundId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(SurveyAnswers::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SurveyAnswers::Table.into_iden(),
            SurveyResponses::Table.into_iden(),
            SurveyCodes::Table.into_iden(),
            SurveyRounds::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum SurveyRounds {
    Table,
    Id,
    CountyId,
    TownId,
    VillageId,
    Title,
    OpensOn,
    ClosesOn,
    Cadres,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum SurveyCodes {
    Table,
    CodeHash,
    RoundId,
    CreatedAt,
    UsedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum SurveyResponses {
    Table,
    Id,
    RoundId,
    HouseholdId,
    RecordedBy,
    CodeHash,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum SurveyAnswers {
    Table,
    ResponseId,
    RoundId,
    CadreId,
    Rating,
}

#[derive(DeriveIden)]
enum OrgUnits {
    Table,
    Id,
}
