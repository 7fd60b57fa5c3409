//! `/api/v1/visits`: visits with their six answers (六问) and the issues raised in them.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use entity::visit::{self, Channel};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;
use validator::Validate;

use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, Problem},
    pagination::{self, Page},
    routes::issues::{IssueFields, IssueResponse},
    startup::AppState,
    visits::{self, NewVisit, RaisedIssue, Recorded, Target},
};

/// Registers the visit routes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_visits)
        .service(create_visit)
        .service(get_visit);
}

/// 问基本情况: employment, children's schooling, medical care, old-age care.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct BasicSituation {
    /// 就业.
    #[validate(length(max = 500))]
    #[schema(max_length = 500)]
    pub employment: Option<String>,
    /// 子女上学.
    #[validate(length(max = 500))]
    #[schema(max_length = 500)]
    pub schooling: Option<String>,
    /// 看病就医.
    #[validate(length(max = 500))]
    #[schema(max_length = 500)]
    pub medical: Option<String>,
    /// 养老.
    #[validate(length(max = 500))]
    #[schema(max_length = 500)]
    pub elderly_care: Option<String>,
}

/// 问干部评价: the evaluation of town and village cadres.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CadreEvaluation {
    /// 1 (poor) to 5 (excellent).
    #[validate(range(min = 1, max = 5))]
    #[schema(minimum = 1, maximum = 5)]
    pub rating: Option<i16>,
    /// In the resident's words.
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
}

/// The six questions (六问), each answered in the resident's words.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct SixAnswers {
    /// 1. 问基本情况.
    #[validate(nested)]
    pub basic_situation: Option<BasicSituation>,
    /// 2. 问困难问题: difficulties needing help.
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub difficulties: Option<String>,
    /// 3. 问致富愿望: wishes and plans to raise income.
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub income_wishes: Option<String>,
    /// 4. 问干部评价.
    #[validate(nested)]
    pub cadre_evaluation: Option<CadreEvaluation>,
    /// 5. 问工作建议: suggestions on village rules, welfare, sanitation, culture.
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub work_suggestions: Option<String>,
    /// 6. 问发展计策: ideas for the village's development.
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub development_ideas: Option<String>,
}

/// An issue raised in a visit.
#[derive(Debug, Clone, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct RaisedIssueRequest {
    /// The phone's UUID for the issue.
    pub id: Uuid,
    /// The issue.
    #[serde(flatten)]
    #[validate(nested)]
    pub issue: IssueFields,
    /// The applicant, when not the household head (default: the head).
    #[validate(
        length(min = 1, max = 50),
        custom(function = "crate::validation::not_blank")
    )]
    #[schema(min_length = 1, max_length = 50, pattern = "\\S")]
    pub applicant_name: Option<String>,
    /// The applicant's phone (default: the household's).
    #[validate(length(max = 20))]
    #[schema(max_length = 20)]
    pub applicant_phone: Option<String>,
}

/// A visit, as recorded on the phone.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateVisitRequest {
    /// The phone's UUID: posting the same visit again returns it, never a second one.
    pub id: Uuid,
    /// The household visited (or give `enterprise_id`).
    pub household_id: Option<Uuid>,
    /// The enterprise visited.
    pub enterprise_id: Option<Uuid>,
    /// Channel.
    pub channel: Channel,
    /// When, as the device says (RFC 3339).
    pub visited_at: DateTime<Utc>,
    /// The six answers.
    #[validate(nested)]
    pub answers: Option<SixAnswers>,
    /// The visit diary (入户日记).
    #[validate(length(max = 5000))]
    #[schema(max_length = 5000)]
    pub diary_note: Option<String>,
    /// Whether the service card (民情服务卡) was handed over.
    #[serde(default)]
    pub service_card_given: bool,
    /// WGS-84 latitude.
    #[validate(range(min = -90.0, max = 90.0))]
    #[schema(minimum = -90.0, maximum = 90.0)]
    pub latitude: Option<f64>,
    /// WGS-84 longitude.
    #[validate(range(min = -180.0, max = 180.0))]
    #[schema(minimum = -180.0, maximum = 180.0)]
    pub longitude: Option<f64>,
    /// The issues raised (at most 20).
    #[serde(default)]
    #[validate(nested)]
    #[schema(max_items = 20)]
    pub issues: Vec<RaisedIssueRequest>,
}

