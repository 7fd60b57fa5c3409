//! The duty roster (一线工作日): Tuesdays and Thursdays by the rule, holidays skipped, the
//! leader's Thursdays of odd ISO weeks (also across the new year), swaps, the published
//! roster, sit-in visits keeping a duty, missed duties, and scope.

use chrono::{Datelike, Days, NaiveDate, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    calendar::load_2026,
    helpers::{DEMO_PASSWORD, TestApp, demo_id, spawn_app, today},
};

/// A village of 东岭镇 with a village-contact leader and two village-contact cadres, all
/// assigned from 1 January 2026.
struct Village {
    id: Uuid,
    household: Uuid,
    leader: Uuid,
    /// The cadre with the smaller id (first in the rotation).
    first: Uuid,
    first_username: &'static str,
    /// The other cadre.
    second: Uuid,
    second_username: &'static str,
}

async fn created_id(app: &TestApp, token: &str, path: &str, body: Value) -> Uuid {
    let response = app.post_json(Some(token), path, &body).await;
    assert_eq!(response.status, 201, "{path}: {}", response.text);
    response.json()["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid")
}

async fn staffed_village(app: &TestApp) -> Village {
    let admin = app.token_for("admin").await;
    let village = created_id(
        app,
        &admin,
        "/api/v1/org-units",
        json!({"parent_id": demo_id("371526100-d2"), "kind": "village", "name": "新庄村",
               "code": "371526100204", "office_phone": "0635-8123456"}),
    )
    .await;
    let mut people = Vec::new();
    for (username, name, phone, position, role) in [
        (
            "vc_leader",
            "孙立军",
            "13911110001",
            "village_contact_leader",
            "leader",
        ),
        (
            "vc_cadre_a",
            "周红",
            "13911110002",
            "village_contact_cadre",
            "cadre",
        ),
        (
            "vc_cadre_b",
            "吴刚",
            "13911110003",
            "village_contact_cadre",
            "cadre",
        ),
    ] {
        let id = created_id(
            app,
            &admin,
            "/api/v1/users",
            json!({"username": username, "display_name": name, "phone": phone, "position": position,
                   "role": role, "scope_org_unit_id": demo_id("371526100"), "password": DEMO_PASSWORD}),
        )
        .await;
        created_id(
            app,
            &admin,
            &format!("/api/v1/users/{id}/assignments"),
            json!({"village_id": village, "starts_on": "2026-01-01"}),
        )
        .await;
        people.push((id, username));
    }
    let household = created_id(
        app,
        &admin,
        "/api/v1/households",
        json!({"village_id": village, "head_name": "钱德福"}),
    )
    .await;
    let (mut a, mut b) = (people[1], people[2]);
    if b.0 < a.0 {
        std::mem::swap(&mut a, &mut b);
    }
    Village {
        id: village,
        household,
        leader: people[0].0,
        first: a.0,
        first_username: a.1,
        second: b.0,
        second_username: b.1,
    }
}

async fn generate(app: &TestApp, token: &str, village: Uuid, from: &str, to: &str) -> Value {
    let response = app
        .post_json(
            Some(token),
            &format!("/api/v1/villages/{village}/duties/generate"),
            &json!({"from": from, "to": to}),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text);
    response.json()
}

/// (date, person, kind) of each duty.
fn roster(duties: &Value) -> Vec<(String, Uuid, String)> {
    duties
        .as_array()
        .expect("duties")
        .iter()
        .map(|duty| {
            (
                duty["duty_date"].as_str().expect("date").to_owned(),
                duty["user_id"]
                    .as_str()
                    .expect("user")
                    .parse()
                    .expect("uuid"),
                duty["kind"].as_str().expect("kind").to_owned(),
            )
        })
        .collect()
}

fn entry(date: &str, person: Uuid, kind: &str) -> (String, Uuid, String) {
    (date.to_owned(), person, kind.to_owned())
}

fn duty_on<'a>(duties: &'a Value, date: &str) -> &'a Value {
    duties
        .as_array()
        .expect("duties")
        .iter()
        .find(|duty| duty["duty_date"] == date)
        .unwrap_or_else(|| panic!("no duty on {date}: {duties}"))
}

