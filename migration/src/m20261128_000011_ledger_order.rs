//! Indexes in the ledger's own order, measured at county scale (200,000 issues): the ledger
//! list and its export read `… ORDER BY deadline, id LIMIT n` for a county, town or village —
//! every status, not only the open ones — and the dashboards count what was struck off this
//! month by county or town. Partial, with the conditions the queries write literally, so both
//! engines use them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEXES: &[(&str, &str, &str)] = &[
    (
        "idx_issues_ledger_county",
        "issues (county_id, deadline, id)",
        "answered_on_spot = FALSE",
    ),
    (
        "idx_issues_ledger_town",
        "issues (town_id, deadline, id)",
        "answered_on_spot = FALSE",
    ),
    (
        "idx_issues_ledger_village",
        "issues (village_id, deadline, id)",
        "answered_on_spot = FALSE",
    ),
    (
        "idx_issues_closed_county",
        "issues (county_id, closed_at)",
        "status = 'closed'",
    ),
    (
        "idx_issues_closed_town",
        "issues (town_id, closed_at)",
        "status = 'closed'",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, target, condition) in INDEXES {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "CREATE INDEX {name} ON {target} WHERE {condition}"
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _, _) in INDEXES {
            manager
                .get_connection()
                .execute_unprepared(&format!("DROP INDEX {name}"))
                .await?;
        }
        Ok(())
    }
}
