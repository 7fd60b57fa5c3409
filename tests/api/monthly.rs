//! The monthly ledger: what is new, struck off and carried over in a month, and the sign-off
//! that freezes it.

use chrono::{DateTime, Datelike, Days, Months, Utc};
use entity::{issue, issue_event};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::today;
use crate::helpers::{TestApp, demo_id, spawn_app, villages};

fn this_month() -> String {
    today().format("%Y-%m").to_string()
}

/// The 10th of last month at noon, China time.
fn in_last_month() -> DateTime<Utc> {
    let first = today().with_day(1).expect("first") - Months::new(1);
    (first + Days::new(9))
        .and_hms_opt(4, 0, 0)
        .expect("noon in China")
        .and_utc()
}

fn last_month() -> String {
    in_last_month().format("%Y-%m").to_string()
}

async fn record(app: &TestApp, token: &str, matters: &[&str]) -> Vec<String> {
    let deadline = (today() + Days::new(30)).to_string();
    let issues: Vec<Value> = matters
        .iter()
        .map(|matter| {
            json!({"id": Uuid::new_v4(), "category": "practical_difficulty",
                   "matter": matter, "deadline": deadline})
        })
        .collect();
    let body = json!({
        "id": Uuid::new_v4(),
        "household_id": demo_id(&format!("household:{}:3", villages::DONGGUAN)),
        "channel": "door_to_door",
        "visited_at": Utc::now().to_rfc3339(),
        "issues": issues,
    });
    let response = app.post_json(Some(token), "/api/v1/visits", &body).await;
    assert_eq!(response.status, 201, "{}", response.text);
    response.json()["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|issue| issue["id"].as_str().expect("id").to_owned())
        .collect()
}

async fn step(app: &TestApp, token: &str, issue: &str, step: &str, body: Value) {
    let response = app
        .post_json(
            Some(token),
            &format!("/api/v1/issues/{issue}/{step}"),
            &body,
        )
        .await;
    assert_eq!(response.status, 200, "{step}: {}", response.text);
}

async fn strike_off(app: &TestApp, cadre: &str, leader: &str, issue: &str) {
    step(app, cadre, issue, "resolve", json!({"note": "已修好"})).await;
    step(app, cadre, issue, "feedback", json!({"satisfied": true})).await;
    step(app, leader, issue, "close", json!({"note": "销号"})).await;
}

/// Moves an issue, its timeline and (if struck off) its strike-off back into last month.
async fn move_to_last_month(app: &TestApp, id: &str) {
    let id: Uuid = id.parse().expect("uuid");
    let when = in_last_month();
    issue::Entity::update_many()
        .col_expr(issue::Column::CreatedAt, Expr::value(when))
        .filter(issue::Column::Id.eq(id))
        .exec(&app.db)
        .await
        .expect("move issue");
    issue::Entity::update_many()
        .col_expr(
            issue::Column::ClosedAt,
            Expr::value(when + chrono::Duration::hours(2)),
        )
        .filter(issue::Column::Id.eq(id))
        .filter(issue::Column::ClosedAt.is_not_null())
        .exec(&app.db)
        .await
        .expect("move strike-off");
    issue_event::Entity::update_many()
        .col_expr(
            issue_event::Column::OccurredAt,
            Expr::value(when + chrono::Duration::hours(1)),
        )
        .filter(issue_event::Column::IssueId.eq(id))
        .exec(&app.db)
        .await
        .expect("move timeline");
}

fn matters(ledger: &Value, part: &str) -> Vec<String> {
    let mut matters: Vec<String> = ledger[part]
        .as_array()
        .unwrap_or_else(|| panic!("{part} in {ledger}"))
        .iter()
        .map(|item| item["matter"].as_str().expect("matter").to_owned())
        .collect();
    matters.sort();
    matters
}

#[tokio::test]
async fn a_month_lists_what_is_new_struck_off_and_carried_over() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let leader = app.token_for("leader1").await;
    let ids = record(
        &app,
        &cadre,
        &[
            "A 本月新增未办结",
            "B 本月新增已销号",
            "C 上月结转",
            "D 上月已销号",
        ],
    )
    .await;
    step(
        &app,
        &cadre,
        &ids[0],
        "progress",
        json!({"note": "已联系施工队"}),
    )
    .await;
    strike_off(&app, &cadre, &leader, &ids[1]).await;
    strike_off(&app, &cadre, &leader, &ids[3]).await;
    move_to_last_month(&app, &ids[2]).await;
    move_to_last_month(&app, &ids[3]).await;
    // Raised last month with nothing done by its end; a note written this month is this
    // month's, not last month's.
    step(
        &app,
        &cadre,
        &ids[2],
        "progress",
        json!({"note": "本月才联系"}),
    )
    .await;

    let response = app
        .get_as(&leader, &format!("/api/v1/ledger/monthly/{}", this_month()))
        .await;
    assert_eq!(response.status, 200, "{}", response.text);
    let month = response.json();
    assert_eq!(
        matters(&month, "new"),
        ["A 本月新增未办结", "B 本月新增已销号"]
    );
    assert_eq!(matters(&month, "struck_off"), ["B 本月新增已销号"]);
    assert_eq!(
        matters(&month, "carried_over"),
        ["A 本月新增未办结", "C 上月结转"]
    );
    assert_eq!(
        month["counts"],
        json!({"new": 2, "struck_off": 1, "carried_over": 2})
    );
    assert_eq!(month["signed_off"], Value::Null);
    let a = month["carried_over"]
        .as_array()
        .expect("items")
        .iter()
        .find(|item| item["matter"] == "A 本月新增未办结")
        .expect("A");
    assert_eq!(
        (&a["progress"], &a["status"]),
        (&json!("已联系施工队"), &json!("in_progress"))
    );
    assert_eq!(
        (&a["village"], &a["responsible"]),
        (&json!("东关村"), &json!("李明"))
    );

    let previous = app
        .get_as(&leader, &format!("/api/v1/ledger/monthly/{}", last_month()))
        .await
        .json();
    assert_eq!(matters(&previous, "new"), ["C 上月结转", "D 上月已销号"]);
    assert_eq!(matters(&previous, "struck_off"), ["D 上月已销号"]);
    assert_eq!(matters(&previous, "carried_over"), ["C 上月结转"]);
    let c_then = &previous["carried_over"][0];
    assert_eq!(
        (&c_then["progress"], &c_then["status"]),
        (&Value::Null, &json!("open")),
        "as it stood at the month's end: {c_then}"
    );
    let c_now = month["carried_over"]
        .as_array()
        .expect("items")
        .iter()
        .find(|item| item["matter"] == "C 上月结转")
        .expect("C");
    assert_eq!(c_now["progress"], "本月才联系");
}

