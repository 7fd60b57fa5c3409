//! `/api/v1/issues`: the ledger (台账), each issue's timeline, and its lifecycle steps.

use actix_web::{HttpRequest, HttpResponse, get, http::header, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    escalation,
    issue::{self, Category, Level, Status},
    issue_event::{self, EventKind},
    visit::Channel,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;
use validator::Validate;

use crate::{
    audit::{self, AuditEntry},
    auth::AuthUser,
    calendar, concurrency,
    db::begin_write,
    error::{ApiError, ApiResult, Problem},
    households,
    ledger::{
        self, Deadlines, LedgerCursor, LedgerFilter, NewIssue,
        lifecycle::Step,
        steps::{self, EscalationInput, StepInput},
    },
    pagination::{self, Page},
    privacy,
    startup::AppState,
};

/// Registers the ledger routes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_issues)
        .service(create_issue)
        .service(get_issue)
        .service(add_issue_progress)
        .service(resolve_issue)
        .service(record_issue_feedback)
        .service(close_issue)
        .service(reopen_issue)
        .service(urge_issue)
        .service(extend_issue_deadline)
        .service(escalate_issue)
        .service(accept_escalation);
}

/// An issue, as the caller may see it: applicant names are masked (`张**`) for viewers,
/// applicant phones for all but admins, the village's cadres and the handling department.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssueResponse {
    /// The client's UUID.
    pub id: Uuid,
    /// The visit it was raised in.
    pub visit_id: Option<Uuid>,
    /// How it came in.
    pub channel: Channel,
    /// Town.
    pub town_id: Uuid,
    /// Village.
    pub village_id: Uuid,
    /// The applicant's household.
    pub applicant_household_id: Option<Uuid>,
    /// 申请人姓名.
    #[schema(example = "王建华")]
    pub applicant_name: String,
    /// The applicant's phone, masked per role.
    pub applicant_phone: Option<String>,
    /// 问题类别.
    pub category: Category,
    /// 申办事项.
    #[schema(example = "村东头路灯坏了三盏，夜里出行不便")]
    pub matter: String,
    /// Answered on the spot (not in the ledger).
    pub answered_on_spot: bool,
    /// The answer given on the spot.
    pub spot_answer: Option<String>,
    /// 层级: the level handling it now.
    pub level: Level,
    /// 主办责任人: the first visitor, for the issue's whole life.
    pub lead_responsible_id: Uuid,
    /// The org unit handling it now.
    pub handler_org_unit_id: Uuid,
    /// The department handling it now, once escalated.
    pub handler_department_id: Option<Uuid>,
    /// For cadre-conduct complaints: the cadre named.
    pub named_cadre_id: Option<Uuid>,
    /// 办结时限 (local date).
    pub deadline: Option<NaiveDate>,
    /// Status.
    pub status: Status,
    /// Past its deadline and still open.
    pub overdue: bool,
    /// Open and due within the due-soon window.
    pub due_soon: bool,
    /// A practical deed (实事).
    pub is_deed: bool,
    /// 办理情况: the latest progress.
    pub latest_progress: Option<String>,
    /// What was done.
    pub resolution: Option<String>,
    /// The applicant has been told the result (反馈).
    pub feedback_given: bool,
    /// Whether the applicant was satisfied.
    pub applicant_satisfied: Option<bool>,
    /// Resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Struck off.
    pub closed_at: Option<DateTime<Utc>>,
    /// Version (also the `ETag`); send it back as `If-Match`.
    pub version: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl IssueResponse {
    /// The issue as this caller may see it.
    pub fn for_caller(row: issue::Model, user: &AuthUser, deadlines: Deadlines) -> Self {
        let role = user.principal.role;
        let sees_phone = privacy::sees_applicant_phone(&user.principal, &row);
        let overdue = deadlines.is_overdue(&row);
        let due_soon = deadlines.is_due_soon(&row);
        Self {
            id: row.id,
            visit_id: row.visit_id,
            channel: row.channel,
            town_id: row.town_id,
            village_id: row.village_id,
            applicant_household_id: row.applicant_household_id,
            applicant_name: if privacy::sees_names(role) {
                row.applicant_name
            } else {
                privacy::mask_name(&row.applicant_name)
            },
            applicant_phone: row.applicant_phone.map(|phone| {
                if sees_phone {
                    phone
                } else {
                    privacy::mask_phone(&phone)
                }
            }),
            category: row.category,
            matter: row.matter,
            answered_on_spot: row.answered_on_spot,
            spot_answer: row.spot_answer,
            level: row.level,
            lead_responsible_id: row.lead_responsible_id,
            handler_org_unit_id: row.handler_org_unit_id,
            handler_department_id: row.handler_department_id,
            named_cadre_id: row.named_cadre_id,
            deadline: row.deadline,
            status: row.status,
            overdue,
            due_soon,
            is_deed: row.is_deed,
            latest_progress: row.latest_progress,
            resolution: row.resolution,
            feedback_given: row.feedback_given,
            applicant_satisfied: row.applicant_satisfied,
            resolved_at: row.resolved_at,
            closed_at: row.closed_at,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// An event of the timeline.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssueEventResponse {
    /// Id (the timeline's order).
    pub id: Uuid,
    /// What happened.
    pub kind: EventKind,
    /// Who.
    pub actor_id: Option<Uuid>,
    /// Their role.
    pub actor_role: Option<String>,
    /// The note.
    pub note: Option<String>,
    /// Details (satisfaction, deadlines, levels).
    pub data: Option<serde_json::Value>,
    /// When.
    pub occurred_at: DateTime<Utc>,
}

impl From<issue_event::Model> for IssueEventResponse {
    fn from(event: issue_event::Model) -> Self {
        Self {
            id: event.id,
            kind: event.kind,
            actor_id: event.actor_id,
            actor_role: event.actor_role,
            note: event.note,
            data: event.data,
            occurred_at: event.occurred_at,
        }
    }
}

/// An escalation record.
#[derive(Debug, Serialize, ToSchema)]
pub struct EscalationResponse {
    /// Id.
    pub id: Uuid,
    /// Level before.
    pub from_level: Level,
    /// Level after.
    pub to_level: Level,
    /// Org unit before.
    pub from_org_unit_id: Uuid,
    /// Org unit after.
    pub to_org_unit_id: Uuid,
    /// The department it was sent to.
    pub department_id: Uuid,
    /// Why.
    pub reason: String,
    /// The deadline set with it.
    pub new_deadline: NaiveDate,
    /// Who escalated.
    pub escalated_by: Uuid,
    /// When.
    pub escalated_at: DateTime<Utc>,
    /// Who accepted it.
    pub accepted_by: Option<Uuid>,
    /// When it was accepted.
    pub accepted_at: Option<DateTime<Utc>>,
}

impl From<escalation::Model> for EscalationResponse {
    fn from(row: escalation::Model) -> Self {
        Self {
            id: row.id,
            from_level: row.from_level,
            to_level: row.to_level,
            from_org_unit_id: row.from_org_unit_id,
            to_org_unit_id: row.to_org_unit_id,
            department_id: row.department_id,
            reason: row.reason,
            new_deadline: row.new_deadline,
            escalated_by: row.escalated_by,
            escalated_at: row.escalated_at,
            accepted_by: row.accepted_by,
            accepted_at: row.accepted_at,
        }
    }
}

/// An issue with its timeline and escalations.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssueDetailResponse {
    /// The issue.
    #[serde(flatten)]
    pub issue: IssueResponse,
    /// The timeline, oldest first.
    pub events: Vec<IssueEventResponse>,
    /// The escalations, oldest first.
    pub escalations: Vec<EscalationResponse>,
}

/// A new issue raised outside a visit: by hotline (专线电话), mailbox (书记信箱), forum or a
/// duty-day sit-in.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateIssueRequest {
    /// The client's UUID; sending the same issue again does not create a second one.
    pub id: Uuid,
    /// The village it concerns.
    pub village_id: Uuid,
    /// How it came in.
    pub channel: Channel,
    /// The applicant's household, if known.
    pub applicant_household_id: Option<Uuid>,
    /// The applicant's name.
    #[validate(
        length(min = 1, max = 50),
        custom(function = "crate::validation::not_blank")
    )]
    #[schema(min_length = 1, max_length = 50, pattern = "\\S")]
    pub applicant_name: String,
    /// The applicant's phone.
    #[validate(length(max = 20))]
    #[schema(max_length = 20)]
    pub applicant_phone: Option<String>,
    /// The issue itself.
    #[serde(flatten)]
    #[validate(nested)]
    pub issue: IssueFields,
}

