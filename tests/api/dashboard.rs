//! The leadership dashboards, against a small county whose numbers are counted by hand:
//! deadlines, quotas and coverage, satisfaction and deeds.

use chrono::{Datelike, Days, Utc};
use entity::household;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, demo_id, spawn_app, villages};
use crate::helpers::{household, today};

fn day_from_today(days: i64) -> String {
    let date = if days >= 0 {
        today() + Days::new(days as u64)
    } else {
        today() - Days::new((-days) as u64)
    };
    date.to_string()
}

fn issue(category: &str, matter: &str, deadline_in_days: i64) -> Value {
    json!({"id": Uuid::new_v4(), "category": category, "matter": matter,
           "deadline": day_from_today(deadline_in_days)})
}

fn visit(household_id: Uuid, days_ago: i64, issues: Vec<Value>) -> Value {
    json!({
        "id": Uuid::new_v4(),
        "household_id": household_id,
        "channel": "door_to_door",
        "visited_at": (Utc::now() - chrono::Duration::days(days_ago)).to_rfc3339(),
        "answers": {"cadre_evaluation": {"rating": 4, "comment": "办事认真"}},
        "issues": issues,
    })
}

/// Records a visit and returns the ids of its issues.
async fn record(app: &TestApp, token: &str, body: &Value) -> Vec<String> {
    let response = app.post_json(Some(token), "/api/v1/visits", body).await;
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

/// Resolves an issue, records the applicant's answer and, when satisfied, strikes it off.
async fn resolve(app: &TestApp, cadre: &str, issue: &str) {
    step(app, cadre, issue, "resolve", json!({"note": "已办结"})).await;
}

async fn close(app: &TestApp, cadre: &str, leader: &str, issue: &str) {
    resolve(app, cadre, issue).await;
    step(app, cadre, issue, "feedback", json!({"satisfied": true})).await;
    step(app, leader, issue, "close", json!({"note": "销号"})).await;
}

/// The county in the test: in 东岭镇, 东关村 has an overdue and a due-soon issue; 柳树屯村 has
/// one open, one awaiting feedback, one struck off, and one answered on the spot; 西河镇
/// (another town) has one open issue.
struct Ledger {
    overdue: String,
}

async fn build_ledger(app: &TestApp) -> Ledger {
    let cadre1 = app.token_for("cadre1").await;
    let cadre2 = app.token_for("cadre2").await;
    let leader1 = app.token_for("leader1").await;
    let dongguan = record(
        app,
        &cadre1,
        &visit(
            household(villages::DONGGUAN, 1),
            10,
            vec![
                issue("practical_difficulty", "危房改造", -3),
                issue("work_shortcoming", "村务公开不及时", 1),
            ],
        ),
    )
    .await;
    let liushutun = record(
        app,
        &cadre1,
        &visit(
            household(villages::LIUSHUTUN, 2),
            0,
            vec![
                issue("development_suggestion", "发展大棚蔬菜", 20),
                issue("practical_difficulty", "自来水管漏水", 10),
                issue("practical_difficulty", "路灯不亮", 10),
                json!({"id": Uuid::new_v4(), "category": "practical_difficulty",
                       "matter": "咨询医保报销", "answered_on_spot": true,
                       "spot_answer": "已当场解答"}),
            ],
        ),
    )
    .await;
    resolve(app, &cadre1, &liushutun[1]).await;
    close(app, &cadre1, &leader1, &liushutun[2]).await;
    record(
        app,
        &cadre2,
        &visit(
            household(villages::HEWAN, 1),
            0,
            vec![issue("practical_difficulty", "河堤加固", 5)],
        ),
    )
    .await;
    Ledger {
        overdue: dongguan[0].clone(),
    }
}

fn counts(group: &Value) -> [i64; 5] {
    [
        "open",
        "overdue",
        "due_soon",
        "awaiting_feedback",
        "closed_this_month",
    ]
    .map(|name| {
        group[name]
            .as_i64()
            .unwrap_or_else(|| panic!("{name} in {group}"))
    })
}

fn group<'a>(dashboard: &'a Value, name: &str) -> &'a Value {
    dashboard["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .find(|group| group["name"] == name)
        .unwrap_or_else(|| panic!("no group {name} in {dashboard}"))
}

