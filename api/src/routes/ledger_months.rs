//! `/api/v1/ledger/monthly/{YYYY-MM}`: the monthly review of the ledger (月度台账) and its
//! sign-off. A signed month is answered from its frozen copy.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;
use validator::Validate;

use crate::{
    audit::{self, AuditEntry},
    auth::{Actor, AuthUser},
    dashboard,
    db::begin_write,
    error::{ApiResult, Problem},
    ledger::{
        export::{self, DownloadName, ExportFormat, ExportRow},
        monthly::{self, Month, MonthlyLedger},
    },
    privacy,
    startup::AppState,
};

/// Registers the monthly ledger routes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(get_monthly_ledger)
        .service(sign_off_month)
        .service(export_monthly_ledger);
}

/// Which place's month.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MonthQuery {
    /// The town or county (default: your own).
    pub org_unit_id: Option<Uuid>,
}

/// Who signed a month off.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignOffResponse {
    /// The leader.
    pub signed_by: Uuid,
    /// Their name.
    pub signed_by_name: String,
    /// When.
    pub signed_at: DateTime<Utc>,
    /// Their remark.
    pub note: Option<String>,
}

impl SignOffResponse {
    /// A stored sign-off, with the signer's name.
    async fn of(state: &AppState, row: entity::ledger_month::Model) -> ApiResult<Self> {
        let names = dashboard::user_names(&state.db, vec![row.signed_by]).await?;
        Ok(Self {
            signed_by: row.signed_by,
            signed_by_name: names.get(&row.signed_by).cloned().unwrap_or_default(),
            signed_at: row.signed_at,
            note: row.note,
        })
    }
}

/// How many lines each part holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonthlyCounts {
    /// 本月新增.
    pub new: usize,
    /// 本月销号.
    pub struck_off: usize,
    /// 结转下月.
    pub carried_over: usize,
}

/// A month's ledger, with its sign-off if it has one.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonthlyLedgerResponse {
    /// The ledger.
    #[serde(flatten)]
    pub ledger: MonthlyLedger,
    /// The counts.
    pub counts: MonthlyCounts,
    /// The sign-off; a signed month is frozen (this is the copy kept when it was signed).
    pub signed_off: Option<SignOffResponse>,
}

/// A sign-off.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct SignOffRequest {
    /// The town or county (default: your own).
    pub org_unit_id: Option<Uuid>,
    /// A remark.
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

fn respond(
    ledger: MonthlyLedger,
    user: &AuthUser,
    signed_off: Option<SignOffResponse>,
) -> MonthlyLedgerResponse {
    let reader = match user.principal.actor {
        Actor::User { id } => Some(id),
        Actor::ApiToken { .. } => None,
    };
    let ledger = ledger.for_reader(reader, privacy::sees_names(user.principal.role));
    MonthlyLedgerResponse {
        counts: MonthlyCounts {
            new: ledger.new.len(),
            struck_off: ledger.struck_off.len(),
            carried_over: ledger.carried_over.len(),
        },
        ledger,
        signed_off,
    }
}

/// The month's ledger as the caller may read it: the frozen copy of a signed month (with its
/// sign-off), else computed now.
async fn read_month(
    state: &AppState,
    user: &AuthUser,
    month: Month,
    place: &entity::org_unit::Model,
) -> ApiResult<MonthlyLedgerResponse> {
    if let Some(sign_off) = monthly::find_sign_off(&state.db, place.id, month).await? {
        let ledger = monthly::frozen(&sign_off)?;
        let signed = SignOffResponse::of(state, sign_off).await?;
        return Ok(respond(ledger, user, Some(signed)));
    }
    let ledger = monthly::compute(&state.db, &state.clock, place, month).await?;
    Ok(respond(ledger, user, None))
}

/// The month's ledger of a town or county: issues new this month, struck off this month, and
/// carried over with their progress as at the month's end. A signed-off month is answered
/// from the copy frozen when it was signed.
#[utoipa::path(
    tag = "ledger",
    params(("month" = String, Path, description = "`YYYY-MM`.", example = "2026-05"), MonthQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The month's ledger.", body = MonthlyLedgerResponse),
        (status = 404, description = "No such org unit in your scope.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`month` is not `YYYY-MM`, or (`in_future`) the month has not begun.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/ledger/monthly/{month}")]
async fn get_monthly_ledger(
    user: AuthUser,
    state: web::Data<AppState>,
    month: web::Path<String>,
    query: web::Query<MonthQuery>,
) -> ApiResult<web::Json<MonthlyLedgerResponse>> {
    let month = Month::parse(&month)?;
    monthly::check_begun(&state.clock, month)?;
    let place = dashboard::place_of(&state.db, user.scope(), query.org_unit_id).await?;
    monthly::check_place(&place)?;
    Ok(web::Json(read_month(&state, &user, month, &place).await?))
}