/// The fields every new issue has, in a visit or on its own.
#[derive(Debug, Clone, Deserialize, ToSchema, Validate)]
pub struct IssueFields {
    /// Category.
    pub category: Category,
    /// 申办事项.
    #[validate(
        length(min = 1, max = 2000),
        custom(function = "crate::validation::not_blank")
    )]
    #[schema(min_length = 1, max_length = 2000, pattern = "\\S")]
    pub matter: String,
    /// Answered on the spot (当场答复): recorded and counted, kept out of the ledger.
    #[serde(default)]
    pub answered_on_spot: bool,
    /// The answer given on the spot (required when answered on the spot).
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub spot_answer: Option<String>,
    /// The level that can solve it (default `village`).
    #[serde(default = "village_level")]
    pub level: Level,
    /// 办结时限, a local date (required unless answered on the spot, or given as
    /// `deadline_working_days`).
    pub deadline: Option<NaiveDate>,
    /// 办结时限 in working days instead of a date ("5 个工作日"): day 1 is the first working day
    /// after the day the matter was raised, per the working-day calendar (holidays skipped,
    /// make-up working days counted). Not together with `deadline`.
    #[validate(range(min = 1, max = 365))]
    #[schema(minimum = 1, maximum = 365)]
    pub deadline_working_days: Option<u32>,
    /// A practical deed (实事).
    #[serde(default)]
    pub is_deed: bool,
    /// For a cadre-conduct complaint: the cadre it names (who will never see it) — an account
    /// of a cadre, village official, leader or department staff; an admin's or viewer's
    /// account is refused as unknown (422 `not_found`).
    pub named_cadre_id: Option<Uuid>,
    /// For town or county issues: the department that handles it.
    pub handler_department_id: Option<Uuid>,
}