#[tokio::test]
async fn the_deadline_dashboard_shows_the_counts_a_leader_would_count_by_hand() {
    let app = spawn_app().await;
    app.seed().await;
    let ledger = build_ledger(&app).await;
    let leader = app.token_for("leader1").await;

    let by_village = app.get_as(&leader, "/api/v1/dashboard/deadlines").await;
    assert_eq!(by_village.status, 200, "{}", by_village.text);
    let by_village = by_village.json();
    // open, overdue, due soon, awaiting feedback, struck off this month
    assert_eq!(counts(&by_village["totals"]), [3, 1, 1, 1, 1]);
    assert_eq!(counts(group(&by_village, "东关村")), [2, 1, 1, 0, 0]);
    assert_eq!(counts(group(&by_village, "柳树屯村")), [1, 0, 0, 1, 1]);
    assert_eq!(by_village["groups"].as_array().expect("groups").len(), 2);
    assert_eq!(
        by_village["groups"][0]["name"], "东关村",
        "most overdue first"
    );
    let oldest: Vec<&str> = by_village["oldest_overdue"]
        .as_array()
        .expect("list")
        .iter()
        .map(|issue| issue["id"].as_str().expect("id"))
        .collect();
    assert_eq!(oldest, vec![ledger.overdue.as_str()]);

    let by_category = app
        .get_as(&leader, "/api/v1/dashboard/deadlines?group_by=category")
        .await
        .json();
    assert_eq!(counts(group(&by_category, "实际困难")), [1, 1, 0, 1, 1]);
    assert_eq!(counts(group(&by_category, "工作不足")), [1, 0, 1, 0, 0]);
    assert_eq!(counts(group(&by_category, "发展建议")), [1, 0, 0, 0, 0]);

    let viewer = app.token_for("viewer1").await;
    let by_town = app
        .get_as(&viewer, "/api/v1/dashboard/deadlines?group_by=town")
        .await
        .json();
    assert_eq!(counts(group(&by_town, "东岭镇")), [3, 1, 1, 1, 1]);
    assert_eq!(counts(group(&by_town, "西河镇")), [1, 0, 0, 0, 0]);

    let by_level = app
        .get_as(&leader, "/api/v1/dashboard/deadlines?group_by=level")
        .await
        .json();
    assert_eq!(counts(group(&by_level, "村")), [3, 1, 1, 1, 1]);
}

