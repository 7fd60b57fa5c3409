//! Visits and the ledger: recording once, the lifecycle, escalation, deadlines, and who
//! sees what.

use chrono::{Days, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait};

use crate::helpers::{TestApp, TestResponse, demo_id, on_postgres, spawn_app, villages};
use crate::helpers::{household, today};

fn days_from_today(days: i64) -> String {
    let date = if days >= 0 {
        today() + Days::new(days as u64)
    } else {
        today() - Days::new((-days) as u64)
    };
    date.to_string()
}

fn issue(category: &str, matter: &str, deadline_in_days: i64) -> Value {
    json!({"id": Uuid::new_v4(), "category": category, "matter": matter, "deadline": days_from_today(deadline_in_days)})
}

/// An escalation's body: to the department with this demo code, due in `days` days.
fn escalate(department: &str, days: i64) -> Value {
    json!({"department_id": demo_id(department), "reason": "村级无力解决", "new_deadline": days_from_today(days)})
}

fn visit(household_id: Uuid, issues: Vec<Value>) -> Value {
    json!({
        "id": Uuid::new_v4(),
        "household_id": household_id,
        "channel": "door_to_door",
        "visited_at": Utc::now().to_rfc3339(),
        "answers": {
            "basic_situation": {"employment": "在县城打零工", "medical": "有慢性病"},
            "difficulties": "路灯坏了",
            "cadre_evaluation": {"rating": 4, "comment": "村干部办事认真"}
        },
        "service_card_given": true,
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

async fn take(app: &TestApp, token: &str, issue: &str, step: &str, body: Value) -> TestResponse {
    app.post_json(
        Some(token),
        &format!("/api/v1/issues/{issue}/{step}"),
        &body,
    )
    .await
}

#[tokio::test]
async fn a_visit_sent_again_after_its_village_was_taken_from_the_cadre_still_returns_the_stored_visit()
 {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let admin = app.token_for("admin").await;
    let body = visit(household(villages::LIUSHUTUN, 3), vec![]);
    let first = app.post_json(Some(&cadre), "/api/v1/visits", &body).await;
    let audit_before = app.audit_count().await;
    let ended = app
        .take_village_from(&admin, "cadre1", villages::LIUSHUTUN)
        .await;
    let another = visit(household(villages::LIUSHUTUN, 4), vec![]);

    let again = app.post_json(Some(&cadre), "/api/v1/visits", &body).await;
    let mut different = body.clone();
    different["diary_note"] = json!("另一次走访");
    let clash = app
        .post_json(Some(&cadre), "/api/v1/visits", &different)
        .await;
    let new_one = app
        .post_json(Some(&cadre), "/api/v1/visits", &another)
        .await;

    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(ended.status, 200, "{}", ended.text);
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json()["id"], first.json()["id"]);
    clash.assert_problem(409, "id_taken");
    new_one.assert_problem(422, "validation_failed");
    assert_eq!(
        app.audit_count().await,
        audit_before + 1,
        "only the assignment's end was audited"
    );
}

#[tokio::test]
async fn visits_posted_at_once_by_two_cadres_are_each_stored_once_with_their_own_cadre_and_answer()
{
    let app = spawn_app().await;
    app.seed().await;
    let (cadre1, cadre2) = (app.token_for("cadre1").await, app.token_for("cadre2").await);
    let own1: Vec<Value> = (1..=8)
        .map(|index| visit(household(villages::DONGGUAN, index), vec![]))
        .collect();
    let own2: Vec<Value> = (1..=8)
        .map(|index| visit(household(villages::HEWAN, index), vec![]))
        .collect();
    let out_of_scope = visit(household(villages::HEWAN, 9), vec![]);
    let twice = visit(household(villages::HEWAN, 10), vec![]);
    let visits_before = app.count("visits").await;
    let audited = async |cadre: &str| {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        entity::audit_log::Entity::find()
            .filter(entity::audit_log::Column::Action.eq("visit.create"))
            .filter(entity::audit_log::Column::ActorId.eq(demo_id(&format!("user:{cadre}"))))
            .count(&app.db)
            .await
            .expect("count audit rows")
    };
    let (audited1, audited2) = (audited("cadre1").await, audited("cadre2").await);

    // Everything at once: the server stores what arrives together as one group.
    let posts = own1
        .iter()
        .map(|body| (cadre1.as_str(), body))
        .chain(own2.iter().map(|body| (cadre2.as_str(), body)))
        .chain([
            (cadre1.as_str(), &out_of_scope),
            (cadre2.as_str(), &twice),
            (cadre2.as_str(), &twice),
        ]);
    let responses = futures_util::future::join_all(
        posts.map(|(token, body)| app.post_json(Some(token), "/api/v1/visits", body)),
    )
    .await;

    for (response, body) in responses[..16].iter().zip(own1.iter().chain(&own2)) {
        assert_eq!(response.status, 201, "{}", response.text);
        assert_eq!(response.json()["id"], body["id"]);
        assert_eq!(response.json()["household_id"], body["household_id"]);
    }
    for response in &responses[..8] {
        assert_eq!(response.json()["cadre_id"], json!(demo_id("user:cadre1")));
    }
    for response in &responses[8..16] {
        assert_eq!(response.json()["cadre_id"], json!(demo_id("user:cadre2")));
    }
    responses[16].assert_problem(422, "validation_failed");
    let mut statuses = vec![responses[17].status, responses[18].status];
    statuses.sort();
    assert_eq!(
        statuses,
        vec![200, 201],
        "one stores it, the other gets it back"
    );
    assert_eq!(responses[17].json()["id"], responses[18].json()["id"]);
    assert_eq!(app.count("visits").await, visits_before + 17);
    assert_eq!(audited("cadre1").await, audited1 + 8);
    assert_eq!(audited("cadre2").await, audited2 + 9);
    let visited = app
        .get_as(
            &cadre1,
            &format!("/api/v1/households/{}", household(villages::DONGGUAN, 5)),
        )
        .await;
    assert_eq!(
        visited.json()["last_visited_at"],
        responses[4].json()["visited_at"],
        "{}",
        visited.text
    );
}

/// A phone that syncs late sends an old visit: the household's `last_visited_at` stays at the
/// newer one, and the household is not marked changed (phones would pull it again, and an edit
/// made on one in the meantime would be refused as stale).
#[tokio::test]
async fn an_older_visit_posted_late_neither_moves_the_household_back_nor_marks_it_changed() {
    use sea_orm::EntityTrait;
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let visited = household(villages::DONGGUAN, 6);
    let stored = async || {
        entity::household::Entity::find_by_id(visited)
            .one(&app.db)
            .await
            .expect("read")
            .expect("household")
    };
    let recent = app
        .post_json(Some(&cadre), "/api/v1/visits", &visit(visited, vec![]))
        .await;
    let after_recent = stored().await;
    let mut old = visit(visited, vec![]);
    old["visited_at"] = json!((Utc::now() - chrono::Duration::days(3)).to_rfc3339());

    let late = app.post_json(Some(&cadre), "/api/v1/visits", &old).await;

    assert_eq!(recent.status, 201, "{}", recent.text);
    assert_eq!(late.status, 201, "{}", late.text);
    let after_late = stored().await;
    assert_eq!(after_late.last_visited_at, after_recent.last_visited_at);
    assert_eq!(after_late.change_seq, after_recent.change_seq);
}

#[tokio::test]
async fn a_visit_posted_again_returns_the_same_visit_and_writes_nothing_more() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let body = visit(
        household(villages::DONGGUAN, 3),
        vec![
            issue("practical_difficulty", "村东头路灯坏了三盏", 7),
            issue("development_suggestion", "建议修文化广场", 30),
        ],
    );
    let audit_before = app.audit_count().await;

    // The phone sends it three times at once (a flaky network), then once more.
    let at_once = futures_util::future::join_all(
        (0..3).map(|_| app.post_json(Some(&cadre), "/api/v1/visits", &body)),
    )
    .await;
    let later = app.post_json(Some(&cadre), "/api/v1/visits", &body).await;

    let mut statuses: Vec<u16> = at_once.iter().map(|response| response.status).collect();
    statuses.sort();
    assert_eq!(
        statuses,
        vec![200, 200, 201],
        "one creates it, the others get it back"
    );
    let created = at_once
        .iter()
        .find(|response| response.status == 201)
        .expect("created");
    assert_eq!(created.json()["answers"]["cadre_evaluation"]["rating"], 4);
    assert!(created.json()["received_at"].is_string());
    for retry in at_once.iter().chain([&later]) {
        assert!(retry.status < 300, "{}", retry.text);
        assert_eq!(retry.json()["id"], created.json()["id"]);
        assert_eq!(retry.json()["issues"].as_array().expect("issues").len(), 2);
    }
    let after = (
        app.count("visits").await,
        app.count("issues").await,
        app.count("issue_events").await,
        app.audit_count().await,
    );
    assert_eq!(
        after,
        (1, 2, 2, audit_before + 1),
        "one visit, two issues, two events, one audit row"
    );
    let household = app
        .get_as(
            &cadre,
            &format!("/api/v1/households/{}", household(villages::DONGGUAN, 3)),
        )
        .await
        .json();
    assert!(
        household["last_visited_at"].is_string(),
        "the visit is the household's last"
    );
}

#[tokio::test]
async fn a_visit_that_fails_half_way_writes_nothing() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let mut bad = issue("practical_difficulty", "x", 5);
    bad["deadline"] = Value::Null;
    let body = visit(
        household(villages::DONGGUAN, 3),
        vec![issue("practical_difficulty", "路灯", 5), bad],
    );
    let before = (
        app.count("visits").await,
        app.count("issues").await,
        app.audit_count().await,
    );

    let response = app.post_json(Some(&cadre), "/api/v1/visits", &body).await;

    response.assert_problem(422, "validation_failed");
    assert_eq!(response.json()["errors"][0]["field"], "issues[1].deadline");
    assert_eq!(
        (
            app.count("visits").await,
            app.count("issues").await,
            app.audit_count().await
        ),
        before
    );
}