fn village_level() -> Level {
    Level::Village
}

/// Filters of the ledger (API.md).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IssueQuery {
    /// Only this status; several as `open,in_progress`.
    pub status: Option<String>,
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
    /// Only overdue issues (`true`).
    #[serde(default)]
    pub overdue: bool,
    /// Only open issues due within the due-soon window (`true`).
    #[serde(default)]
    pub due_soon: bool,
    /// Only issues due on or before this day.
    pub due_before: Option<NaiveDate>,
    /// Only deeds (`true`) or non-deeds (`false`).
    pub is_deed: Option<bool>,
    /// Only issues of villages inside this org unit (county, town, district or village).
    pub org_unit_id: Option<Uuid>,
    /// Only resolved issues whose applicant has not been told the result (`true`).
    #[serde(default)]
    pub awaiting_feedback: bool,
    /// Only issues struck off on or after this (local) day.
    pub closed_since: Option<NaiveDate>,
    /// Only issues raised on or after this (local) day.
    pub raised_from: Option<NaiveDate>,
    /// Only issues raised on or before this (local) day.
    pub raised_to: Option<NaiveDate>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl IssueQuery {
    /// The ledger filter these parameters ask for; an `org_unit_id` outside the caller's scope
    /// is 404.
    pub async fn filter(&self, state: &AppState, user: &AuthUser) -> ApiResult<LedgerFilter> {
        let within = match self.org_unit_id {
            Some(id) => {
                let unit = crate::org::find_org_unit(&state.db, user.scope(), id)
                    .await?
                    .ok_or_else(|| {
                        ApiError::NotFound("No such org unit in your scope.".to_owned())
                    })?;
                Some((unit.kind, unit.id))
            }
            None => None,
        };
        let day_start = |day: NaiveDate| state.clock.start_of(day);
        Ok(LedgerFilter {
            statuses: parse_statuses(self.status.as_deref())?,
            category: self.category,
            level: self.level,
            village_id: self.village_id,
            town_id: self.town_id,
            responsible_id: self.responsible_id,
            department_id: self.department_id,
            overdue: self.overdue,
            due_soon: self.due_soon,
            due_before: self.due_before,
            is_deed: self.is_deed,
            within,
            awaiting_feedback: self.awaiting_feedback,
            closed_since: self.closed_since.map(day_start),
            raised_from: self.raised_from.map(day_start),
            raised_before: self.raised_to.and_then(|day| day.succ_opt()).map(day_start),
        })
    }
}

