//! 一测一考: satisfaction survey rounds with one-time codes, and each cadre's score from duty
//! days, visits, paired contacts, issues resolved in time and residents' ratings — checked
//! against a score worked out by hand.

use chrono::{Datelike, Days, NaiveDate, Utc};
use entity::{duty, issue, pairing};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, demo_id, spawn_app, villages};
use crate::helpers::{household, today};

fn days_ago(days: u64) -> NaiveDate {
    today() - Days::new(days)
}

async fn visit(app: &TestApp, token: &str, body: Value) -> Value {
    let response = app.post_json(Some(token), "/api/v1/visits", &body).await;
    assert_eq!(response.status, 201, "{}", response.text);
    response.json()
}

fn door_to_door(household_id: Uuid, days_ago: i64, issues: Vec<Value>) -> Value {
    json!({"id": Uuid::new_v4(), "household_id": household_id, "channel": "door_to_door",
           "visited_at": (Utc::now() - chrono::Duration::days(days_ago)).to_rfc3339(),
           "issues": issues})
}

async fn open_round(app: &TestApp, leader: &str) -> Value {
    let response = app
        .post_json(
            Some(leader),
            "/api/v1/surveys",
            &json!({"village_id": demo_id(villages::DONGGUAN), "title": "群众满意度测评",
                    "opens_on": today(), "closes_on": today() + Days::new(7)}),
        )
        .await;
    assert_eq!(response.status, 201, "{}", response.text);
    response.json()
}

