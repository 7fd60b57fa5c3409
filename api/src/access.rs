//! Authorisation in one place: what each role may do ([`role_may`]), what each operation
//! requires ([`requirement`]), and where a caller's data reaches ([`Scope`]). Every query that
//! reads scoped data takes a `Scope` and puts it in the SQL.

use entity::{
    org_unit::{self, OrgKind},
    user::Role,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    sea_query::{Expr, Query},
};
use uuid::Uuid;

/// The actions the policy knows. Each endpoint requires one (see [`requirement`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read organisation units and departments in scope.
    ReadOrg,
    /// Create organisation units and departments.
    ManageOrg,
    /// Read user accounts in scope.
    ReadUsers,
    /// Create and change user accounts.
    ManageUsers,
    /// Assign cadres to villages (包村) and end assignments.
    AssignVillages,
    /// Create, list and revoke API tokens.
    ManageApiTokens,
    /// Read the audit trail.
    ReadAudit,
    /// Read households and enterprises in scope.
    ReadRoster,
    /// Register and change households and enterprises in scope.
    WriteRoster,
    /// Import the roster in bulk.
    ImportRoster,
    /// Pair cadres with households (a cadre: only themself).
    ManagePairings,
    /// Read who is paired with whom, and whose pairing is incomplete.
    ReadPairings,
    /// Record visits and the issues raised in them.
    RecordVisits,
    /// Read visits in scope.
    ReadVisits,
    /// Read the ledger (issues visible to the caller).
    ReadLedger,
    /// Progress, resolve, feedback — finer rules in `ledger::lifecycle::may_take`.
    HandleIssues,
    /// Strike off, urge, extend deadlines (leaders).
    SuperviseIssues,
    /// Reopen an issue whose applicant is unsatisfied.
    ReopenIssues,
    /// Escalate an issue (its lead responsible person).
    EscalateIssues,
    /// Accept an escalation sent to one's department.
    AcceptEscalations,
    /// Load a year's working-day calendar (holidays, make-up working days).
    ManageCalendar,
    /// Read the duty roster (一线工作日) in scope.
    ReadDuties,
    /// Generate the duty roster and swap duties (leaders).
    ManageDuties,
    /// Sync the field app (pull and push).
    SyncFieldApp,
    /// Read the leadership dashboards and the monthly ledger.
    ReadDashboards,
    /// Sign a month's ledger off.
    SignOffMonths,
    /// Create and change campaigns.
    ManageCampaigns,
    /// Export the ledger as a spreadsheet (leaders, viewers and their API tokens).
    ExportLedger,
    /// Open satisfaction survey rounds and make their one-time codes.
    ManageSurveys,
    /// Read survey rounds and record residents' answers.
    RecordSurveys,
}

/// May a caller with `role` take `action` (on records in its scope)?
pub fn role_may(role: Role, action: Action) -> bool {
    use Action::*;
    match role {
        Role::Admin => true,
        Role::Leader => matches!(
            action,
            ReadOrg
                | ReadUsers
                | AssignVillages
                | ReadRoster
                | ManagePairings
                | ReadPairings
                | RecordVisits
                | ReadVisits
                | ReadLedger
                | SuperviseIssues
                | ReopenIssues
                | ReadDuties
                | ManageDuties
                | SyncFieldApp
                | ReadDashboards
                | SignOffMonths
                | ExportLedger
                | ManageSurveys
                | RecordSurveys
        ),
        Role::Cadre => matches!(
            action,
            ReadOrg
                | ReadRoster
                | WriteRoster
                | ManagePairings
                | ReadPairings
                | RecordVisits
                | ReadVisits
                | ReadLedger
                | HandleIssues
                | EscalateIssues
                | SyncFieldApp
                | ReadDuties
                | RecordSurveys
        ),
        Role::VillageOfficial => matches!(
            action,
            ReadOrg
                | ReadRoster
                | WriteRoster
                | ReadPairings
                | RecordVisits
                | ReadVisits
                | ReadLedger
                | HandleIssues
                | EscalateIssues
                | SyncFieldApp
                | ReadDuties
                | RecordSurveys
        ),
        Role::Viewer => matches!(
            action,
            ReadOrg
                | ReadRoster
                | ReadPairings
                | ReadVisits
                | ReadLedger
                | ReadDashboards
                | ExportLedger
                | ReadDuties
        ),
        Role::Department => matches!(
            action,
            ReadOrg | ReadLedger | HandleIssues | AcceptEscalations
        ),
    }
}

/// What an operation requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Anyone, without a token.
    Public,
    /// Any valid token.
    Authenticated,
    /// A token whose role may take this action.
    Action(Action),
}

