//! The working-day calendar: loading a year, and deadlines given in working days around
//! Spring Festival and National Day (holidays skipped, make-up working days counted).

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::today;
use crate::helpers::{TestApp, demo_id, spawn_app, villages};

/// The 2026 fixture (test data): Spring Festival off Feb 15–23 with make-up working days on
/// Saturdays Feb 14 and Feb 28; National Day off Oct 1–7 with make-up working days on Sunday
/// Sep 20 and Saturday Oct 10.
pub fn fixture_2026() -> Value {
    let mut days = Vec::new();
    for day in 15..=23 {
        days.push(json!({"date": format!("2026-02-{day:02}"), "kind": "holiday", "name": "春节"}));
    }
    days.push(json!({"date": "2026-02-14", "kind": "workday", "name": "春节调休"}));
    days.push(json!({"date": "2026-02-28", "kind": "workday", "name": "春节调休"}));
    for day in 1..=7 {
        days.push(
            json!({"date": format!("2026-10-{day:02}"), "kind": "holiday", "name": "国庆节"}),
        );
    }
    days.push(json!({"date": "2026-09-20", "kind": "workday", "name": "国庆节调休"}));
    days.push(json!({"date": "2026-10-10", "kind": "workday", "name": "国庆节调休"}));
    json!({"days": days})
}

/// `PUT /api/v1/calendar/{year}`.
async fn put_calendar(
    app: &TestApp,
    token: &str,
    year: &str,
    body: Value,
) -> crate::helpers::TestResponse {
    app.call(
        reqwest::Method::PUT,
        Some(token),
        &format!("/api/v1/calendar/{year}"),
        Some(&body),
    )
    .await
}

/// Loads the 2026 fixture through the API as the admin.
pub async fn load_2026(app: &TestApp) {
    let admin = app.token_for("admin").await;
    let response = app
        .call(
            reqwest::Method::PUT,
            Some(&admin),
            "/api/v1/calendar/2026",
            Some(&fixture_2026()),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text);
}

fn date(text: &str) -> NaiveDate {
    text.parse().expect("date")
}

/// Today in the township (UTC+8).
/// The `days`-th Monday-to-Friday after `start`: what a stretch without holidays or make-up
/// days gives (the fixture has none after 10 October 2026).
fn weekdays_after(start: NaiveDate, days: u32) -> NaiveDate {
    let mut date = start;
    let mut counted = 0;
    while counted < days {
        date = date + Days::new(1);
        if !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
            counted += 1;
        }
    }
    date
}

fn household(index: usize) -> Uuid {
    demo_id(&format!("household:{}:{index}", villages::DONGGUAN))
}

/// A visit by cadre1 at 10:00 local time on `day`, raising these issues.
fn visit_on(day: &str, issues: Vec<Value>) -> Value {
    json!({
        "id": Uuid::new_v4(),
        "household_id": household(1),
        "channel": "door_to_door",
        "visited_at": format!("{day}T02:00:00Z"),
        "issues": issues,
    })
}

fn issue_in(working_days: u32, matter: &str) -> Value {
    json!({"id": Uuid::new_v4(), "category": "practical_difficulty", "matter": matter, "deadline_working_days": working_days})
}