#[tokio::test]
async fn a_signed_month_is_frozen_and_signed_only_once() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let leader = app.token_for("leader1").await;
    let ids = record(&app, &cadre, &["路灯维修"]).await;
    step(&app, &cadre, &ids[0], "progress", json!({"note": "已报修"})).await;
    let path = format!("/api/v1/ledger/monthly/{}", this_month());
    let audit_before = app.audit_count().await;

    let signed = app
        .post_json(
            Some(&leader),
            &format!("{path}/sign-off"),
            &json!({"note": "本月台账已审"}),
        )
        .await;
    assert_eq!(signed.status, 201, "{}", signed.text);
    assert_eq!(app.audit_count().await, audit_before + 1);
    step(
        &app,
        &cadre,
        &ids[0],
        "progress",
        json!({"note": "签字之后的新进展"}),
    )
    .await;
    record(&app, &cadre, &["签字之后的新事项"]).await;

    let month = app.get_as(&leader, &path).await.json();
    assert_eq!(
        matters(&month, "new"),
        ["路灯维修"],
        "later issues don't enter a signed month"
    );
    assert_eq!(month["carried_over"][0]["progress"], "已报修");
    assert_eq!(
        month["signed_off"]["signed_by"],
        demo_id("user:leader1").to_string()
    );
    assert_eq!(month["signed_off"]["signed_by_name"], "赵建国");
    assert_eq!(month["signed_off"]["note"], "本月台账已审");

    for format in ["csv", "xlsx"] {
        let response = app
            .client
            .get(format!("{}{path}/export?format={format}", app.address))
            .bearer_auth(&leader)
            .send()
            .await
            .expect("export");
        assert_eq!(response.status().as_u16(), 200, "{format}");
        let body = response.bytes().await.expect("body").to_vec();
        let rows = if format == "csv" {
            crate::export::csv_rows(&body)
        } else {
            crate::export::xlsx_rows(&body)
        };
        assert_eq!(
            rows.len(),
            2,
            "the header and the month's one line ({format})"
        );
        assert_eq!(
            (
                &rows[1][1],
                &rows[1][3],
                &rows[1][6],
                &rows[1][8],
                &rows[1][9]
            ),
            (
                &"东关村".to_owned(),
                &"路灯维修".to_owned(),
                &"李明".to_owned(),
                &"已报修".to_owned(),
                &"办理中".to_owned()
            ),
            "the frozen line, as signed ({format})"
        );
    }
    app.post_json(Some(&leader), &format!("{path}/sign-off"), &json!({}))
        .await
        .assert_problem(409, "month_signed_off");
    app.post_json(Some(&cadre), &format!("{path}/sign-off"), &json!({}))
        .await
        .assert_problem(403, "forbidden");
    let next = (today().with_day(1).expect("first") + Months::new(1)).format("%Y-%m");
    app.post_json(
        Some(&leader),
        &format!("/api/v1/ledger/monthly/{next}/sign-off"),
        &json!({}),
    )
    .await
    .assert_problem(422, "validation_failed");
    // A month to come has no ledger yet, to read or to export.
    for path in [
        format!("/api/v1/ledger/monthly/{next}"),
        format!("/api/v1/ledger/monthly/{next}/export?format=csv"),
    ] {
        let to_come = app.get_as(&leader, &path).await;
        to_come.assert_problem(422, "validation_failed");
        assert_eq!(to_come.json()["errors"][0]["code"], "in_future", "{path}");
    }
}

