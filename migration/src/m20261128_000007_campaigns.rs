//! The campaign as data (phases, visit quotas, deed targets, assessment weights), and the
//! monthly ledger's sign-offs: a signed-off month keeps a frozen copy of its ledger.
//!
//! Dashboards ask "closed this month" and "raised in this range" over the whole county, so
//! `issues` gets indexes on those two instants.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Campaigns::Table)
                    .col(pk_uuid(Campaigns::Id))
                    .col(uuid(Campaigns::OrgUnitId))
                    .col(string_len(Campaigns::Name, 100))
                    .col(integer(Campaigns::Year))
                    .col(date(Campaigns::StartsOn))
                    .col(date(Campaigns::EndsOn))
                    .col(json(Campaigns::Phases))
                    .col(json(Campaigns::Quotas))
                    .col(integer(Campaigns::DeedsPerCadre))
                    .col(integer(Campaigns::FirstBatchDeeds))
                    .col(date(Campaigns::FirstBatchDue))
                    .col(json(Campaigns::Weights))
                    .col(integer(Campaigns::Version))
                    .col(timestamp_with_time_zone(Campaigns::CreatedAt))
                    .col(timestamp_with_time_zone(Campaigns::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_campaigns_org_unit")
                            .from(Campaigns::Table, Campaigns::OrgUnitId)
                            .to(OrgUnits::Table, OrgUnits::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_campaigns_org_unit_year")
                    .table(Campaigns::Table)
                    .col(Campaigns::OrgUnitId)
                    .col(Campaigns::Year)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LedgerMonths::Table)
                    .col(pk_uuid(LedgerMonths::Id))
                    .col(uuid(LedgerMonths::OrgUnitId))
                    .col(string_len(LedgerMonths::Month, 7))
                    .col(uuid(LedgerMonths::SignedBy))
                    .col(timestamp_with_time_zone(LedgerMonths::SignedAt))
                    .col(text_null(LedgerMonths::Note))
                    .col(json(LedgerMonths::Snapshot))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_ledger_months_org_unit")
                            .from(LedgerMonths::Table, LedgerMonths::OrgUnitId)
                            .to(OrgUnits::Table, OrgUnits::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_ledger_months_signed_by")
                            .from(LedgerMonths::Table, LedgerMonths::SignedBy)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_ledger_months_org_unit_month")
                    .table(LedgerMonths::Table)
                    .col(LedgerMonths::OrgUnitId)
                    .col(LedgerMonths::Month)
                    .unique()
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_issues_closed_at", Issues::ClosedAt),
            ("idx_issues_created_at", Issues::CreatedAt),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Issues::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        // "Resolved, the applicant not yet told" (事事有回音) is counted over a whole county.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX idx_issues_awaiting_feedback ON issues (county_id, town_id) \
                 WHERE status = 'resolved' AND feedback_given = FALSE",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_issues_awaiting_feedback")
                    .table(Issues::Table)
                    .to_owned(),
            )
            .await?;
        for name in ["idx_issues_created_at", "idx_issues_closed_at"] {
            manager
                .drop_index(Index::drop().name(name).table(Issues::Table).to_owned())
                .await?;
        }
        manager
            .drop_table(Table::drop().table(LedgerMonths::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Campaigns::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Campaigns {
    Table,
    Id,
    OrgUnitId,
    Name,
    Year,
    StartsOn,
    EndsOn,
    Phases,
    Quotas,
    DeedsPerCadre,
    FirstBatchDeeds,
    FirstBatchDue,
    Weights,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum LedgerMonths {
    Table,
    Id,
    OrgUnitId,
    Month,
    SignedBy,
    SignedAt,
    Note,
    Snapshot,
}

#[derive(DeriveIden, Clone, Copy)]
enum Issues {
    Table,
    ClosedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OrgUnits {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