fn parse_statuses(text: Option<&str>) -> ApiResult<Vec<Status>> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(|part| {
            serde_json::from_value::<Status>(serde_json::Value::String(part.trim().to_owned()))
                .map_err(|_| {
                    ApiError::invalid_field(
                        "status",
                        "invalid",
                        "open, in_progress, resolved or closed.",
                    )
                })
        })
        .collect()
}

fn with_etag(mut response: HttpResponse, version: i32) -> HttpResponse {
    if let Ok(value) = header::HeaderValue::from_str(&concurrency::etag(version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

async fn detail(
    db: &impl sea_orm::ConnectionTrait,
    user: &AuthUser,
    deadlines: Deadlines,
    row: issue::Model,
) -> ApiResult<HttpResponse> {
    let events = ledger::events_of(db, row.id).await?;
    let escalations = ledger::escalations_of(db, row.id).await?;
    let version = row.version;
    Ok(with_etag(
        HttpResponse::Ok().json(IssueDetailResponse {
            issue: IssueResponse::for_caller(row, user, deadlines),
            events: events.into_iter().map(IssueEventResponse::from).collect(),
            escalations: escalations
                .into_iter()
                .map(EscalationResponse::from)
                .collect(),
        }),
        version,
    ))
}

/// The ledger the caller may see, by deadline: issues answered on the spot are not in it;
/// cadre-conduct complaints never reach the cadre they name.
#[utoipa::path(
    tag = "ledger",
    params(IssueQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of the ledger.", body = Page<IssueResponse>),
        (status = 404, description = "`org_unit_id` names no org unit in your scope.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/issues")]
async fn list_issues(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<IssueQuery>,
) -> ApiResult<web::Json<Page<IssueResponse>>> {
    let limit = pagination::limit(query.limit)?;
    let after = match query.cursor.as_deref().filter(|cursor| !cursor.is_empty()) {
        Some(text) => Some(LedgerCursor::decode(text).ok_or_else(|| {
            ApiError::invalid_field(
                "cursor",
                "invalid",
                "cursor is not one this list handed out.",
            )
        })?),
        None => None,
    };
    let filter = query.filter(&state, &user).await?;
    let deadlines = state.deadlines();
    let rows = ledger::list_ledger(
        &state.db,
        &user.principal,
        &filter,
        deadlines,
        after,
        limit + 1,
    )
    .await?;
    Ok(web::Json(Page::from_rows(
        rows,
        limit,
        |row| {
            LedgerCursor {
                deadline: row.deadline.unwrap_or_default(),
                id: row.id,
            }
            .encode()
        },
        |row| IssueResponse::for_caller(row, &user, deadlines),
    )))
}

/// One issue with its timeline and escalations, and its `ETag`.
#[utoipa::path(
    tag = "ledger",
    params(("id" = Uuid, Path, description = "Issue id.")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The issue.", body = IssueDetailResponse, headers(("ETag" = String, description = "The version, quoted."))),
        (status = 404, description = "No such issue visible to you.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/issues/{id}")]
async fn get_issue(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let row = ledger::find_issue(&state.db, &user.principal, *id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such issue.".to_owned()))?;
    detail(&state.db, &user, state.deadlines(), row).await
}

/// Whether a stored issue is the one sent again: what was recorded at the start, which no
/// later step changes (the deadline, level and handler may have moved since; a retry of the
/// first request does not undo that). A different issue under the same id is a 409.
fn same_issue(stored: &issue::Model, sent: &CreateIssueRequest) -> bool {
    stored.village_id == sent.village_id
        && stored.channel == sent.channel
        && stored.applicant_household_id == sent.applicant_household_id
        && stored.applicant_name == sent.applicant_name
        && stored.applicant_phone == sent.applicant_phone
        && stored.category == sent.issue.category
        && stored.matter == sent.issue.matter
        && stored.answered_on_spot == sent.issue.answered_on_spot
        && stored.spot_answer == sent.issue.spot_answer
        && stored.named_cadre_id == sent.issue.named_cadre_id
}

/// Records an issue raised outside a visit (hotline, mailbox, forum, duty day). The caller
/// becomes its lead responsible person (首访负责制). Idempotent by `id`.
#[utoipa::path(
    tag = "ledger",
    request_body = CreateIssueRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Recorded.", body = IssueDetailResponse),
        (status = 200, description = "The same issue was recorded already.", body = IssueDetailResponse),
        (status = 409, description = "The id belongs to a different issue.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/issues")]
async fn create_issue(
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<CreateIssueRequest>,
) -> ApiResult<HttpResponse> {
    body.validate()?;
    let body = body.into_inner();
    let deadlines = state.deadlines();
    let txn = begin_write(&state.db).await?;
    // The same issue again (a retry) is answered with what is stored.
    if let Some(stored) = ledger::find_issue(&txn, &user.principal, body.id).await?
        && same_issue(&stored, &body)
    {
        let response = detail(&txn, &user, deadlines, stored).await?;
        crate::db::commit(txn).await?;
        return Ok(response);
    }
    let place =
        households::village_in_scope(&txn, user.scope(), body.village_id, "village_id").await?;
    if let Some(household_id) = body.applicant_household_id {
        let household = households::find_household(&txn, user.scope(), household_id).await?;
        if household.is_none_or(|household| household.village_id != place.village_id) {
            return Err(ApiError::invalid_field(
                "applicant_household_id",
                "not_found",
                "No such household in this village.",
            ));
        }
    }
    let fields = body.issue;
    let deadline = calendar::resolve_deadline(
        &txn,
        fields.deadline,
        fields.deadline_working_days,
        deadlines.today,
        "deadline",
        "deadline_working_days",
    )
    .await?;
    let row = ledger::create_issue(
        &txn,
        &user.principal,
        NewIssue {
            id: body.id,
            visit_id: None,
            channel: body.channel,
            place,
            applicant_household_id: body.applicant_household_id,
            applicant_name: body.applicant_name,
            applicant_phone: body.applicant_phone,
            category: fields.category,
            matter: fields.matter,
            answered_on_spot: fields.answered_on_spot,
            spot_answer: fields.spot_answer,
            level: fields.level,
            handler_department_id: fields.handler_department_id,
            named_cadre_id: fields.named_cadre_id,
            deadline,
            is_deed: fields.is_deed,
            raised_on: deadlines.today,
            raised_at: chrono::Utc::now(),
            origin_device: None,
        },
        "",
    )
    .await?;
    audit::record(
        &txn,
        &user.audit_actor(),
        AuditEntry::new("issue.create", "issue", row.id).with_changes(serde_json::json!({
            "village_id": row.village_id, "channel": row.channel, "category": row.category,
            "level": row.level, "deadline": row.deadline, "answered_on_spot": row.answered_on_spot,
        })),
    )
    .await?;
    let mut response = detail(&txn, &user, deadlines, row).await?;
    crate::db::commit(txn).await?;
    *response.status_mut() = actix_web::http::StatusCode::CREATED;
    Ok(response)
}

/// A progress note (办理情况).
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ProgressRequest {
    /// What was done so far.
    #[validate(
        length(min = 1, max = 2000),
        custom(function = "crate::validation::not_blank")
    )]
    #[schema(min_length = 1, max_length = 2000, pattern = "\\S")]
    pub note: String,
}

/// The resolution (办结).
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// What was done.
    #[validate(
        length(min = 1, max = 2000),
        custom(function = "crate::validation::not_blank")
    )]
    #[schema(min_length = 1, max_length = 2000, pattern = "\\S")]
    pub note: String,
    /// Mark it a practical deed (实事).
    pub is_deed: Option<bool>,
}