/// Records a visit and returns its issues' deadlines.
async fn deadlines_of(app: &TestApp, token: &str, visit: &Value) -> Vec<String> {
    let response = app.post_json(Some(token), "/api/v1/visits", visit).await;
    assert_eq!(response.status, 201, "{}", response.text);
    response.json()["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|issue| issue["deadline"].as_str().expect("deadline").to_owned())
        .collect()
}

#[tokio::test]
async fn an_admin_loads_a_year_and_everyone_signed_in_reads_it() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let cadre = app.token_for("cadre1").await;
    let audit_before = app.audit_count().await;

    let loaded = put_calendar(&app, &admin, "2026", fixture_2026()).await;
    let year = app.get_as(&cadre, "/api/v1/calendar/2026").await;
    let other = app.get_as(&cadre, "/api/v1/calendar/2027").await;
    let anonymous = app.get("/api/v1/calendar/2026").await;

    assert_eq!(loaded.status, 200, "{}", loaded.text);
    assert_eq!(loaded.json()["loaded"], true);
    assert_eq!(year.status, 200, "{}", year.text);
    let body = year.json();
    assert_eq!(body["loaded"], true);
    let days = body["days"].as_array().expect("days");
    // Nine Spring Festival and seven National Day holidays, four make-up working days.
    assert_eq!(days.len(), 20);
    assert_eq!(
        days[0],
        json!({"date": "2026-02-14", "kind": "workday", "name": "春节调休"})
    );
    assert_eq!(days[1]["date"], "2026-02-15");
    assert_eq!(days[1]["kind"], "holiday");
    assert_eq!(
        days.iter().filter(|day| day["kind"] == "workday").count(),
        4
    );
    assert_eq!(other.status, 200);
    assert_eq!(other.json()["loaded"], false);
    assert_eq!(other.json()["days"], json!([]));
    anonymous.assert_problem(401, "unauthorized");
    assert_eq!(app.audit_count().await, audit_before + 1, "one audit row");
}

#[tokio::test]
async fn only_an_admin_of_the_whole_deployment_loads_the_calendar() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let town_admin_token = app.scoped_api_token(&admin, "admin", "371526100").await;
    let audit_before = app.audit_count().await;

    let by_the_town = put_calendar(&app, &town_admin_token, "2026", fixture_2026()).await;
    let read = app.get_as(&admin, "/api/v1/calendar/2026").await.json();

    by_the_town.assert_problem(403, "forbidden");
    assert_eq!(read["loaded"], false, "nothing loaded");
    assert_eq!(app.audit_count().await, audit_before, "no audit row");
}

#[tokio::test]
async fn loading_a_year_again_replaces_its_days() {
    let app = spawn_app().await;
    app.seed().await;
    load_2026(&app).await;
    let admin = app.token_for("admin").await;

    let replaced = app
        .call(
            reqwest::Method::PUT,
            Some(&admin),
            "/api/v1/calendar/2026",
            Some(&json!({"days": [{"date": "2026-01-01", "kind": "holiday", "name": "元旦"}]})),
        )
        .await;
    let read = app.get_as(&admin, "/api/v1/calendar/2026").await.json();

    assert_eq!(replaced.status, 200, "{}", replaced.text);
    assert_eq!(
        read["days"],
        json!([{"date": "2026-01-01", "kind": "holiday", "name": "元旦"}])
    );
}

#[tokio::test]
async fn loading_a_year_again_with_the_same_days_changes_and_records_nothing() {
    let app = spawn_app().await;
    app.seed().await;
    load_2026(&app).await;
    let admin = app.token_for("admin").await;
    let first = app.get_as(&admin, "/api/v1/calendar/2026").await.json();
    let recorded = app.audit_count().await;

    let again = put_calendar(&app, &admin, "2026", fixture_2026()).await;

    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(
        again.json(),
        first,
        "the year as it was, loaded when it was"
    );
    assert_eq!(app.audit_count().await, recorded, "no second audit row");
}