#[tokio::test]
async fn matters_answered_on_the_spot_are_recorded_but_kept_out_of_the_ledger() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let on_spot = json!({"id": Uuid::new_v4(), "category": "practical_difficulty", "matter": "低保怎么申请",
        "answered_on_spot": true, "spot_answer": "当场讲解了申请流程"});
    let ids = record(
        &app,
        &cadre,
        &visit(
            household(villages::DONGGUAN, 4),
            vec![on_spot, issue("work_shortcoming", "垃圾清运不及时", 10)],
        ),
    )
    .await;

    let ledger = app.get_as(&cadre, "/api/v1/issues").await.json();
    let spot = app
        .get_as(&cadre, &format!("/api/v1/issues/{}", ids[0]))
        .await
        .json();
    let progress = take(&app, &cadre, &ids[0], "progress", json!({"note": "x"})).await;

    let listed: Vec<&str> = ledger["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|item| item["id"].as_str())
        .collect();
    assert_eq!(listed, vec![ids[1].as_str()]);
    assert_eq!(spot["answered_on_spot"], true);
    assert_eq!(spot["spot_answer"], "当场讲解了申请流程");
    assert_eq!(spot["deadline"], Value::Null);
    progress.assert_problem(409, "answered_on_spot");
}

/// A visit written up at the office two days after it was made: its matters were raised, and
/// the one answered on the spot was answered, at the visit, not when the office typed it in.
#[tokio::test]
async fn a_visit_entered_days_later_dates_its_matters_by_the_visit() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let visited_at = Utc::now() - chrono::Duration::days(2);
    let on_spot = json!({"id": Uuid::new_v4(), "category": "practical_difficulty", "matter": "医保怎么续缴",
        "answered_on_spot": true, "spot_answer": "当场讲解了续缴办法"});
    let mut body = visit(
        household(villages::DONGGUAN, 5),
        vec![on_spot, issue("work_shortcoming", "水渠漏水", 10)],
    );
    body["visited_at"] = json!(visited_at.to_rfc3339());

    let ids = record(&app, &cadre, &body).await;
    let spot = app
        .get_as(&cadre, &format!("/api/v1/issues/{}", ids[0]))
        .await
        .json();
    let raised = app
        .get_as(&cadre, &format!("/api/v1/issues/{}", ids[1]))
        .await
        .json();

    let time = |value: &Value| {
        chrono::DateTime::parse_from_rfc3339(value.as_str().expect("a time"))
            .expect("RFC 3339")
            .timestamp_millis()
    };
    let visit_time = visited_at.timestamp_millis();
    assert_eq!(time(&spot["resolved_at"]), visit_time, "{spot}");
    assert_eq!(time(&spot["closed_at"]), visit_time, "{spot}");
    assert_eq!(raised["events"][0]["kind"], "created");
    assert_eq!(
        time(&raised["events"][0]["occurred_at"]),
        visit_time,
        "{raised}"
    );
    assert!(
        time(&raised["created_at"]) > visit_time,
        "the record itself is the server's: {raised}"
    );
}

