//! The duty roster (一线工作日): `/api/v1/villages/{id}/duties/generate`, `/api/v1/duties`,
//! `/api/v1/duties/{id}/swap`, and the roster published in advance (公示) at
//! `/public/villages/{id}/duty` — names and the village office's phone, nothing else.

use actix_web::{get, post, web};
use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use entity::{
    duty::DutyKind,
    org_unit::{self, OrgKind},
    user::Position,
};
use sea_orm::EntityTrait;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;
use validator::Validate;

use crate::{
    audit::{self, AuditEntry},
    auth::AuthUser,
    db::begin_write,
    duties::{self, DescribedDuty, DutyFilter, DutyStatus},
    error::{ApiError, ApiResult, Problem},
    pagination::{self, Page},
    startup::AppState,
};

/// Registers the roster routes under `/api/v1`.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(generate_duties)
        .service(list_duties)
        .service(swap_duty);
}

/// Registers the public roster under `/public`.
pub fn configure_public(cfg: &mut ServiceConfig) {
    cfg.service(get_village_duty);
}

/// 星期二 and so on.
fn weekday_label(date: NaiveDate) -> &'static str {
    match date.weekday() {
        Weekday::Mon => "星期一",
        Weekday::Tue => "星期二",
        Weekday::Wed => "星期三",
        Weekday::Thu => "星期四",
        Weekday::Fri => "星期五",
        Weekday::Sat => "星期六",
        Weekday::Sun => "星期日",
    }
}

/// A duty day of a village.
#[derive(Debug, Serialize, ToSchema)]
pub struct DutyResponse {
    /// Id.
    pub id: Uuid,
    /// The village.
    pub village_id: Uuid,
    /// Its name.
    #[schema(example = "东关村")]
    pub village_name: String,
    /// The day (local date).
    pub duty_date: NaiveDate,
    /// The day of the week.
    #[schema(example = "星期二")]
    pub weekday: String,
    /// Who is on duty (after any swap).
    pub user_id: Uuid,
    /// Their name.
    #[schema(example = "李明")]
    pub user_name: String,
    /// `leader`: the village-contact leader's Thursday (odd ISO weeks); `cadre`: a
    /// village-contact cadre's turn.
    pub kind: DutyKind,
    /// A leader's Thursday given to the cadre rotation because no leader was assigned.
    pub leader_fallback: bool,
    /// Who was rostered before a swap.
    pub swapped_from_user_id: Option<Uuid>,
    /// Why it was swapped.
    pub swap_reason: Option<String>,
    /// `kept` (the person on duty recorded a sit-in visit on it), `missed` (its day passed
    /// without one) or `upcoming`.
    pub status: DutyStatus,
    /// The sit-in visits (值班坐访) recorded on it, by anyone.
    pub visit_ids: Vec<Uuid>,
}

impl From<DescribedDuty> for DutyResponse {
    fn from(described: DescribedDuty) -> Self {
        let duty = described.duty;
        Self {
            id: duty.id,
            village_id: duty.village_id,
            village_name: described.village_name,
            duty_date: duty.duty_date,
            weekday: weekday_label(duty.duty_date).to_owned(),
            user_id: duty.user_id,
            user_name: described.user_name,
            kind: duty.kind,
            leader_fallback: duty.leader_fallback,
            swapped_from_user_id: duty.swapped_from_user_id,
            swap_reason: duty.swap_reason,
            status: described.status,
            visit_ids: described.visit_ids,
        }
    }
}

/// The range to roster.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct GenerateDutiesRequest {
    /// First day (inclusive).
    pub from: NaiveDate,
    /// Last day (inclusive); at most 366 days after `from`.
    pub to: NaiveDate,
}

/// What generating did, and the range's roster.
#[derive(Debug, Serialize, ToSchema)]
pub struct GenerateDutiesResponse {
    /// Duties added now.
    pub created: usize,
    /// Duties of the range that existed already and were kept as they are (swaps included).
    pub existing: usize,
    /// Tuesdays and Thursdays nobody could be rostered on: no village-contact leader or cadre
    /// assigned to the village on that day.
    pub unstaffed: Vec<NaiveDate>,
    /// `false` when a year of the range has no loaded calendar: its holidays were not skipped.
    pub calendar_loaded: bool,
    /// The range's roster, by date.
    pub duties: Vec<DutyResponse>,
}