#[tokio::test]
async fn residents_answer_once_per_code_and_the_results_count_each_rating() {
    let app = spawn_app().await;
    app.seed().await;
    let leader = app.token_for("leader1").await;
    let round = open_round(&app, &leader).await;
    let mut rated: Vec<&str> = round["cadres"]
        .as_array()
        .expect("cadres")
        .iter()
        .map(|cadre| cadre["name"].as_str().expect("name"))
        .collect();
    rated.sort();
    assert_eq!(
        rated,
        ["张秀英", "李明"],
        "the village's cadre and official"
    );
    let id = round["id"].as_str().expect("id");
    let codes = app
        .post_json(
            Some(&leader),
            &format!("/api/v1/surveys/{id}/codes"),
            &json!({"count": 2}),
        )
        .await;
    assert_eq!(codes.status, 201, "{}", codes.text);
    let codes: Vec<String> = codes.json()["codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|code| code.as_str().expect("code").to_owned())
        .collect();
    let (li, zhang) = (demo_id("user:cadre1"), demo_id("user:official1"));
    let answer = |code: &str, answers: Value| json!({"code": code, "answers": answers});
    let first = answer(
        &codes[0].to_lowercase(),
        json!([{"cadre_id": li, "rating": "satisfied"}, {"cadre_id": zhang, "rating": "unsatisfied"}]),
    );
    assert_eq!(
        app.post_json(None, "/public/surveys/answers", &first)
            .await
            .status,
        201
    );
    let resent = app.post_json(None, "/public/surveys/answers", &first).await;
    resent.assert_problem(409, "code_used");
    assert!(
        resent.text.contains("they were recorded"),
        "a resident resending after a lost answer is told it counted: {}",
        resent.text
    );
    app.post_json(
        None,
        "/public/surveys/answers",
        &answer(
            "ZZZZ-ZZZZ-ZZZZ",
            json!([{"cadre_id": li, "rating": "satisfied"}]),
        ),
    )
    .await
    .assert_problem(404, "not_found");
    // A cadre the round does not rate: refused, and the code stays usable.
    app.post_json(
        None,
        "/public/surveys/answers",
        &answer(
            &codes[1],
            json!([{"cadre_id": demo_id("user:cadre2"), "rating": "satisfied"}]),
        ),
    )
    .await
    .assert_problem(422, "validation_failed");
    let second = answer(
        &codes[1],
        json!([{"cadre_id": li, "rating": "basically_satisfied"}]),
    );
    assert_eq!(
        app.post_json(None, "/public/surveys/answers", &second)
            .await
            .status,
        201
    );

    let official = app.token_for("official1").await;
    let recorded = json!({"id": Uuid::new_v4(), "household_id": household(villages::DONGGUAN, 2),
                          "answers": [{"cadre_id": li, "rating": "unsatisfied"}]});
    let path = format!("/api/v1/surveys/{id}/responses");
    assert_eq!(
        app.post_json(Some(&official), &path, &recorded)
            .await
            .status,
        201
    );
    assert_eq!(
        app.post_json(Some(&official), &path, &recorded)
            .await
            .status,
        200,
        "a retry counts once"
    );
    let mut again = recorded.clone();
    again["id"] = json!(Uuid::new_v4());
    app.post_json(Some(&official), &path, &again)
        .await
        .assert_problem(409, "household_answered");
    // The same id with another household's answers is another response: refused, not lost.
    let mut reused = recorded.clone();
    reused["household_id"] = json!(household(villages::DONGGUAN, 4));
    app.post_json(Some(&official), &path, &reused)
        .await
        .assert_problem(409, "id_taken");
    let mut changed = recorded.clone();
    changed["answers"] = json!([{"cadre_id": li, "rating": "satisfied"}]);
    app.post_json(Some(&official), &path, &changed)
        .await
        .assert_problem(409, "id_taken");
    let cadre1 = app.token_for("cadre1").await;
    let own = json!({"id": Uuid::new_v4(), "household_id": household(villages::DONGGUAN, 3),
                     "answers": [{"cadre_id": li, "rating": "satisfied"}]});
    let refused = app.post_json(Some(&cadre1), &path, &own).await;
    refused.assert_problem(422, "validation_failed");
    assert!(refused.text.contains("self_rating"), "{}", refused.text);
    let cadre2 = app.token_for("cadre2").await;
    app.post_json(Some(&cadre2), &path, &recorded)
        .await
        .assert_problem(404, "not_found");

    let results = app
        .get_as(&leader, &format!("/api/v1/surveys/{id}/results"))
        .await
        .json();
    let result = |user: Uuid| {
        results["cadres"]
            .as_array()
            .expect("cadres")
            .iter()
            .find(|cadre| cadre["cadre_id"] == user.to_string().as_str())
            .cloned()
            .expect("cadre")
    };
    let li_result = result(li);
    assert_eq!(
        [
            &li_result["satisfied"],
            &li_result["basically_satisfied"],
            &li_result["unsatisfied"]
        ],
        [&json!(1), &json!(1), &json!(1)]
    );
    assert_eq!(li_result["rate"], json!(0.5));
    assert_eq!(result(zhang)["rate"], json!(0.0));
    // The residents' answers are anonymous: the trail records them, not where they came from.
    let anonymous = entity::audit_log::Entity::find()
        .filter(entity::audit_log::Column::Action.eq("survey.response"))
        .filter(entity::audit_log::Column::ActorType.eq("public"))
        .all(&app.db)
        .await
        .expect("audit");
    assert_eq!(anonymous.len(), 2, "both answers are in the trail");
    for entry in anonymous {
        assert_eq!(entry.client_addr, None, "{entry:?}");
        assert_eq!(entry.request_id, None, "{entry:?}");
    }
}

#[tokio::test]
async fn a_round_outside_its_dates_takes_no_answers() {
    let app = spawn_app().await;
    app.seed().await;
    let leader = app.token_for("leader1").await;
    let response = app
        .post_json(
            Some(&leader),
            "/api/v1/surveys",
            &json!({"village_id": demo_id(villages::DONGGUAN), "title": "下月测评",
                    "opens_on": today() + Days::new(10), "closes_on": today() + Days::new(20)}),
        )
        .await;
    assert_eq!(response.status, 201, "{}", response.text);
    let id = response.json()["id"].as_str().expect("id").to_owned();
    let cadre = app.token_for("cadre1").await;
    app.post_json(
        Some(&cadre),
        &format!("/api/v1/surveys/{id}/responses"),
        &json!({"id": Uuid::new_v4(), "household_id": household(villages::DONGGUAN, 2),
                "answers": [{"cadre_id": demo_id("user:official1"), "rating": "satisfied"}]}),
    )
    .await
    .assert_problem(409, "survey_closed");
    app.post_json(
        Some(&leader),
        "/api/v1/surveys",
        &json!({"village_id": demo_id(villages::HEWAN), "title": "外镇", "opens_on": today(), "closes_on": today()}),
    )
    .await
    .assert_problem(422, "validation_failed");
}

async fn insert_duty(app: &TestApp, date: NaiveDate) {
    duty::Entity::insert(duty::ActiveModel::from(duty::Model {
        id: Uuid::now_v7(),
        county_id: demo_id("371526"),
        town_id: demo_id("371526100"),
        village_id: demo_id(villages::DONGGUAN),
        duty_date: date,
        user_id: demo_id("user:cadre1"),
        kind: duty::DutyKind::Cadre,
        leader_fallback: false,
        swapped_from_user_id: None,
        swap_reason: None,
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }))
    .exec(&app.db)
    .await
    .expect("duty");
}

async fn pair(app: &TestApp, index: usize) {
    pairing::Entity::insert(pairing::ActiveModel::from(pairing::Model {
        id: Uuid::now_v7(),
        cadre_id: demo_id("user:cadre1"),
        household_id: household(villages::DONGGUAN, index),
        county_id: demo_id("371526"),
        town_id: demo_id("371526100"),
        village_id: demo_id(villages::DONGGUAN),
        created_at: Utc::now(),
        change_seq: 0,
        created_seq: 0,
        origin_device: None,
    }))
    .exec(&app.db)
    .await
    .expect("pairing");
}

/// Worked out by hand (weights 20/25/15/20/20): 李明 kept 1 of 2 duty days (0.5), visited
/// 2 of 2 quota households (1.0), visited 1 of 2 paired households (0.5), resolved 1 of 2 due
/// issues in time (0.5) and was rated 满意, 基本满意, 不满意 ((1 + ½) / 3 = 0.5):
/// 10 + 25 + 7.5 + 10 + 10 = 62.5. 张秀英 made none of her 3 visits (0) and was rated 不满意
/// (0); she had no duties, pairings or issues, so those parts drop out: 0 of 45 = 0.
#[tokio::test]
async fn each_cadres_score_combines_the_five_parts_with_the_campaigns_weights() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let year = today().year();
    let campaign = app
        .post_json(
            Some(&admin),
            "/api/v1/campaigns",
            &json!({"org_unit_id": demo_id("371526"), "year": year,
                    "phases": [{"key": "all", "name": "全年", "starts_on": format!("{year}-01-01"), "ends_on": today()}],
                    "quotas": [{"position": "village_contact_cadre", "measure": "households", "target": 2},
                               {"position": "village_official", "measure": "visits", "target": 3}],
                    "first_batch_due": today()}),
        )
        .await;
    assert_eq!(campaign.status, 201, "{}", campaign.text);
    // The demo pairs cadre1 already; the fixture pairs exactly two households.
    pairing::Entity::delete_many()
        .filter(pairing::Column::CadreId.eq(demo_id("user:cadre1")))
        .exec(&app.db)
        .await
        .expect("unpair");
    insert_duty(&app, days_ago(1)).await;
    insert_duty(&app, days_ago(2)).await;
    pair(&app, 1).await;
    pair(&app, 3).await;
    let cadre = app.token_for("cadre1").await;
    let mut sit_in = door_to_door(household(villages::DONGGUAN, 1), 1, vec![]);
    sit_in["channel"] = json!("duty_sit_in");
    let sat = visit(&app, &cadre, sit_in).await;
    assert!(
        sat["duty_id"].is_string(),
        "the sit-in is linked to its duty: {sat}"
    );
    let issue = |deadline: NaiveDate, matter: &str| {
        json!({"id": Uuid::new_v4(), "category": "practical_difficulty", "matter": matter,
               "deadline": deadline})
    };
    let recorded = visit(
        &app,
        &cadre,
        door_to_door(
            household(villages::LIUSHUTUN, 2),
            10,
            vec![
                issue(days_ago(3), "按时办结"),
                issue(days_ago(2), "逾期未办"),
            ],
        ),
    )
    .await;
    let in_time = recorded["issues"][0]["id"].as_str().expect("id").to_owned();
    let response = app
        .post_json(
            Some(&cadre),
            &format!("/api/v1/issues/{in_time}/resolve"),
            &json!({"note": "已办结"}),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text);
    issue::Entity::update_many()
        .col_expr(
            issue::Column::ResolvedAt,
            Expr::value(Utc::now() - chrono::Duration::days(5)),
        )
        .filter(issue::Column::Id.eq(in_time.parse::<Uuid>().expect("uuid")))
        .exec(&app.db)
        .await
        .expect("resolved in time");
    let leader = app.token_for("leader1").await;
    let round = open_round(&app, &leader).await;
    let round_id = round["id"].as_str().expect("id");
    let official = app.token_for("official1").await;
    let (li, zhang) = (demo_id("user:cadre1"), demo_id("user:official1"));
    for (index, rating) in [
        (4, "satisfied"),
        (5, "basically_satisfied"),
        (6, "unsatisfied"),
    ] {
        let response = app
            .post_json(
                Some(&official),
                &format!("/api/v1/surveys/{round_id}/responses"),
                &json!({"id": Uuid::new_v4(), "household_id": household(villages::DONGGUAN, index),
                        "answers": [{"cadre_id": li, "rating": rating}]}),
            )
            .await;
        assert_eq!(response.status, 201, "{}", response.text);
    }
    let codes = app
        .post_json(
            Some(&leader),
            &format!("/api/v1/surveys/{round_id}/codes"),
            &json!({"count": 1}),
        )
        .await
        .json();
    let answered = app
        .post_json(
            None,
            "/public/surveys/answers",
            &json!({"code": codes["codes"][0], "answers": [{"cadre_id": zhang, "rating": "unsatisfied"}]}),
        )
        .await;
    assert_eq!(answered.status, 201, "{}", answered.text);

    let response = app.get_as(&leader, "/api/v1/assessment").await;
    assert_eq!(response.status, 200, "{}", response.text);
    let assessment = response.json();
    let town = &assessment["towns"][0];
    assert_eq!(town["name"], "东岭镇");
    let ranked: Vec<(&str, u64, &Value)> = town["cadres"]
        .as_array()
        .expect("cadres")
        .iter()
        .map(|cadre| {
            (
                cadre["name"].as_str().expect("name"),
                cadre["rank"].as_u64().expect("rank"),
                &cadre["score"],
            )
        })
        .collect();
    assert_eq!(
        ranked,
        vec![("李明", 1, &json!(62.5)), ("张秀英", 2, &json!(0.0))]
    );
    let li_score = &town["cadres"][0];
    assert_eq!(
        li_score["duties"],
        json!({"due": 2, "done": 1, "rate": 0.5})
    );
    assert_eq!(
        li_score["visits"],
        json!({"due": 2, "done": 2, "rate": 1.0})
    );
    assert_eq!(
        li_score["contacts"],
        json!({"due": 2, "done": 1, "rate": 0.5})
    );
    assert_eq!(
        li_score["issues_in_time"],
        json!({"due": 2, "done": 1, "rate": 0.5})
    );
    assert_eq!(li_score["satisfaction"]["rate"], json!(0.5));
    assert_eq!(town["cadres"][1]["duties"]["rate"], Value::Null);
    let cadre_view = app.get_as(&cadre, "/api/v1/assessment").await;
    cadre_view.assert_problem(403, "forbidden");
}