/// A sit-in visit (值班坐访) at 10:00 local time on `day`.
async fn sit_in(app: &TestApp, username: &str, household: Uuid, day: &str) -> Value {
    let token = app.token_for(username).await;
    let response = app
        .post_json(
            Some(&token),
            "/api/v1/visits",
            &json!({"id": Uuid::new_v4(), "household_id": household, "channel": "duty_sit_in",
                    "visited_at": format!("{day}T02:00:00Z"), "diary_note": "值班坐访，群众来访"}),
        )
        .await;
    assert_eq!(response.status, 201, "{}", response.text);
    response.json()
}

#[tokio::test]
async fn a_month_with_a_holiday_and_a_make_up_day_is_rostered_on_working_tuesdays_and_thursdays() {
    let app = spawn_app().await;
    app.seed().await;
    load_2026(&app).await;
    let village = staffed_village(&app).await;
    let leader = app.token_for("leader1").await;

    let february = generate(&app, &leader, village.id, "2026-02-01", "2026-02-28").await;
    let recorded = app.audit_count().await;
    let again = generate(&app, &leader, village.id, "2026-02-01", "2026-02-28").await;

    // Feb 5 is in ISO week 6 (even: rotation), Feb 12 in week 7 and Feb 26 in week 9 (odd:
    // the leader). Feb 17 and 19 are Spring Festival holidays; the make-up Saturdays 14 and
    // 28 are not Tuesdays or Thursdays. The rotation runs first, second, first, second.
    let expected = vec![
        entry("2026-02-03", village.first, "cadre"),
        entry("2026-02-05", village.second, "cadre"),
        entry("2026-02-10", village.first, "cadre"),
        entry("2026-02-12", village.leader, "leader"),
        entry("2026-02-24", village.second, "cadre"),
        entry("2026-02-26", village.leader, "leader"),
    ];
    assert_eq!(roster(&february["duties"]), expected);
    assert_eq!(february["created"], 6);
    assert_eq!(february["unstaffed"], json!([]));
    assert_eq!(february["calendar_loaded"], true);
    assert_eq!(
        duty_on(&february["duties"], "2026-02-03")["weekday"],
        "星期二"
    );
    assert_eq!(
        duty_on(&february["duties"], "2026-02-12")["user_name"],
        "孙立军"
    );
    assert_eq!(roster(&again["duties"]), expected, "generating again");
    assert_eq!(again["created"], 0);
    assert_eq!(again["existing"], 6);
    assert_eq!(
        app.audit_count().await,
        recorded,
        "adding nothing records nothing"
    );

    // The list pages through the same roster.
    let path = format!(
        "/api/v1/duties?village_id={}&from=2026-02-01&to=2026-02-28&limit=4",
        village.id
    );
    let first_page = app.get_as(&leader, &path).await.json();
    let cursor = first_page["next_cursor"].as_str().expect("next page");
    let second_page = app
        .get_as(&leader, &format!("{path}&cursor={cursor}"))
        .await
        .json();
    let mut listed = roster(&first_page["items"]);
    listed.extend(roster(&second_page["items"]));
    assert_eq!(listed, expected);
    assert_eq!(second_page["next_cursor"], Value::Null);
}

#[tokio::test]
async fn the_leader_has_the_thursdays_of_odd_iso_weeks_across_the_new_year() {
    let app = spawn_app().await;
    app.seed().await;
    load_2026(&app).await;
    let village = staffed_village(&app).await;
    let leader = app.token_for("leader1").await;
    let week = |text: &str| text.parse::<NaiveDate>().expect("date").iso_week().week();
    assert_eq!(week("2026-12-24"), 52);
    assert_eq!(week("2026-12-31"), 53);
    assert_eq!(week("2027-01-07"), 1);

    let turn_of_the_year = generate(&app, &leader, village.id, "2026-12-21", "2027-01-10").await;

    assert_eq!(
        roster(&turn_of_the_year["duties"]),
        vec![
            entry("2026-12-22", village.first, "cadre"),
            entry("2026-12-24", village.second, "cadre"),
            entry("2026-12-29", village.first, "cadre"),
            entry("2026-12-31", village.leader, "leader"),
            entry("2027-01-05", village.second, "cadre"),
            entry("2027-01-07", village.leader, "leader"),
        ]
    );
    assert_eq!(
        turn_of_the_year["calendar_loaded"], false,
        "2027 has no calendar loaded"
    );
}

