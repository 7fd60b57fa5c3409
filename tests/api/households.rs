//! The roster: households in scope, masking by role, idempotent creation, concurrency.

use serde_json::{Value, json};

use crate::helpers::{demo_id, spawn_app, villages};

fn items(response: &crate::helpers::TestResponse) -> Vec<Value> {
    assert_eq!(response.status, 200, "{}", response.text);
    response.json()["items"].as_array().expect("items").clone()
}

/// Every page of a list.
async fn all_items(app: &crate::helpers::TestApp, token: &str, path: &str) -> Vec<Value> {
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut collected = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let page_path = match &cursor {
            Some(cursor) => format!("{path}{separator}limit=500&cursor={cursor}"),
            None => format!("{path}{separator}limit=500"),
        };
        let response = app.get_as(token, &page_path).await;
        collected.extend(items(&response));
        match response.json()["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return collected,
        }
    }
    panic!("more than 100 pages");
}

fn is_mobile(text: &str) -> bool {
    text.len() == 11 && text.bytes().all(|byte| byte.is_ascii_digit())
}

#[tokio::test]
async fn each_role_sees_the_households_of_its_scope_and_personal_data_only_where_allowed() {
    let app = spawn_app().await;
    app.seed().await;

    let cadre = all_items(&app, &app.token_for("cadre1").await, "/api/v1/households").await;
    let official = all_items(
        &app,
        &app.token_for("official1").await,
        "/api/v1/households",
    )
    .await;
    let leader = all_items(&app, &app.token_for("leader1").await, "/api/v1/households").await;
    let viewer = all_items(&app, &app.token_for("viewer1").await, "/api/v1/households").await;
    let department = app
        .get_as(&app.token_for("dept1").await, "/api/v1/households")
        .await;

    let in_villages = |list: &[Value], codes: &[&str]| {
        let allowed: Vec<Value> = codes.iter().map(|code| json!(demo_id(code))).collect();
        list.iter()
            .all(|household| allowed.contains(&household["village_id"]))
    };
    assert_eq!(cadre.len(), 100);
    assert!(in_villages(
        &cadre,
        &[villages::DONGGUAN, villages::LIUSHUTUN]
    ));
    assert_eq!(official.len(), 50);
    assert!(in_villages(&official, &[villages::DONGGUAN]));
    assert_eq!(leader.len(), 150, "东岭镇's three villages");
    assert_eq!(viewer.len(), 300, "the whole county");
    department.assert_problem(403, "forbidden");

    assert!(
        cadre
            .iter()
            .all(|household| household["phone"].as_str().is_some_and(is_mobile)),
        "a cadre sees their households' phones"
    );
    for (audience, list) in [("leader", &leader), ("viewer", &viewer)] {
        let text = serde_json::to_string(list).expect("json");
        let leaked_phone = list
            .iter()
            .any(|household| household["phone"].as_str().is_some_and(is_mobile));
        let leaked_id = list.iter().any(|household| {
            household["id_card_number"]
                .as_str()
                .is_some_and(|number| !number.contains('*'))
        });
        assert!(
            !leaked_phone && !leaked_id,
            "{audience} sees unmasked personal data"
        );
        assert!(text.contains("****"), "{audience} sees masked values");
    }
    assert!(
        viewer.iter().all(|household| household["head_name"]
            .as_str()
            .is_some_and(|name| name.ends_with('*'))
            && household["address"].is_null()),
        "a viewer sees names masked and no address"
    );
    assert!(
        leader
            .iter()
            .all(|household| !household["head_name"].as_str().expect("name").contains('*')),
        "leaders read names"
    );
}

