//! `/public/villages/{id}/board` and `/public/towns/{id}/board`: the notice board (村务公开栏)
//! — pending and recently struck-off matters, for the public, with no personal data: applicant
//! names masked (`张**`), no phone or ID number, and no cadre-conduct complaints. JSON, or a
//! printable A4 page in Chinese with `Accept: text/html`.

use actix_web::{HttpRequest, HttpResponse, get, http::header, web};
use chrono::{Duration, NaiveDate, Utc};
use entity::{
    issue::{self, Category, Status},
    org_unit::{self, OrgKind},
};
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::{
    error::{ApiError, ApiResult, Problem},
    ledger::labels::Label,
    privacy,
    startup::AppState,
};

/// Registers the public boards.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(get_village_board).service(get_town_board);
}

/// How long a struck-off matter stays on the board.
const RECENT_DAYS: i64 = 30;

/// One matter on the board.
#[derive(Debug, Serialize, ToSchema)]
pub struct BoardItem {
    /// The village.
    #[schema(example = "东关村")]
    pub village: String,
    /// 申请人, masked.
    #[schema(example = "王**")]
    pub applicant: String,
    /// 申办事项.
    pub matter: String,
    /// 问题类别, as people read it.
    #[schema(example = "实际困难")]
    pub category: String,
    /// 责任人: the lead responsible person.
    pub responsible: String,
    /// 办结时限.
    pub deadline: Option<NaiveDate>,
    /// 状态, as people read it.
    #[schema(example = "办理中")]
    pub status: String,
    /// 办理情况.
    pub progress: Option<String>,
}

/// A notice board.
#[derive(Debug, Serialize, ToSchema)]
pub struct Board {
    /// The village or town.
    #[schema(example = "东关村")]
    pub place: String,
    /// When the board was made.
    pub generated_at: chrono::DateTime<Utc>,
    /// Pending matters, by deadline.
    pub pending: Vec<BoardItem>,
    /// Matters struck off in the last 30 days.
    pub recently_closed: Vec<BoardItem>,
}

async fn board(state: &AppState, place: org_unit::Model, condition: Condition) -> ApiResult<Board> {
    let recent = Utc::now() - Duration::days(RECENT_DAYS);
    let rows = issue::Entity::find()
        .filter(condition)
        .filter(issue::Column::AnsweredOnSpot.eq(false))
        // Complaints about cadres are never posted.
        .filter(issue::Column::Category.ne(Category::CadreConduct))
        .filter(
            Condition::any()
                .add(issue::Column::Status.ne(Status::Closed))
                .add(issue::Column::ClosedAt.gte(recent)),
        )
        .order_by_asc(issue::Column::Deadline)
        .order_by_asc(issue::Column::Id)
        .all(&state.db)
        .await?;
    // Each person and village once (a town's board lists hundreds of matters of a few dozen
    // people: one id per row would also outgrow the engines' parameter limits).
    let people =
        crate::dashboard::user_names(&state.db, rows.iter().map(|row| row.lead_responsible_id))
            .await?;
    let villages =
        crate::dashboard::unit_names(&state.db, rows.iter().map(|row| row.village_id)).await?;
    let mut board = Board {
        place: place.name,
        generated_at: Utc::now(),
        pending: Vec::new(),
        recently_closed: Vec::new(),
    };
    for row in rows {
        let item = BoardItem {
            village: villages.get(&row.village_id).cloned().unwrap_or_default(),
            applicant: privacy::mask_name(&row.applicant_name),
            matter: row.matter,
            category: row.category.label().to_owned(),
            responsible: people
                .get(&row.lead_responsible_id)
                .cloned()
                .unwrap_or_default(),
            deadline: row.deadline,
            status: row.status.label().to_owned(),
            progress: row.latest_progress,
        };
        if row.status == Status::Closed {
            board.recently_closed.push(item);
        } else {
            board.pending.push(item);
        }
    }
    Ok(board)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The board as a printable A4 page: inline CSS, no scripts, nothing loaded from elsewhere.
fn html(board: &Board) -> String {
    let table = |items: &[BoardItem]| -> String {
        if items.is_empty() {
            return "<p class=\"none\">暂无</p>".to_owned();
        }
        let rows: String = items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    index + 1,
                    escape(&item.applicant),
                    escape(&item.matter),
                    escape(&item.category),
                    escape(&item.responsible),
                    item.deadline.map(|date| date.to_string()).unwrap_or_default(),
                    escape(&item.status),
                    escape(item.progress.as_deref().unwrap_or("")),
                )
            })
            .collect();
        format!(
            "<table><thead><tr><th>序号</th><th>申请人</th><th>申办事项</th><th>类别</th><th>责任人</th><th>办结时限</th><th>状态</th><th>办理情况</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    };
    format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{place}村务公开栏</title><style>\
@page{{size:A4;margin:15mm}}body{{font-family:\"SimSun\",\"Songti SC\",serif;font-size:11pt;color:#000}}\
h1{{text-align:center;font-size:20pt;margin:0 0 4mm}}h2{{font-size:13pt;margin:6mm 0 2mm}}\
p.meta{{text-align:center;margin:0 0 4mm}}table{{width:100%;border-collapse:collapse}}\
th,td{{border:1px solid #000;padding:1.5mm;vertical-align:top}}th{{background:#eee}}p.none{{margin:2mm 0}}\
</style></head><body><h1>{place}访民情·听民意·解民忧公开栏</h1><p class=\"meta\">公开日期：{date}</p>\
<h2>待办事项</h2>{pending}<h2>近期销号事项</h2>{closed}</body></html>",
        place = escape(&board.place),
        date = board
            .generated_at
            .with_timezone(&crate::clock::CHINA_STANDARD_TIME)
            .format("%Y年%m月%d日"),
        pending = table(&board.pending),
        closed = table(&board.recently_closed),
    )
}

fn respond(req: &HttpRequest, board: Board) -> HttpResponse {
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html {
        HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(html(&board))
    } else {
        HttpResponse::Ok().json(board)
    }
}

async fn place(state: &AppState, id: Uuid, kind: OrgKind) -> ApiResult<org_unit::Model> {
    org_unit::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|unit| unit.kind == kind)
        .ok_or_else(|| ApiError::NotFound("No such place.".to_owned()))
}

/// A village's notice board (no sign-in): pending matters and those struck off in the last 30
/// days, applicant names masked, no contact details, no complaints about cadres.
#[utoipa::path(
    tag = "public",
    params(("id" = Uuid, Path, description = "Village id.")),
    responses(
        (status = 200, description = "The board (JSON; a printable page with `Accept: text/html`).", content((Board = "application/json"), (String = "text/html"))),
        (status = 404, description = "No such village.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/villages/{id}/board")]
async fn get_village_board(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let village = place(&state, *id, OrgKind::Village).await?;
    let condition = Condition::all().add(issue::Column::VillageId.eq(village.id));
    Ok(respond(&req, board(&state, village, condition).await?))
}

/// A town's notice board (no sign-in), for all its villages.
#[utoipa::path(
    tag = "public",
    params(("id" = Uuid, Path, description = "Town id.")),
    responses(
        (status = 200, description = "The board (JSON; a printable page with `Accept: text/html`).", content((Board = "application/json"), (String = "text/html"))),
        (status = 404, description = "No such town.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/towns/{id}/board")]
async fn get_town_board(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let town = place(&state, *id, OrgKind::Town).await?;
    let condition = Condition::all().add(issue::Column::TownId.eq(town.id));
    Ok(respond(&req, board(&state, town, condition).await?))
}