#[tokio::test]
async fn every_step_is_taken_only_from_its_statuses_and_lands_in_the_timeline() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let leader = app.token_for("leader1").await;
    let id = record(
        &app,
        &cadre,
        &visit(
            household(villages::DONGGUAN, 5),
            vec![issue("practical_difficulty", "自来水压力不足", 7)],
        ),
    )
    .await
    .remove(0);
    let status = |response: &TestResponse| {
        response.json()["status"]
            .as_str()
            .expect("status")
            .to_owned()
    };

    // open
    take(&app, &cadre, &id, "feedback", json!({"satisfied": true}))
        .await
        .assert_problem(409, "invalid_transition");
    take(&app, &leader, &id, "close", json!({}))
        .await
        .assert_problem(409, "invalid_transition");
    take(&app, &leader, &id, "reopen", json!({"note": "x"}))
        .await
        .assert_problem(409, "invalid_transition");
    let urged = take(&app, &leader, &id, "urge", json!({"note": "请尽快办理"})).await;
    assert_eq!((urged.status, status(&urged)), (200, "open".to_owned()));
    let progressed = take(
        &app,
        &cadre,
        &id,
        "progress",
        json!({"note": "已联系水务站"}),
    )
    .await;
    assert_eq!(status(&progressed), "in_progress");
    assert_eq!(progressed.json()["latest_progress"], "已联系水务站");
    // in_progress
    take(&app, &cadre, &id, "feedback", json!({"satisfied": true}))
        .await
        .assert_problem(409, "invalid_transition");
    let resolved = take(
        &app,
        &cadre,
        &id,
        "resolve",
        json!({"note": "更换了加压泵", "is_deed": true}),
    )
    .await;
    assert_eq!(
        (status(&resolved), resolved.json()["is_deed"].clone()),
        ("resolved".to_owned(), json!(true))
    );
    // resolved
    take(&app, &cadre, &id, "progress", json!({"note": "x"}))
        .await
        .assert_problem(409, "invalid_transition");
    take(&app, &leader, &id, "urge", json!({}))
        .await
        .assert_problem(409, "invalid_transition");
    take(&app, &leader, &id, "close", json!({}))
        .await
        .assert_problem(409, "feedback_missing");
    // An unsatisfied applicant sends the issue back to work.
    let unsatisfied = take(
        &app,
        &cadre,
        &id,
        "feedback",
        json!({"satisfied": false, "note": "水压还是不够"}),
    )
    .await;
    assert_eq!(status(&unsatisfied), "in_progress");
    take(&app, &leader, &id, "close", json!({}))
        .await
        .assert_problem(409, "invalid_transition");
    take(&app, &cadre, &id, "resolve", json!({"note": "新装了水塔"})).await;
    let satisfied = take(&app, &cadre, &id, "feedback", json!({"satisfied": true})).await;
    assert_eq!(status(&satisfied), "resolved");
    take(&app, &cadre, &id, "feedback", json!({"satisfied": false}))
        .await
        .assert_problem(409, "feedback_given");
    let closed = take(&app, &leader, &id, "close", json!({"note": "销号"})).await;
    assert_eq!(status(&closed), "closed");
    // closed
    take(&app, &cadre, &id, "resolve", json!({"note": "x"}))
        .await
        .assert_problem(409, "invalid_transition");
    take(
        &app,
        &leader,
        &id,
        "extend",
        json!({"new_deadline": days_from_today(30), "note": "x"}),
    )
    .await
    .assert_problem(409, "invalid_transition");
    take(&app, &cadre, &id, "reopen", json!({"note": "x"}))
        .await
        .assert_problem(403, "forbidden");
    let reopened_by_leader = take(
        &app,
        &leader,
        &id,
        "reopen",
        json!({"note": "回访发现反弹"}),
    )
    .await;
    assert_eq!(status(&reopened_by_leader), "in_progress");

    let kinds: Vec<String> = reopened_by_leader.json()["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|event| event["kind"].as_str().expect("kind").to_owned())
        .collect();
    assert_eq!(
        kinds,
        [
            "created", "urged", "progress", "resolved", "feedback", "reopened", "resolved",
            "feedback", "closed", "reopened"
        ]
    );
}

