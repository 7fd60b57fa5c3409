//! The organisation: county → town → management district → village, and departments.
//!
//! Every unit carries the ids of its county and town (and district) so that "is this inside
//! scope S?" is a column comparison on an index, not a walk up the tree.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OrgUnits::Table)
                    .col(pk_uuid(OrgUnits::Id))
                    .col(uuid_null(OrgUnits::ParentId))
                    .col(string_len(OrgUnits::Kind, 16))
                    .col(string_len(OrgUnits::Name, 100))
                    .col(string_len_uniq(OrgUnits::Code, 32))
                    .col(uuid(OrgUnits::CountyId))
                    .col(uuid_null(OrgUnits::TownId))
                    .col(uuid_null(OrgUnits::DistrictId))
                    .col(timestamp_with_time_zone(OrgUnits::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_org_units_parent")
                            .from(OrgUnits::Table, OrgUnits::ParentId)
                            .to(OrgUnits::Table, OrgUnits::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_org_units_parent", OrgUnits::ParentId),
            ("idx_org_units_county", OrgUnits::CountyId),
            ("idx_org_units_town", OrgUnits::TownId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(OrgUnits::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Departments::Table)
                    .col(pk_uuid(Departments::Id))
                    .col(uuid(Departments::OrgUnitId))
                    .col(string_len(Departments::Name, 100))
                    .col(string_len_uniq(Departments::Code, 32))
                    .col(timestamp_with_time_zone(Departments::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_departments_org_unit")
                            .from(Departments::Table, Departments::OrgUnitId)
                            .to(OrgUnits::Table, OrgUnits::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_departments_org_unit")
                    .table(Departments::Table)
                    .col(Departments::OrgUnitId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Departments::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(OrgUnits::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum OrgUnits {
    Table,
    Id,
    ParentId,
    Kind,
    Name,
    Code,
    CountyId,
    TownId,
    DistrictId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Departments {
    Table,
    Id,
    OrgUnitId,
    Name,
    Code,
    CreatedAt,
}
