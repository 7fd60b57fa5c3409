//! Visits and the issue ledger (台账): issues with their append-only timeline of events and
//! their escalations.
//!
//! The ledger's questions ("what is open in this village, by deadline?", "what is overdue?")
//! only concern open issues, so the deadline indexes are partial: they hold the open and
//! in-progress ledger issues only, and stay small as closed ones pile up. Both engines
//! accept the same `CREATE INDEX … WHERE` statement.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const PARTIAL_INDEXES: &[(&str, &str)] = &[
    (
        "idx_issues_open_village_deadline",
        "issues (village_id, deadline, id)",
    ),
    (
        "idx_issues_open_town_deadline",
        "issues (town_id, deadline, id)",
    ),
    (
        "idx_issues_open_county_deadline",
        "issues (county_id, deadline, id)",
    ),
];
const OPEN_LEDGER: &str = "status IN ('open', 'in_progress') AND answered_on_spot = FALSE";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Visits::Table)
                    .col(pk_uuid(Visits::Id))
                    .col(uuid(Visits::CountyId))
                    .col(uuid(Visits::TownId))
                    .col(uuid(Visits::VillageId))
                    .col(uuid_null(Visits::HouseholdId))
                    .col(uuid_null(Visits::EnterpriseId))
                    .col(uuid(Visits::CadreId))
                    .col(string_len(Visits::Channel, 32))
                    .col(timestamp_with_time_zone(Visits::VisitedAt))
                    .col(timestamp_with_time_zone(Visits::ReceivedAt))
                    .col(json_null(Visits::Answers))
                    .col(small_integer_null(Visits::CadreRating))
                    .col(text_null(Visits::DiaryNote))
                    .col(boolean(Visits::ServiceCardGiven))
                    .col(double_null(Visits::Latitude))
                    .col(double_null(Visits::Longitude))
                    .col(string_len_null(Visits::DeviceId, 64))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_visits_village")
                            .from(Visits::Table, Visits::VillageId)
                            .to(OrgUnits::Table, OrgUnits::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_visits_household")
                            .from(Visits::Table, Visits::HouseholdId)
                            .to(Households::Table, Households::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_visits_enterprise")
                            .from(Visits::Table, Visits::EnterpriseId)
                            .to(Enterprises::Table, Enterprises::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_visits_cadre")
                            .from(Visits::Table, Visits::CadreId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_visits_village_time",
            Visits::Table,
            &[Visits::VillageId, Visits::VisitedAt],
        )
        .await?;
        index(
            manager,
            "idx_visits_cadre_time",
            Visits::Table,
            &[Visits::CadreId, Visits::VisitedAt],
        )
        .await?;
        index(
            manager,
            "idx_visits_household",
            Visits::Table,
            &[Visits::HouseholdId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Issues::Table)
                    .col(pk_uuid(Issues::Id))
                    .col(uuid(Issues::CountyId))
                    .col(uuid(Issues::TownId))
                    .col(uuid(Issues::VillageId))
                    .col(uuid_null(Issues::VisitId))
                    .col(string_len(Issues::Channel, 32))
                    .col(uuid_null(Issues::ApplicantHouseholdId))
                    .col(string_len(Issues::ApplicantName, 50))
                    .col(string_len_null(Issues::ApplicantPhone, 20))
                    .col(string_len(Issues::Category, 32))
                    .col(text(Issues::Matter))
                    .col(boolean(Issues::AnsweredOnSpot))
                    .col(text_null(Issues::SpotAnswer))
                    .col(string_len(Issues::Level, 16))
                    .col(uuid(Issues::LeadResponsibleId))
                    .col(uuid(Issues::HandlerOrgUnitId))
                    .col(uuid_null(Issues::HandlerDepartmentId))
                    .col(uuid_null(Issues::NamedCadreId))
                    .col(date_null(Issues::Deadline))
                    .col(string_len(Issues::Status, 16))
                    .col(boolean(Issues::IsDeed))
                    .col(text_null(Issues::LatestProgress))
                    .col(text_null(Issues::Resolution))
                    .col(boolean(Issues::FeedbackGiven))
                    .col(boolean_null(Issues::ApplicantSatisfied))
                    .col(timestamp_with_time_zone_null(Issues::ResolvedAt))
                    .col(timestamp_with_time_zone_null(Issues::ClosedAt))
                    .col(integer(Issues::Version))
                    .col(timestamp_with_time_zone(Issues::CreatedAt))
                    .col(timestamp_with_time_zone(Issues::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_issues_village")
                            .from(Issues::Table, Issues::VillageId)
                            .to(OrgUnits::Table, OrgUnits::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_issues_visit")
                            .from(Issues::Table, Issues::VisitId)
                            .to(Visits::Table, Visits::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_issues_lead")
                            .from(Issues::Table, Issues::LeadResponsibleId)
                            .to(Users::Table, Users::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_issues_department")
                            .from(Issues::Table, Issues::HandlerDepartmentId)
                            .to(Departments::Table, Departments::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_issues_visit",
            Issues::Table,
            &[Issues::VisitId],
        )
        .await?;
        index(
            manager,
            "idx_issues_lead",
            Issues::Table,
            &[Issues::LeadResponsibleId],
        )
        .await?;
        index(
            manager,
            "idx_issues_department",
            Issues::Table,
            &[Issues::HandlerDepartmentId],
        )
        .await?;
        index(
            manager,
            "idx_issues_village_status",
            Issues::Table,
            &[Issues::VillageId, Issues::Status],
        )
        .await?;
        for (name, target) in PARTIAL_INDEXES {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "CREATE INDEX {name} ON {target} WHERE {OPEN_LEDGER}"
                ))
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(IssueEvents::Table)
                    .col(pk_uuid(IssueEvents::Id))
                    .col(uuid(IssueEvents::IssueId))
                    .col(string_len(IssueEvents::Kind, 32))
                    .col(uuid_null(IssueEvents::ActorId))
                    .col(string_len_null(IssueEvents::ActorRole, 16))
                    .col(text_null(IssueEvents::Note))
                    .col(json_null(IssueEvents::Data))
                    .col(timestamp_with_time_zone(IssueEvents::OccurredAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_issue_events_issue")
                            .from(IssueEvents::Table, IssueEvents::IssueId)
                            .to(Issues::Table, Issues::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_issue_events_issue",
            IssueEvents::Table,
            &[IssueEvents::IssueId, IssueEvents::Id],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Escalations::Table)
                    .col(pk_uuid(Escalations::Id))
                    .col(uuid(Escalations::IssueId))
                    .col(string_len(Escalations::FromLevel, 16))
                    .col(string_len(Escalations::ToLevel, 16))
                    .col(uuid(Escalations::FromOrgUnitId))
                    .col(uuid(Escalations::ToOrgUnitId))
                    .col(uuid(Escalations::DepartmentId))
                    .col(text(Escalations::Reason))
                    .col(date(Escalations::NewDeadline))
                    .col(uuid(Escalations::EscalatedBy))
                    .col(timestamp_with_time_zone(Escalations::EscalatedAt))
                    .col(uuid_null(Escalations::AcceptedBy))
                    .col(timestamp_with_time_zone_null(Escalations::AcceptedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_escalations_issue")
                            .from(Escalations::Table, Escalations::IssueId)
                            .to(Issues::Table, Issues::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_escalations_department")
                            .from(Escalations::Table, Escalations::DepartmentId)
                            .to(Departments::Table, Departments::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_escalations_issue",
            Escalations::Table,
            &[Escalations::IssueId],
        )
        .await?;
        index(
            manager,
            "idx_escalations_department",
            Escalations::Table,
            &[Escalations::DepartmentId, Escalations::IssueId],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Escalations::Table.into_iden(),
            IssueEvents::Table.into_iden(),
            Issues::Table.into_iden(),
            Visits::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

async fn index<T: IntoIden + Copy, C: IntoIden + Copy>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    columns: &[C],
) -> Result<(), DbErr> {
    let mut statement = Index::create();
    statement.name(name).table(table);
    for column in columns {
        statement.col(*column);
    }
    manager.create_index(statement.to_owned()).await
}

#[derive(DeriveIden, Clone, Copy)]
enum OrgUnits {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Departments {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Households {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Enterprises {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Visits {
    Table,
    Id,
    CountyId,
    TownId,
    VillageId,
    HouseholdId,
    EnterpriseId,
    CadreId,
    Channel,
    VisitedAt,
    ReceivedAt,
    Answers,
    CadreRating,
    DiaryNote,
    ServiceCardGiven,
    Latitude,
    Longitude,
    DeviceId,
}

#[derive(DeriveIden, Clone, Copy)]
enum Issues {
    Table,
    Id,
    CountyId,
    TownId,
    VillageId,
    VisitId,
    Channel,
    ApplicantHouseholdId,
    ApplicantName,
    ApplicantPhone,
    Category,
    Matter,
    AnsweredOnSpot,
    SpotAnswer,
    Level,
    LeadResponsibleId,
    HandlerOrgUnitId,
    HandlerDepartmentId,
    NamedCadreId,
    Deadline,
    Status,
    IsDeed,
    LatestProgress,
    Resolution,
    FeedbackGiven,
    ApplicantSatisfied,
    ResolvedAt,
    ClosedAt,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum IssueEvents {
    Table,
    Id,
    IssueId,
    Kind,
    ActorId,
    ActorRole,
    Note,
    Data,
    OccurredAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Escalations {
    Table,
    Id,
    IssueId,
    FromLevel,
    ToLevel,
    FromOrgUnitId,
    ToOrgUnitId,
    DepartmentId,
    Reason,
    NewDeadline,
    EscalatedBy,
    EscalatedAt,
    AcceptedBy,
    AcceptedAt,
}
