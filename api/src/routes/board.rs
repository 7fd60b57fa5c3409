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
use std::{collections::HashMap, sync::Arc, time::Instant};

use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Select,
};
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
    /// Pending matters, by deadline: at most 300.
    pub pending: Vec<BoardItem>,
    /// Pending matters beyond those listed (0 when all are).
    pub pending_not_shown: u64,
    /// Matters struck off in the last 30 days, the latest first: at most 100.
    pub recently_closed: Vec<BoardItem>,
    /// Struck-off matters of those 30 days beyond those listed.
    pub recently_closed_not_shown: u64,
}

/// The most pending matters a board lists (by deadline), and the most recently struck-off
/// ones (latest first): a board is read and printed by people; the rest is counted.
const PENDING_SHOWN: u64 = 300;
const CLOSED_SHOWN: u64 = 100;

/// How long a board is kept before the database is read again.
const KEPT_FOR: std::time::Duration = std::time::Duration::from_secs(60);

/// The boards, kept a minute per place: anyone may ask as often as they like without signing
/// in, and the database is read for a board at most once a minute per place, one board at a
/// time per process.
#[derive(Debug, Default)]
pub struct KeptBoards {
    kept: std::sync::Mutex<HashMap<Uuid, (Instant, Arc<Board>)>>,
    loading: tokio::sync::Mutex<()>,
}

impl KeptBoards {
    fn fresh(&self, place: Uuid) -> Option<Arc<Board>> {
        let kept = self
            .kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.get(&place)
            .filter(|(at, _)| at.elapsed() < KEPT_FOR)
            .map(|(_, board)| Arc::clone(board))
    }

    async fn get(
        &self,
        state: &AppState,
        place: org_unit::Model,
        condition: Condition,
    ) -> ApiResult<Arc<Board>> {
        if let Some(board) = self.fresh(place.id) {
            return Ok(board);
        }
        let _turn = self.loading.lock().await;
        // Another request may have read it while this one waited.
        if let Some(board) = self.fresh(place.id) {
            return Ok(board);
        }
        let id = place.id;
        let board = Arc::new(board(state, place, condition).await?);
        let mut kept = self
            .kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.retain(|_, (at, _)| at.elapsed() < KEPT_FOR);
        kept.insert(id, (Instant::now(), Arc::clone(&board)));
        Ok(board)
    }
}