#[tokio::test]
async fn a_swap_keeps_the_person_first_rostered_and_survives_generating_again() {
    let app = spawn_app().await;
    app.seed().await;
    load_2026(&app).await;
    let village = staffed_village(&app).await;
    let leader = app.token_for("leader1").await;
    let february = generate(&app, &leader, village.id, "2026-02-01", "2026-02-28").await;
    let duty = duty_on(&february["duties"], "2026-02-24")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let audit_before = app.audit_count().await;

    let swapped = app
        .post_json(
            Some(&leader),
            &format!("/api/v1/duties/{duty}/swap"),
            &json!({"user_id": village.first, "reason": "家中老人住院"}),
        )
        .await;
    let again = generate(&app, &leader, village.id, "2026-02-01", "2026-02-28").await;
    let not_assigned = app
        .post_json(
            Some(&leader),
            &format!("/api/v1/duties/{duty}/swap"),
            &json!({"user_id": demo_id("user:cadre1"), "reason": "代班"}),
        )
        .await;
    let back = app
        .post_json(
            Some(&leader),
            &format!("/api/v1/duties/{duty}/swap"),
            &json!({"user_id": village.second, "reason": "已返岗"}),
        )
        .await;

    assert_eq!(swapped.status, 200, "{}", swapped.text);
    let body = swapped.json();
    assert_eq!(body["user_id"], json!(village.first));
    assert_eq!(body["swapped_from_user_id"], json!(village.second));
    assert_eq!(body["swap_reason"], "家中老人住院");
    assert_eq!(
        duty_on(&again["duties"], "2026-02-24")["user_id"],
        json!(village.first),
        "generating again keeps the swap"
    );
    not_assigned.assert_problem(422, "validation_failed");
    assert_eq!(not_assigned.json()["errors"][0]["field"], "user_id");
    assert_eq!(back.status, 200, "{}", back.text);
    assert_eq!(back.json()["user_id"], json!(village.second));
    assert_eq!(back.json()["swapped_from_user_id"], Value::Null);
    // Two swaps; generating again added nothing and the refused swap wrote nothing.
    assert_eq!(app.audit_count().await, audit_before + 2);
}

#[tokio::test]
async fn a_sit_in_visit_keeps_its_duty_and_a_past_duty_without_one_is_missed() {
    let app = spawn_app().await;
    app.seed().await;
    load_2026(&app).await;
    let village = staffed_village(&app).await;
    let leader = app.token_for("leader1").await;
    let february = generate(&app, &leader, village.id, "2026-02-01", "2026-02-28").await;
    let duty_of = |date: &str| duty_on(&february["duties"], date)["id"].clone();

    // The first cadre sits in on their own duty; the second on the first's duty of Feb 10.
    let kept = sit_in(
        &app,
        village.first_username,
        village.household,
        "2026-02-03",
    )
    .await;
    let other = sit_in(
        &app,
        village.second_username,
        village.household,
        "2026-02-10",
    )
    .await;
    // A sit-in recorded before March was rostered: linked when it is. March 3 is the fifth
    // cadre turn (four in February), the first cadre's.
    let early = sit_in(
        &app,
        village.first_username,
        village.household,
        "2026-03-03",
    )
    .await;
    let march = generate(&app, &leader, village.id, "2026-03-01", "2026-03-05").await;
    let list = |query: String| {
        let leader = leader.clone();
        let app = &app;
        async move {
            app.get_as(
                &leader,
                &format!("/api/v1/duties?village_id={}&{query}", village.id),
            )
            .await
            .json()
        }
    };
    let all = list("from=2026-02-01&to=2026-02-28".to_owned()).await;
    let missed = list("from=2026-02-01&to=2026-02-28&status=missed".to_owned()).await;
    let kept_list = list("to=2026-03-31&status=kept".to_owned()).await;

    assert_eq!(kept["duty_id"], duty_of("2026-02-03"));
    assert_eq!(other["duty_id"], duty_of("2026-02-10"));
    assert_eq!(early["duty_id"], Value::Null, "no roster yet");
    assert_eq!(
        duty_on(&march["duties"], "2026-03-03")["user_id"],
        json!(village.first)
    );
    assert_eq!(duty_on(&march["duties"], "2026-03-03")["status"], "kept");
    assert_eq!(duty_on(&all["items"], "2026-02-03")["status"], "kept");
    let on_the_tenth = duty_on(&all["items"], "2026-02-10");
    assert_eq!(
        on_the_tenth["status"], "missed",
        "a sit-in by someone else does not keep the duty"
    );
    assert_eq!(on_the_tenth["visit_ids"], json!([other["id"]]));
    let missed_dates: Vec<String> = roster(&missed["items"])
        .into_iter()
        .map(|(date, _, _)| date)
        .collect();
    assert_eq!(
        missed_dates,
        vec![
            "2026-02-05",
            "2026-02-10",
            "2026-02-12",
            "2026-02-24",
            "2026-02-26"
        ]
    );
    let kept_dates: Vec<String> = roster(&kept_list["items"])
        .into_iter()
        .map(|(date, _, _)| date)
        .collect();
    assert_eq!(kept_dates, vec!["2026-02-03", "2026-03-03"]);
    let visit = app
        .get_as(
            &leader,
            &format!("/api/v1/visits/{}", kept["id"].as_str().expect("id")),
        )
        .await
        .json();
    assert_eq!(visit["duty_id"], duty_of("2026-02-03"));
}

