//! The ledger export: an xlsx a real reader opens, a CSV that round-trips, names masked for
//! viewers, only the rows the caller may see, the filters of the issue list, and the errors.

use calamine::{Data, Reader};
use chrono::{Days, NaiveDate, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::today;
use crate::helpers::{TestApp, demo_id, spawn_app, villages};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

const HEADERS: [&str; 10] = [
    "序号",
    "村",
    "申请人姓名",
    "申办事项",
    "问题类别",
    "层级",
    "责任人",
    "办结时限",
    "办理情况",
    "状态",
];

fn in_days(days: u64) -> NaiveDate {
    today() + Days::new(days)
}

/// A matter raised in a visit, by a named applicant.
fn raised(applicant: &str, category: &str, matter: &str, deadline: NaiveDate) -> Value {
    json!({"id": Uuid::new_v4(), "applicant_name": applicant, "category": category,
           "matter": matter, "deadline": deadline.to_string()})
}

async fn visit(app: &TestApp, token: &str, village: &str, household: usize, issues: Vec<Value>) {
    let body = json!({
        "id": Uuid::new_v4(),
        "household_id": demo_id(&format!("household:{village}:{household}")),
        "channel": "door_to_door",
        "visited_at": Utc::now().to_rfc3339(),
        "issues": issues,
    });
    let response = app.post_json(Some(token), "/api/v1/visits", &body).await;
    assert_eq!(response.status, 201, "{}", response.text);
}

/// The ledger of the tests, by deadline:
///
/// | deadline | village | applicant | matter | category | level | status |
/// | today − 2 (overdue) | 柳树屯村 | 周春生 | 危房改造 | 实际困难 | 村 | 待办 |
/// | today + 5 | 东关村 | 王建华 | 水渠堵塞 | 工作不足 | 村 | 已办结 (水渠已疏通) |
/// | today + 7 | 河湾村 (西河镇, cadre2 王芳) | 马德明 | 河湾村的桥 | 工作不足 | 村 | 待办 |
/// | today + 10 | 东关村 | 张秀兰 | 村东头路灯坏了三盏 | 实际困难 | 村 | 待办 |
/// | today + 20 | 东关村 | 李桂英 | =HYPERLINK("http://x") | 发展建议 | 镇 | 待办 |
///
/// All but 河湾村's are cadre1's (李明), in 东岭镇; one more matter answered on the spot is
/// not in the ledger.
async fn ledger(app: &TestApp) {
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let overdue = raised("周春生", "practical_difficulty", "危房改造", today());
    let overdue_id = overdue["id"]
        .as_str()
        .expect("id")
        .parse::<Uuid>()
        .expect("uuid");
    visit(app, &cadre, villages::LIUSHUTUN, 2, vec![overdue]).await;
    let resolved = raised("王建华", "work_shortcoming", "水渠堵塞", in_days(5));
    let resolved_id = resolved["id"].as_str().expect("id").to_owned();
    let mut suggestion = raised(
        "李桂英",
        "development_suggestion",
        "=HYPERLINK(\"http://x\")",
        in_days(20),
    );
    suggestion["level"] = json!("town");
    let on_spot = json!({"id": Uuid::new_v4(), "category": "practical_difficulty",
        "matter": "当场答复的咨询", "answered_on_spot": true, "spot_answer": "已解答"});
    visit(
        app,
        &cadre,
        villages::DONGGUAN,
        1,
        vec![
            resolved,
            raised(
                "张秀兰",
                "practical_difficulty",
                "村东头路灯坏了三盏",
                in_days(10),
            ),
            suggestion,
            on_spot,
        ],
    )
    .await;
    for (step, note) in [("progress", "已联系施工队"), ("resolve", "水渠已疏通")] {
        let response = app
            .post_json(
                Some(&cadre),
                &format!("/api/v1/issues/{resolved_id}/{step}"),
                &json!({"note": note}),
            )
            .await;
        assert_eq!(response.status, 200, "{step}: {}", response.text);
    }
    let elsewhere = app.token_for("cadre2").await;
    visit(
        app,
        &elsewhere,
        villages::HEWAN,
        3,
        vec![raised(
            "马德明",
            "work_shortcoming",
            "河湾村的桥",
            in_days(7),
        )],
    )
    .await;
    // A deadline cannot be set before the day a matter is raised: age one by hand.
    set_deadline(app, overdue_id, today() - Days::new(2)).await;
}

async fn set_deadline(app: &TestApp, issue: Uuid, deadline: NaiveDate) {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let updated = entity::issue::Entity::update_many()
        .col_expr(entity::issue::Column::Deadline, Expr::value(deadline))
        .filter(entity::issue::Column::Id.eq(issue))
        .exec(&app.db)
        .await
        .expect("set deadline");
    assert_eq!(updated.rows_affected, 1);
}

/// A download read as bytes (the helpers read bodies as text).
struct Download {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Download {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

async fn download(app: &TestApp, token: &str, query: &str) -> Download {
    let response = app
        .client
        .get(format!("{}/api/v1/ledger/export{query}", app.address))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    Download {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.expect("body").to_vec(),
    }
}

/// The sheet's cells as text; dates as `yyyy-mm-dd`, numbers as integers.
pub(crate) fn xlsx_rows(body: &[u8]) -> Vec<Vec<String>> {
    let mut workbook =
        calamine::Xlsx::new(std::io::Cursor::new(body.to_vec())).expect("a readable xlsx");
    assert_eq!(workbook.sheet_names(), vec!["台账".to_owned()]);
    let range = workbook.worksheet_range("台账").expect("sheet 台账");
    range
        .rows()
        .map(|row| {
            row.iter()
                .map(|cell| match cell {
                    Data::String(text) => text.clone(),
                    Data::Float(number) => format!("{number}"),
                    Data::Int(number) => number.to_string(),
                    Data::DateTime(date) => {
                        let (year, month, day, ..) = date.to_ymd_hms_milli();
                        format!("date:{year:04}-{month:02}-{day:02}")
                    }
                    Data::Empty => String::new(),
                    other => format!("{other:?}"),
                })
                .collect()
        })
        .collect()
}

pub(crate) fn csv_rows(body: &[u8]) -> Vec<Vec<String>> {
    let text = body
        .strip_prefix("\u{feff}".as_bytes())
        .expect("starts with the UTF-8 byte-order mark");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text);
    reader
        .records()
        .map(|record| {
            record
                .expect("a CSV record")
                .iter()
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

fn line(cells: [&str; 10]) -> Vec<String> {
    cells.iter().map(|cell| (*cell).to_owned()).collect()
}

#[tokio::test]
async fn the_xlsx_opens_with_chinese_headers_real_dates_and_every_row_the_admin_may_see() {
    let app = spawn_app().await;
    ledger(&app).await;
    let admin = app.token_for("admin").await;

    let response = download(&app, &admin, "").await;

    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.header("content-type"), XLSX);
    assert_eq!(
        response.header("content-disposition"),
        format!(
            "attachment; filename=\"ledger-{today}.xlsx\"; \
             filename*=UTF-8''%E5%8F%B0%E8%B4%A6-{today}.xlsx",
            today = today()
        )
    );
    let rows = xlsx_rows(&response.body);
    let date = |date: NaiveDate| format!("date:{date}");
    let overdue = date(today() - Days::new(2));
    let (d5, d7, d10, d20) = (
        date(in_days(5)),
        date(in_days(7)),
        date(in_days(10)),
        date(in_days(20)),
    );
    assert_eq!(
        rows,
        vec![
            line(HEADERS),
            line([
                "1",
                "柳树屯村",
                "周春生",
                "危房改造",
                "实际困难",
                "村",
                "李明",
                &overdue,
                "",
                "待办"
            ]),
            line([
                "2",
                "东关村",
                "王建华",
                "水渠堵塞",
                "工作不足",
                "村",
                "李明",
                &d5,
                "水渠已疏通",
                "已办结"
            ]),
            line([
                "3",
                "河湾村",
                "马德明",
                "河湾村的桥",
                "工作不足",
                "村",
                "王芳",
                &d7,
                "",
                "待办"
            ]),
            line([
                "4",
                "东关村",
                "张秀兰",
                "村东头路灯坏了三盏",
                "实际困难",
                "村",
                "李明",
                &d10,
                "",
                "待办"
            ]),
            line([
                "5",
                "东关村",
                "李桂英",
                "=HYPERLINK(\"http://x\")",
                "发展建议",
                "镇",
                "李明",
                &d20,
                "",
                "待办"
            ]),
        ],
        "办结时限 is a date cell, not text; the on-the-spot answer is not in the ledger"
    );
}

#[tokio::test]
async fn the_csv_round_trips_with_a_bom_crlf_and_formulas_neutralised() {
    let app = spawn_app().await;
    ledger(&app).await;
    let leader = app.token_for("leader1").await;

    let response = download(&app, &leader, "?format=csv").await;

    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(response.header("content-type"), "text/csv; charset=utf-8");
    assert!(
        response
            .header("content-disposition")
            .ends_with(&format!("%E5%8F%B0%E8%B4%A6-{}.csv", today()))
    );
    let text = String::from_utf8(response.body.clone()).expect("UTF-8");
    assert_eq!(
        text.matches('\n').count(),
        text.matches("\r\n").count(),
        "every line ends in CRLF"
    );
    let (overdue, d5, d10, d20) = (
        (today() - Days::new(2)).to_string(),
        in_days(5).to_string(),
        in_days(10).to_string(),
        in_days(20).to_string(),
    );
    assert_eq!(
        csv_rows(&response.body),
        vec![
            line(HEADERS),
            line([
                "1",
                "柳树屯村",
                "周春生",
                "危房改造",
                "实际困难",
                "村",
                "李明",
                &overdue,
                "",
                "待办"
            ]),
            line([
                "2",
                "东关村",
                "王建华",
                "水渠堵塞",
                "工作不足",
                "村",
                "李明",
                &d5,
                "水渠已疏通",
                "已办结"
            ]),
            line([
                "3",
                "东关村",
                "张秀兰",
                "村东头路灯坏了三盏",
                "实际困难",
                "村",
                "李明",
                &d10,
                "",
                "待办"
            ]),
            line([
                "4",
                "东关村",
                "李桂英",
                "'=HYPERLINK(\"http://x\")",
                "发展建议",
                "镇",
                "李明",
                &d20,
                "",
                "待办"
            ]),
        ],
        "a leader of 东岭镇 gets none of 西河镇's rows"
    );
}

#[tokio::test]
async fn viewers_get_masked_names_in_both_formats_and_a_town_token_only_its_town() {
    let app = spawn_app().await;
    ledger(&app).await;
    let viewer = app.token_for("viewer1").await;
    let admin = app.token_for("admin").await;
    let town_token = app.scoped_api_token(&admin, "viewer", "371526101").await;

    let xlsx = download(&app, &viewer, "?format=xlsx").await;
    let csv = download(&app, &viewer, "?format=csv").await;
    let town = download(&app, &town_token, "?format=csv").await;

    assert_eq!(xlsx.status, 200);
    assert_eq!(csv.status, 200);
    let masked = vec!["周**", "王**", "马**", "张**", "李**"];
    let applicants = |rows: Vec<Vec<String>>| -> Vec<String> {
        rows.into_iter().skip(1).map(|row| row[2].clone()).collect()
    };
    assert_eq!(applicants(xlsx_rows(&xlsx.body)), masked);
    assert_eq!(applicants(csv_rows(&csv.body)), masked);
    for name in ["周春生", "王建华", "马德明", "张秀兰", "李桂英"] {
        assert!(!String::from_utf8_lossy(&csv.body).contains(name), "{name}");
    }
    assert_eq!(town.status, 200, "{}", String::from_utf8_lossy(&town.body));
    let town_rows = csv_rows(&town.body);
    assert_eq!(
        town_rows.len(),
        2,
        "the header and 河湾村's one row: {town_rows:?}"
    );
    assert_eq!(town_rows[1][1..4], ["河湾村", "马**", "河湾村的桥"]);
}

#[tokio::test]
async fn the_filters_of_the_issue_list_apply_to_the_export() {
    let app = spawn_app().await;
    ledger(&app).await;
    let leader = app.token_for("leader1").await;
    let matters = |body: &[u8]| -> Vec<String> {
        csv_rows(body)
            .into_iter()
            .skip(1)
            .map(|row| row[3].clone())
            .collect()
    };

    let open = download(&app, &leader, "?format=csv&status=open").await;
    let overdue = download(&app, &leader, "?format=csv&overdue=true").await;
    let town_level = download(&app, &leader, "?format=csv&level=town").await;
    let village = download(
        &app,
        &leader,
        &format!("?format=csv&village_id={}", demo_id(villages::LIUSHUTUN)),
    )
    .await;

    assert_eq!(
        matters(&open.body),
        vec![
            "危房改造",
            "村东头路灯坏了三盏",
            "'=HYPERLINK(\"http://x\")"
        ]
    );
    assert_eq!(matters(&overdue.body), vec!["危房改造"]);
    assert_eq!(matters(&town_level.body), vec!["'=HYPERLINK(\"http://x\")"]);
    assert_eq!(matters(&village.body), vec!["危房改造"]);
    let within = download(
        &app,
        &leader,
        &format!("?format=csv&org_unit_id={}", demo_id(villages::LIUSHUTUN)),
    )
    .await;
    let outside = download(
        &app,
        &leader,
        &format!("?org_unit_id={}", demo_id(villages::HEWAN)),
    )
    .await;
    assert_eq!(matters(&within.body), vec!["危房改造"]);
    assert_eq!(
        outside.status, 404,
        "another town's village is not confirmed"
    );
}

#[tokio::test]
async fn an_unknown_format_or_parameter_is_refused_and_only_leaders_viewers_and_admins_export() {
    let app = spawn_app().await;
    app.seed().await;
    let leader = app.token_for("leader1").await;

    let pdf = download(&app, &leader, "?format=pdf").await;
    let bad_status = download(&app, &leader, "?status=lost").await;
    let paged = download(&app, &leader, "?limit=10").await;

    assert_eq!(pdf.status, 422);
    assert_eq!(pdf.header("content-type"), "application/problem+json");
    assert_eq!(pdf.json()["code"], "validation_failed");
    assert_eq!(pdf.json()["errors"][0]["field"], "format");
    assert_eq!(bad_status.status, 422);
    assert_eq!(bad_status.json()["errors"][0]["field"], "status");
    assert_eq!(paged.status, 400, "the export is not paged");
    assert_eq!(paged.json()["code"], "invalid_query_parameter");
    for (username, status) in [
        ("admin", 200),
        ("viewer1", 200),
        ("cadre1", 403),
        ("official1", 403),
        ("dept1", 403),
    ] {
        let token = app.token_for(username).await;
        assert_eq!(
            download(&app, &token, "").await.status,
            status,
            "{username}"
        );
    }
    let anonymous = app.get("/api/v1/ledger/export").await;
    anonymous.assert_problem(401, "unauthorized");
}

#[tokio::test]
async fn small_pages_give_the_same_rows_in_the_same_order_as_one_large_page() {
    use futures_util::StreamExt;
    let app = spawn_app().await;
    ledger(&app).await;
    // Two more matters due the same day as the street lights: ties are ordered by id.
    let cadre = app.token_for("cadre1").await;
    visit(
        &app,
        &cadre,
        villages::DONGGUAN,
        4,
        vec![
            raised("吴丽华", "practical_difficulty", "低保申请", in_days(10)),
            raised(
                "吴丽华",
                "development_suggestion",
                "修文化广场",
                in_days(10),
            ),
        ],
    )
    .await;
    let admin = api::auth::Principal {
        actor: api::auth::Actor::User {
            id: demo_id("user:admin"),
        },
        role: entity::user::Role::Admin,
        scope: api::access::Scope::All,
    };
    let deadlines = api::ledger::Deadlines {
        today: today(),
        due_soon_days: 3,
    };
    let pages = |page_size: u64| {
        api::ledger::export::ledger_rows(
            app.db.clone(),
            admin.clone(),
            api::ledger::LedgerFilter::default(),
            deadlines,
            page_size,
        )
        .map(|page| page.expect("a page"))
        .collect::<Vec<_>>()
    };

    let small = pages(2).await;
    let large = pages(1_000).await;

    let sizes: Vec<usize> = small.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![2, 2, 2, 1], "seven rows in pages of two");
    assert_eq!(large.len(), 1);
    let small: Vec<_> = small.into_iter().flatten().collect();
    assert_eq!(small, large[0]);
    // Later pages name their rows from what the first pages read.
    assert!(
        small
            .iter()
            .all(|row| !row.village.is_empty() && !row.responsible.is_empty()),
        "{small:?}"
    );
    let deadlines: Vec<_> = small.iter().map(|row| row.deadline).collect();
    assert!(deadlines.is_sorted(), "{deadlines:?}");
    assert!(small[0].overdue && small.iter().skip(1).all(|row| !row.overdue));
}

#[tokio::test]
async fn an_export_with_nothing_to_list_is_a_header_only_file() {
    let app = spawn_app().await;
    app.seed().await;
    let viewer = app.token_for("viewer1").await;
    for format in ["csv", "xlsx"] {
        let file = download(&app, &viewer, &format!("?format={format}&status=closed")).await;
        assert_eq!(file.status, 200, "{format}");
        let rows = if format == "csv" {
            csv_rows(&file.body)
        } else {
            xlsx_rows(&file.body)
        };
        assert_eq!(rows.len(), 1, "the header only ({format})");
        assert_eq!(rows[0][0], "序号");
    }
}
