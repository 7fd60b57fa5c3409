//! The roster: households, enterprises, and 123 pairings (结对).
//!
//! Households and enterprises carry county, town and village ids so that scope filters are
//! column comparisons on an index.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Households::Table)
                    .col(pk_uuid(Households::Id))
                    .col(uuid(Households::CountyId))
                    .col(uuid(Households::TownId))
                    .col(uuid(Households::VillageId))
                    .col(string_len(Households::HeadName, 50))
                    .col(string_len_null(Households::Phone, 20))
                    .col(string_len_null(Households::Address, 200))
                    .col(integer_null(Households::MembersCount))
                    .col(string_len_null(Households::IdCardNumber, 18))
                    .col(double_null(Households::Latitude))
                    .col(double_null(Households::Longitude))
                    .col(integer(Households::Tags))
                    .col(text_null(Households::Notes))
                    .col(timestamp_with_time_zone_null(Households::LastVisitedAt))
                    .col(integer(Households::Version))
                    .col(uuid_null(Households::CreatedBy))
                    .col(timestamp_with_time_zone(Households::CreatedAt))
                    .col(timestamp_with_time_zone(Households::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_households_village")
                            .from(Households::Table, Households::VillageId)
                            .to(OrgUnits::Table, OrgUnits::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_households_village",
            Households::Table,
            &[Households::VillageId, Households::Id],
            false,
        )
        .await?;
        index(
            manager,
            "idx_households_town",
            Households::Table,
            &[Households::TownId],
            false,
        )
        .await?;
        index(
            manager,
            "idx_households_village_head",
            Households::Table,
            &[Households::VillageId, Households::HeadName],
            false,
        )
        .await?;
        // NULLs are distinct in unique indexes on both engines: households without an ID
        // number never collide.
        index(
            manager,
            "uq_households_id_card",
            Households::Table,
            &[Households::IdCardNumber],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Enterprises::Table)
                    .col(pk_uuid(Enterprises::Id))
                    .col(uuid(Enterprises::CountyId))
                    .col(uuid(Enterprises::TownId))
                    .col(uuid_null(Enterprises::VillageId))
                    .col(string_len(Enterprises::Name, 100))
                    .col(string_len_null(Enterprises::ContactName, 50))
                    .col(string_len_null(Enterprises::ContactPhone, 20))
                    .col(string_len_null(Enterprises::Address, 200))
                    .col(text_null(Enterprises::Notes))
                    .col(integer(Enterprises::Version))
                    .col(timestamp_with_time_zone(Enterprises::CreatedAt))
                    .col(timestamp_with_time_zone(Enterprises::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_enterprises_town")
                            .from(Enterprises::Table, Enterprises::TownId)
                            .to(OrgUnits::Table, OrgUnits::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_enterprises_town",
            Enterprises::Table,
            &[Enterprises::TownId],
            false,
        )
        .await?;
        index(
            manager,
            "idx_enterprises_village",
            Enterprises::Table,
            &[Enterprises::VillageId],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Pairings::Table)
                    .col(pk_uuid(Pairings::Id))
                    .col(uuid(Pairings::CadreId))
                    .col(uuid(Pairings::HouseholdId))
                    .col(uuid(Pairings::CountyId))
                    .col(uuid(Pairings::TownId))
                    .col(uuid(Pairings::VillageId))
                    .col(timestamp_with_time_zone(Pairings::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_pairings_cadre")
                            .from(Pairings::Table, Pairings::CadreId)
                            .to(Users::Table, Users::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_pairings_household")
                            .from(Pairings::Table, Pairings::HouseholdId)
                            .to(Households::Table, Households::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "uq_pairings_cadre_household",
            Pairings::Table,
            &[Pairings::CadreId, Pairings::HouseholdId],
            true,
        )
        .await?;
        index(
            manager,
            "idx_pairings_village",
            Pairings::Table,
            &[Pairings::VillageId],
            false,
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Pairings::Table.into_iden(),
            Enterprises::Table.into_iden(),
            Households::Table.into_iden(),
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
    unique: bool,
) -> Result<(), DbErr> {
    let mut statement = Index::create();
    statement.name(name).table(table);
    if unique {
        statement.unique();
    }
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
enum Households {
    Table,
    Id,
    CountyId,
    TownId,
    VillageId,
    HeadName,
    Phone,
    Address,
    MembersCount,
    IdCardNumber,
    Latitude,
    Longitude,
    Tags,
    Notes,
    LastVisitedAt,
    Version,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Enterprises {
    Table,
    Id,
    CountyId,
    TownId,
    VillageId,
    Name,
    ContactName,
    ContactPhone,
    Address,
    Notes,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Pairings {
    Table,
    Id,
    CadreId,
    HouseholdId,
    CountyId,
    TownId,
    VillageId,
    CreatedAt,
}