#[tokio::test]
async fn the_published_roster_shows_names_positions_and_the_office_phone_only() {
    let app = spawn_app().await;
    app.seed().await;
    load_2026(&app).await;
    let village = staffed_village(&app).await;
    let leader = app.token_for("leader1").await;
    let today = Utc::now()
        .with_timezone(&api::clock::CHINA_STANDARD_TIME)
        .date_naive();
    let later = today + Days::new(70);
    generate(
        &app,
        &leader,
        village.id,
        &today.to_string(),
        &later.to_string(),
    )
    .await;

    let public = app
        .get(&format!("/public/villages/{}/duty", village.id))
        .await;
    let unknown = app
        .get(&format!("/public/villages/{}/duty", Uuid::new_v4()))
        .await;

    assert_eq!(public.status, 200, "{}", public.text);
    let body = public.json();
    assert_eq!(body["village"], "新庄村");
    assert_eq!(body["office_phone"], "0635-8123456");
    assert_eq!(body["from"], today.to_string());
    assert_eq!(body["to"], (today + Days::new(55)).to_string());
    let duties = body["duties"].as_array().expect("duties");
    assert!(!duties.is_empty(), "eight weeks have duty days");
    for duty in duties {
        let keys: Vec<&String> = duty.as_object().expect("object").keys().collect();
        assert_eq!(keys, vec!["date", "name", "position", "weekday"], "{duty}");
        let date: NaiveDate = duty["date"].as_str().expect("date").parse().expect("date");
        assert!(date >= today && date <= today + Days::new(55), "{date}");
        assert!(["孙立军", "周红", "吴刚"].contains(&duty["name"].as_str().expect("name")));
        assert!(["包村领导", "包村干部"].contains(&duty["position"].as_str().expect("position")));
    }
    for secret in [
        "1391111000",
        &village.leader.to_string(),
        &village.first.to_string(),
        "id_card",
        "user_id",
    ] {
        assert!(
            !public.text.contains(secret),
            "{secret} on the public roster"
        );
    }
    unknown.assert_problem(404, "not_found");
}