#[tokio::test]
async fn the_deadline_dashboard_read_again_counts_every_change_made_since() {
    let app = spawn_app().await;
    app.seed().await;
    let ledger = build_ledger(&app).await;
    let (leader, cadre) = (
        app.token_for("leader1").await,
        app.token_for("cadre1").await,
    );
    let dashboard = async || {
        let response = app.get_as(&leader, "/api/v1/dashboard/deadlines").await;
        assert_eq!(response.status, 200, "{}", response.text);
        response.json()
    };
    let totals = async || counts(&dashboard().await["totals"]);
    let oldest_overdue = async || -> Vec<String> {
        dashboard().await["oldest_overdue"]
            .as_array()
            .expect("oldest_overdue")
            .iter()
            .map(|issue| issue["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(totals().await, [3, 1, 1, 1, 1]);
    assert_eq!(totals().await, [3, 1, 1, 1, 1], "read twice, unchanged");
    assert_eq!(oldest_overdue().await, vec![ledger.overdue.clone()]);

    let roof = record(
        &app,
        &cadre,
        &visit(
            household(villages::DONGGUAN, 3),
            5,
            vec![issue("practical_difficulty", "屋顶漏雨", -1)],
        ),
    )
    .await;
    assert_eq!(totals().await, [4, 2, 1, 1, 1], "a new overdue issue");
    assert_eq!(
        oldest_overdue().await,
        [ledger.overdue.clone(), roof[0].clone()],
        "oldest first"
    );

    resolve(&app, &cadre, &ledger.overdue).await;
    assert_eq!(
        totals().await,
        [3, 1, 1, 2, 1],
        "resolved: awaiting feedback"
    );
    assert_eq!(oldest_overdue().await, vec![roof[0].clone()]);

    // Progress leaves every count as it was, and changes the issue the leader acts on.
    step(
        &app,
        &cadre,
        &roof[0],
        "progress",
        json!({"note": "已联系瓦工"}),
    )
    .await;
    let after_progress = dashboard().await;
    assert_eq!(counts(&after_progress["totals"]), [3, 1, 1, 2, 1]);
    let listed = &after_progress["oldest_overdue"][0];
    assert_eq!(listed["status"], "in_progress", "{listed}");
    assert_eq!(listed["latest_progress"], "已联系瓦工");
    assert_eq!(listed["version"], 2, "the version an urge must name");

    // Another leader of the town is counted on their own.
    let other = app
        .get_as(
            &app.token_for("viewer1").await,
            "/api/v1/dashboard/deadlines",
        )
        .await;
    assert_eq!(other.status, 200, "{}", other.text);
    assert_eq!(counts(&other.json()["totals"]), [4, 1, 1, 2, 1]);
}

#[tokio::test]
async fn the_deadline_dashboard_counts_what_another_server_process_wrote() {
    let app = spawn_app().await;
    app.seed().await;
    let ledger = build_ledger(&app).await;
    let other = app.second_server().await;
    let (leader, cadre) = (
        app.token_for("leader1").await,
        app.token_for("cadre1").await,
    );
    let totals = async |server: &TestApp| {
        let response = server.get_as(&leader, "/api/v1/dashboard/deadlines").await;
        assert_eq!(response.status, 200, "{}", response.text);
        counts(&response.json()["totals"])
    };
    assert_eq!(totals(&app).await, [3, 1, 1, 1, 1]);
    assert_eq!(totals(&other).await, [3, 1, 1, 1, 1]);

    record(
        &other,
        &cadre,
        &visit(
            household(villages::LIUSHUTUN, 2),
            5,
            vec![issue("practical_difficulty", "水井干了", -2)],
        ),
    )
    .await;
    assert_eq!(
        totals(&app).await,
        [4, 2, 1, 1, 1],
        "an overdue issue recorded through the other server"
    );

    resolve(&other, &cadre, &ledger.overdue).await;
    assert_eq!(
        totals(&app).await,
        [3, 1, 1, 2, 1],
        "resolved through the other server: awaiting feedback"
    );
    assert_eq!(totals(&other).await, [3, 1, 1, 2, 1]);
}

#[tokio::test]
async fn each_count_leads_to_the_ledger_list_behind_it() {
    let app = spawn_app().await;
    app.seed().await;
    build_ledger(&app).await;
    let leader = app.token_for("leader1").await;
    let dashboard = app
        .get_as(&leader, "/api/v1/dashboard/deadlines?group_by=village")
        .await
        .json();
    for village in ["东关村", "柳树屯村"] {
        let group = group(&dashboard, village);
        let numbers = counts(group);
        for (index, count) in [
            "open",
            "overdue",
            "due_soon",
            "awaiting_feedback",
            "closed_this_month",
        ]
        .into_iter()
        .enumerate()
        {
            let path = format!(
                "/api/v1/issues?{}&{}",
                group["ledger_query"].as_str().expect("query"),
                dashboard["count_filters"][count].as_str().expect("filter")
            );
            let list = app.get_as(&leader, &path).await;
            assert_eq!(list.status, 200, "{path}: {}", list.text);
            assert_eq!(
                list.json()["items"].as_array().expect("items").len() as i64,
                numbers[index],
                "{village} {count}: {path}"
            );
        }
    }
}

#[tokio::test]
async fn the_deadline_dashboard_keeps_to_the_scope_and_the_dates_asked_for() {
    let app = spawn_app().await;
    app.seed().await;
    build_ledger(&app).await;
    let leader = app.token_for("leader1").await;
    let other_town = demo_id("371526101");
    app.get_as(
        &leader,
        &format!("/api/v1/dashboard/deadlines?org_unit_id={other_town}"),
    )
    .await
    .assert_problem(404, "not_found");
    for role in ["cadre1", "official1", "dept1"] {
        let token = app.token_for(role).await;
        app.get_as(&token, "/api/v1/dashboard/deadlines")
            .await
            .assert_problem(403, "forbidden");
    }
    let village = demo_id(villages::LIUSHUTUN);
    let one_village = app
        .get_as(
            &leader,
            &format!("/api/v1/dashboard/deadlines?org_unit_id={village}"),
        )
        .await
        .json();
    assert_eq!(counts(&one_village["totals"]), [1, 0, 0, 1, 1]);
    // A management district: its villages only (东关 and 柳树屯 hold the town's issues).
    for (district, expected) in [("371526100-d1", [3, 1, 1, 1, 1]), ("371526100-d2", [0; 5])] {
        let response = app
            .get_as(
                &leader,
                &format!(
                    "/api/v1/dashboard/deadlines?org_unit_id={}",
                    demo_id(district)
                ),
            )
            .await;
        assert_eq!(response.status, 200, "{}", response.text);
        assert_eq!(
            counts(&response.json()["totals"]),
            expected,
            "district {district}"
        );
    }
    let tomorrow = day_from_today(1);
    let later = app
        .get_as(
            &leader,
            &format!("/api/v1/dashboard/deadlines?from={tomorrow}"),
        )
        .await
        .json();
    assert_eq!(counts(&later["totals"]), [0, 0, 0, 0, 0]);
    app.get_as(
        &leader,
        &format!("/api/v1/dashboard/deadlines?from={tomorrow}&to={}", today()),
    )
    .await
    .assert_problem(422, "validation_failed");
    app.get_as(&leader, "/api/v1/dashboard/deadlines?group_by=colour")
        .await
        .assert_problem(400, "invalid_query_parameter");
}

/// A campaign for this county from 1 January to today, so that everything is due by now:
/// village-contact cadres 2 households, village officials 3 visits; 1 deed per cadre and a
/// first batch of 2 per town by today.
async fn campaign_up_to_today(app: &TestApp) {
    let admin = app.token_for("admin").await;
    let today = today();
    let response = app
        .post_json(
            Some(&admin),
            "/api/v1/campaigns",
            &json!({
                "org_unit_id": demo_id("371526"),
                "year": today.year(),
                "phases": [{"key": "all", "name": "全年", "starts_on": format!("{}-01-01", today.year()), "ends_on": today}],
                "quotas": [
                    {"position": "village_contact_cadre", "measure": "households", "target": 2},
                    {"position": "village_official", "measure": "visits", "target": 3}
                ],
                "deeds_per_cadre": 1,
                "first_batch_deeds": 2,
                "first_batch_due": today,
            }),
        )
        .await;
    assert_eq!(response.status, 201, "{}", response.text);
}

async fn set_tags(app: &TestApp, village: &str, index: usize, tags: i32) {
    household::Entity::update_many()
        .col_expr(household::Column::Tags, Expr::value(tags))
        .filter(household::Column::Id.eq(household(village, index)))
        .exec(&app.db)
        .await
        .expect("tags");
}

#[tokio::test]
async fn quotas_compare_each_cadres_visits_with_the_quota_for_their_position() {
    let app = spawn_app().await;
    app.seed().await;
    campaign_up_to_today(&app).await;
    household::Entity::update_many()
        .col_expr(household::Column::Tags, Expr::value(0))
        .filter(household::Column::TownId.eq(demo_id("371526100")))
        .exec(&app.db)
        .await
        .expect("clear tags");
    set_tags(&app, villages::DONGGUAN, 1, 16).await; // 困难, visited below
    set_tags(&app, villages::DONGGUAN, 4, 16 | 8).await; // 困难 + 有不同意见
    set_tags(&app, villages::DONGGUAN, 5, 2).await; // 离任村干部
    set_tags(&app, villages::DONGGUAN, 6, 4).await; // 党员: not a visit priority
    let cadre1 = app.token_for("cadre1").await;
    let official1 = app.token_for("official1").await;
    for (token, village, index) in [
        (&cadre1, villages::DONGGUAN, 1),
        (&cadre1, villages::DONGGUAN, 1),
        (&cadre1, villages::LIUSHUTUN, 2),
        (&official1, villages::DONGGUAN, 3),
    ] {
        record(&app, token, &visit(household(village, index), 0, vec![])).await;
    }

    let leader = app.token_for("leader1").await;
    let response = app.get_as(&leader, "/api/v1/dashboard/quotas").await;
    assert_eq!(response.status, 200, "{}", response.text);
    let dashboard = response.json();
    let cadre = |username: &str| {
        let id = demo_id(&format!("user:{username}")).to_string();
        dashboard["cadres"]
            .as_array()
            .expect("cadres")
            .iter()
            .find(|cadre| cadre["user_id"] == id.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("{username} missing from {dashboard}"))
    };
    let li = cadre("cadre1");
    assert_eq!(
        (&li["visits"], &li["households"], &li["done"], &li["target"]),
        (&json!(3), &json!(2), &json!(2), &json!(2))
    );
    assert_eq!(li["status"], "met");
    let zhang = cadre("official1");
    assert_eq!((&zhang["visits"], &zhang["done"]), (&json!(1), &json!(1)));
    assert_eq!(
        (&zhang["expected_to_date"], &zhang["status"]),
        (&json!(3), &json!("behind"))
    );
    assert_eq!(
        dashboard["summary"],
        json!({"cadres": 2, "met": 1, "on_track": 0, "behind": 1}),
        "cadre2 works in the other town"
    );
    let village = |name: &str| {
        dashboard["villages"]
            .as_array()
            .expect("villages")
            .iter()
            .find(|village| village["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name}"))
    };
    let dongguan = village("东关村");
    assert_eq!(
        (&dongguan["households"], &dongguan["visited_households"]),
        (&json!(50), &json!(2))
    );
    assert_eq!(dongguan["coverage"], json!(0.04));
    assert_eq!(
        dongguan["priority_not_visited"],
        json!({"hardship": 1, "dissenting": 1, "former_cadre": 1, "wealth_leader": 0, "total": 2})
    );
    assert_eq!(village("柳树屯村")["visited_households"], json!(1));
    assert_eq!(village("石桥村")["coverage"], json!(0.0));
    assert_eq!(dashboard["villages"].as_array().expect("villages").len(), 3);
}

#[tokio::test]
async fn without_a_campaign_the_quota_dashboard_says_how_to_set_one_up() {
    let app = spawn_app().await;
    app.seed().await;
    let leader = app.token_for("leader1").await;
    app.get_as(&leader, "/api/v1/dashboard/quotas")
        .await
        .assert_problem(409, "no_campaign");
    app.get_as(&leader, "/api/v1/dashboard/deeds")
        .await
        .assert_problem(409, "no_campaign");
}

#[tokio::test]
async fn deeds_are_counted_per_cadre_and_per_town_with_the_first_batch() {
    let app = spawn_app().await;
    app.seed().await;
    campaign_up_to_today(&app).await;
    let cadre1 = app.token_for("cadre1").await;
    let mut deed = issue("practical_difficulty", "修缮村道", 10);
    deed["is_deed"] = json!(true);
    let mut second = issue("practical_difficulty", "安装路灯", 10);
    second["is_deed"] = json!(true);
    let ids = record(
        &app,
        &cadre1,
        &visit(
            household(villages::DONGGUAN, 2),
            0,
            vec![deed, second, issue("work_shortcoming", "不是实事", 10)],
        ),
    )
    .await;
    resolve(&app, &cadre1, &ids[0]).await;

    let viewer = app.token_for("viewer1").await;
    let response = app.get_as(&viewer, "/api/v1/dashboard/deeds").await;
    assert_eq!(response.status, 200, "{}", response.text);
    let dashboard = response.json();
    let li = dashboard["cadres"]
        .as_array()
        .expect("cadres")
        .iter()
        .find(|cadre| cadre["user_id"] == demo_id("user:cadre1").to_string().as_str())
        .cloned()
        .expect("cadre1");
    assert_eq!(
        (&li["marked"], &li["done"], &li["target"], &li["met"]),
        (&json!(2), &json!(1), &json!(1), &json!(true))
    );
    let town = |name: &str| {
        dashboard["towns"]
            .as_array()
            .expect("towns")
            .iter()
            .find(|town| town["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name}"))
    };
    let dongling = town("东岭镇");
    assert_eq!(
        (
            &dongling["marked"],
            &dongling["done"],
            &dongling["first_batch"]
        ),
        (&json!(2), &json!(1), &json!(2))
    );
    assert_eq!(dongling["first_batch_met"], true);
    let xihe = town("西河镇");
    assert_eq!(
        (&xihe["marked"], &xihe["first_batch_met"]),
        (&json!(0), &json!(false))
    );
}

#[tokio::test]
async fn satisfaction_is_the_share_of_answered_issues_whose_applicant_was_satisfied() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre1 = app.token_for("cadre1").await;
    let leader1 = app.token_for("leader1").await;
    let ids = record(
        &app,
        &cadre1,
        &visit(
            household(villages::DONGGUAN, 7),
            0,
            vec![
                issue("practical_difficulty", "满意的事", 10),
                issue("practical_difficulty", "不满意的事", 10),
                issue("practical_difficulty", "还没反馈", 10),
            ],
        ),
    )
    .await;
    record(
        &app,
        &cadre1,
        &visit(household(villages::DONGGUAN, 8), 0, vec![]),
    )
    .await;
    close(&app, &cadre1, &leader1, &ids[0]).await;
    resolve(&app, &cadre1, &ids[1]).await;
    step(
        &app,
        &cadre1,
        &ids[1],
        "feedback",
        json!({"satisfied": false}),
    )
    .await;
    resolve(&app, &cadre1, &ids[2]).await;

    let by_cadre = app.get_as(&leader1, "/api/v1/dashboard/satisfaction").await;
    assert_eq!(by_cadre.status, 200, "{}", by_cadre.text);
    let by_cadre = by_cadre.json();
    let li = group(&by_cadre, "李明");
    assert_eq!(
        (
            &li["closed"],
            &li["answered"],
            &li["satisfied"],
            &li["satisfaction_rate"]
        ),
        (&json!(1), &json!(2), &json!(1), &json!(0.5))
    );
    assert_eq!(
        (&li["rated_visits"], &li["average_rating"]),
        (&json!(2), &json!(4.0))
    );
    assert_eq!(li["ratings"], json!([0, 0, 0, 2, 0]));
    let by_village = app
        .get_as(&leader1, "/api/v1/dashboard/satisfaction?group_by=village")
        .await
        .json();
    assert_eq!(
        group(&by_village, "东关村")["satisfaction_rate"],
        json!(0.5)
    );
}
