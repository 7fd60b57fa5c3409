//! The issue ledger (台账): who may see an issue, the list with its filters, creating issues,
//! and applying lifecycle steps with their timeline events.

pub mod export;
pub mod labels;
pub mod lifecycle;
pub mod monthly;
pub mod steps;

use chrono::{DateTime, Days, NaiveDate, Utc};
use entity::{
    department, escalation,
    issue::{self, Category, Level, Status},
    issue_event::{self, EventKind},
    org_unit, user,
    visit::{self, Channel},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Statement,
    sea_query::{Expr, ExprTrait, Query},
};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    access::Scope,
    auth::{Actor, Principal, role_name},
    error::{ApiError, ApiResult},
};

/// The open part of the ledger, written literally so that the partial indexes of the
/// migration (which carry the same condition) are used by both engines.
pub const OPEN_LEDGER_SQL: &str =
    "issues.status IN ('open', 'in_progress') AND issues.answered_on_spot = FALSE";

/// Issues of the caller's scope: villages in scope, or for department staff those sent to
/// their department.
pub fn scope_condition(caller: &Principal) -> Condition {
    match &caller.scope {
        Scope::Department(department) => Condition::any()
            .add(issue::Column::HandlerDepartmentId.eq(*department))
            .add(
                issue::Column::Id.in_subquery(
                    Query::select()
                        .column(escalation::Column::IssueId)
                        .from(escalation::Entity)
                        .and_where(escalation::Column::DepartmentId.eq(*department))
                        .to_owned(),
                ),
            ),
        scope => scope.village_condition(
            issue::Column::CountyId,
            issue::Column::TownId,
            issue::Column::VillageId,
        ),
    }
}

/// Conflict of interest: never a cadre-conduct complaint that names the caller.
pub fn conflict_condition(caller: &Principal) -> Condition {
    match caller.actor {
        Actor::User { id } => Condition::any()
            .add(issue::Column::NamedCadreId.is_null())
            .add(issue::Column::NamedCadreId.ne(id)),
        Actor::ApiToken { .. } => Condition::all(),
    }
}

/// Issues the caller may see: those of their scope ([`scope_condition`]), plus those the
/// caller leads — and never a cadre-conduct complaint that names the caller
/// ([`conflict_condition`]).
pub fn visible_condition(caller: &Principal) -> Condition {
    match caller.actor {
        Actor::User { id } => Condition::all()
            .add(
                Condition::any()
                    .add(scope_condition(caller))
                    .add(issue::Column::LeadResponsibleId.eq(id)),
            )
            .add(conflict_condition(caller)),
        Actor::ApiToken { .. } => scope_condition(caller),
    }
}

/// One issue the caller may see.
pub async fn find_issue(
    db: &impl ConnectionTrait,
    caller: &Principal,
    id: Uuid,
) -> Result<Option<issue::Model>, DbErr> {
    issue::Entity::find_by_id(id)
        .filter(visible_condition(caller))
        .one(db)
        .await
}

/// The issues of `ids` the caller may see, as they are now, in the order of `ids`.
pub async fn issues_in_order(
    db: &impl ConnectionTrait,
    caller: &Principal,
    ids: &[Uuid],
) -> Result<Vec<issue::Model>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut rows = issue::Entity::find()
        .filter(visible_condition(caller))
        .filter(issue::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?;
    rows.sort_by_key(|row| ids.iter().position(|id| *id == row.id));
    Ok(rows)
}

/// The timeline of an issue, oldest first. Ordered by each event's time, not by id: a phone
/// chooses the ids of the events it pushes, and they need not sort in time. The times keep
/// the order the steps were taken in: a step a phone took offline is dated by the phone but
/// never before the step it followed on the server (`steps::dated_by_device`).
pub async fn events_of(
    db: &impl ConnectionTrait,
    issue_id: Uuid,
) -> Result<Vec<issue_event::Model>, DbErr> {
    issue_event::Entity::find()
        .filter(issue_event::Column::IssueId.eq(issue_id))
        .order_by_asc(issue_event::Column::OccurredAt)
        .order_by_asc(issue_event::Column::Id)
        .all(db)
        .await
}