/// Signs the month off (leaders): the month's ledger is kept as it is now and no later change
/// alters it. Once per place and month.
#[utoipa::path(
    tag = "ledger",
    params(("month" = String, Path, description = "`YYYY-MM`.", example = "2026-05")),
    request_body = SignOffRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Signed; the frozen ledger.", body = MonthlyLedgerResponse),
        (status = 404, description = "No such org unit in your scope.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The month is signed off already.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/ledger/monthly/{month}/sign-off")]
async fn sign_off_month(
    user: AuthUser,
    state: web::Data<AppState>,
    month: web::Path<String>,
    body: web::Json<SignOffRequest>,
) -> ApiResult<HttpResponse> {
    body.validate()?;
    let body = body.into_inner();
    let month = Month::parse(&month)?;
    let signer = user.user_id()?;
    let place = dashboard::place_of(&state.db, user.scope(), body.org_unit_id).await?;
    monthly::check_sign_off(&state.db, &state.clock, &place, month).await?;
    let ledger = monthly::compute(&state.db, &state.clock, &place, month).await?;
    let txn = begin_write(&state.db).await?;
    let row =
        monthly::sign_off(&txn, &state.clock, &place, month, signer, body.note, ledger).await?;
    audit::record(
        &txn,
        &user.audit_actor(),
        AuditEntry::new("ledger_month.sign_off", "ledger_month", row.id).with_changes(
            serde_json::json!({"org_unit_id": place.id, "month": row.month, "note": row.note}),
        ),
    )
    .await?;
    crate::db::commit(txn).await?;
    let ledger = monthly::frozen(&row)?;
    let signed = SignOffResponse::of(&state, row).await?;
    Ok(HttpResponse::Created().json(respond(ledger, &user, Some(signed))))
}

/// Which place's month, and the file format.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MonthExportQuery {
    /// `xlsx` (default) or `csv`.
    #[param(value_type = Option<ExportFormat>, inline)]
    pub format: Option<String>,
    /// The town or county (default: your own).
    pub org_unit_id: Option<Uuid>,
}

/// The month's ledger as a spreadsheet — every line once (new, carried over, struck off) with
/// its status and progress at the month's end, by deadline; a signed month as frozen. Same
/// columns, formats and limits as `GET /api/v1/ledger/export`; overdue means past its deadline
/// and still open at the month's end.
#[utoipa::path(
    tag = "ledger",
    params(("month" = String, Path, description = "`YYYY-MM`.", example = "2026-05"), MonthExportQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The month's ledger as a file (`Content-Disposition: attachment`).",
            content(
                ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                (String = "text/csv"),
            ),
        ),
        (status = 404, description = "No such org unit in your scope.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`month` is not `YYYY-MM`, or (`in_future`) the month has not begun.", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many exports running; retry after `Retry-After` seconds.", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ),
)]
#[get("/ledger/monthly/{month}/export")]
async fn export_monthly_ledger(
    user: AuthUser,
    state: web::Data<AppState>,
    month: web::Path<String>,
    query: web::Query<MonthExportQuery>,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let format = ExportFormat::parse(query.format.as_deref())?;
    let month = Month::parse(&month)?;
    monthly::check_begun(&state.clock, month)?;
    let place = dashboard::place_of(&state.db, user.scope(), query.org_unit_id).await?;
    monthly::check_place(&place)?;
    // The permit first: computing the month is most of an export's work, and the limit of
    // exports at once must bound it.
    let permit = state.exports.try_start(&user.principal)?;
    let read = read_month(&state, &user, month, &place).await?;
    let as_of = month.lines_as_of(state.clock.date_of(read.ledger.generated_at));
    let mut items: Vec<&monthly::MonthlyItem> = read.ledger.all_items();
    items.sort_by_key(|item| (item.deadline, item.issue_id));
    let rows: Vec<ExportRow> = items
        .into_iter()
        .map(|item| ExportRow {
            village: item.village.clone(),
            applicant: item.applicant_name.clone(),
            matter: item.matter.clone(),
            category: item.category,
            level: item.level,
            responsible: item.responsible.clone(),
            deadline: item.deadline,
            progress: item.progress.clone().unwrap_or_default(),
            status: item.status,
            overdue: crate::ledger::is_open(item.status)
                && item.deadline.is_some_and(|deadline| deadline < as_of),
        })
        .collect();
    let name = DownloadName::new(
        &format!("ledger-{month}"),
        &format!("台账-{}-{month}", place.name),
    );
    export::respond(
        permit,
        format,
        &name,
        futures_util::stream::once(async move { Ok(rows) }),
    )
    .await
}