#[tokio::test]
async fn only_the_right_people_take_each_step() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let official = app.token_for("official1").await;
    let leader = app.token_for("leader1").await;
    let viewer = app.token_for("viewer1").await;
    let department = app.token_for("dept1").await;
    let id = record(
        &app,
        &cadre,
        &visit(
            household(villages::DONGGUAN, 6),
            vec![issue("practical_difficulty", "排水沟堵塞", 7)],
        ),
    )
    .await
    .remove(0);

    take(&app, &viewer, &id, "progress", json!({"note": "x"}))
        .await
        .assert_problem(403, "forbidden");
    take(&app, &leader, &id, "progress", json!({"note": "x"}))
        .await
        .assert_problem(403, "forbidden");
    take(&app, &cadre, &id, "urge", json!({}))
        .await
        .assert_problem(403, "forbidden");
    take(
        &app,
        &cadre,
        &id,
        "extend",
        json!({"new_deadline": days_from_today(20), "note": "x"}),
    )
    .await
    .assert_problem(403, "forbidden");
    take(&app, &department, &id, "progress", json!({"note": "x"}))
        .await
        .assert_problem(404, "not_found");
    let by_official = take(
        &app,
        &official,
        &id,
        "progress",
        json!({"note": "村委已组织清淤"}),
    )
    .await;
    assert_eq!(
        by_official.status, 200,
        "the village official handles village-level issues: {}",
        by_official.text
    );
    let extended = take(
        &app,
        &leader,
        &id,
        "extend",
        json!({"new_deadline": days_from_today(20), "note": "雨季延期"}),
    )
    .await;
    assert_eq!(extended.json()["deadline"], days_from_today(20));
    take(
        &app,
        &leader,
        &id,
        "extend",
        json!({"new_deadline": days_from_today(10), "note": "x"}),
    )
    .await
    .assert_problem(422, "validation_failed");
    let foreign = app.token_for("cadre2").await;
    take(&app, &foreign, &id, "progress", json!({"note": "x"}))
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn a_stale_if_match_is_412_and_exactly_one_of_two_writers_wins() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let id = record(
        &app,
        &cadre,
        &visit(
            household(villages::DONGGUAN, 7),
            vec![issue("practical_difficulty", "危房改造", 14)],
        ),
    )
    .await
    .remove(0);
    let etag = app
        .get_as(&cadre, &format!("/api/v1/issues/{id}"))
        .await
        .header("etag")
        .expect("etag")
        .to_owned();
    let progress = |note: &str| {
        let (token, etag, body) = (cadre.clone(), etag.clone(), json!({"note": note}));
        let path = format!("/api/v1/issues/{id}/progress");
        let app = &app;
        async move {
            app.send(reqwest::Method::POST, &path, move |request| {
                request
                    .bearer_auth(token)
                    .header("if-match", etag)
                    .json(&body)
            })
            .await
        }
    };

    let results =
        futures_util::future::join_all([progress("甲"), progress("乙"), progress("丙")]).await;

    let mut statuses: Vec<u16> = results.iter().map(|response| response.status).collect();
    statuses.sort();
    assert_eq!(statuses, vec![200, 412, 412]);
    let stale = results
        .iter()
        .find(|response| response.status == 412)
        .expect("a 412");
    stale.assert_problem(412, "version_mismatch");
    assert_eq!(stale.json()["current_version"], 2);
    let events = app
        .get_as(&cadre, &format!("/api/v1/issues/{id}"))
        .await
        .json()["events"]
        .as_array()
        .expect("events")
        .len();
    assert_eq!(events, 2, "created + one progress note");
}

