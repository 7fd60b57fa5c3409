//! Offline sync (WatermelonDB): a commit-ordered change cursor on every table the field app
//! keeps, tombstones for deletions, and the village sets each device last received.
//!
//! Writers mark the rows they touch with `change_seq = 0`; just before commit they take the
//! next value of the single `sync_counter` row and stamp their rows with it. The counter row
//! stays locked until commit, so sequence numbers are handed out in commit order and a pull
//! that reads the counter in its snapshot sees every change up to it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The tables the field app keeps.
pub const SYNCED_TABLES: [&str; 7] = [
    "org_units",
    "households",
    "enterprises",
    "visits",
    "issues",
    "issue_events",
    "pairings",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in SYNCED_TABLES {
            let table = Alias::new(table);
            for column in ["change_seq", "created_seq"] {
                manager
                    .alter_table(
                        Table::alter()
                            .table(table.clone())
                            .add_column(big_integer(Alias::new(column)).default(0))
                            .to_owned(),
                    )
                    .await?;
            }
            manager
                .alter_table(
                    Table::alter()
                        .table(table.clone())
                        .add_column(string_len_null(Alias::new("origin_device"), 64))
                        .to_owned(),
                )
                .await?;
            // Rows written before this migration count as the first change, not as pending
            // ones (0), so the first commit does not stamp the whole database.
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "UPDATE {} SET change_seq = 1, created_seq = 1",
                    table.to_string()
                ))
                .await?;
            manager
                .create_index(
                    Index::create()
                        .name(format!("idx_{}_change_seq", table.to_string()))
                        .table(table)
                        .col(Alias::new("change_seq"))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(SyncCounter::Table)
                    .col(integer(SyncCounter::Id).primary_key())
                    .col(big_integer(SyncCounter::Value))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(SyncCounter::Table)
                    .columns([SyncCounter::Id, SyncCounter::Value])
                    .values_panic([1.into(), 1.into()])
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SyncTombstones::Table)
                    .col(pk_uuid(SyncTombstones::Id))
                    .col(string_len(SyncTombstones::TableName, 32))
                    .col(uuid(SyncTombstones::RecordId))
                    .col(uuid_null(SyncTombstones::VillageId))
                    .col(uuid_null(SyncTombstones::TownId))
                    .col(uuid_null(SyncTombstones::CountyId))
                    .col(big_integer(SyncTombstones::ChangeSeq).default(0))
                    .col(big_integer(SyncTombstones::CreatedSeq).default(0))
                    .col(string_len_null(SyncTombstones::OriginDevice, 64))
                    .col(timestamp_with_time_zone(SyncTombstones::DeletedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sync_tombstones_change_seq")
                    .table(SyncTombstones::Table)
                    .col(SyncTombstones::ChangeSeq)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SyncDeviceScopes::Table)
                    .col(uuid(SyncDeviceScopes::UserId))
                    .col(string_len(SyncDeviceScopes::DeviceId, 64))
                    .col(big_integer(SyncDeviceScopes::Seq))
                    .col(json(SyncDeviceScopes::Villages))
                    .col(timestamp_with_time_zone(SyncDeviceScopes::PulledAt))
                    .primary_key(
                        Index::create()
                            .col(SyncDeviceScopes::UserId)
                            .col(SyncDeviceScopes::DeviceId)
                            .col(SyncDeviceScopes::Seq),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SyncDeviceScopes::Table.into_iden(),
            SyncTombstones::Table.into_iden(),
            SyncCounter::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for table in SYNCED_TABLES {
            manager
                .drop_index(
                    Index::drop()
                        .name(format!("idx_{table}_change_seq"))
                        .table(Alias::new(table))
                        .to_owned(),
                )
                .await?;
            for column in ["change_seq", "created_seq", "origin_device"] {
                manager
                    .alter_table(
                        Table::alter()
                            .table(Alias::new(table))
                            .drop_column(Alias::new(column))
                            .to_owned(),
                    )
                    .await?;
            }
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum SyncCounter {
    Table,
    Id,
    Value,
}

#[derive(DeriveIden, Clone, Copy)]
enum SyncTombstones {
    Table,
    Id,
    TableName,
    RecordId,
    VillageId,
    TownId,
    CountyId,
    ChangeSeq,
    CreatedSeq,
    OriginDevice,
    DeletedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum SyncDeviceScopes {
    Table,
    UserId,
    DeviceId,
    Seq,
    Villages,
    PulledAt,
}