#[tokio::test]
async fn a_calendar_with_a_date_of_another_year_or_a_weekday_make_up_day_is_refused_by_entry() {
    let app = spawn_app().await;
    app.seed().await;
    load_2026(&app).await;
    let admin = app.token_for("admin").await;
    let leader = app.token_for("leader1").await;

    let wrong = put_calendar(
        &app,
        &admin,
        "2026",
        json!({"days": [
            {"date": "2027-01-01", "kind": "holiday", "name": "元旦"},
            {"date": "2026-10-09", "kind": "workday", "name": "国庆节调休"},
            {"date": "2026-10-03", "kind": "holiday", "name": "国庆节"},
        ]}),
    )
    .await;
    let out_of_range = put_calendar(&app, &admin, "1999", json!({"days": []})).await;
    let by_a_leader = put_calendar(&app, &leader, "2026", json!({"days": []})).await;
    let still = app.get_as(&admin, "/api/v1/calendar/2026").await.json();

    wrong.assert_problem(422, "validation_failed");
    let errors: Vec<(String, String)> = wrong.json()["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|error| {
            (
                error["field"].as_str().expect("field").to_owned(),
                error["code"].as_str().expect("code").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            ("days[0].date".to_owned(), "wrong_year".to_owned()),
            ("days[1].kind".to_owned(), "not_a_weekend".to_owned()),
        ],
        "a Saturday holiday (Oct 3) is fine; the Friday make-up day is not"
    );
    out_of_range.assert_problem(422, "validation_failed");
    by_a_leader.assert_problem(403, "forbidden");
    assert_eq!(
        still["days"].as_array().expect("days").len(),
        20,
        "a refused load changes nothing"
    );
}

#[tokio::test]
async fn five_working_days_from_the_thursday_before_spring_festival_end_on_the_26th() {
    let app = spawn_app().await;
    app.seed().await;
    load_2026(&app).await;
    let cadre = app.token_for("cadre1").await;

    // Raised Thursday Feb 12: Fri 13 (1), Saturday 14 is a make-up working day (2), Feb 15–23
    // off, Tue 24 (3), Wed 25 (4), Thu 26 (5). Seven: Fri 27 (6) and make-up Saturday 28 (7).
    let deadlines = deadlines_of(
        &app,
        &cadre,
        &visit_on(
            "2026-02-12",
            vec![issue_in(5, "门前排水沟堵塞"), issue_in(7, "申请临时救助")],
        ),
    )
    .await;

    assert_eq!(deadlines, vec!["2026-02-26", "2026-02-28"]);
}

#[tokio::test]
async fn working_days_around_national_day_skip_the_golden_week_and_count_the_make_up_days() {
    let app = spawn_app().await;
    app.seed().await;
    load_2026(&app).await;
    let cadre = app.token_for("cadre1").await;

    // Raised Tuesday Sep 29: Wed 30 (1), Oct 1–7 off, Thu 8 (2), Fri 9 (3), make-up Saturday
    // 10 (4), Sunday 11 off, Mon 12 (5).
    let golden_week = deadlines_of(
        &app,
        &cadre,
        &visit_on("2026-09-29", vec![issue_in(5, "村道坑洼需修补")]),
    )
    .await;
    // Raised Friday Sep 18: Saturday 19 off, Sunday 20 is a make-up working day (1).
    let make_up_sunday = deadlines_of(
        &app,
        &cadre,
        &visit_on("2026-09-18", vec![issue_in(1, "路灯不亮")]),
    )
    .await;

    assert_eq!(golden_week, vec!["2026-10-12"]);
    assert_eq!(make_up_sunday, vec!["2026-09-20"]);
}

#[tokio::test]
async fn without_a_loaded_calendar_working_days_are_monday_to_friday() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;

    // Nothing loaded: Fri 13 (1), Mon 16 (2), Tue 17 (3), Wed 18 (4), Thu 19 (5).
    let deadlines = deadlines_of(
        &app,
        &cadre,
        &visit_on("2026-02-12", vec![issue_in(5, "门前排水沟堵塞")]),
    )
    .await;
    let calendar = app.get_as(&cadre, "/api/v1/calendar/2026").await.json();

    assert_eq!(deadlines, vec!["2026-02-19"]);
    assert_eq!(calendar["loaded"], false);
}