/// The applicant's answer when told the result (反馈).
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    /// Was the applicant satisfied? If not, reopen the issue.
    pub satisfied: bool,
    /// What the applicant said.
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

/// A note for striking off (销号) or urging (督办).
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    /// The note.
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

/// Why an issue is reopened.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ReopenRequest {
    /// Why (what the applicant is unsatisfied with).
    #[validate(
        length(min = 1, max = 2000),
        custom(function = "crate::validation::not_blank")
    )]
    #[schema(min_length = 1, max_length = 2000, pattern = "\\S")]
    pub note: String,
}

/// A deadline extension approved by a leader.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ExtendDeadlineRequest {
    /// The new deadline (later than the current one); or give `new_deadline_working_days`.
    pub new_deadline: Option<NaiveDate>,
    /// The extension in working days instead of a date: counted from the current deadline (or
    /// from today, if that has passed), per the working-day calendar. Not together with
    /// `new_deadline`.
    #[validate(range(min = 1, max = 365))]
    #[schema(minimum = 1, maximum = 365)]
    pub new_deadline_working_days: Option<u32>,
    /// Why.
    #[validate(
        length(min = 1, max = 2000),
        custom(function = "crate::validation::not_blank")
    )]
    #[schema(min_length = 1, max_length = 2000, pattern = "\\S")]
    pub note: String,
}