/// Filters of the duty list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DutyQuery {
    /// Only this village.
    pub village_id: Option<Uuid>,
    /// Only this person's duties.
    pub user_id: Option<Uuid>,
    /// From this day (inclusive).
    pub from: Option<NaiveDate>,
    /// To this day (inclusive).
    pub to: Option<NaiveDate>,
    /// Only `upcoming`, `kept` or `missed` duties (leaders: `missed` shows who did not sit in).
    pub status: Option<DutyStatus>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A swap of the person on duty.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct SwapDutyRequest {
    /// Who takes the duty: someone assigned to the village on that day.
    pub user_id: Uuid,
    /// Why.
    #[validate(
        length(min = 1, max = 500),
        custom(function = "crate::validation::not_blank")
    )]
    #[schema(min_length = 1, max_length = 500, pattern = "\\S")]
    pub reason: String,
}

/// One day of the public roster.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicDutyDay {
    /// The day.
    pub date: NaiveDate,
    /// The day of the week.
    #[schema(example = "星期二")]
    pub weekday: String,
    /// Who is on duty.
    #[schema(example = "李明")]
    pub name: String,
    /// Their position, as people read it.
    #[schema(example = "包村干部")]
    pub position: String,
}

/// A village's duty roster as published (公示): the coming eight weeks.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicDutyRoster {
    /// The village.
    #[schema(example = "东关村")]
    pub village: String,
    /// The village office's phone, the number to call.
    pub office_phone: Option<String>,
    /// First day shown (today).
    pub from: NaiveDate,
    /// Last day shown.
    pub to: NaiveDate,
    /// The duty days, by date.
    pub duties: Vec<PublicDutyDay>,
    /// When the roster was read.
    pub generated_at: DateTime<Utc>,
}

fn position_label(position: Option<Position>) -> &'static str {
    match position {
        Some(Position::VillageContactLeader) => "包村领导",
        Some(Position::VillageContactCadre) => "包村干部",
        _ => "值班干部",
    }
}

/// Rosters a village over a range (leaders, admins; the village in scope): every Tuesday and
/// Thursday that is a working day per the calendar — holidays skipped; the Thursdays of odd
/// ISO weeks to the village-contact leader, the other days to the village-contact cadres in
/// turn (ordered by id, continuing the village's rotation). Only fills gaps: duties that
/// exist, swaps included, are kept, so generating again changes nothing.
#[utoipa::path(
    tag = "duties",
    params(("id" = Uuid, Path, description = "Village id.")),
    request_body = GenerateDutiesRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The range's roster, with what was added.", body = GenerateDutiesResponse),
        (status = 404, description = "No such village in your scope.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The range is reversed or longer than 366 days.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/villages/{id}/duties/generate")]
async fn generate_duties(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<GenerateDutiesRequest>,
) -> ApiResult<web::Json<GenerateDutiesResponse>> {
    body.validate()?;
    duties::check_range(body.from, body.to)?;
    let txn = begin_write(&state.db).await?;
    let village = duties::village_in_scope(&txn, user.scope(), *id).await?;
    let generated = duties::generate(&txn, state.clock, &village, body.from, body.to).await?;
    // Generating a range again adds nothing, and records nothing.
    if generated.created > 0 {
        audit::record(
            &txn,
            &user.audit_actor(),
            AuditEntry::new("duty.generate", "village", village.id).with_changes(json!({
                "from": body.from, "to": body.to, "created": generated.created,
                "unstaffed": generated.unstaffed, "calendar_loaded": generated.calendar_loaded,
            })),
        )
        .await?;
    }
    let described = duties::describe(&txn, generated.duties, state.clock.today()).await?;
    crate::db::commit(txn).await?;
    Ok(web::Json(GenerateDutiesResponse {
        created: generated.created,
        existing: generated.existing,
        unstaffed: generated.unstaffed,
        calendar_loaded: generated.calendar_loaded,
        duties: described.into_iter().map(DutyResponse::from).collect(),
    }))
}

fn decode_cursor(text: &str) -> Option<(NaiveDate, Uuid)> {
    let (date, id) = text.split_once('~')?;
    Some((date.parse().ok()?, id.parse().ok()?))
}