#[tokio::test]
async fn a_household_outside_the_scope_is_404_and_lists_never_leak_it() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let foreign = demo_id(&format!("household:{}:0", villages::HEWAN));
    let foreign_name = app
        .get_as(
            &app.token_for("admin").await,
            &format!("/api/v1/households/{foreign}"),
        )
        .await
        .json()["head_name"]
        .as_str()
        .expect("name")
        .to_owned();

    let direct = app
        .get_as(&cadre, &format!("/api/v1/households/{foreign}"))
        .await;
    let by_village = app
        .get_as(
            &cadre,
            &format!("/api/v1/households?village_id={}", demo_id(villages::HEWAN)),
        )
        .await;
    let by_name = all_items(
        &app,
        &cadre,
        &format!("/api/v1/households?q={foreign_name}"),
    )
    .await;
    let update = app
        .patch_json(
            &cadre,
            &format!("/api/v1/households/{foreign}"),
            &json!({"notes": "x"}),
        )
        .await;

    direct.assert_problem(404, "not_found");
    update.assert_problem(404, "not_found");
    assert!(items(&by_village).is_empty());
    let allowed = [
        json!(demo_id(villages::DONGGUAN)),
        json!(demo_id(villages::LIUSHUTUN)),
    ];
    assert!(
        by_name
            .iter()
            .all(|household| allowed.contains(&household["village_id"])),
        "{by_name:?}"
    );
}

#[tokio::test]
async fn a_household_posted_twice_with_its_id_exists_once() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let id = uuid::Uuid::new_v4();
    let household = json!({
        "id": id, "village_id": demo_id(villages::DONGGUAN), "head_name": "韩梅",
        "phone": "13700001111", "members_count": 3, "tags": ["hardship"], "id_card_number": "11010519491231002x",
    });

    let first = app
        .post_json(Some(&cadre), "/api/v1/households", &household)
        .await;
    let retry = app
        .post_json(Some(&cadre), "/api/v1/households", &household)
        .await;
    let mut different = household.clone();
    different["head_name"] = json!("李雷");
    let clash = app
        .post_json(Some(&cadre), "/api/v1/households", &different)
        .await;
    let listed = all_items(&app, &cadre, "/api/v1/households?q=韩梅").await;

    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(
        first.json()["id_card_number"],
        "11010519491231002X",
        "stored with an upper-case X"
    );
    assert_eq!(first.header("etag"), Some("\"1\""));
    assert_eq!(retry.status, 200);
    assert_eq!(retry.json()["id"], json!(id));
    clash.assert_problem(409, "id_taken");
    assert_eq!(listed.len(), 1);
}

#[tokio::test]
async fn invalid_households_are_refused_naming_each_field() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let base = json!({"village_id": demo_id(villages::DONGGUAN), "head_name": "韩梅"});
    let cases = [
        (
            "bad ID checksum",
            json!({"id_card_number": "110105194912310021"}),
            "id_card_number",
        ),
        ("bad phone", json!({"phone": "12345"}), "phone"),
        (
            "members out of range",
            json!({"members_count": 0}),
            "members_count",
        ),
        (
            "latitude out of range",
            json!({"latitude": 91.0}),
            "latitude",
        ),
        ("empty name", json!({"head_name": ""}), "head_name"),
        (
            "village of another cadre",
            json!({"village_id": demo_id(villages::HEWAN)}),
            "village_id",
        ),
        ("a server-owned field", json!({"version": 7}), "version"),
    ];
    for (case, change, field) in cases {
        let mut body = base.clone();
        for (key, value) in change.as_object().expect("object") {
            body[key] = value.clone();
        }
        let response = app
            .post_json(Some(&cadre), "/api/v1/households", &body)
            .await;
        response.assert_problem(422, "validation_failed");
        assert_eq!(response.json()["errors"][0]["field"], field, "{case}");
    }
    let tag = app
        .post_json(Some(&cadre), "/api/v1/households", &json!({"village_id": demo_id(villages::DONGGUAN), "head_name": "x", "tags": ["mayor"]}))
        .await;
    tag.assert_problem(422, "validation_failed");
}

