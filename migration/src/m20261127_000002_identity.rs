//! Identity and access: users, village assignments (包村), refresh tokens, API tokens,
//! login throttling, and the append-only audit log.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_uuid(Users::Id))
                    .col(string_len_uniq(Users::Username, 64))
                    .col(string_len(Users::DisplayName, 64))
                    .col(string_len_null(Users::Phone, 20))
                    .col(string_len(Users::Position, 32))
                    .col(string_len(Users::Role, 16))
                    .col(uuid_null(Users::ScopeOrgUnitId))
                    .col(uuid_null(Users::DepartmentId))
                    .col(string_len(Users::PasswordHash, 255))
                    .col(boolean(Users::Active))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_users_scope_org_unit")
                            .from(Users::Table, Users::ScopeOrgUnitId)
                            .to(OrgUnits::Table, OrgUnits::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_users_department")
                            .from(Users::Table, Users::DepartmentId)
                            .to(Departments::Table, Departments::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_users_scope_org_unit",
            Users::Table,
            &[Users::ScopeOrgUnitId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(VillageAssignments::Table)
                    .col(pk_uuid(VillageAssignments::Id))
                    .col(uuid(VillageAssignments::UserId))
                    .col(uuid(VillageAssignments::VillageId))
                    .col(date(VillageAssignments::StartsOn))
                    .col(date_null(VillageAssignments::EndsOn))
                    .col(timestamp_with_time_zone(VillageAssignments::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_village_assignments_user")
                            .from(VillageAssignments::Table, VillageAssignments::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_village_assignments_village")
                            .from(VillageAssignments::Table, VillageAssignments::VillageId)
                            .to(OrgUnits::Table, OrgUnits::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_village_assignments_user",
            VillageAssignments::Table,
            &[VillageAssignments::UserId],
        )
        .await?;
        index(
            manager,
            "idx_village_assignments_village",
            VillageAssignments::Table,
            &[VillageAssignments::VillageId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(pk_uuid(RefreshTokens::Id))
                    .col(uuid(RefreshTokens::FamilyId))
                    .col(uuid_null(RefreshTokens::ParentId))
                    .col(uuid(RefreshTokens::UserId))
                    .col(string_len_uniq(RefreshTokens::TokenHash, 64))
                    .col(timestamp_with_time_zone(RefreshTokens::IssuedAt))
                    .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::RotatedAt))
                    .col(timestamp_with_time_zone_null(RefreshTokens::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_refresh_tokens_user")
                            .from(RefreshTokens::Table, RefreshTokens::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_refresh_tokens_family",
            RefreshTokens::Table,
            &[RefreshTokens::FamilyId],
        )
        .await?;
        index(
            manager,
            "idx_refresh_tokens_user",
            RefreshTokens::Table,
            &[RefreshTokens::UserId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .col(pk_uuid(ApiTokens::Id))
                    .col(string_len(ApiTokens::Name, 100))
                    .col(string_len(ApiTokens::Role, 16))
                    .col(uuid_null(ApiTokens::ScopeOrgUnitId))
                    .col(string_len_uniq(ApiTokens::TokenHash, 64))
                    .col(uuid(ApiTokens::CreatedBy))
                    .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::RevokedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::LastUsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_tokens_scope_org_unit")
                            .from(ApiTokens::Table, ApiTokens::ScopeOrgUnitId)
                            .to(OrgUnits::Table, OrgUnits::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_tokens_created_by")
                            .from(ApiTokens::Table, ApiTokens::CreatedBy)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LoginThrottles::Table)
                    .col(string_len(LoginThrottles::Key, 160).primary_key())
                    .col(integer(LoginThrottles::Attempts))
                    .col(timestamp_with_time_zone(LoginThrottles::WindowStartedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(pk_uuid(AuditLog::Id))
                    .col(timestamp_with_time_zone(AuditLog::OccurredAt))
                    .col(string_len(AuditLog::ActorType, 16))
                    .col(uuid_null(AuditLog::ActorId))
                    .col(string_len_null(AuditLog::ActorRole, 16))
                    .col(string_len(AuditLog::Action, 64))
                    .col(string_len(AuditLog::EntityType, 32))
                    .col(uuid_null(AuditLog::EntityId))
                    .col(json_null(AuditLog::Changes))
                    .col(string_len_null(AuditLog::RequestId, 64))
                    .col(string_len_null(AuditLog::ClientAddr, 64))
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_audit_log_entity",
            AuditLog::Table,
            &[AuditLog::EntityType, AuditLog::EntityId],
        )
        .await?;
        index(
            manager,
            "idx_audit_log_actor",
            AuditLog::Table,
            &[AuditLog::ActorId],
        )
        .await?;
        index(
            manager,
            "idx_audit_log_occurred_at",
            AuditLog::Table,
            &[AuditLog::OccurredAt],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditLog::Table.into_iden(),
            LoginThrottles::Table.into_iden(),
            ApiTokens::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            VillageAssignments::Table.into_iden(),
            Users::Table.into_iden(),
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
enum Departments {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
    Username,
    DisplayName,
    Phone,
    Position,
    Role,
    ScopeOrgUnitId,
    DepartmentId,
    PasswordHash,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum VillageAssignments {
    Table,
    Id,
    UserId,
    VillageId,
    StartsOn,
    EndsOn,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum RefreshTokens {
    Table,
    Id,
    FamilyId,
    ParentId,
    UserId,
    TokenHash,
    IssuedAt,
    ExpiresAt,
    RotatedAt,
    RevokedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ApiTokens {
    Table,
    Id,
    Name,
    Role,
    ScopeOrgUnitId,
    TokenHash,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
    LastUsedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum LoginThrottles {
    Table,
    Key,
    Attempts,
    WindowStartedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditLog {
    Table,
    Id,
    OccurredAt,
    ActorType,
    ActorId,
    ActorRole,
    Action,
    EntityType,
    EntityId,
    Changes,
    RequestId,
    ClientAddr,
}
