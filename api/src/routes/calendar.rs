//! `/api/v1/calendar/{year}`: the working-day calendar — a year's public holidays and make-up
//! working days (调休), which deadlines given in working days and the duty roster follow.

use actix_web::{get, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use entity::calendar_day::{self, DayKind};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use crate::{
    access::Scope,
    audit::{self, AuditEntry},
    auth::AuthUser,
    calendar::{self, NewCalendarDay, YearCalendar},
    db::begin_write,
    error::{ApiError, ApiResult, Problem},
    startup::AppState,
};

/// Registers the calendar routes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(get_calendar).service(put_calendar);
}

/// An exception to the working week.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarDayResponse {
    /// The day.
    pub date: NaiveDate,
    /// `holiday` (a day off, even on a weekday) or `workday` (a make-up working day on a
    /// weekend).
    pub kind: DayKind,
    /// What it is for.
    #[schema(example = "春节")]
    pub name: String,
}

impl From<calendar_day::Model> for CalendarDayResponse {
    fn from(day: calendar_day::Model) -> Self {
        Self {
            date: day.date,
            kind: day.kind,
            name: day.name,
        }
    }
}

/// A year's working-day calendar.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarResponse {
    /// The year.
    #[schema(example = 2026)]
    pub year: i32,
    /// Whether the year was loaded. When not, working days are Monday to Friday and holidays
    /// are not skipped (deadlines and the duty roster count on plain weekends).
    pub loaded: bool,
    /// When it was loaded.
    pub loaded_at: Option<DateTime<Utc>>,
    /// The exceptions, by date; every other Monday to Friday is a working day.
    pub days: Vec<CalendarDayResponse>,
}

impl From<YearCalendar> for CalendarResponse {
    fn from(calendar: YearCalendar) -> Self {
        Self {
            year: calendar.year,
            loaded: calendar.loaded.is_some(),
            loaded_at: calendar.loaded.map(|year| year.loaded_at),
            days: calendar
                .days
                .into_iter()
                .map(CalendarDayResponse::from)
                .collect(),
        }
    }
}

/// One exception day to load.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CalendarDayRequest {
    /// The day, in the year of the path.
    pub date: NaiveDate,
    /// `holiday` (any day) or `workday` (a make-up working day: a Saturday or Sunday).
    pub kind: DayKind,
    /// What it is for.
    #[validate(
        length(min = 1, max = 50),
        custom(function = "crate::validation::not_blank")
    )]
    #[schema(min_length = 1, max_length = 50, pattern = "\\S", example = "春节")]
    pub name: String,
}

/// A year's exceptions, replacing whatever the year had.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct PutCalendarRequest {
    /// The holidays and make-up working days of the year (at most 366).
    #[validate(nested)]
    #[schema(max_items = 366)]
    pub days: Vec<CalendarDayRequest>,
}

/// A year's working-day calendar (any signed-in caller): its holidays and make-up working
/// days, and whether it was loaded at all.
#[utoipa::path(
    tag = "calendar",
    params(("year" = i32, Path, minimum = 2000, maximum = 2100, description = "The year, 2000–2100.")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The year's calendar (`loaded: false` and no days if nobody loaded it).", body = CalendarResponse),
        (status = 422, description = "A year outside 2000–2100.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/calendar/{year}")]
async fn get_calendar(
    _user: AuthUser,
    state: web::Data<AppState>,
    year: web::Path<i32>,
) -> ApiResult<web::Json<CalendarResponse>> {
    let calendar = calendar::find_year(&state.db, *year).await?;
    Ok(web::Json(calendar.into()))
}

/// Loads a year's calendar (admins of the whole deployment: the calendar moves every deadline
/// given in working days and every duty roster, so an admin anchored at a town or village, or
/// an admin API token with a scope, is refused 403): the given holidays and make-up working
/// days replace the year's, all at once. Every date must be in the year; a make-up working day must be a
/// Saturday or Sunday (a holiday may fall on a weekend). An empty list loads a year with no
/// exceptions.
#[utoipa::path(
    tag = "calendar",
    params(("year" = i32, Path, minimum = 2000, maximum = 2100, description = "The year, 2000–2100.")),
    request_body = PutCalendarRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The year's calendar as loaded.", body = CalendarResponse),
        (status = 422, description = "An entry is wrong (`errors` names it: `days[3].kind`), or the year is out of range.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[put("/calendar/{year}")]
async fn put_calendar(
    user: AuthUser,
    state: web::Data<AppState>,
    year: web::Path<i32>,
    body: web::Json<PutCalendarRequest>,
) -> ApiResult<web::Json<CalendarResponse>> {
    if *user.scope() != Scope::All {
        return Err(ApiError::Forbidden(
            "The calendar is the whole deployment's; only admins of the whole deployment load it."
                .to_owned(),
        ));
    }
    body.validate()?;
    if body.days.len() > 366 {
        return Err(ApiError::invalid_field(
            "days",
            "too_many",
            "A year has at most 366 days.",
        ));
    }
    let year = *year;
    let days: Vec<NewCalendarDay> = body
        .into_inner()
        .days
        .into_iter()
        .map(|day| NewCalendarDay {
            date: day.date,
            kind: day.kind,
            name: day.name,
        })
        .collect();
    let count = |kind: DayKind| days.iter().filter(|day| day.kind == kind).count();
    let changes = json!({
        "year": year,
        "holidays": count(DayKind::Holiday),
        "workdays": count(DayKind::Workday),
    });
    let actor = user.audit_actor();
    let txn = begin_write(&state.db).await?;
    let Some(calendar) = calendar::replace_year(&txn, year, days, actor.actor_id).await? else {
        // Loaded with exactly these days already (a retry): nothing written, no audit row.
        let stored = calendar::find_year(&txn, year).await?;
        crate::db::commit(txn).await?;
        return Ok(web::Json(stored.into()));
    };
    audit::record(
        &txn,
        &actor,
        AuditEntry {
            action: "calendar.replace",
            entity_type: "calendar_year",
            entity_id: None,
            changes: Some(changes),
        },
    )
    .await?;
    crate::db::commit(txn).await?;
    Ok(web::Json(calendar.into()))
}