/// The escalations of an issue, oldest first.
pub async fn escalations_of(
    db: &impl ConnectionTrait,
    issue_id: Uuid,
) -> Result<Vec<escalation::Model>, DbErr> {
    escalation::Entity::find()
        .filter(escalation::Column::IssueId.eq(issue_id))
        .order_by_asc(escalation::Column::EscalatedAt)
        .all(db)
        .await
}

/// Deadline questions are asked against the local date.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// Today (local).
    pub today: NaiveDate,
    /// How many days ahead "due soon" looks.
    pub due_soon_days: u32,
}

impl Deadlines {
    /// Overdue: still open and past its deadline.
    pub fn is_overdue(&self, issue: &issue::Model) -> bool {
        is_open(issue.status)
            && !issue.answered_on_spot
            && issue.deadline.is_some_and(|deadline| deadline < self.today)
    }

    /// Due soon: still open, not overdue, and due within the window.
    pub fn is_due_soon(&self, issue: &issue::Model) -> bool {
        is_open(issue.status)
            && !issue.answered_on_spot
            && issue
                .deadline
                .is_some_and(|deadline| deadline >= self.today && deadline <= self.soon_limit())
    }

    /// The last day that counts as "due soon".
    pub fn soon_limit(&self) -> NaiveDate {
        self.today + Days::new(u64::from(self.due_soon_days))
    }
}

/// Open or in progress.
pub fn is_open(status: Status) -> bool {
    matches!(status, Status::Open | Status::InProgress)
}

/// Filters of the ledger list (API.md).
#[derive(Debug, Clone, Default)]
pub struct LedgerFilter {
    /// Only these statuses.
    pub statuses: Vec<Status>,
    /// Only this category.
    pub category: Option<Category>,
    /// Only this level.
    pub level: Option<Level>,
    /// Only this village.
    pub village_id: Option<Uuid>,
    /// Only this town.
    pub town_id: Option<Uuid>,
    /// Only this lead responsible person.
    pub responsible_id: Option<Uuid>,
    /// Only issues handled by this department.
    pub department_id: Option<Uuid>,
    /// Only overdue issues.
    pub overdue: bool,
    /// Only open issues due within the due-soon window (and not overdue).
    pub due_soon: bool,
    /// Only issues due on or before this day.
    pub due_before: Option<NaiveDate>,
    /// Only deeds.
    pub is_deed: Option<bool>,
    /// Only issues of villages inside this unit (its kind and id).
    pub within: Option<(org_unit::OrgKind, Uuid)>,
    /// Only resolved issues whose applicant has not been told the result.
    pub awaiting_feedback: bool,
    /// Only issues struck off at or after this instant.
    pub closed_since: Option<DateTime<Utc>>,
    /// Only issues raised at or after this instant.
    pub raised_from: Option<DateTime<Utc>>,
    /// Only issues raised before this instant.
    pub raised_before: Option<DateTime<Utc>>,
}

/// A position in the ledger's order (deadline, then id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerCursor {
    /// The deadline of the last issue of the previous page.
    pub deadline: NaiveDate,
    /// Its id.
    pub id: Uuid,
}

impl LedgerCursor {
    /// `2026-05-01~<uuid>`.
    pub fn encode(&self) -> String {
        format!("{}~{}", self.deadline, self.id)
    }

    /// Reads a cursor this list handed out.
    pub fn decode(text: &str) -> Option<Self> {
        let (deadline, id) = text.split_once('~')?;
        Some(Self {
            deadline: deadline.parse().ok()?,
            id: id.parse().ok()?,
        })
    }
}

/// The ledger's own rows: not answered on the spot. Written literally so that the partial
/// indexes `(county_id | town_id | village_id, deadline, id) WHERE answered_on_spot = FALSE`
/// are used by both engines.
pub const LEDGER_SQL: &str = "issues.answered_on_spot = FALSE";

