//! The public notice board: pending and recent matters, and never personal data or complaints
//! about cadres.

use serde_json::json;
use uuid::Uuid;

use crate::helpers::{demo_id, spawn_app, villages};

fn visit(household: Uuid, issues: Vec<serde_json::Value>) -> serde_json::Value {
    json!({"id": Uuid::new_v4(), "household_id": household, "channel": "door_to_door",
           "visited_at": chrono::Utc::now().to_rfc3339(), "issues": issues})
}

fn issue(category: &str, matter: &str) -> serde_json::Value {
    let deadline = (chrono::Utc::now() + chrono::Duration::days(10))
        .date_naive()
        .to_string();
    json!({"id": Uuid::new_v4(), "category": category, "matter": matter, "deadline": deadline})
}

#[tokio::test]
async fn the_board_shows_pending_matters_masked_and_never_a_complaint_about_a_cadre() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let official = app.token_for("official1").await;
    let household = demo_id(&format!("household:{}:4", villages::DONGGUAN));
    let head = app
        .get_as(&cadre, &format!("/api/v1/households/{household}"))
        .await
        .json();
    let (head_name, phone) = (
        head["head_name"].as_str().expect("name").to_owned(),
        head["phone"].as_str().expect("phone").to_owned(),
    );
    let mut complaint = issue("cadre_conduct", "包村干部态度生硬");
    complaint["named_cadre_id"] = json!(demo_id("user:cadre1"));
    let on_spot = json!({"id": Uuid::new_v4(), "category": "practical_difficulty", "matter": "当场答复的咨询", "answered_on_spot": true, "spot_answer": "已解答"});
    let visited = app
        .post_json(
            Some(&cadre),
            "/api/v1/visits",
            &visit(
                household,
                vec![issue("practical_difficulty", "路灯维修"), on_spot],
            ),
        )
        .await;
    assert_eq!(visited.status, 201, "{}", visited.text);
    // The cadre notes the progress in their own words, personal data and all.
    let lamp = visited.json()["issues"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let id_number = "11010519491231002X";
    let progress = app
        .post_json(
            Some(&cadre),
            &format!("/api/v1/issues/{lamp}/progress"),
            &json!({"note": format!("已电话联系{head_name} {phone}，身份证{id_number}已核实，2026-12-05前修好")}),
        )
        .await;
    assert_eq!(progress.status, 200, "{}", progress.text);
    assert_eq!(
        app.post_json(
            Some(&official),
            "/api/v1/visits",
            &visit(household, vec![complaint])
        )
        .await
        .status,
        201
    );
    let elsewhere = app.token_for("cadre2").await;
    let hewan = demo_id(&format!("household:{}:4", villages::HEWAN));
    assert_eq!(
        app.post_json(
            Some(&elsewhere),
            "/api/v1/visits",
            &visit(hewan, vec![issue("work_shortcoming", "河湾村的事")])
        )
        .await
        .status,
        201
    );

    let board = app
        .get(&format!(
            "/public/villages/{}/board",
            demo_id(villages::DONGGUAN)
        ))
        .await;
    let page = app
        .send(
            reqwest::Method::GET,
            &format!("/public/villages/{}/board", demo_id(villages::DONGGUAN)),
            |request| request.header("accept", "text/html"),
        )
        .await;
    let town = app
        .get(&format!("/public/towns/{}/board", demo_id("371526100")))
        .await;

    assert_eq!(board.status, 200, "{}", board.text);
    let body = board.json();
    assert_eq!(body["place"], "东关村");
    let matters: Vec<&str> = body["pending"]
        .as_array()
        .expect("pending")
        .iter()
        .filter_map(|item| item["matter"].as_str())
        .collect();
    assert_eq!(matters, vec!["路灯维修"]);
    let item = &body["pending"][0];
    assert_eq!(
        item["applicant"]
            .as_str()
            .expect("applicant")
            .chars()
            .next(),
        head_name.chars().next()
    );
    assert!(
        item["applicant"]
            .as_str()
            .expect("applicant")
            .ends_with('*')
    );
    assert_eq!(item["responsible"], "李明");
    assert_eq!(item["category"], "实际困难");
    assert_eq!(item["status"], "办理中");
    let noted = item["progress"].as_str().expect("progress");
    assert!(
        noted.starts_with("已电话联系") && noted.ends_with("2026-12-05前修好"),
        "the progress is posted, its date kept: {noted}"
    );
    assert_eq!(board.header("cache-control"), Some("public, max-age=60"));
    assert!(
        board
            .header("vary")
            .is_some_and(|vary| vary.contains("Accept")),
        "JSON and the page kept apart: {:?}",
        board.header("vary")
    );
    for text in [&board.text, &page.text, &town.text] {
        assert!(!text.contains(&head_name), "a full name on the board");
        assert!(!text.contains(&phone), "a phone on the board");
        assert!(!text.contains(id_number), "an ID number on the board");
        assert!(
            !text.contains("态度生硬"),
            "a complaint about a cadre on the board"
        );
        assert!(
            !text.contains("当场答复的咨询"),
            "an on-the-spot answer on the board"
        );
    }
    assert!(
        !board.text.contains("河湾村的事"),
        "another village's matter"
    );
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .is_some_and(|value| value.starts_with("text/html"))
    );
    assert!(page.text.contains("待办事项") && page.text.contains("路灯维修"));
    assert!(
        !page.text.contains("http://")
            && !page.text.contains("https://")
            && !page.text.contains("<script"),
        "self-contained, printable"
    );
    assert!(
        town.text.contains("路灯维修"),
        "the town board lists its villages' matters"
    );
    app.get(&format!("/public/villages/{}/board", Uuid::new_v4()))
        .await
        .assert_problem(404, "not_found");
}

/// Anyone may ask for a board as often as they like: a server reads it from the database at
/// most once a minute, and lists at most 300 pending matters, counting the rest.
#[tokio::test]
async fn a_board_is_read_once_a_minute_and_lists_at_most_300_pending_matters() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let household = demo_id(&format!("household:{}:3", villages::DONGGUAN));
    let visited = app
        .post_json(
            Some(&cadre),
            "/api/v1/visits",
            &visit(household, vec![issue("practical_difficulty", "修桥")]),
        )
        .await;
    assert_eq!(visited.status, 201, "{}", visited.text);
    let path = format!("/public/villages/{}/board", demo_id(villages::DONGGUAN));
    let before = app.get(&path).await.json();
    let listed = before["pending"].as_array().expect("pending").len();
    let model = entity::issue::Entity::find()
        .filter(entity::issue::Column::VillageId.eq(demo_id(villages::DONGGUAN)))
        .one(&app.db)
        .await
        .expect("read")
        .expect("an issue");
    let more: Vec<entity::issue::ActiveModel> = (0..305)
        .map(|_| {
            entity::issue::ActiveModel::from(entity::issue::Model {
                id: Uuid::now_v7(),
                ..model.clone()
            })
        })
        .collect();
    entity::issue::Entity::insert_many(more)
        .exec_without_returning(&app.db)
        .await
        .expect("insert");

    let kept = app.get(&path).await.json();
    let elsewhere = app.second_server().await;
    let fresh = elsewhere.get(&path).await.json();

    assert_eq!(
        kept["pending"].as_array().expect("pending").len(),
        listed,
        "the same board for a minute"
    );
    assert_eq!(kept["pending_not_shown"], 0);
    assert_eq!(fresh["pending"].as_array().expect("pending").len(), 300);
    assert_eq!(
        fresh["pending_not_shown"],
        json!(listed + 305 - 300),
        "the rest counted"
    );
}