#[tokio::test]
async fn a_deadline_given_both_as_a_date_and_in_working_days_is_refused() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let mut both = issue_in(5, "路灯不亮");
    both["deadline"] = json!("2026-03-01");

    let in_a_visit = app
        .post_json(
            Some(&cadre),
            "/api/v1/visits",
            &visit_on("2026-02-12", vec![both.clone()]),
        )
        .await;
    let mut hotline = both.clone();
    hotline["village_id"] = json!(demo_id(villages::DONGGUAN));
    hotline["channel"] = json!("hotline");
    hotline["applicant_name"] = json!("王建华");
    let on_its_own = app
        .post_json(Some(&cadre), "/api/v1/issues", &hotline)
        .await;
    let mut zero = issue_in(0, "路灯不亮");
    zero["village_id"] = json!(demo_id(villages::DONGGUAN));
    zero["channel"] = json!("hotline");
    zero["applicant_name"] = json!("王建华");
    let zero_days = app.post_json(Some(&cadre), "/api/v1/issues", &zero).await;

    in_a_visit.assert_problem(422, "validation_failed");
    assert_eq!(
        in_a_visit.json()["errors"][0]["field"],
        "issues[0].deadline_working_days"
    );
    on_its_own.assert_problem(422, "validation_failed");
    assert_eq!(
        on_its_own.json()["errors"][0]["field"],
        "deadline_working_days"
    );
    zero_days.assert_problem(422, "validation_failed");
}

#[tokio::test]
async fn an_issue_escalation_and_extension_take_their_deadlines_in_working_days_too() {
    let app = spawn_app().await;
    app.seed().await;
    load_2026(&app).await;
    let cadre = app.token_for("cadre1").await;
    let leader = app.token_for("leader1").await;

    // An issue on its own is raised today.
    let created = app
        .post_json(
            Some(&cadre),
            "/api/v1/issues",
            &json!({
                "id": Uuid::new_v4(), "village_id": demo_id(villages::DONGGUAN), "channel": "hotline",
                "applicant_name": "王建华", "category": "practical_difficulty",
                "matter": "自来水压力不足", "deadline_working_days": 3,
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let issue = created.json()["id"].as_str().expect("id").to_owned();
    // Escalated today, due 2 working days later.
    let escalated = app
        .post_json(
            Some(&cadre),
            &format!("/api/v1/issues/{issue}/escalations"),
            &json!({"department_id": demo_id("dept-371526100-mz"), "reason": "需镇民政办协调", "new_deadline_working_days": 2}),
        )
        .await;
    // A far deadline, extended by 3 working days from it: Friday 2030-03-01 → Mon 4, Tue 5,
    // Wed 6 (2030 has no calendar loaded: plain weekends).
    assert_eq!(date("2030-03-01").weekday(), Weekday::Fri);
    let far = app
        .post_json(
            Some(&cadre),
            "/api/v1/issues",
            &json!({
                "id": Uuid::new_v4(), "village_id": demo_id(villages::DONGGUAN), "channel": "hotline",
                "applicant_name": "王建华", "category": "development_suggestion",
                "matter": "建议修建文化广场", "deadline": "2030-03-01",
            }),
        )
        .await
        .json()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let extended = app
        .post_json(
            Some(&leader),
            &format!("/api/v1/issues/{far}/extend"),
            &json!({"new_deadline_working_days": 3, "note": "需等待资金下达"}),
        )
        .await;
    let both = app
        .post_json(
            Some(&leader),
            &format!("/api/v1/issues/{far}/extend"),
            &json!({"new_deadline": "2030-04-01", "new_deadline_working_days": 3, "note": "x"}),
        )
        .await;

    assert_eq!(
        created.json()["deadline"],
        weekdays_after(today(), 3).to_string()
    );
    assert_eq!(escalated.status, 201, "{}", escalated.text);
    assert_eq!(
        escalated.json()["deadline"],
        weekdays_after(today(), 2).to_string()
    );
    assert_eq!(
        escalated.json()["escalations"][0]["new_deadline"],
        weekdays_after(today(), 2).to_string()
    );
    assert_eq!(extended.status, 200, "{}", extended.text);
    assert_eq!(extended.json()["deadline"], "2030-03-06");
    both.assert_problem(422, "validation_failed");
    assert_eq!(
        both.json()["errors"][0]["field"],
        "new_deadline_working_days"
    );
    assert_eq!(date("2030-03-06").weekday(), Weekday::Wed);
}
