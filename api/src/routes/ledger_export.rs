//! `GET /api/v1/ledger/export`: the ledger (台账) as a spreadsheet — xlsx or CSV — with the
//! filters of `GET /api/v1/issues`. The writing lives in [`crate::ledger::export`].

use actix_web::{HttpResponse, get, web};
use chrono::NaiveDate;
use entity::issue::{Category, Level};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::{
    auth::AuthUser,
    error::{ApiResult, Problem},
    ledger::export::{self, DownloadName, ExportFormat},
    routes::issues::IssueQuery,
    startup::AppState,
};

/// Registers the export.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(export_ledger);
}

/// The export's format and the ledger's filters (as on `GET /api/v1/issues`, without
/// paging: the export is the whole filtered ledger).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LedgerExportQuery {
    /// `xlsx` (default) or `csv`.
    #[param(value_type = Option<ExportFormat>, inline)]
    pub format: Option<String>,
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
}

impl LedgerExportQuery {
    /// The same filters as the issue list's (one definition of what they mean).
    fn issue_query(self) -> IssueQuery {
        IssueQuery {
            status: self.status,
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
            org_unit_id: self.org_unit_id,
            awaiting_feedback: self.awaiting_feedback,
            closed_since: self.closed_since,
            raised_from: self.raised_from,
            raised_to: self.raised_to,
            limit: None,
            cursor: None,
        }
    }
}

/// The ledger the caller may see, as a spreadsheet to download: columns 序号, 村, 申请人姓名,
/// 申办事项, 问题类别, 层级, 责任人, 办结时限, 办理情况, 状态, in ledger order (deadline). The
/// rows are those `GET /api/v1/issues` lists with the same filters; viewers get applicant
/// names masked (`张**`); there are no phone or ID columns.
///
/// `xlsx` (default): one sheet 台账, frozen bold header with filter buttons, 办结时限 as real
/// dates (`yyyy-mm-dd`), overdue rows filled light red. `csv`: UTF-8 with a byte-order mark,
/// CRLF line ends, cells that start like a formula (`=`, `+`, `-`, `@`) prefixed with `'`;
/// streamed as it is read — if the database fails midway the connection is closed before the
/// end, so the download fails rather than looking complete.
///
/// At most 2 exports run at once per server process, and 1 per caller: beyond that, 429 with
/// `Retry-After`.
#[utoipa::path(
    tag = "ledger",
    params(LedgerExportQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The ledger as a file (`Content-Disposition: attachment`).",
            content(
                ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                (String = "text/csv"),
            ),
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"ledger-2026-11-28.xlsx\"; filename*=UTF-8''%E5%8F%B0%E8%B4%A6-2026-11-28.xlsx`")),
        ),
        (status = 404, description = "`org_unit_id` names no org unit in your scope.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`format` is not `xlsx` or `csv`, or `status` is not a status (`errors` names the parameter).", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many exports running (2 per server, 1 per caller); retry after `Retry-After` seconds.", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ),
)]
#[get("/ledger/export")]
async fn export_ledger(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<LedgerExportQuery>,
) -> ApiResult<HttpResponse> {
    let mut query = query.into_inner();
    let format = ExportFormat::parse(query.format.take().as_deref())?;
    let filter = query.issue_query().filter(&state, &user).await?;
    let permit = state.exports.try_start(&user.principal)?;
    let today = state.clock.today();
    let name = DownloadName::new(&format!("ledger-{today}"), &format!("台账-{today}"));
    let rows = export::ledger_rows(
        state.db.clone(),
        user.principal,
        filter,
        state.deadlines(),
        export::PAGE_SIZE,
    );
    export::respond(permit, format, &name, rows).await
}