/// An escalation to the next level up.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct EscalateRequest {
    /// A department of the next level up (a town's department for village issues, a county
    /// department for town issues).
    pub department_id: Uuid,
    /// Why it cannot be solved at this level.
    #[validate(
        length(min = 1, max = 2000),
        custom(function = "crate::validation::not_blank")
    )]
    #[schema(min_length = 1, max_length = 2000, pattern = "\\S")]
    pub reason: String,
    /// The new deadline; or give `new_deadline_working_days`.
    pub new_deadline: Option<NaiveDate>,
    /// The new deadline in working days after today, per the working-day calendar. Not
    /// together with `new_deadline`.
    #[validate(range(min = 1, max = 365))]
    #[schema(minimum = 1, maximum = 365)]
    pub new_deadline_working_days: Option<u32>,
}

async fn step(
    user: AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: Uuid,
    step: Step,
    input: StepInput,
) -> ApiResult<HttpResponse> {
    let deadlines = state.deadlines();
    let txn = begin_write(&state.db).await?;
    let precondition = |current| concurrency::check_version(&req, None, current);
    let saved = steps::take_step(
        &txn,
        &user.principal,
        &user.meta,
        id,
        step,
        input,
        &precondition,
    )
    .await?;
    let response = detail(&txn, &user, deadlines, saved).await?;
    crate::db::commit(txn).await?;
    Ok(response)
}

/// Adds a progress note (办理情况): the lead responsible person or the current handler. An
/// open issue becomes `in_progress`.
#[utoipa::path(
    tag = "ledger",
    params(("id" = Uuid, Path, description = "Issue id."), ("If-Match" = Option<String>, Header, description = "The `ETag` you read; stale: 412.")),
    request_body = ProgressRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The issue after the step.", body = IssueDetailResponse),
        (status = 404, description = "No such issue visible to you.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not possible in the issue's status (`invalid_transition` names it).", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The issue changed since you read it.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/issues/{id}/progress")]
async fn add_issue_progress(
    user: AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<ProgressRequest>,
) -> ApiResult<HttpResponse> {
    body.validate()?;
    let input = StepInput {
        note: Some(body.into_inner().note),
        ..StepInput::default()
    };
    step(user, state, req, *id, Step::Progress, input).await
}

/// Resolves an issue (办结) with what was done: the lead responsible person or the handler.
#[utoipa::path(
    tag = "ledger",
    params(("id" = Uuid, Path, description = "Issue id."), ("If-Match" = Option<String>, Header, description = "The `ETag` you read; stale: 412.")),
    request_body = ResolveRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The issue after the step.", body = IssueDetailResponse),
        (status = 404, description = "No such issue visible to you.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not possible in the issue's status.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The issue changed since you read it.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/issues/{id}/resolve")]