/// The furthest a new issue's deadline may be from the day it was raised, and an extension
/// from the current deadline: five years (a development suggestion can be a project of years).
pub(crate) const MAX_DEADLINE_DAYS: u64 = 5 * 366;

/// The ledger the caller may see: issues not answered on the spot, by deadline then id.
///
/// "In my scope, or led by me" is an `OR` that no index can be walked in order through, so for a
/// person with a place-bound scope the page is read as two ordered, limited queries — the scope
/// (`(town_id, deadline, id)` index) and the few issues the caller leads outside it — and merged.
pub async fn list_ledger(
    db: &impl ConnectionTrait,
    caller: &Principal,
    filter: &LedgerFilter,
    deadlines: Deadlines,
    after: Option<LedgerCursor>,
    limit: u64,
) -> Result<Vec<issue::Model>, DbErr> {
    let page = |visibility: Condition| {
        let mut query = issue::Entity::find()
            .filter(visibility)
            .filter(Expr::cust(LEDGER_SQL));
        if filter.overdue || filter.due_soon {
            query = query.filter(Expr::cust(OPEN_LEDGER_SQL));
        }
        if filter.overdue {
            query = query.filter(issue::Column::Deadline.lt(deadlines.today));
        }
        if filter.due_soon {
            query = query
                .filter(issue::Column::Deadline.gte(deadlines.today))
                .filter(issue::Column::Deadline.lte(deadlines.soon_limit()));
        }
        if !filter.statuses.is_empty() {
            query = query.filter(issue::Column::Status.is_in(filter.statuses.clone()));
        }
        if let Some(category) = filter.category {
            query = query.filter(issue::Column::Category.eq(category));
        }
        if let Some(level) = filter.level {
            query = query.filter(issue::Column::Level.eq(level));
        }
        if let Some(village_id) = filter.village_id {
            query = query.filter(issue::Column::VillageId.eq(village_id));
        }
        if let Some(town_id) = filter.town_id {
            query = query.filter(issue::Column::TownId.eq(town_id));
        }
        if let Some(responsible_id) = filter.responsible_id {
            query = query.filter(issue::Column::LeadResponsibleId.eq(responsible_id));
        }
        if let Some(department_id) = filter.department_id {
            query = query.filter(issue::Column::HandlerDepartmentId.eq(department_id));
        }
        if let Some(due_before) = filter.due_before {
            query = query.filter(issue::Column::Deadline.lte(due_before));
        }
        if let Some(is_deed) = filter.is_deed {
            query = query.filter(issue::Column::IsDeed.eq(is_deed));
        }
        if let Some((kind, id)) = filter.within {
            query = query.filter(Scope::Subtree { kind, id }.village_condition(
                issue::Column::CountyId,
                issue::Column::TownId,
                issue::Column::VillageId,
            ));
        }
        if filter.awaiting_feedback {
            query = query
                .filter(issue::Column::Status.eq(Status::Resolved))
                .filter(issue::Column::FeedbackGiven.eq(false));
        }
        if let Some(since) = filter.closed_since {
            query = query
                .filter(issue::Column::Status.eq(Status::Closed))
                .filter(issue::Column::ClosedAt.gte(since));
        }
        if let Some(from) = filter.raised_from {
            query = query.filter(issue::Column::CreatedAt.gte(from));
        }
        if let Some(before) = filter.raised_before {
            query = query.filter(issue::Column::CreatedAt.lt(before));
        }
        if let Some(after) = after {
            // A row value, so that PostgreSQL walks the index from the cursor on.
            query = query.filter(
                Expr::tuple([
                    Expr::col((issue::Entity, issue::Column::Deadline)),
                    Expr::col((issue::Entity, issue::Column::Id)),
                ])
                .gt(Expr::tuple([
                    Expr::value(after.deadline),
                    Expr::value(after.id),
                ])),
            );
        }
        query
            .order_by_asc(issue::Column::Deadline)
            .order_by_asc(issue::Column::Id)
            .limit(limit)
    };
    match (&caller.actor, &caller.scope) {
        (Actor::User { id }, Scope::Subtree { .. } | Scope::Villages(_)) => {
            let in_scope = scope_condition(caller);
            let in_scope_page = page(
                Condition::all()
                    .add(in_scope.clone())
                    .add(conflict_condition(caller)),
            );
            let mut rows = match open_slice_index(db, &caller.scope, filter) {
                Some(index) => {
                    let statement =
                        issues_indexed_by(in_scope_page.build(DbBackend::Sqlite), index);
                    issue::Entity::find()
                        .from_raw_sql(statement)
                        .all(db)
                        .await?
                }
                None => in_scope_page.all(db).await?,
            };
            let led_elsewhere = page(
                Condition::all()
                    .add(issue::Column::LeadResponsibleId.eq(*id))
                    .add(in_scope.not())
                    .add(conflict_condition(caller)),
            )
            .all(db)
            .await?;
            if !led_elsewhere.is_empty() {
                rows.extend(led_elsewhere);
                rows.sort_by_key(|row| (row.deadline, row.id));
                rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            }
            Ok(rows)
        }
        _ => page(visible_condition(caller)).all(db).await,
    }
}