#[tokio::test]
async fn a_village_has_one_round_at_a_time_so_no_answer_counts_twice() {
    let app = spawn_app().await;
    app.seed().await;
    let leader = app.token_for("leader1").await;
    let rounds_before = app.count("survey_rounds").await;
    let round = |village: &str, from: u64, to: u64| {
        json!({"village_id": demo_id(village), "title": "群众满意度测评",
               "opens_on": today() + Days::new(from), "closes_on": today() + Days::new(to)})
    };
    let open = |body: Value| {
        let (app, leader) = (&app, &leader);
        async move { app.post_json(Some(leader), "/api/v1/surveys", &body).await }
    };

    let first = open(round(villages::DONGGUAN, 30, 37)).await;
    let retried = open(round(villages::DONGGUAN, 30, 37)).await;
    let overlapping = open(round(villages::DONGGUAN, 37, 44)).await;
    let next = open(round(villages::DONGGUAN, 38, 44)).await;
    let other_village = open(round(villages::LIUSHUTUN, 30, 37)).await;

    assert_eq!(first.status, 201, "{}", first.text);
    retried.assert_problem(409, "overlapping_round");
    assert!(
        retried
            .text
            .contains(first.json()["id"].as_str().expect("id")),
        "names the round: {}",
        retried.text
    );
    overlapping.assert_problem(409, "overlapping_round");
    assert_eq!(next.status, 201, "{}", next.text);
    assert_eq!(other_village.status, 201, "{}", other_village.text);
    assert_eq!(app.count("survey_rounds").await, rounds_before + 3);
}