#[tokio::test]
async fn escalation_moves_the_handler_up_while_the_first_visitor_stays_lead() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let official = app.token_for("official1").await;
    let department = app.token_for("dept1").await;
    let ids = record(
        &app,
        &cadre,
        &visit(
            household(villages::DONGGUAN, 8),
            vec![
                issue("practical_difficulty", "通村公路破损", 7),
                issue("practical_difficulty", "另一件事", 7),
            ],
        ),
    )
    .await;
    let (id, other) = (&ids[0], &ids[1]);

    app.post_json(
        Some(&official),
        &format!("/api/v1/issues/{id}/escalations"),
        &escalate("dept-371526100-mz", 14),
    )
    .await
    .assert_problem(403, "forbidden");
    app.post_json(
        Some(&cadre),
        &format!("/api/v1/issues/{id}/escalations"),
        &escalate("dept-371526-jt", 14),
    )
    .await
    .assert_problem(422, "validation_failed");
    app.post_json(
        Some(&cadre),
        &format!("/api/v1/issues/{id}/escalations"),
        &escalate("dept-371526101-mz", 14),
    )
    .await
    .assert_problem(422, "validation_failed");
    let to_town = app
        .post_json(
            Some(&cadre),
            &format!("/api/v1/issues/{id}/escalations"),
            &escalate("dept-371526100-mz", 14),
        )
        .await;
    assert_eq!(to_town.status, 201, "{}", to_town.text);
    assert_eq!(
        app.get_as(&department, &format!("/api/v1/issues/{id}"))
            .await
            .status,
        404,
        "not sent to dept1 yet"
    );
    let to_county = app
        .post_json(
            Some(&cadre),
            &format!("/api/v1/issues/{id}/escalations"),
            &escalate("dept-371526-jt", 21),
        )
        .await;
    assert_eq!(to_county.status, 201, "{}", to_county.text);
    let beyond = app
        .post_json(
            Some(&cadre),
            &format!("/api/v1/issues/{id}/escalations"),
            &escalate("dept-371526-jt", 28),
        )
        .await;

    let county = to_county.json();
    assert_eq!(county["level"], "county");
    assert_eq!(
        county["lead_responsible_id"],
        json!(demo_id("user:cadre1")),
        "首访负责制: the lead never changes"
    );
    assert_eq!(
        county["handler_department_id"],
        json!(demo_id("dept-371526-jt"))
    );
    assert_eq!(county["deadline"], days_from_today(21));
    assert_eq!(
        county["escalations"].as_array().expect("escalations").len(),
        2
    );
    beyond.assert_problem(409, "cannot_escalate");

    let seen_by_department = app.get_as(&department, "/api/v1/issues").await.json();
    let listed: Vec<&str> = seen_by_department["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|item| item["id"].as_str())
        .collect();
    assert_eq!(
        listed,
        vec![id.as_str()],
        "the department sees only what was sent to it, not {other}"
    );
    let escalation_id = county["escalations"][1]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let accepted = app
        .post_json(
            Some(&department),
            &format!("/api/v1/escalations/{escalation_id}/accept"),
            &json!({}),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(accepted.json()["status"], "in_progress");
    assert!(accepted.json()["escalations"][1]["accepted_at"].is_string());
    app.post_json(
        Some(&department),
        &format!("/api/v1/escalations/{escalation_id}/accept"),
        &json!({}),
    )
    .await
    .assert_problem(409, "already_accepted");
    // An admin of another town learns nothing of it, not even that it was accepted.
    let other_town = app
        .scoped_api_token(&app.token_for("admin").await, "admin", "371526101")
        .await;
    app.post_json(
        Some(&other_town),
        &format!("/api/v1/escalations/{escalation_id}/accept"),
        &json!({}),
    )
    .await
    .assert_problem(404, "not_found");
    let resolved = take(
        &app,
        &department,
        id,
        "resolve",
        json!({"note": "县交通局已修复路面"}),
    )
    .await;
    assert_eq!(resolved.status, 200, "{}", resolved.text);
    assert_eq!(
        app.get_as(&cadre, &format!("/api/v1/issues/{id}"))
            .await
            .json()["status"],
        "resolved",
        "the lead keeps seeing it"
    );
    let stolen = app
        .post_json(
            Some(&app.token_for("cadre2").await),
            &format!("/api/v1/escalations/{escalation_id}/accept"),
            &json!({}),
        )
        .await;
    stolen.assert_problem(403, "forbidden");
}

#[tokio::test]
async fn a_cadre_conduct_complaint_is_invisible_to_the_cadre_it_names() {
    let app = spawn_app().await;
    app.seed().await;
    let official = app.token_for("official1").await;
    let cadre = app.token_for("cadre1").await;
    let leader = app.token_for("leader1").await;
    let mut complaint = issue("cadre_conduct", "包村干部李明态度生硬", 10);
    complaint["named_cadre_id"] = json!(demo_id("user:cadre1"));
    let body = visit(
        household(villages::DONGGUAN, 9),
        vec![complaint, issue("practical_difficulty", "化粪池满了", 10)],
    );
    // The evaluation of cadres (问干部评价) is where the complaint is told.
    let mut body = body;
    body["answers"]["cadre_evaluation"] = json!({"rating": 1, "comment": "李明态度生硬"});
    let visit_id = body["id"].as_str().expect("id").to_owned();
    let ids = record(&app, &official, &body).await;

    let direct = app
        .get_as(&cadre, &format!("/api/v1/issues/{}", ids[0]))
        .await;
    let ledger = app.get_as(&cadre, "/api/v1/issues?limit=500").await.json();
    let by_category = app
        .get_as(&cadre, "/api/v1/issues?category=cadre_conduct")
        .await
        .json();
    let the_visit = app
        .get_as(&cadre, &format!("/api/v1/visits/{visit_id}"))
        .await
        .json();
    let for_leader = app
        .get_as(&leader, &format!("/api/v1/issues/{}", ids[0]))
        .await;

    direct.assert_problem(404, "not_found");
    let listed = serde_json::to_string(&ledger).expect("json");
    assert!(!listed.contains(&ids[0]) && !listed.contains("态度生硬"));
    assert!(by_category["items"].as_array().expect("items").is_empty());
    let visit_issues: Vec<&str> = the_visit["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .filter_map(|issue| issue["id"].as_str())
        .collect();
    assert_eq!(visit_issues, vec![ids[1].as_str()]);
    assert!(
        the_visit["answers"].is_null(),
        "the answers that name the cadre are withheld: {the_visit}"
    );
    let listed_visits = app
        .get_as(
            &cadre,
            &format!("/api/v1/visits?village_id={}", demo_id(villages::DONGGUAN)),
        )
        .await
        .text;
    assert!(!listed_visits.contains("态度生硬"), "nor in the visit list");
    let for_official = app
        .get_as(&official, &format!("/api/v1/visits/{visit_id}"))
        .await
        .json();
    assert_eq!(
        for_official["answers"]["cadre_evaluation"]["rating"], 1,
        "others see them"
    );
    assert_eq!(for_leader.status, 200);
    let misfiled = app
        .post_json(
            Some(&official),
            "/api/v1/visits",
            &visit(
                household(villages::DONGGUAN, 9),
                vec![{
                    let mut wrong = issue("practical_difficulty", "x", 5);
                    wrong["named_cadre_id"] = json!(demo_id("user:cadre1"));
                    wrong
                }],
            ),
        )
        .await;
    misfiled.assert_problem(422, "validation_failed");
    let naming_an_account = |username: &str| {
        let mut complaint = issue("cadre_conduct", "态度生硬", 5);
        complaint["named_cadre_id"] = json!(demo_id(&format!("user:{username}")));
        visit(household(villages::DONGGUAN, 9), vec![complaint])
    };
    for system_account in ["admin", "viewer1"] {
        let refused = app
            .post_json(
                Some(&official),
                "/api/v1/visits",
                &naming_an_account(system_account),
            )
            .await;
        refused.assert_problem(422, "validation_failed");
        assert_eq!(refused.json()["errors"][0]["code"], "not_found");
    }
}

#[tokio::test]
async fn the_ledger_filters_overdue_and_due_soon_and_pages_by_deadline() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let mut old_visit = visit(
        household(villages::DONGGUAN, 10),
        vec![issue("practical_difficulty", "逾期事项", -3)],
    );
    old_visit["visited_at"] = json!((Utc::now() - chrono::Duration::days(10)).to_rfc3339());
    let overdue_id = record(&app, &cadre, &old_visit).await.remove(0);
    let soon_id = record(
        &app,
        &cadre,
        &visit(
            household(villages::DONGGUAN, 11),
            vec![issue("work_shortcoming", "即将到期", 1)],
        ),
    )
    .await
    .remove(0);
    let later_ids = record(
        &app,
        &cadre,
        &visit(
            household(villages::LIUSHUTUN, 3),
            vec![
                issue("development_suggestion", "远期一", 20),
                issue("development_suggestion", "远期二", 25),
            ],
        ),
    )
    .await;

    let overdue = app
        .get_as(&cadre, "/api/v1/issues?overdue=true")
        .await
        .json();
    let soon = app
        .get_as(&cadre, "/api/v1/issues?due_soon=true")
        .await
        .json();
    let by_village = app
        .get_as(
            &cadre,
            &format!("/api/v1/issues?village_id={}", demo_id(villages::LIUSHUTUN)),
        )
        .await
        .json();
    let before = app
        .get_as(
            &cadre,
            &format!("/api/v1/issues?due_before={}", days_from_today(1)),
        )
        .await
        .json();
    let ids = |page: &Value| {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|item| item["id"].as_str().expect("id").to_owned())
            .collect::<Vec<_>>()
    };

    assert_eq!(ids(&overdue), vec![overdue_id.clone()]);
    assert_eq!(overdue["items"][0]["overdue"], true);
    assert_eq!(ids(&soon), vec![soon_id.clone()]);
    assert_eq!(soon["items"][0]["due_soon"], true);
    assert_eq!(ids(&by_village).len(), 2);
    assert_eq!(ids(&before), vec![overdue_id.clone(), soon_id.clone()]);
    let mut paged = Vec::new();
    let mut path = "/api/v1/issues?limit=1".to_owned();
    for _ in 0..10 {
        let page = app.get_as(&cadre, &path).await.json();
        paged.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/issues?limit=1&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        paged,
        vec![
            overdue_id,
            soon_id,
            later_ids[0].clone(),
            later_ids[1].clone()
        ],
        "by deadline, each once"
    );
    app.get_as(&cadre, "/api/v1/issues?status=bogus")
        .await
        .assert_problem(422, "validation_failed");
}

