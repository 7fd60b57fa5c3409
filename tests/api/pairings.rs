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

/// PostgreSQL only: SQLite's writers take turns, so the two can never hold locks at once.
#[tokio::test]
async fn pairing_a_cadre_with_a_household_while_their_visit_to_it_is_being_written_waits_instead_of_deadlocking()
 {
    if !crate::helpers::on_postgres() {
        return;
    }
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let app = spawn_app().await;
    app.seed().await;
    let leader = app.token_for("admin").await;
    let (cadre, household) = (
        demo_id("user:cadre2"),
        demo_id(&format!("household:{}:40", villages::HEWAN)),
    );
    // A visit being written: its insert holds its cadre's row in key share (the foreign key),
    // and it then locks its household to move last_visited_at.
    let visit = app.db.begin().await.expect("begin");
    visit
        .execute_unprepared(&format!(
            "SELECT id FROM users WHERE id = '{cadre}' FOR KEY SHARE"
        ))
        .await
        .expect("cadre held");

    let body = json!({"cadre_id": cadre, "household_id": household});
    let pairing = app.post_json(Some(&leader), "/api/v1/pairings", &body);
    let then_the_visit_locks_its_household = async {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let locked = visit
            .execute_unprepared(&format!(
                "SELECT id FROM households WHERE id = '{household}' FOR NO KEY UPDATE"
            ))
            .await;
        visit.commit().await.expect("commit");
        locked
    };
    let (paired, household_locked) = tokio::join!(pairing, then_the_visit_locks_its_household);

    assert!(
        household_locked.is_ok(),
        "the visit was aborted: {household_locked:?}"
    );
    assert_eq!(paired.status, 201, "{}", paired.text);
}