#[tokio::test]
async fn a_leader_of_another_town_neither_sees_nor_changes_the_roster() {
    let app = spawn_app().await;
    app.seed().await;
    let village = staffed_village(&app).await;
    let admin = app.token_for("admin").await;
    created_id(
        &app,
        &admin,
        "/api/v1/users",
        json!({"username": "xihe_leader", "display_name": "郑书记", "position": "party_secretary",
               "role": "leader", "scope_org_unit_id": demo_id("371526101"), "password": DEMO_PASSWORD}),
    )
    .await;
    let own = app.token_for("leader1").await;
    let foreign = app.token_for("xihe_leader").await;
    let february = generate(&app, &own, village.id, "2026-02-01", "2026-02-28").await;
    let duty = february["duties"][0]["id"].as_str().expect("id").to_owned();

    let generated = app
        .post_json(
            Some(&foreign),
            &format!("/api/v1/villages/{}/duties/generate", village.id),
            &json!({"from": "2026-03-01", "to": "2026-03-31"}),
        )
        .await;
    let listed = app
        .get_as(
            &foreign,
            &format!("/api/v1/duties?village_id={}", village.id),
        )
        .await;
    let swapped = app
        .post_json(
            Some(&foreign),
            &format!("/api/v1/duties/{duty}/swap"),
            &json!({"user_id": village.second, "reason": "代班"}),
        )
        .await;
    let by_a_cadre_elsewhere = app
        .get_as(
            &app.token_for("cadre1").await,
            &format!("/api/v1/duties?village_id={}", village.id),
        )
        .await;
    let by_the_villages_cadre = app
        .get_as(
            &app.token_for(village.first_username).await,
            &format!("/api/v1/duties?village_id={}", village.id),
        )
        .await;
    let too_long = app
        .post_json(
            Some(&own),
            &format!("/api/v1/villages/{}/duties/generate", village.id),
            &json!({"from": "2026-01-01", "to": "2027-01-02"}),
        )
        .await;

    generated.assert_problem(404, "not_found");
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json()["items"], json!([]));
    swapped.assert_problem(404, "not_found");
    assert_eq!(by_a_cadre_elsewhere.json()["items"], json!([]));
    assert_eq!(
        by_the_villages_cadre.json()["items"]
            .as_array()
            .expect("items")
            .len(),
        8,
        "no calendar loaded here: all eight Tuesdays and Thursdays of February"
    );
    too_long.assert_problem(422, "validation_failed");
}

#[tokio::test]
async fn a_sit_in_pushed_from_the_field_app_is_linked_and_its_issue_counts_working_days() {
    let app = spawn_app().await;
    app.seed().await;
    load_2026(&app).await;
    let village = staffed_village(&app).await;
    let leader = app.token_for("leader1").await;
    let february = generate(&app, &leader, village.id, "2026-02-01", "2026-02-28").await;
    let on_duty = app.token_for("vc_leader").await;
    let (visit, issue) = (Uuid::new_v4(), Uuid::new_v4());
    // Two more sit-ins in the same push: one the same day, one on Tuesday, Feb 10.
    let (same_day, tuesday) = (Uuid::new_v4(), Uuid::new_v4());

    // The village-contact leader's Thursday, Feb 12; the issue is due 5 working days later:
    // Fri 13, make-up Saturday 14, then after Spring Festival Tue 24, Wed 25, Thu 26.
    let pushed = app
        .push_as(
            &on_duty,
            "phone-duty",
            json!({
                "visits": {"created": [
                    {"id": visit, "household_id": village.household, "channel": "duty_sit_in",
                     "visited_at": "2026-02-12T02:00:00Z", "service_card_given": false},
                    {"id": same_day, "household_id": village.household, "channel": "duty_sit_in",
                     "visited_at": "2026-02-12T03:00:00Z", "service_card_given": false},
                    {"id": tuesday, "household_id": village.household, "channel": "duty_sit_in",
                     "visited_at": "2026-02-10T02:00:00Z", "service_card_given": false},
                ]},
                "issues": {"created": [{"id": issue, "visit_id": visit,
                    "category": "practical_difficulty", "matter": "申请危房改造",
                    "deadline_working_days": 5}]},
            }),
        )
        .await;
    let stored_visit = app
        .get_as(&leader, &format!("/api/v1/visits/{visit}"))
        .await
        .json();
    let stored_issue = app
        .get_as(&leader, &format!("/api/v1/issues/{issue}"))
        .await
        .json();
    let duties = app
        .get_as(
            &leader,
            &format!(
                "/api/v1/duties?village_id={}&from=2026-02-12&to=2026-02-12",
                village.id
            ),
        )
        .await
        .json();

    assert_eq!(pushed.status, 200, "{}", pushed.text);
    assert_eq!(
        stored_visit["duty_id"],
        duty_on(&february["duties"], "2026-02-12")["id"]
    );
    let duty_of = |id: Uuid| {
        let (app, leader) = (&app, &leader);
        async move {
            app.get_as(leader, &format!("/api/v1/visits/{id}"))
                .await
                .json()["duty_id"]
                .clone()
        }
    };
    assert_eq!(
        duty_of(same_day).await,
        duty_on(&february["duties"], "2026-02-12")["id"]
    );
    assert_eq!(
        duty_of(tuesday).await,
        duty_on(&february["duties"], "2026-02-10")["id"]
    );
    assert_eq!(stored_issue["deadline"], "2026-02-26");
    assert_eq!(duties["items"][0]["status"], "kept");
    assert_eq!(duties["items"][0]["user_id"], json!(village.leader));
}

