//! 123 pairing: who pairs with whom, and whose pairing is incomplete.

use serde_json::json;

use crate::helpers::{demo_id, spawn_app, villages};

#[tokio::test]
async fn the_status_names_each_cadre_whose_pairing_falls_short_and_why() {
    let app = spawn_app().await;
    app.seed().await;
    let viewer = app.token_for("viewer1").await;

    let all = app.get_as(&viewer, "/api/v1/pairings/status").await.json();
    let problems = app
        .get_as(&viewer, "/api/v1/pairings/status?only_problems=true")
        .await
        .json();

    let find = |name: &str| {
        all["items"]
            .as_array()
            .expect("list")
            .iter()
            .find(|status| status["display_name"] == name)
            .cloned()
            .expect(name)
    };
    let cadre1 = find("李明");
    assert_eq!(cadre1["complete"], true, "{cadre1}");
    assert_eq!(
        (cadre1["party_members"].clone(), cadre1["residents"].clone()),
        (json!(2), json!(3))
    );
    let cadre2 = find("王芳");
    assert_eq!(cadre2["complete"], false);
    assert_eq!(
        cadre2["problems"],
        json!(["residents_missing", "no_resident_in_hardship"])
    );
    let names: Vec<&str> = problems["items"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|status| status["display_name"].as_str())
        .collect();
    assert!(
        names.contains(&"王芳") && !names.contains(&"李明"),
        "{names:?}"
    );
}

#[tokio::test]
async fn a_cadre_completes_their_own_pairing_but_not_anothers() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre2 = app.token_for("cadre2").await;
    let pair = |cadre: &str, index: usize| json!({"cadre_id": demo_id(&format!("user:{cadre}")), "household_id": demo_id(&format!("household:{}:{index}", villages::HEWAN))});

    let mut statuses = Vec::new();
    for index in [2, 3, 4] {
        statuses.push(
            app.post_json(Some(&cadre2), "/api/v1/pairings", &pair("cadre2", index))
                .await
                .status,
        );
    }
    let fourth_resident = app
        .post_json(Some(&cadre2), "/api/v1/pairings", &pair("cadre2", 6))
        .await;
    let for_someone_else = app
        .post_json(Some(&cadre2), "/api/v1/pairings", &pair("cadre1", 6))
        .await;
    let again = app
        .post_json(Some(&cadre2), "/api/v1/pairings", &pair("cadre2", 0))
        .await;
    let status = app
        .get_as(
            &app.token_for("admin").await,
            "/api/v1/pairings/status?only_problems=true",
        )
        .await
        .json();

    assert_eq!(statuses, vec![201, 201, 201]);
    fourth_resident.assert_problem(409, "pairing_full");
    for_someone_else.assert_problem(403, "forbidden");
    again.assert_problem(409, "already_paired");
    assert!(
        status["items"]
            .as_array()
            .expect("list")
            .iter()
            .all(|status| status["display_name"] != "王芳"),
        "cadre2 is complete now"
    );
}

#[tokio::test]
async fn a_leader_cannot_pair_a_cadre_with_a_household_outside_the_town() {
    let app = spawn_app().await;
    app.seed().await;
    let leader = app.token_for("leader1").await;

    let foreign_household = app
        .post_json(
            Some(&leader),
            "/api/v1/pairings",
            &json!({"cadre_id": demo_id("user:cadre1"), "household_id": demo_id(&format!("household:{}:5", villages::HEWAN))}),
        )
        .await;
    let third_party_member = app
        .post_json(
            Some(&leader),
            "/api/v1/pairings",
            &json!({"cadre_id": demo_id("user:cadre1"), "household_id": demo_id(&format!("household:{}:7", villages::DONGGUAN))}),
        )
        .await;

    foreign_household.assert_problem(422, "validation_failed");
    third_party_member.assert_problem(409, "pairing_full");
}