/// A SQLite statement over `issues` made to walk `index` (`INDEXED BY`): without statistics
/// SQLite's planner picks the wrong one of several indexes of the same shape (see
/// [`open_slice_index`] and the dashboard's counts).
pub(crate) fn issues_indexed_by(mut statement: Statement, index: &str) -> Statement {
    statement.sql = statement.sql.replacen(
        r#"FROM "issues""#,
        &format!(r#"FROM "issues" INDEXED BY "{index}""#),
        1,
    );
    statement
}

/// On SQLite, the index the in-scope page of the open slice (overdue, due soon) must walk: the
/// open partial index of the scope's place, in deadline order. Without statistics SQLite picks
/// the whole ledger's index of the same shape and passes, in deadline order, every struck-off
/// issue older than the open ones (measured at county scale: 25 ms instead of 1 ms for the
/// dashboard's ten oldest overdue). `None` elsewhere: PostgreSQL plans it right.
fn open_slice_index(
    db: &impl ConnectionTrait,
    scope: &Scope,
    filter: &LedgerFilter,
) -> Option<&'static str> {
    if db.get_database_backend() != DbBackend::Sqlite || !(filter.overdue || filter.due_soon) {
        return None;
    }
    match scope {
        Scope::Subtree {
            kind: org_unit::OrgKind::County,
            ..
        } => Some("idx_issues_open_county_deadline"),
        Scope::Subtree {
            kind: org_unit::OrgKind::Town,
            ..
        } => Some("idx_issues_open_town_deadline"),
        Scope::Subtree { .. } | Scope::Villages(_) => Some("idx_issues_open_village_deadline"),
        Scope::All | Scope::Department(_) => None,
    }
}

/// What a new issue needs, whatever brought it in (a visit, the hotline, the mailbox, sync).
#[derive(Debug, Clone)]
pub struct NewIssue {
    /// The client's UUID.
    pub id: Uuid,
    /// The visit it came from.
    pub visit_id: Option<Uuid>,
    /// How it came in.
    pub channel: Channel,
    /// The village (already checked to be in scope), with its town and county.
    pub place: crate::households::VillagePlace,
    /// The applicant's household.
    pub applicant_household_id: Option<Uuid>,
    /// The applicant's name.
    pub applicant_name: String,
    /// The applicant's phone.
    pub applicant_phone: Option<String>,
    /// Category.
    pub category: Category,
    /// What is asked.
    pub matter: String,
    /// Answered on the spot.
    pub answered_on_spot: bool,
    /// The answer given on the spot.
    pub spot_answer: Option<String>,
    /// The level that can solve it.
    pub level: Level,
    /// The department handling it, for town or county issues.
    pub handler_department_id: Option<Uuid>,
    /// The cadre a conduct complaint names.
    pub named_cadre_id: Option<Uuid>,
    /// 办结时限.
    pub deadline: Option<NaiveDate>,
    /// A practical deed.
    pub is_deed: bool,
    /// The day the matter was raised (deadlines cannot be before it).
    pub raised_on: NaiveDate,
    /// When it was raised: the visit's time as the device gave it, or now. Its `created`
    /// event is dated by it (never later than now), so that steps a phone took offline after
    /// raising it, dated by the phone, follow it in the timeline.
    pub raised_at: DateTime<Utc>,
    /// The device that created it (sync).
    pub origin_device: Option<String>,
}