/// The allow-list: every operation of the API by its `operationId`. A test checks that each
/// operation in the OpenAPI document is listed here and that the server enforces it.
pub fn requirement(operation_id: &str) -> Option<Requirement> {
    use Action::*;
    use Requirement::{Authenticated, Public};
    let action = |action| Requirement::Action(action);
    Some(match operation_id {
        "check_health" | "check_readiness" | "login" | "refresh_session" | "logout" => Public,
        "get_village_board" | "get_town_board" => Public,
        "get_village_duty" => Public,
        "get_me" => Authenticated,
        "list_org_units" | "get_org_unit" | "list_departments" => action(ReadOrg),
        "create_org_unit" | "create_department" => action(ManageOrg),
        "list_users" | "get_user" | "list_assignments" => action(ReadUsers),
        "create_user" | "update_user" => action(ManageUsers),
        "create_assignment" | "update_assignment" => action(AssignVillages),
        "create_api_token" | "list_api_tokens" | "revoke_api_token" => action(ManageApiTokens),
        "list_audit_entries" => action(ReadAudit),
        "list_households" | "get_household" => action(ReadRoster),
        "create_household" | "update_household" => action(WriteRoster),
        "import_households" => action(ImportRoster),
        "list_enterprises" | "get_enterprise" => action(ReadRoster),
        "create_enterprise" => action(WriteRoster),
        "create_pairing" | "delete_pairing" => action(ManagePairings),
        "list_pairings" | "get_pairing_status" => action(ReadPairings),
        "create_visit" | "create_issue" => action(RecordVisits),
        "list_visits" | "get_visit" => action(ReadVisits),
        "list_issues" | "get_issue" => action(ReadLedger),
        "export_ledger" => action(ExportLedger),
        "add_issue_progress" | "resolve_issue" | "record_issue_feedback" => action(HandleIssues),
        "close_issue" | "urge_issue" | "extend_issue_deadline" => action(SuperviseIssues),
        "reopen_issue" => action(ReopenIssues),
        "escalate_issue" => action(EscalateIssues),
        "accept_escalation" => action(AcceptEscalations),
        "pull_changes" | "push_changes" => action(SyncFieldApp),
        "get_calendar" => Authenticated,
        "put_calendar" => action(ManageCalendar),
        "generate_duties" | "swap_duty" => action(ManageDuties),
        "list_duties" => action(ReadDuties),
        "get_deadline_dashboard"
        | "get_quota_dashboard"
        | "get_satisfaction_dashboard"
        | "get_deed_dashboard"
        | "get_monthly_ledger"
        | "export_monthly_ledger" => action(ReadDashboards),
        "sign_off_month" => action(SignOffMonths),
        "list_campaigns" | "get_campaign" | "get_current_campaign" => action(ReadOrg),
        "create_campaign" | "update_campaign" => action(ManageCampaigns),
        "create_survey" | "create_survey_codes" => action(ManageSurveys),
        "list_surveys" | "get_survey" | "record_survey_response" => action(RecordSurveys),
        "get_survey_results" | "get_assessment" => action(ReadDashboards),
        "answer_survey" => Public,
        _ => return None,
    })
}

/// Where a caller's data reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The whole deployment (admins).
    All,
    /// An org unit and everything below it (leaders, viewers, scoped admin tokens).
    Subtree {
        /// The unit's level.
        kind: OrgKind,
        /// The unit.
        id: Uuid,
    },
    /// These villages only (cadres: their current assignments; village officials: theirs).
    Villages(Vec<Uuid>),
    /// What was sent to this department (department staff).
    Department(Uuid),
}

impl Scope {
    /// A condition on `column`, which holds an org unit id: true when that unit is in scope.
    pub fn org_unit_condition<C: ColumnTrait>(&self, column: C) -> Condition {
        match self {
            Self::All => Condition::all(),
            Self::Subtree {
                kind: OrgKind::Village,
                id,
            } => Condition::all().add(column.eq(*id)),
            Self::Subtree { kind, id } => {
                let ancestor = match kind {
                    OrgKind::County => org_unit::Column::CountyId,
                    OrgKind::Town => org_unit::Column::TownId,
                    _ => org_unit::Column::DistrictId,
                };
                Condition::all().add(
                    column.in_subquery(
                        Query::select()
                            .column(org_unit::Column::Id)
                            .from(org_unit::Entity)
                            .and_where(ancestor.eq(*id))
                            .to_owned(),
                    ),
                )
            }
            Self::Villages(ids) => Condition::all().add(column.is_in(ids.iter().copied())),
            Self::Department(_) => nothing(),
        }
    }

    /// A condition on a record that carries county, town and village ids (households,
    /// visits, issues): true when the record's village is in scope.
    pub fn village_condition<C: ColumnTrait>(&self, county: C, town: C, village: C) -> Condition {
        match self {
            Self::All => Condition::all(),
            Self::Subtree {
                kind: OrgKind::County,
                id,
            } => Condition::all().add(county.eq(*id)),
            Self::Subtree {
                kind: OrgKind::Town,
                id,
            } => Condition::all().add(town.eq(*id)),
            Self::Subtree {
                kind: OrgKind::Village,
                id,
            } => Condition::all().add(village.eq(*id)),
            Self::Subtree {
                kind: OrgKind::District,
                ..
            } => self.org_unit_condition(village),
            Self::Villages(ids) => Condition::all().add(village.is_in(ids.iter().copied())),
            Self::Department(_) => nothing(),
        }
    }

    /// Is this org unit inside the scope?
    pub async fn reaches_org_unit(
        &self,
        db: &impl ConnectionTrait,
        id: Uuid,
    ) -> Result<bool, DbErr> {
        let count = org_unit::Entity::find()
            .filter(org_unit::Column::Id.eq(id))
            .filter(self.org_unit_condition(org_unit::Column::Id))
            .count(db)
            .await?;
        Ok(count > 0)
    }
}

/// A condition no row satisfies.
pub fn nothing() -> Condition {
    Condition::all().add(Expr::cust("1 = 0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_manage_accounts_and_tokens() {
        for role in [
            Role::Leader,
            Role::Cadre,
            Role::VillageOfficial,
            Role::Department,
            Role::Viewer,
        ] {
            assert!(!role_may(role, Action::ManageUsers), "{role:?}");
            assert!(!role_may(role, Action::ManageApiTokens), "{role:?}");
            assert!(!role_may(role, Action::ReadAudit), "{role:?}");
        }
        assert!(role_may(Role::Admin, Action::ManageApiTokens));
    }

    #[test]
    fn leaders_assign_villages_and_cadres_do_not() {
        assert!(role_may(Role::Leader, Action::AssignVillages));
        assert!(!role_may(Role::Cadre, Action::AssignVillages));
    }
}