#[tokio::test]
async fn a_hotline_call_is_recorded_as_an_issue_without_a_visit() {
    let app = spawn_app().await;
    app.seed().await;
    let official = app.token_for("official1").await;
    let body = json!({
        "id": Uuid::new_v4(), "village_id": demo_id(villages::DONGGUAN), "channel": "hotline",
        "applicant_name": "匿名来电", "category": "work_shortcoming", "matter": "村务公开栏长期不更新",
        "deadline": days_from_today(5),
    });

    let created = app
        .post_json(Some(&official), "/api/v1/issues", &body)
        .await;
    let counts = (
        app.count("issues").await,
        app.count("issue_events").await,
        app.audit_count().await,
    );
    let again = app
        .post_json(Some(&official), "/api/v1/issues", &body)
        .await;
    assert_eq!(
        (
            app.count("issues").await,
            app.count("issue_events").await,
            app.audit_count().await
        ),
        counts,
        "the retry writes nothing"
    );
    let mut recategorised = body.clone();
    recategorised["category"] = json!("practical_difficulty");
    let other_issue_same_id = app
        .post_json(Some(&official), "/api/v1/issues", &recategorised)
        .await;
    let foreign = app
        .post_json(Some(&official), "/api/v1/issues", &json!({
            "id": Uuid::new_v4(), "village_id": demo_id(villages::HEWAN), "channel": "mailbox",
            "applicant_name": "x", "category": "work_shortcoming", "matter": "x", "deadline": days_from_today(5),
        }))
        .await;

    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json()["channel"], "hotline");
    assert_eq!(created.json()["visit_id"], Value::Null);
    assert_eq!(again.status, 200);
    assert_eq!(
        other_issue_same_id.status, 409,
        "another matter under a used id: {}",
        other_issue_same_id.text
    );
    foreign.assert_problem(422, "validation_failed");
}

#[tokio::test]
async fn viewers_see_the_ledger_with_applicant_names_and_phones_masked() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let id = record(
        &app,
        &cadre,
        &visit(
            household(villages::DONGGUAN, 12),
            vec![issue("practical_difficulty", "申请危房改造", 10)],
        ),
    )
    .await
    .remove(0);

    let for_cadre = app
        .get_as(&cadre, &format!("/api/v1/issues/{id}"))
        .await
        .json();
    let for_viewer = app
        .get_as(
            &app.token_for("viewer1").await,
            &format!("/api/v1/issues/{id}"),
        )
        .await
        .json();

    let name = for_cadre["applicant_name"].as_str().expect("name");
    assert!(!name.contains('*'));
    let masked = for_viewer["applicant_name"].as_str().expect("name");
    assert_eq!(masked.chars().next(), name.chars().next());
    assert!(masked.ends_with('*'));
    assert!(
        for_viewer["applicant_phone"]
            .as_str()
            .expect("phone")
            .contains("****")
    );
}

#[tokio::test]
async fn a_deadline_more_than_five_years_away_is_refused_when_raised_and_when_extended() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let leader = app.token_for("leader1").await;
    let far = visit(
        household(villages::DONGGUAN, 15),
        vec![issue("development_suggestion", "修桥", 1831)],
    );
    let refused = app.post_json(Some(&cadre), "/api/v1/visits", &far).await;
    let id = record(
        &app,
        &cadre,
        &visit(
            household(villages::DONGGUAN, 15),
            vec![issue("development_suggestion", "修桥", 1830)],
        ),
    )
    .await
    .remove(0);

    let too_far = take(
        &app,
        &leader,
        &id,
        "extend",
        json!({"new_deadline": days_from_today(1830 + 1831), "note": "等资金"}),
    )
    .await;
    let five_years_more = take(
        &app,
        &leader,
        &id,
        "extend",
        json!({"new_deadline": days_from_today(1830 + 1830), "note": "等资金"}),
    )
    .await;

    refused.assert_problem(422, "validation_failed");
    assert_eq!(refused.json()["errors"][0]["code"], "too_far");
    too_far.assert_problem(422, "validation_failed");
    assert_eq!(too_far.json()["errors"][0]["code"], "too_far");
    assert_eq!(five_years_more.status, 200, "{}", five_years_more.text);
}