async fn resolve_issue(
    user: AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<ResolveRequest>,
) -> ApiResult<HttpResponse> {
    body.validate()?;
    let body = body.into_inner();
    let input = StepInput {
        note: Some(body.note),
        is_deed: body.is_deed,
        ..StepInput::default()
    };
    step(user, state, req, *id, Step::Resolve, input).await
}

/// Records that the applicant was told the result (反馈) and whether satisfied: a resolved
/// issue, by the lead responsible person or the handler.
#[utoipa::path(
    tag = "ledger",
    params(("id" = Uuid, Path, description = "Issue id."), ("If-Match" = Option<String>, Header, description = "The `ETag` you read; stale: 412.")),
    request_body = FeedbackRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The issue after the step.", body = IssueDetailResponse),
        (status = 404, description = "No such issue visible to you.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not possible in the issue's status.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The issue changed since you read it.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/issues/{id}/feedback")]
async fn record_issue_feedback(
    user: AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<FeedbackRequest>,
) -> ApiResult<HttpResponse> {
    body.validate()?;
    let body = body.into_inner();
    let input = StepInput {
        note: body.note,
        satisfied: Some(body.satisfied),
        ..StepInput::default()
    };
    step(user, state, req, *id, Step::Feedback, input).await
}

/// Strikes a resolved issue off (销号): a leader, once the applicant was told and satisfied.
#[utoipa::path(
    tag = "ledger",
    params(("id" = Uuid, Path, description = "Issue id."), ("If-Match" = Option<String>, Header, description = "The `ETag` you read; stale: 412.")),
    request_body = NoteRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The issue after the step.", body = IssueDetailResponse),
        (status = 404, description = "No such issue visible to you.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not resolved, no feedback yet (`feedback_missing`), or the applicant unsatisfied.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The issue changed since you read it.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/issues/{id}/close")]
async fn close_issue(
    user: AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<NoteRequest>,
) -> ApiResult<HttpResponse> {
    body.validate()?;
    let input = StepInput {
        note: body.into_inner().note,
        ..StepInput::default()
    };
    step(user, state, req, *id, Step::Close, input).await
}

/// Reopens a resolved or struck-off issue (the applicant is not satisfied, or the matter came
/// back): a leader. An unsatisfied answer in `feedback` reopens the issue by itself.
#[utoipa::path(
    tag = "ledger",
    params(("id" = Uuid, Path, description = "Issue id."), ("If-Match" = Option<String>, Header, description = "The `ETag` you read; stale: 412.")),
    request_body = ReopenRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The issue after the step.", body = IssueDetailResponse),
        (status = 404, description = "No such issue visible to you.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not resolved or closed.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The issue changed since you read it.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/issues/{id}/reopen")]
async fn reopen_issue(
    user: AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<ReopenRequest>,
) -> ApiResult<HttpResponse> {
    body.validate()?;
    let input = StepInput {
        note: Some(body.into_inner().note),
        ..StepInput::default()
    };
    step(user, state, req, *id, Step::Reopen, input).await
}

/// Urges an open issue (督办/催办): a leader.
#[utoipa::path(
    tag = "ledger",
    params(("id" = Uuid, Path, description = "Issue id."), ("If-Match" = Option<String>, Header, description = "The `ETag` you read; stale: 412.")),
    request_body = NoteRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The issue after the step.", body = IssueDetailResponse),
        (status = 404, description = "No such issue visible to you.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not open.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The issue changed since you read it.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/issues/{id}/urge")]
async fn urge_issue(
    user: AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<NoteRequest>,
) -> ApiResult<HttpResponse> {
    body.validate()?;
    let input = StepInput {
        note: body.into_inner().note,
        ..StepInput::default()
    };
    step(user, state, req, *id, Step::Urge, input).await
}