/// Duties in the caller's scope, by date: who is on duty where, and whether they kept it.
/// `status=missed` lists the past duties without a sit-in by the person on duty.
#[utoipa::path(
    tag = "duties",
    params(DutyQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of duties.", body = Page<DutyResponse>)),
)]
#[get("/duties")]
async fn list_duties(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<DutyQuery>,
) -> ApiResult<web::Json<Page<DutyResponse>>> {
    let limit = pagination::limit(query.limit)?;
    let after = match query.cursor.as_deref().filter(|cursor| !cursor.is_empty()) {
        Some(text) => Some(decode_cursor(text).ok_or_else(|| {
            ApiError::invalid_field(
                "cursor",
                "invalid",
                "cursor is not one this list handed out.",
            )
        })?),
        None => None,
    };
    let filter = DutyFilter {
        village_id: query.village_id,
        user_id: query.user_id,
        from: query.from,
        to: query.to,
        status: query.status,
    };
    let today = state.clock.today();
    let rows =
        duties::list_duties(&state.db, user.scope(), &filter, today, after, limit + 1).await?;
    let page = Page::from_rows(
        rows,
        limit,
        |duty| format!("{}~{}", duty.duty_date, duty.id),
        |duty| duty,
    );
    let items = duties::describe(&state.db, page.items, today).await?;
    Ok(web::Json(Page {
        items: items.into_iter().map(DutyResponse::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Puts another person on a duty (leaders, admins; the duty in scope): someone assigned to
/// the village on that day. The person first rostered is kept in `swapped_from_user_id`;
/// swapping back to them clears the swap. The same person again changes nothing.
#[utoipa::path(
    tag = "duties",
    params(("id" = Uuid, Path, description = "Duty id.")),
    request_body = SwapDutyRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The duty after the swap.", body = DutyResponse),
        (status = 404, description = "No such duty in your scope.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The person is not assigned to the village on that day.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/duties/{id}/swap")]
async fn swap_duty(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<SwapDutyRequest>,
) -> ApiResult<web::Json<DutyResponse>> {
    body.validate()?;
    let body = body.into_inner();
    let txn = begin_write(&state.db).await?;
    let (before, after) =
        duties::swap(&txn, user.scope(), *id, body.user_id, body.reason.clone()).await?;
    let duty = match after {
        Some(after) => {
            audit::record(
                &txn,
                &user.audit_actor(),
                AuditEntry::new("duty.swap", "duty", after.id).with_changes(json!({
                    "duty_date": after.duty_date,
                    "user_id": {"from": before.user_id, "to": after.user_id},
                    "reason": body.reason,
                })),
            )
            .await?;
            after
        }
        None => before,
    };
    let described = duties::describe(&txn, vec![duty], state.clock.today()).await?;
    crate::db::commit(txn).await?;
    described
        .into_iter()
        .next()
        .map(|duty| web::Json(DutyResponse::from(duty)))
        .ok_or_else(|| ApiError::Internal("a described duty vanished".into()))
}

/// A village's duty roster for the coming eight weeks, as published (公示; no sign-in): the
/// day, the name and position of the person on duty, and the village office's phone — no
/// personal phone or any other personal data.
#[utoipa::path(
    tag = "public",
    params(("id" = Uuid, Path, description = "Village id.")),
    responses(
        (status = 200, description = "The coming duty days.", body = PublicDutyRoster),
        (status = 404, description = "No such village.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/villages/{id}/duty")]
async fn get_village_duty(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<PublicDutyRoster>> {
    let village = org_unit::Entity::find_by_id(*id)
        .one(&state.db)
        .await?
        .filter(|unit| unit.kind == OrgKind::Village)
        .ok_or_else(|| ApiError::NotFound("No such village.".to_owned()))?;
    let (from, to) = duties::public_window(state.clock.today());
    let roster = duties::public_roster(&state.db, village.id, from, to).await?;
    Ok(web::Json(PublicDutyRoster {
        village: village.name,
        office_phone: village.office_phone,
        from,
        to,
        duties: roster
            .into_iter()
            .map(|duty| PublicDutyDay {
                date: duty.date,
                weekday: weekday_label(duty.date).to_owned(),
                name: duty.name,
                position: position_label(duty.position).to_owned(),
            })
            .collect(),
        generated_at: Utc::now(),
    }))
}