/// Checks a new issue and inserts it with its `created` event. The caller becomes its lead
/// responsible person for its whole life (首访负责制). `field` prefixes the error fields
/// (`issues[2].deadline`).
pub async fn create_issue(
    db: &impl ConnectionTrait,
    caller: &Principal,
    new: NewIssue,
    field: &str,
) -> ApiResult<issue::Model> {
    let Actor::User { id: lead } = caller.actor else {
        return Err(ApiError::Forbidden(
            "Issues are recorded by a person, not an API token.".to_owned(),
        ));
    };
    let named = |name: &str| {
        if field.is_empty() {
            name.to_owned()
        } else {
            format!("{field}.{name}")
        }
    };
    if new.answered_on_spot && new.spot_answer.as_deref().is_none_or(str::is_empty) {
        return Err(ApiError::invalid_field(
            &named("spot_answer"),
            "required",
            "An issue answered on the spot needs the answer.",
        ));
    }
    if !new.answered_on_spot {
        match new.deadline {
            None => {
                return Err(ApiError::invalid_field(
                    &named("deadline"),
                    "required",
                    "Every ledger issue has a deadline (办结时限).",
                ));
            }
            Some(deadline) if deadline < new.raised_on => {
                return Err(ApiError::invalid_field(
                    &named("deadline"),
                    "before_raised",
                    "The deadline is before the day it was raised.",
                ));
            }
            // Five years is the longest any matter is given (extensions add to it): a deadline
            // further out is a slip of the keyboard, and one near the end of the calendar
            // could not be extended at all.
            Some(deadline)
                if new
                    .raised_on
                    .checked_add_days(Days::new(MAX_DEADLINE_DAYS))
                    .is_some_and(|latest| deadline > latest) =>
            {
                return Err(ApiError::invalid_field(
                    &named("deadline"),
                    "too_far",
                    "The deadline is more than five years after the day it was raised.",
                ));
            }
            _ => {}
        }
    }
    if new.named_cadre_id.is_some() && new.category != Category::CadreConduct {
        return Err(ApiError::invalid_field(
            &named("named_cadre_id"),
            "not_allowed",
            "Only a cadre-conduct complaint names a cadre.",
        ));
    }
    // A person who works with residents (a cadre, a village official, a leader, department
    // staff), not an administrator's or a viewer's account: those are the system's, not 干部.
    if let Some(named_cadre) = new.named_cadre_id
        && !user::Entity::find_by_id(named_cadre)
            .one(db)
            .await?
            .is_some_and(|person| !matches!(person.role, user::Role::Admin | user::Role::Viewer))
    {
        return Err(ApiError::invalid_field(
            &named("named_cadre_id"),
            "not_found",
            "No such cadre.",
        ));
    }
    let handler_org_unit_id = match new.level {
        Level::Village => new.place.village_id,
        Level::Town => new.place.town_id,
        Level::County => new.place.county_id,
    };
    if let Some(department_id) = new.handler_department_id {
        check_department(
            db,
            department_id,
            new.level,
            handler_org_unit_id,
            &named("handler_department_id"),
        )
        .await?;
    }
    if issue::Entity::find_by_id(new.id).one(db).await?.is_some() {
        return Err(ApiError::Conflict {
            code: "id_taken",
            detail: format!("An issue with id {} already exists.", new.id),
        });
    }
    let now = Utc::now();
    let raised_at = std::cmp::min(new.raised_at, now);
    let row = issue::Model {
        id: new.id,
        county_id: new.place.county_id,
        town_id: new.place.town_id,
        village_id: new.place.village_id,
        visit_id: new.visit_id,
        channel: new.channel,
        applicant_household_id: new.applicant_household_id,
        applicant_name: new.applicant_name,
        applicant_phone: new.applicant_phone,
        category: new.category,
        matter: new.matter,
        answered_on_spot: new.answered_on_spot,
        spot_answer: new.spot_answer,
        level: new.level,
        lead_responsible_id: lead,
        handler_org_unit_id,
        handler_department_id: new.handler_department_id,
        named_cadre_id: new.named_cadre_id,
        deadline: if new.answered_on_spot {
            None
        } else {
            new.deadline
        },
        // Answered on the spot: recorded and counted, but finished and not in the ledger.
        status: if new.answered_on_spot {
            Status::Closed
        } else {
            Status::Open
        },
        is_deed: new.is_deed,
        latest_progress: None,
        resolution: None,
        feedback_given: new.answered_on_spot,
        applicant_satisfied: None,
        resolved_at: new.answered_on_spot.then_some(raised_at),
        closed_at: new.answered_on_spot.then_some(raised_at),
        version: 1,
        created_at: now,
        updated_at: now,
        change_seq: 0,
        created_seq: 0,
        origin_device: new.origin_device.clone(),
    };
    issue::Entity::insert(issue::ActiveModel::from(row.clone()))
        .exec_without_returning(db)
        .await?;
    // The `created` event is the server's: it comes down to the pushing phone as new.
    record_event_with(
        db,
        caller,
        row.id,
        EventKind::Created,
        None,
        None,
        EventOrigin {
            occurred_at: Some(raised_at),
            ..EventOrigin::default()
        },
    )
    .await?;
    if let (Some(visit_id), Some(_)) = (row.visit_id, row.named_cadre_id) {
        // A complaint naming a cadre withholds its visit's answers from that cadre: the visit
        // is marked changed, so that a phone which already holds it in full gets it again,
        // withheld (a visit stored earlier, whose complaint is pushed later).
        visit::Entity::update_many()
            .col_expr(visit::Column::ChangeSeq, Expr::value(0))
            .filter(visit::Column::Id.eq(visit_id))
            .exec(db)
            .await?;
    }
    Ok(row)
}