/// Extends the deadline of an open issue, with a reason: a leader.
#[utoipa::path(
    tag = "ledger",
    params(("id" = Uuid, Path, description = "Issue id."), ("If-Match" = Option<String>, Header, description = "The `ETag` you read; stale: 412.")),
    request_body = ExtendDeadlineRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The issue after the step.", body = IssueDetailResponse),
        (status = 404, description = "No such issue visible to you.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not open.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The issue changed since you read it.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/issues/{id}/extend")]
async fn extend_issue_deadline(
    user: AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<ExtendDeadlineRequest>,
) -> ApiResult<HttpResponse> {
    body.validate()?;
    let body = body.into_inner();
    if body
        .new_deadline
        .is_some_and(|deadline| deadline < state.clock.today())
    {
        return Err(ApiError::invalid_field(
            "new_deadline",
            "in_the_past",
            "The new deadline is in the past: an extension gives the matter more time from \
             today.",
        ));
    }
    let input = StepInput {
        note: Some(body.note),
        new_deadline: body.new_deadline,
        extend_by_working_days: body.new_deadline_working_days.map(|days| {
            steps::WorkingDaysExtension {
                days,
                today: state.clock.today(),
            }
        }),
        ..StepInput::default()
    };
    step(user, state, req, *id, Step::ExtendDeadline, input).await
}

/// Escalates an issue one level up (village → town → county) to a department of that level,
/// with a reason and a new deadline. Only the lead responsible person, who stays its lead.
#[utoipa::path(
    tag = "ledger",
    params(("id" = Uuid, Path, description = "Issue id."), ("If-Match" = Option<String>, Header, description = "The `ETag` you read; stale: 412.")),
    request_body = EscalateRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Escalated: the issue after the step.", body = IssueDetailResponse),
        (status = 404, description = "No such issue visible to you.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not open, or already at county level (`cannot_escalate`).", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The issue changed since you read it.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/issues/{id}/escalations")]
async fn escalate_issue(
    user: AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<EscalateRequest>,
) -> ApiResult<HttpResponse> {
    body.validate()?;
    let body = body.into_inner();
    let deadlines = state.deadlines();
    let txn = begin_write(&state.db).await?;
    let precondition = |current| concurrency::check_version(&req, None, current);
    let new_deadline = calendar::resolve_deadline(
        &txn,
        body.new_deadline,
        body.new_deadline_working_days,
        deadlines.today,
        "new_deadline",
        "new_deadline_working_days",
    )
    .await?
    .ok_or_else(|| ApiError::invalid_field("new_deadline", "required", "Give the new deadline."))?;
    let input = EscalationInput {
        department_id: body.department_id,
        reason: body.reason,
        new_deadline,
    };
    let (saved, _) = steps::escalate(
        &txn,
        &user.principal,
        &user.meta,
        *id,
        input,
        deadlines.today,
        &precondition,
    )
    .await?;
    let mut response = detail(&txn, &user, deadlines, saved).await?;
    crate::db::commit(txn).await?;
    *response.status_mut() = actix_web::http::StatusCode::CREATED;
    Ok(response)
}

/// Accepts an escalation sent to the caller's department; the issue is then in progress.
#[utoipa::path(
    tag = "ledger",
    params(("id" = Uuid, Path, description = "Escalation id.")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Accepted: the issue after the step.", body = IssueDetailResponse),
        (status = 404, description = "No such escalation sent to your department.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Accepted already, or the issue has moved on.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The issue changed while it was being accepted (its lead took a step at the same moment); nothing was accepted: accept again.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/escalations/{id}/accept")]
async fn accept_escalation(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let deadlines = state.deadlines();
    let txn = begin_write(&state.db).await?;
    let (saved, _) = steps::accept_escalation(&txn, &user.principal, &user.meta, *id).await?;
    let response = detail(&txn, &user, deadlines, saved).await?;
    crate::db::commit(txn).await?;
    Ok(response)
}