#[tokio::test]
async fn a_stale_version_is_412_with_the_current_version_and_a_fresh_one_succeeds() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let path = format!(
        "/api/v1/households/{}",
        demo_id(&format!("household:{}:3", villages::DONGGUAN))
    );

    let read = app.get_as(&cadre, &path).await;
    let etag = read.header("etag").expect("etag").to_owned();
    let first = app
        .send(reqwest::Method::PATCH, &path, |request| {
            request
                .bearer_auth(&cadre)
                .header("if-match", &etag)
                .json(&json!({"members_count": 4, "tags": ["hardship", "party_member"]}))
        })
        .await;
    let stale = app
        .send(reqwest::Method::PATCH, &path, |request| {
            request
                .bearer_auth(&cadre)
                .header("if-match", &etag)
                .json(&json!({"members_count": 5}))
        })
        .await;
    let stale_body_version = app
        .patch_json(&cadre, &path, &json!({"version": 1, "notes": "x"}))
        .await;

    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.json()["version"], 2);
    assert_eq!(first.header("etag"), Some("\"2\""));
    assert_eq!(first.json()["tags"], json!(["party_member", "hardship"]));
    stale.assert_problem(412, "version_mismatch");
    assert_eq!(stale.json()["current_version"], 2);
    stale_body_version.assert_problem(412, "version_mismatch");
    assert_eq!(
        app.get_as(&cadre, &path).await.json()["members_count"],
        4,
        "the stale write changed nothing"
    );
}

#[tokio::test]
async fn filters_narrow_the_list_by_tag_name_village_and_visits() {
    let app = spawn_app().await;
    app.seed().await;
    let viewer = app.token_for("viewer1").await;
    let admin = app.token_for("admin").await;

    let party = all_items(&app, &viewer, "/api/v1/households?tag=party_member").await;
    let wang = all_items(&app, &admin, "/api/v1/households?q=王").await;
    let village = all_items(
        &app,
        &viewer,
        &format!(
            "/api/v1/households?village_id={}",
            demo_id(villages::SHIQIAO)
        ),
    )
    .await;
    let town = all_items(
        &app,
        &viewer,
        &format!("/api/v1/households?town_id={}", demo_id("371526101")),
    )
    .await;
    let not_visited = all_items(
        &app,
        &viewer,
        "/api/v1/households?not_visited_since=2026-01-01",
    )
    .await;
    let wildcard = all_items(&app, &admin, "/api/v1/households?q=%25").await;

    assert!(
        !party.is_empty()
            && party.iter().all(|household| household["tags"]
                .as_array()
                .expect("tags")
                .contains(&json!("party_member")))
    );
    assert!(party.len() < 300);
    assert!(
        !wang.is_empty()
            && wang.iter().all(|household| household["head_name"]
                .as_str()
                .expect("name")
                .contains('王'))
    );
    assert_eq!(village.len(), 50);
    assert_eq!(town.len(), 150);
    assert_eq!(not_visited.len(), 300, "nobody has been visited yet");
    assert!(
        wildcard.is_empty(),
        "`%` is matched literally, not as a wildcard"
    );
}

#[tokio::test]
async fn a_correction_the_mask_hides_is_saved_and_its_audit_entry_names_it() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let admin = app.token_for("admin").await;
    let id = demo_id(&format!("household:{}:4", villages::DONGGUAN));
    let path = format!("/api/v1/households/{id}");
    let first = app
        .patch_json(
            &cadre,
            &path,
            &json!({"phone": "13812341234", "id_card_number": "11010519491231002X"}),
        )
        .await;

    // The middle digits only: the masked forms stay the same.
    let corrected = app
        .patch_json(
            &cadre,
            &path,
            &json!({"phone": "13856781234", "id_card_number": "11010519571231002X"}),
        )
        .await;
    let stored = app.get_as(&cadre, &path).await.json();
    let audit = app
        .get_as(
            &admin,
            &format!("/api/v1/audit?entity_type=household&entity_id={id}"),
        )
        .await;

    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(corrected.status, 200, "{}", corrected.text);
    assert_eq!(
        corrected.json()["version"],
        first.json()["version"].as_i64().expect("version") + 1
    );
    assert_eq!(stored["phone"], "13856781234");
    assert_eq!(stored["id_card_number"], "11010519571231002X");
    let update = audit.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|entry| entry["action"] == "household.update")
        .expect("the correction's entry")
        .clone();
    assert_eq!(
        update["changes"],
        json!({
            "phone": {"from": "138****1234", "to": "138****1234"},
            "id_card_number": {"from": "1101**********002X", "to": "1101**********002X"},
        })
    );
    assert!(!audit.text.contains("13856781234") && !audit.text.contains("11010519571231002X"));
}