/// A department that can handle an issue at `level`: a town's department for town level,
/// the county's for county level.
pub async fn check_department(
    db: &impl ConnectionTrait,
    department_id: Uuid,
    level: Level,
    handler_org_unit_id: Uuid,
    field: &str,
) -> ApiResult<department::Model> {
    let department = department::Entity::find_by_id(department_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::invalid_field(field, "not_found", "No such department."))?;
    let owner = org_unit::Entity::find_by_id(department.org_unit_id)
        .one(db)
        .await?;
    if level == Level::Village || owner.is_none_or(|owner| owner.id != handler_org_unit_id) {
        return Err(ApiError::invalid_field(
            field,
            "wrong_level",
            "The department must belong to the town (town level) or county (county level) that handles the issue.",
        ));
    }
    Ok(department)
}

/// Appends an event to an issue's timeline, dated now.
pub async fn record_event(
    db: &impl ConnectionTrait,
    caller: &Principal,
    issue_id: Uuid,
    kind: EventKind,
    note: Option<String>,
    data: Option<Value>,
) -> Result<issue_event::Model, DbErr> {
    record_event_with(
        db,
        caller,
        issue_id,
        kind,
        note,
        data,
        EventOrigin::default(),
    )
    .await
}

/// Where a timeline event comes from, when not simply from the server now.
#[derive(Debug, Clone, Default)]
pub struct EventOrigin {
    /// The id a phone chose (sync); a new UUIDv7 otherwise.
    pub id: Option<Uuid>,
    /// The device that sent it (sync).
    pub device: Option<String>,
    /// When it happened, if not now: a visit's or a phone's time, already bounded by the
    /// caller (never after now, never before the issue's previous event).
    pub occurred_at: Option<DateTime<Utc>>,
}