/// A visit with the issues raised in it.
#[derive(Debug, Serialize, ToSchema)]
pub struct VisitResponse {
    /// The phone's UUID.
    pub id: Uuid,
    /// The household visited.
    pub household_id: Option<Uuid>,
    /// The enterprise visited.
    pub enterprise_id: Option<Uuid>,
    /// Town.
    pub town_id: Uuid,
    /// Village.
    pub village_id: Uuid,
    /// The cadre who visited.
    pub cadre_id: Uuid,
    /// Channel.
    pub channel: Channel,
    /// When, as the device said.
    pub visited_at: DateTime<Utc>,
    /// When the server received it.
    pub received_at: DateTime<Utc>,
    /// The six answers.
    pub answers: Option<SixAnswers>,
    /// Diary note.
    pub diary_note: Option<String>,
    /// Service card handed over.
    pub service_card_given: bool,
    /// Latitude.
    pub latitude: Option<f64>,
    /// Longitude.
    pub longitude: Option<f64>,
    /// For a duty-day sit-in (值班坐访): the duty it was made on, if the village's roster has
    /// one on that day.
    pub duty_id: Option<Uuid>,
    /// The issues raised, as the caller may see them (lists leave them out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issues: Option<Vec<IssueResponse>>,
}

impl VisitResponse {
    /// `withheld`: the caller is named by a complaint raised in this visit, and gets neither
    /// the answers nor the diary.
    fn new(row: visit::Model, issues: Option<Vec<IssueResponse>>, withheld: bool) -> Self {
        let row = if withheld { visits::withheld(row) } else { row };
        Self {
            id: row.id,
            household_id: row.household_id,
            enterprise_id: row.enterprise_id,
            town_id: row.town_id,
            village_id: row.village_id,
            cadre_id: row.cadre_id,
            channel: row.channel,
            visited_at: row.visited_at,
            received_at: row.received_at,
            answers: row
                .answers
                .and_then(|answers| serde_json::from_value(answers).ok()),
            diary_note: row.diary_note,
            service_card_given: row.service_card_given,
            latitude: row.latitude,
            longitude: row.longitude,
            duty_id: row.duty_id,
            issues,
        }
    }
}

/// Filters of the visit list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VisitQuery {
    /// Only this village.
    pub village_id: Option<Uuid>,
    /// Only this household.
    pub household_id: Option<Uuid>,
    /// Only this cadre's visits.
    pub cadre_id: Option<Uuid>,
    /// Visited at or after (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Visited before (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Records a visit with its six answers and the issues raised, all in one transaction
/// (cadres, village officials, leaders). Idempotent by `id`: the same visit again is answered
/// 200 with what is stored, and writes nothing.
#[utoipa::path(
    tag = "visits",
    request_body = CreateVisitRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Recorded.", body = VisitResponse),
        (status = 200, description = "This visit was recorded already.", body = VisitResponse),
        (status = 409, description = "The visit's or an issue's id belongs to something else.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/visits")]