#[tokio::test]
async fn the_monthly_ledger_is_masked_for_viewers_and_kept_to_the_scope() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    record(&app, &cadre, &["修桥"]).await;
    let viewer = app.token_for("viewer1").await;
    let town = demo_id("371526100");
    let month = app
        .get_as(
            &viewer,
            &format!("/api/v1/ledger/monthly/{}?org_unit_id={town}", this_month()),
        )
        .await
        .json();
    let name = month["new"][0]["applicant_name"].as_str().expect("name");
    assert!(name.ends_with('*'), "masked: {name}");
    let leader = app.token_for("leader1").await;
    app.get_as(
        &leader,
        &format!(
            "/api/v1/ledger/monthly/{}?org_unit_id={}",
            this_month(),
            demo_id("371526101")
        ),
    )
    .await
    .assert_problem(404, "not_found");
    app.get_as(
        &leader,
        &format!(
            "/api/v1/ledger/monthly/{}?org_unit_id={}",
            this_month(),
            demo_id(villages::DONGGUAN)
        ),
    )
    .await
    .assert_problem(422, "validation_failed");
    for bad in ["2026-13", "2026-5", "latest"] {
        app.get_as(&leader, &format!("/api/v1/ledger/monthly/{bad}"))
            .await
            .assert_problem(422, "validation_failed");
    }
    let count = app
        .get_as(&leader, &format!("/api/v1/ledger/monthly/{}", this_month()))
        .await
        .json()["counts"]["new"]
        .clone();
    assert_eq!(count, json!(1));
}

#[tokio::test]
async fn a_reopened_matter_shows_why_it_was_reopened_not_the_resolution_it_overturned() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let leader = app.token_for("leader1").await;
    let id = record(&app, &cadre, &["E 排水沟又堵了"]).await.remove(0);
    step(&app, &cadre, &id, "resolve", json!({"note": "已疏通"})).await;
    step(
        &app,
        &leader,
        &id,
        "reopen",
        json!({"note": "群众反映又堵了"}),
    )
    .await;
    let issue = app
        .get_as(&leader, &format!("/api/v1/issues/{id}"))
        .await
        .json();

    let month = app
        .get_as(&leader, &format!("/api/v1/ledger/monthly/{}", this_month()))
        .await
        .json();

    let item = &month["carried_over"][0];
    assert_eq!(item["matter"], "E 排水沟又堵了", "{month}");
    assert_eq!(
        (&item["status"], &item["progress"]),
        (&json!("in_progress"), &json!("群众反映又堵了"))
    );
    assert_eq!(
        issue["latest_progress"], "群众反映又堵了",
        "the issue itself says the same: {issue}"
    );
}