#[tokio::test]
async fn a_retried_step_with_an_idempotency_key_acts_once() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let id = record(
        &app,
        &cadre,
        &visit(
            household(villages::DONGGUAN, 13),
            vec![issue("practical_difficulty", "屋顶漏雨", 10)],
        ),
    )
    .await
    .remove(0);
    let progress = |key: &'static str, note: &'static str| {
        let token = cadre.clone();
        let path = format!("/api/v1/issues/{id}/progress");
        let app = &app;
        async move {
            app.send(reqwest::Method::POST, &path, move |request| {
                request
                    .bearer_auth(token)
                    .header("idempotency-key", key)
                    .json(&json!({"note": note}))
            })
            .await
        }
    };
    let before = (app.count("issue_events").await, app.audit_count().await);

    let first = progress("key-1", "已联系瓦工").await;
    let retry = progress("key-1", "已联系瓦工").await;
    let reused = progress("key-1", "另一件事").await;
    let other = progress("key-2", "瓦工已上门").await;

    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(retry.status, 200);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        retry.json()["version"],
        first.json()["version"],
        "the first answer, replayed"
    );
    reused.assert_problem(422, "idempotency_key_reused");
    assert_eq!(other.status, 200);
    assert_eq!(
        (app.count("issue_events").await, app.audit_count().await),
        (before.0 + 2, before.1 + 2),
        "two steps taken, not three"
    );
}

/// Makes the server fail where a crash would: after a request's commit, before its answer is
/// kept (every attempt to keep an answer is refused by the database).
async fn lose_every_answer(app: &TestApp) {
    let statements: &[&str] = if on_postgres() {
        &[
            "CREATE FUNCTION lose_the_answer() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'the server died'; END $$",
            "CREATE TRIGGER answers_are_lost BEFORE UPDATE ON idempotency_keys FOR EACH ROW \
             WHEN (NEW.state = 'done') EXECUTE FUNCTION lose_the_answer()",
        ]
    } else {
        &[
            "CREATE TRIGGER answers_are_lost BEFORE UPDATE ON idempotency_keys \
           WHEN NEW.state = 'done' BEGIN SELECT RAISE(ABORT, 'the server died'); END",
        ]
    };
    for statement in statements {
        app.db
            .execute_unprepared(statement)
            .await
            .expect("the trigger");
    }
}

#[tokio::test]
async fn a_step_whose_answer_was_lost_after_its_commit_is_not_taken_again_by_its_retry() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let id = record(
        &app,
        &cadre,
        &visit(
            household(villages::DONGGUAN, 14),
            vec![issue("practical_difficulty", "水管冻裂", 10)],
        ),
    )
    .await
    .remove(0);
    let progress = || {
        let token = cadre.clone();
        let path = format!("/api/v1/issues/{id}/progress");
        let app = &app;
        async move {
            app.send(reqwest::Method::POST, &path, move |request| {
                request
                    .bearer_auth(token)
                    .header("idempotency-key", "lost-1")
                    .json(&json!({"note": "已联系水管工"}))
            })
            .await
        }
    };
    lose_every_answer(&app).await;
    let before = (app.count("issue_events").await, app.audit_count().await);

    let first = progress().await;
    let too_soon = progress().await;
    // The lease of a request that never answered runs out: a retry may take over a request
    // that committed nothing, never one that did.
    for key in entity::idempotency_key::Entity::find()
        .all(&app.db)
        .await
        .expect("the keys")
    {
        let created_at = key.created_at - chrono::Duration::minutes(2);
        let mut overdue: entity::idempotency_key::ActiveModel = key.into();
        overdue.created_at = sea_orm::ActiveValue::Set(created_at);
        overdue.update(&app.db).await.expect("the lease runs out");
    }
    let after_the_lease = progress().await;

    assert_eq!(first.status, 200, "{}", first.text);
    too_soon.assert_problem(409, "idempotency_in_progress");
    after_the_lease.assert_problem(409, "idempotency_answer_lost");
    assert_eq!(
        (app.count("issue_events").await, app.audit_count().await),
        (before.0 + 1, before.1 + 1),
        "the step was taken once"
    );
}

#[tokio::test]
async fn an_api_token_created_with_an_idempotency_key_is_neither_kept_nor_created_again() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let create = || {
        let token = admin.clone();
        let app = &app;
        async move {
            app.send(
                reqwest::Method::POST,
                "/api/v1/api-tokens",
                move |request| {
                    request
                        .bearer_auth(token)
                        .header("idempotency-key", "token-1")
                        .json(&json!({"name": "县网格平台", "role": "viewer"}))
                },
            )
            .await
        }
    };

    let first = create().await;
    let retry = create().await;

    assert_eq!(first.status, 201, "{}", first.text);
    let secret = first.json()["token"]
        .as_str()
        .expect("the secret")
        .to_owned();
    retry.assert_problem(409, "idempotency_answer_withheld");
    let kept = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT state, response_body FROM idempotency_keys",
        ))
        .await
        .expect("read")
        .expect("the key");
    assert_eq!(
        kept.try_get::<String>("", "state").expect("state"),
        "withheld"
    );
    assert_eq!(
        kept.try_get::<Option<String>>("", "response_body")
            .expect("body"),
        None,
        "the secret {secret} is not kept"
    );
    let tokens = app.get_as(&admin, "/api/v1/api-tokens").await.json();
    let named = tokens["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|token| token["name"] == "县网格平台")
        .count();
    assert_eq!(named, 1, "one token created");
}

#[tokio::test]
async fn a_cadre_moved_off_a_village_still_lists_the_issues_they_lead_there() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let admin = app.token_for("admin").await;
    let led = record(
        &app,
        &cadre,
        &visit(
            household(villages::LIUSHUTUN, 5),
            vec![issue("practical_difficulty", "调走以后仍由我负责", 30)],
        ),
    )
    .await
    .remove(0);
    let kept = record(
        &app,
        &cadre,
        &visit(
            household(villages::DONGGUAN, 5),
            vec![
                issue("practical_difficulty", "本村事项一", 1),
                issue("practical_difficulty", "本村事项二", 60),
            ],
        ),
    )
    .await;
    let ended = app
        .take_village_from(&admin, "cadre1", villages::LIUSHUTUN)
        .await;
    assert_eq!(ended.status, 200, "{}", ended.text);

    // The issue led outside the scope is merged into the scope's page, in deadline order.
    let ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|item| item["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let page = app.get_as(&cadre, "/api/v1/issues").await.json();
    assert_eq!(
        ids(&page),
        vec![kept[0].clone(), led.clone(), kept[1].clone()]
    );
    let first = app.get_as(&cadre, "/api/v1/issues?limit=2").await.json();
    assert_eq!(ids(&first), vec![kept[0].clone(), led.clone()]);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = app
        .get_as(&cadre, &format!("/api/v1/issues?limit=2&cursor={cursor}"))
        .await
        .json();
    assert_eq!(ids(&second), vec![kept[1].clone()]);
}