async fn create_visit(
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<CreateVisitRequest>,
) -> ApiResult<HttpResponse> {
    body.validate()?;
    let body = body.into_inner();
    if body.issues.len() > 20 {
        return Err(ApiError::invalid_field(
            "issues",
            "too_many",
            "At most 20 issues per visit.",
        ));
    }
    let target = match (body.household_id, body.enterprise_id) {
        (Some(household), None) => Target::Household(household),
        (None, Some(enterprise)) => Target::Enterprise(enterprise),
        _ => {
            return Err(ApiError::invalid_field(
                "household_id",
                "one_target",
                "Give either household_id or enterprise_id.",
            ));
        }
    };
    let cadre_rating = body
        .answers
        .as_ref()
        .and_then(|answers| answers.cadre_evaluation.as_ref()?.rating);
    let new = NewVisit {
        id: body.id,
        target,
        channel: body.channel,
        visited_at: body.visited_at,
        answers: body
            .answers
            .map(|answers| serde_json::to_value(answers).unwrap_or_default()),
        cadre_rating,
        diary_note: body.diary_note,
        service_card_given: body.service_card_given,
        latitude: body.latitude,
        longitude: body.longitude,
        device_id: None,
        issues: body
            .issues
            .into_iter()
            .map(|raised| RaisedIssue {
                id: raised.id,
                category: raised.issue.category,
                matter: raised.issue.matter,
                answered_on_spot: raised.issue.answered_on_spot,
                spot_answer: raised.issue.spot_answer,
                level: raised.issue.level,
                deadline: raised.issue.deadline,
                deadline_working_days: raised.issue.deadline_working_days,
                is_deed: raised.issue.is_deed,
                named_cadre_id: raised.issue.named_cadre_id,
                handler_department_id: raised.issue.handler_department_id,
                applicant_name: raised.applicant_name,
                applicant_phone: raised.applicant_phone,
            })
            .collect(),
    };
    let deadlines = state.deadlines();
    let recorded =
        visits::group::record(&state.db, &state.visit_queue, state.clock, &user, new).await?;
    let (mut response, row, issues) = match recorded {
        Recorded::Created(row, issues) => (HttpResponse::Created(), row, issues),
        Recorded::Existing(row, issues) => (HttpResponse::Ok(), row, issues),
    };
    let issues = issues
        .into_iter()
        .map(|issue| IssueResponse::for_caller(issue, &user, deadlines))
        .collect();
    Ok(response.json(VisitResponse::new(row, Some(issues), false)))
}

/// Visits in the caller's scope, newest first.
#[utoipa::path(
    tag = "visits",
    params(VisitQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of visits (without their issues).", body = Page<VisitResponse>)),
)]
#[get("/visits")]
async fn list_visits(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<VisitQuery>,
) -> ApiResult<web::Json<Page<VisitResponse>>> {
    let limit = pagination::limit(query.limit)?;
    let before = match query.cursor.as_deref().filter(|cursor| !cursor.is_empty()) {
        Some(text) => Some(decode_cursor(text).ok_or_else(|| {
            ApiError::invalid_field(
                "cursor",
                "invalid",
                "cursor is not one this list handed out.",
            )
        })?),
        None => None,
    };
    let filter = visits::VisitFilter {
        village_id: query.village_id,
        household_id: query.household_id,
        cadre_id: query.cadre_id,
        since: query.since,
        until: query.until,
    };
    let rows = visits::list_visits(&state.db, user.scope(), &filter, before, limit + 1).await?;
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let naming = visits::visits_naming(&state.db, &user.principal, &ids).await?;
    Ok(web::Json(Page::from_rows(
        rows,
        limit,
        |row| format!("{}~{}", row.visited_at.timestamp_micros(), row.id),
        |row| {
            let withheld = naming.contains(&row.id);
            VisitResponse::new(row, None, withheld)
        },
    )))
}

fn decode_cursor(text: &str) -> Option<(DateTime<Utc>, Uuid)> {
    // `<microseconds since the epoch>~<id>`: URL-safe as it is.
    let (micros, id) = text.split_once('~')?;
    Some((
        DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        id.parse().ok()?,
    ))
}

/// One visit in scope, with the issues raised in it that the caller may see.
#[utoipa::path(
    tag = "visits",
    params(("id" = Uuid, Path, description = "Visit id.")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The visit.", body = VisitResponse),
        (status = 404, description = "No such visit in your scope.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/visits/{id}")]
async fn get_visit(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<VisitResponse>> {
    let row = visits::find_visit(&state.db, user.scope(), *id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such visit.".to_owned()))?;
    let deadlines = state.deadlines();
    let issues = visits::issues_of_visit(&state.db, &user.principal, row.id)
        .await?
        .into_iter()
        .map(|issue| IssueResponse::for_caller(issue, &user, deadlines))
        .collect();
    let withheld = visits::visits_naming(&state.db, &user.principal, &[row.id])
        .await?
        .contains(&row.id);
    Ok(web::Json(VisitResponse::new(row, Some(issues), withheld)))
}