/// Appends an event with its origin: a phone's id, device and time, or a raising's time.
pub async fn record_event_with(
    db: &impl ConnectionTrait,
    caller: &Principal,
    issue_id: Uuid,
    kind: EventKind,
    note: Option<String>,
    data: Option<Value>,
    origin: EventOrigin,
) -> Result<issue_event::Model, DbErr> {
    let actor_id = match caller.actor {
        Actor::User { id } | Actor::ApiToken { id } => id,
    };
    let event = issue_event::Model {
        id: origin.id.unwrap_or_else(Uuid::now_v7),
        issue_id,
        kind,
        actor_id: Some(actor_id),
        actor_role: Some(role_name(caller.role)),
        note,
        data,
        occurred_at: origin.occurred_at.unwrap_or_else(Utc::now),
        change_seq: 0,
        created_seq: 0,
        origin_device: origin.device,
    };
    issue_event::Entity::insert(issue_event::ActiveModel::from(event.clone()))
        .exec_without_returning(db)
        .await?;
    Ok(event)
}

/// The events that move where an issue stands (open, in progress, resolved, struck off):
/// the monthly ledger folds them, in time order, into each issue's standing at a month's end.
/// Urges, extensions, escalations and feedback leave it where it is.
pub const STANDING_EVENTS: [EventKind; 6] = [
    EventKind::Created,
    EventKind::Progress,
    EventKind::EscalationAccepted,
    EventKind::Resolved,
    EventKind::Closed,
    EventKind::Reopened,
];

/// When the issue's latest event of [`STANDING_EVENTS`] happened (its `created` event at the
/// least).
pub async fn last_standing_event_at(
    db: &impl ConnectionTrait,
    issue_id: Uuid,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    issue_event::Entity::find()
        .select_only()
        .column(issue_event::Column::OccurredAt)
        .filter(issue_event::Column::IssueId.eq(issue_id))
        .filter(issue_event::Column::Kind.is_in(STANDING_EVENTS))
        .order_by_desc(issue_event::Column::OccurredAt)
        .into_tuple()
        .one(db)
        .await
}

/// Saves a changed issue if nobody changed it since it was read (version in the `WHERE`),
/// bumping the version; otherwise 412 with the current version.
pub async fn save_issue(
    db: &impl ConnectionTrait,
    mut changed: issue::Model,
    now: DateTime<Utc>,
) -> ApiResult<issue::Model> {
    let expected = changed.version;
    changed.version += 1;
    // Marked for the sync stamp at commit.
    changed.change_seq = 0;
    changed.updated_at = now;
    let updated = issue::Entity::update_many()
        .set(issue::ActiveModel::from(changed.clone()).reset_all())
        .filter(issue::Column::Id.eq(changed.id))
        .filter(issue::Column::Version.eq(expected))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        let current = issue::Entity::find_by_id(changed.id)
            .one(db)
            .await?
            .map_or(expected, |row| row.version);
        return Err(ApiError::PreconditionFailed {
            current_version: i64::from(current),
        });
    }
    Ok(changed)
}

/// The departments of a set of issues, by id (for names in lists).
pub async fn department_names(
    db: &impl ConnectionTrait,
    ids: Vec<Uuid>,
) -> Result<std::collections::HashMap<Uuid, String>, DbErr> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    Ok(department::Entity::find()
        .filter(department::Column::Id.is_in(ids))
        .select_only()
        .column(department::Column::Id)
        .column(department::Column::Name)
        .into_tuple::<(Uuid, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}