#[tokio::test]
async fn ending_an_assignment_takes_the_persons_later_duties_off_the_roster_for_generating_again() {
    let app = spawn_app().await;
    app.seed().await;
    let village = staffed_village(&app).await;
    let (admin, leader) = (app.token_for("admin").await, app.token_for("leader1").await);
    let (from, to) = (today() + Days::new(1), today() + Days::new(60));
    let planned = generate(
        &app,
        &leader,
        village.id,
        &from.to_string(),
        &to.to_string(),
    )
    .await;
    let last_day = today() + Days::new(20);
    let theirs = |duties: &Value, after: bool| -> usize {
        roster(duties)
            .iter()
            .filter(|(date, person, _)| {
                *person == village.first && (date.as_str() > last_day.to_string().as_str()) == after
            })
            .count()
    };
    let (before_the_end, after_the_end) = (
        theirs(&planned["duties"], false),
        theirs(&planned["duties"], true),
    );
    assert!(before_the_end > 0 && after_the_end > 0, "{planned}");
    let assignment: Value = app
        .get_as(
            &admin,
            &format!("/api/v1/users/{}/assignments", village.first),
        )
        .await
        .json();
    let assignment_id = assignment[0]["id"].as_str().expect("assignment").to_owned();

    let ended = app
        .patch_json(
            &admin,
            &format!("/api/v1/assignments/{assignment_id}"),
            &json!({"ends_on": last_day.to_string()}),
        )
        .await;
    let listed: Value = app
        .get_as(
            &leader,
            &format!(
                "/api/v1/duties?village_id={}&from={from}&to={to}&limit=500",
                village.id
            ),
        )
        .await
        .json();
    let regenerated = generate(
        &app,
        &leader,
        village.id,
        &from.to_string(),
        &to.to_string(),
    )
    .await;

    assert_eq!(ended.status, 200, "{}", ended.text);
    assert_eq!(
        theirs(&listed["items"], false),
        before_the_end,
        "the duties up to the end stay"
    );
    assert_eq!(theirs(&listed["items"], true), 0, "none after it");
    assert_eq!(
        regenerated["created"].as_u64(),
        Some(after_the_end as u64),
        "generating again fills the days: {regenerated}"
    );
    assert_eq!(theirs(&regenerated["duties"], true), 0);

    // Back in the village later under a new assignment, then the old one's end corrected
    // earlier: the duties of the new assignment's days stay.
    let back_on = today() + Days::new(31);
    let returned = app
        .post_json(
            Some(&admin),
            &format!("/api/v1/users/{}/assignments", village.first),
            &json!({"village_id": village.id, "starts_on": back_on.to_string()}),
        )
        .await;
    assert_eq!(returned.status, 201, "{}", returned.text);
    // Nothing after the old end had been left to fill with them; swap one day back to them.
    let later: Value = app
        .get_as(
            &leader,
            &format!(
                "/api/v1/duties?village_id={}&user_id={}&from={back_on}&to={to}",
                village.id, village.second
            ),
        )
        .await
        .json();
    let duty = later["items"][0]["id"]
        .as_str()
        .expect("a later duty")
        .to_owned();
    let swapped = app
        .post_json(
            Some(&leader),
            &format!("/api/v1/duties/{duty}/swap"),
            &json!({"user_id": village.first, "reason": "回村任职"}),
        )
        .await;
    assert_eq!(swapped.status, 200, "{}", swapped.text);
    let corrected = app
        .patch_json(
            &admin,
            &format!("/api/v1/assignments/{assignment_id}"),
            &json!({"ends_on": (today() + Days::new(15)).to_string()}),
        )
        .await;
    assert_eq!(corrected.status, 200, "{}", corrected.text);
    let kept = app
        .get_as(
            &leader,
            &format!(
                "/api/v1/duties?village_id={}&user_id={}&from={back_on}&to={to}",
                village.id, village.first
            ),
        )
        .await
        .json();
    assert_eq!(
        kept["items"][0]["id"],
        json!(duty),
        "the new assignment's duty stays: {kept}"
    );
}