#[tokio::test]
async fn a_leader_takes_no_leaders_step_on_a_matter_they_lead_outside_their_town() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let cadre = app.token_for("cadre2").await;
    let id = record(
        &app,
        &cadre,
        &visit(
            household(villages::HEWAN, 6),
            vec![issue("practical_difficulty", "河湾村的排水沟", 10)],
        ),
    )
    .await
    .remove(0);
    // cadre2 becomes a leader of 东岭镇; the 河湾村 (西河镇) matter stays theirs to lead (they
    // still see it), but striking it off or urging it is for 西河镇's leaders.
    let promoted = app
        .patch_json(
            &admin,
            &format!("/api/v1/users/{}", demo_id("user:cadre2")),
            &json!({"role": "leader", "scope_org_unit_id": demo_id("371526100")}),
        )
        .await;
    assert_eq!(promoted.status, 200, "{}", promoted.text);
    let leader = app.token_for("cadre2").await;

    let urged = take(&app, &leader, &id, "urge", json!({"note": "抓紧"})).await;
    let extended = take(
        &app,
        &leader,
        &id,
        "extend",
        json!({"new_deadline": days_from_today(40), "note": "等资金"}),
    )
    .await;
    for (step, body) in [
        ("resolve", json!({"note": "已疏通"})),
        ("feedback", json!({"satisfied": true})),
    ] {
        let taken = take(&app, &admin, &id, step, body).await;
        assert_eq!(taken.status, 200, "{step}: {}", taken.text);
    }
    let closed = take(&app, &leader, &id, "close", json!({})).await;
    let closed_by_admin = take(&app, &admin, &id, "close", json!({})).await;
    let reopened = take(&app, &leader, &id, "reopen", json!({"note": "又堵了"})).await;

    urged.assert_problem(403, "forbidden");
    extended.assert_problem(403, "forbidden");
    assert!(
        extended.text.contains("outside your place"),
        "{}",
        extended.text
    );
    closed.assert_problem(403, "forbidden");
    assert_eq!(closed_by_admin.status, 200, "{}", closed_by_admin.text);
    reopened.assert_problem(403, "forbidden");
}

#[tokio::test]
async fn an_extension_or_escalation_gives_a_deadline_from_today_to_five_years_ahead() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let leader = app.token_for("leader1").await;
    let id = record(
        &app,
        &cadre,
        &visit(
            household(villages::DONGGUAN, 9),
            vec![issue("practical_difficulty", "路灯坏了", 1)],
        ),
    )
    .await
    .remove(0);

    // Later than the deadline (tomorrow) yet still past: the matter would stay overdue.
    let backdated = app
        .post_json(
            Some(&leader),
            &format!("/api/v1/issues/{id}/extend"),
            &json!({"new_deadline": days_from_today(-1), "note": "x"}),
        )
        .await;
    let escalated_too_far = app
        .post_json(
            Some(&cadre),
            &format!("/api/v1/issues/{id}/escalations"),
            &escalate("dept-371526100-mz", 1831),
        )
        .await;
    let escalated = app
        .post_json(
            Some(&cadre),
            &format!("/api/v1/issues/{id}/escalations"),
            &escalate("dept-371526100-mz", 1830),
        )
        .await;

    backdated.assert_problem(422, "validation_failed");
    assert_eq!(backdated.json()["errors"][0]["code"], "in_the_past");
    escalated_too_far.assert_problem(422, "validation_failed");
    assert_eq!(escalated_too_far.json()["errors"][0]["code"], "too_far");
    assert_eq!(escalated.status, 201, "{}", escalated.text);
}

#[tokio::test]
async fn a_department_still_reads_an_issue_it_passed_on_but_no_longer_sees_the_applicants_phone() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let town_staff = app
        .post_json(
            Some(&admin),
            "/api/v1/users",
            &json!({"username": "mz1", "display_name": "镇民政办干部", "position": "department_staff",
                    "role": "department", "department_id": demo_id("dept-371526100-mz"),
                    "password": crate::helpers::DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(town_staff.status, 201, "{}", town_staff.text);
    let (town, county) = (app.token_for("mz1").await, app.token_for("dept1").await);
    let cadre = app.token_for("cadre1").await;
    let id = record(
        &app,
        &cadre,
        &visit(
            household(villages::DONGGUAN, 11),
            vec![issue("practical_difficulty", "低保申请", 7)],
        ),
    )
    .await
    .remove(0);
    let phone_seen_by = |token: String| {
        let (app, path) = (&app, format!("/api/v1/issues/{id}"));
        async move {
            let response = app.get_as(&token, &path).await;
            assert_eq!(response.status, 200, "{}", response.text);
            response.json()["applicant_phone"]
                .as_str()
                .expect("phone")
                .to_owned()
        }
    };

    let to_town = app
        .post_json(
            Some(&cadre),
            &format!("/api/v1/issues/{id}/escalations"),
            &escalate("dept-371526100-mz", 14),
        )
        .await;
    assert_eq!(to_town.status, 201, "{}", to_town.text);
    let while_handling = phone_seen_by(town.clone()).await;
    let to_county = app
        .post_json(
            Some(&cadre),
            &format!("/api/v1/issues/{id}/escalations"),
            &escalate("dept-371526-jt", 21),
        )
        .await;
    assert_eq!(to_county.status, 201, "{}", to_county.text);
    let after_passing_on = phone_seen_by(town).await;
    let by_the_county = phone_seen_by(county).await;

    assert!(!while_handling.contains('*'), "{while_handling}");
    assert!(after_passing_on.contains("****"), "{after_passing_on}");
    assert_eq!(by_the_county, while_handling);
}
