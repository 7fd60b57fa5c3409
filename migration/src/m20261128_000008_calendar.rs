//! The working-day calendar and the duty roster (一线工作日).
//!
//! - `calendar_days` holds only the exceptions to "Monday to Friday work, Saturday and Sunday
//!   rest": public holidays on weekdays (and on weekends, for the record) and make-up working
//!   days (调休) on weekends. `calendar_years` says which years were loaded, so that a year
//!   with no exception rows is told apart from a year nobody loaded.
//! - `duties` is the roster: one person on duty per village and day; a swap keeps the person
//!   first rostered.
//! - `visits.duty_id` links a sit-in visit (值班坐访) to the duty it was made on.
//! - `org_units.office_phone` is the village office's number, the only number the public
//!   roster shows.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CalendarDays::Table)
                    .col(date(CalendarDays::Date).primary_key())
                    .col(string_len(CalendarDays::Kind, 16))
                    .col(string_len(CalendarDays::Name, 50))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CalendarYears::Table)
                    .col(integer(CalendarYears::Year).primary_key())
                    .col(integer(CalendarYears::Days))
                    .col(uuid_null(CalendarYears::LoadedBy))
                    .col(timestamp_with_time_zone(CalendarYears::LoadedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Duties::Table)
                    .col(pk_uuid(Duties::Id))
                    .col(uuid(Duties::CountyId))
                    .col(uuid(Duties::TownId))
                    .col(uuid(Duties::VillageId))
                    .col(date(Duties::DutyDate))
                    .col(uuid(Duties::UserId))
                    .col(string_len(Duties::Kind, 16))
                    .col(boolean(Duties::LeaderFallback).default(false))
                    .col(uuid_null(Duties::SwappedFromUserId))
                    .col(string_len_null(Duties::SwapReason, 500))
                    .col(timestamp_with_time_zone(Duties::CreatedAt))
                    .col(timestamp_with_time_zone(Duties::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_duties_village")
                            .from(Duties::Table, Duties::VillageId)
                            .to(OrgUnits::Table, OrgUnits::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_duties_user")
                            .from(Duties::Table, Duties::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_duties_swapped_from")
                            .from(Duties::Table, Duties::SwappedFromUserId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // One person on duty per village and day; also the roster's order within a village.
        manager
            .create_index(
                Index::create()
                    .name("uq_duties_village_date")
                    .table(Duties::Table)
                    .col(Duties::VillageId)
                    .col(Duties::DutyDate)
                    .unique()
                    .to_owned(),
            )
            .await?;
        for (name, first) in [
            ("idx_duties_town_date", Duties::TownId),
            ("idx_duties_county_date", Duties::CountyId),
            ("idx_duties_user_date", Duties::UserId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Duties::Table)
                        .col(first)
                        .col(Duties::DutyDate)
                        .to_owned(),
                )
                .await?;
        }
        // No foreign key: SQLite cannot add one to an existing table. The link is set only by
        // the server, to a duty it has just read.
        manager
            .alter_table(
                Table::alter()
                    .table(Visits::Table)
                    .add_column(uuid_null(Visits::DutyId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_visits_duty")
                    .table(Visits::Table)
                    .col(Visits::DutyId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(OrgUnits::Table)
                    .add_column(string_len_null(OrgUnits::OfficePhone, 20))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(OrgUnits::Table)
                    .drop_column(OrgUnits::OfficePhone)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_visits_duty")
                    .table(Visits::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Visits::Table)
                    .drop_column(Visits::DutyId)
                    .to_owned(),
            )
            .await?;
        for table in [
            Duties::Table.into_iden(),
            CalendarYears::Table.into_iden(),
            CalendarDays::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum CalendarDays {
    Table,
    Date,
    Kind,
    Name,
}

#[derive(DeriveIden, Clone, Copy)]
enum CalendarYears {
    Table,
    Year,
    Days,
    LoadedBy,
    LoadedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Duties {
    Table,
    Id,
    CountyId,
    TownId,
    VillageId,
    DutyDate,
    UserId,
    Kind,
    LeaderFallback,
    SwappedFromUserId,
    SwapReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Visits {
    Table,
    DutyId,
}

#[derive(DeriveIden, Clone, Copy)]
enum OrgUnits {
    Table,
    Id,
    OfficePhone,
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
}