#[tokio::test]
async fn a_patch_that_changes_nothing_is_recorded_as_a_read_of_personal_data() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let admin = app.token_for("admin").await;
    let id = demo_id(&format!("household:{}:5", villages::DONGGUAN));
    let path = format!("/api/v1/households/{id}");
    let before = app.get_as(&cadre, &path).await.json();
    let actions = || async {
        let audit = app
            .get_as(
                &admin,
                &format!("/api/v1/audit?entity_type=household&entity_id={id}"),
            )
            .await
            .json();
        audit["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|entry| entry["action"].as_str().expect("action").to_owned())
            .collect::<Vec<_>>()
    };
    let recorded = actions().await;

    let unchanged = app.patch_json(&cadre, &path, &json!({})).await;

    assert_eq!(unchanged.status, 200, "{}", unchanged.text);
    assert_eq!(unchanged.json()["version"], before["version"]);
    assert_eq!(unchanged.json()["phone"], before["phone"], "shown in full");
    assert!(
        before["phone"]
            .as_str()
            .is_some_and(|phone| !phone.contains('*'))
    );
    let mut expected = vec!["household.read_personal_data".to_owned()];
    expected.extend(recorded);
    assert_eq!(actions().await, expected, "one read, no change");
}

#[tokio::test]
async fn a_name_of_spaces_is_refused_like_an_empty_one() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let path = format!(
        "/api/v1/households/{}",
        demo_id(&format!("household:{}:6", villages::DONGGUAN))
    );

    let created = app
        .post_json(
            Some(&cadre),
            "/api/v1/households",
            &json!({"village_id": demo_id(villages::DONGGUAN), "head_name": "   "}),
        )
        .await;
    let renamed = app
        .patch_json(&cadre, &path, &json!({"head_name": " \u{3000} "}))
        .await;

    created.assert_problem(422, "validation_failed");
    assert_eq!(created.json()["errors"][0]["code"], "blank");
    renamed.assert_problem(422, "validation_failed");
    assert_eq!(renamed.json()["errors"][0]["field"], "head_name");
}

#[tokio::test]
async fn not_visited_since_a_day_counts_the_day_from_local_midnight() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let day = crate::helpers::today();
    let household = demo_id(&format!("household:{}:16", villages::DONGGUAN));
    // Half past midnight in the township (UTC+8): still the day before in UTC.
    let visited = app
        .post_json(
            Some(&cadre),
            "/api/v1/visits",
            &json!({
                "id": uuid::Uuid::new_v4(),
                "household_id": household,
                "channel": "door_to_door",
                "visited_at": format!("{day}T00:30:00+08:00"),
                "answers": {"difficulties": "无"},
            }),
        )
        .await;
    assert_eq!(visited.status, 201, "{}", visited.text);

    let listed = all_items(
        &app,
        &cadre,
        &format!(
            "/api/v1/households?village_id={}&not_visited_since={day}",
            demo_id(villages::DONGGUAN)
        ),
    )
    .await;

    assert!(
        !listed.iter().any(|row| row["id"] == json!(household)),
        "visited on {day} as the township counts days"
    );
}