async fn board(state: &AppState, place: org_unit::Model, condition: Condition) -> ApiResult<Board> {
    let recent = Utc::now() - Duration::days(RECENT_DAYS);
    let posted = || {
        issue::Entity::find()
            .filter(condition.clone())
            .filter(issue::Column::AnsweredOnSpot.eq(false))
            // Complaints about cadres are never posted.
            .filter(issue::Column::Category.ne(Category::CadreConduct))
    };
    let pending = posted().filter(issue::Column::Status.ne(Status::Closed));
    let closed = posted()
        .filter(issue::Column::Status.eq(Status::Closed))
        .filter(issue::Column::ClosedAt.gte(recent));
    let pending_rows = pending
        .clone()
        .order_by_asc(issue::Column::Deadline)
        .order_by_asc(issue::Column::Id)
        .limit(PENDING_SHOWN)
        .all(&state.db)
        .await?;
    let closed_rows = closed
        .clone()
        .order_by_desc(issue::Column::ClosedAt)
        .order_by_asc(issue::Column::Id)
        .limit(CLOSED_SHOWN)
        .all(&state.db)
        .await?;
    let not_shown = |shown: usize, limit: u64, query: Select<issue::Entity>| async move {
        if (shown as u64) < limit {
            return Ok::<u64, sea_orm::DbErr>(0);
        }
        Ok(query.count(&state.db).await?.saturating_sub(limit))
    };
    let pending_not_shown = not_shown(pending_rows.len(), PENDING_SHOWN, pending).await?;
    let closed_not_shown = not_shown(closed_rows.len(), CLOSED_SHOWN, closed).await?;
    let rows = || pending_rows.iter().chain(&closed_rows);
    // Each person and village once (a town's board lists hundreds of matters of a few dozen
    // people: one id per row would also outgrow the engines' parameter limits).
    let people =
        crate::dashboard::user_names(&state.db, rows().map(|row| row.lead_responsible_id)).await?;
    let villages =
        crate::dashboard::unit_names(&state.db, rows().map(|row| row.village_id)).await?;
    let item = |row: issue::Model| BoardItem {
        village: villages.get(&row.village_id).cloned().unwrap_or_default(),
        applicant: privacy::public_applicant(&row.applicant_name),
        matter: privacy::public_text(&row.matter, &row.applicant_name),
        category: row.category.label().to_owned(),
        responsible: people
            .get(&row.lead_responsible_id)
            .cloned()
            .unwrap_or_default(),
        deadline: row.deadline,
        status: row.status.label().to_owned(),
        progress: row
            .latest_progress
            .map(|text| privacy::public_text(&text, &row.applicant_name)),
    };
    Ok(Board {
        place: place.name,
        generated_at: Utc::now(),
        pending: pending_rows.into_iter().map(item).collect(),
        pending_not_shown,
        recently_closed: closed_rows.into_iter().map(item).collect(),
        recently_closed_not_shown: closed_not_shown,
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The board as a printable A4 page: inline CSS, no scripts, nothing loaded from elsewhere.
fn html(board: &Board) -> String {
    let table = |items: &[BoardItem], not_shown: u64| -> String {
        if items.is_empty() {
            return "<p class=\"none\">暂无</p>".to_owned();
        }
        let more = if not_shown > 0 {
            format!("<p class=\"none\">另有{not_shown}项未列出。</p>")
        } else {
            String::new()
        };
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
            "<table><thead><tr><th>序号</th><th>申请人</th><th>申办事项</th><th>类别</th><th>责任人</th><th>办结时限</th><th>状态</th><th>办理情况</th></tr></thead><tbody>{rows}</tbody></table>{more}"
        )
    };
    format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{place}公开栏</title><style>\
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
        pending = table(&board.pending, board.pending_not_shown),
        closed = table(&board.recently_closed, board.recently_closed_not_shown),
    )
}

/// A board is public and kept a minute: a proxy or a browser may keep it as long.
const PUBLIC_MINUTE: (header::HeaderName, &str) = (header::CACHE_CONTROL, "public, max-age=60");
/// The same address answers JSON or a page by `Accept`: a cache keeps them apart.
const BY_ACCEPT: (header::HeaderName, &str) = (header::VARY, "Accept");

fn respond(req: &HttpRequest, board: &Board) -> HttpResponse {
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html {
        HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header(PUBLIC_MINUTE)
            .insert_header(BY_ACCEPT)
            .body(html(board))
    } else {
        HttpResponse::Ok()
            .insert_header(PUBLIC_MINUTE)
            .insert_header(BY_ACCEPT)
            .json(board)
    }
}

async fn place(state: &AppState, id: Uuid, kind: OrgKind) -> ApiResult<org_unit::Model> {
    org_unit::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .filter(|unit| unit.kind == kind)
        .ok_or_else(|| ApiError::NotFound("No such place.".to_owned()))
}

/// A village's notice board (no sign-in): pending matters (at most 300, by deadline) and those
/// struck off in the last 30 days (the latest 100), the rest counted; applicant names masked,
/// also inside the matter and progress texts, where phones and ID numbers are masked too; no
/// complaints about cadres. Read from the database at most once a minute per place
/// (`Cache-Control: public, max-age=60`).
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
    let board = state.boards.get(&state, village, condition).await?;
    Ok(respond(&req, &board))
}

/// A town's notice board (no sign-in), for all its villages: as the village's, with the same
/// limits and masking, kept a minute.
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
    let board = state.boards.get(&state, town, condition).await?;
    Ok(respond(&req, &board))
}
