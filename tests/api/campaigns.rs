//! Campaigns as data: admins set them up per county or town and year; everyone reads the one
//! that applies to their place.

use chrono::{Datelike, Utc};
use serde_json::json;

use crate::helpers::{demo_id, spawn_app};

fn this_year() -> i32 {
    Utc::now()
        .with_timezone(&api::clock::CHINA_STANDARD_TIME)
        .year()
}

#[tokio::test]
async fn an_admin_sets_up_the_standard_campaign_and_everyone_reads_the_one_for_their_place() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let year = this_year();
    let created = app
        .post_json(
            Some(&admin),
            "/api/v1/campaigns",
            &json!({"org_unit_id": demo_id("371526"), "year": year}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let campaign = created.json();
    assert_eq!(campaign["starts_on"], format!("{year}-04-01"));
    assert_eq!(campaign["ends_on"], format!("{year}-12-31"));
    assert_eq!(
        campaign["phases"]
            .as_array()
            .expect("phases")
            .iter()
            .map(|phase| phase["name"].as_str().expect("name"))
            .collect::<Vec<_>>(),
        ["宣传发动", "扎实开展", "总结推广"]
    );
    assert_eq!(
        campaign["quotas"],
        json!([
            {"position": "village_contact_leader", "measure": "households", "target": 60},
            {"position": "village_contact_cadre", "measure": "households", "target": 120},
            {"position": "village_official", "measure": "visits", "target": 200}
        ])
    );
    assert_eq!(
        (
            &campaign["deeds_per_cadre"],
            &campaign["first_batch_deeds"],
            &campaign["first_batch_due"]
        ),
        (&json!(2), &json!(12), &json!(format!("{year}-04-30")))
    );

    let cadre = app.token_for("cadre1").await;
    let current = app.get_as(&cadre, "/api/v1/campaigns/current").await;
    assert_eq!(current.status, 200, "{}", current.text);
    assert_eq!(current.json()["id"], campaign["id"]);

    // A town's own campaign wins over its county's.
    let town = app
        .post_json(
            Some(&admin),
            "/api/v1/campaigns",
            &json!({"org_unit_id": demo_id("371526100"), "year": year, "name": "东岭镇专项活动"}),
        )
        .await;
    assert_eq!(town.status, 201, "{}", town.text);
    assert_eq!(
        app.get_as(&cadre, "/api/v1/campaigns/current").await.json()["name"],
        "东岭镇专项活动"
    );
    let cadre2 = app.token_for("cadre2").await;
    assert_eq!(
        app.get_as(&cadre2, "/api/v1/campaigns/current")
            .await
            .json()["id"],
        campaign["id"]
    );
    let listed = app.get_as(&cadre2, "/api/v1/campaigns").await.json();
    assert_eq!(
        listed.as_array().expect("list").len(),
        1,
        "not the other town's: {listed}"
    );
}

#[tokio::test]
async fn a_campaign_that_breaks_the_rules_is_refused_with_the_field_named() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let year = this_year();
    let county = demo_id("371526");
    let cases = [
        (
            "weights",
            json!({"org_unit_id": county, "year": year,
            "weights": {"duties": 50, "visits": 50, "contacts": 10, "issues_in_time": 0, "satisfaction": 0}}),
        ),
        (
            "phases[0].ends_on",
            json!({"org_unit_id": county, "year": year,
            "phases": [{"key": "a", "name": "甲", "starts_on": format!("{year}-05-01"), "ends_on": format!("{year}-04-01")}],
            "first_batch_due": format!("{year}-04-15")}),
        ),
        (
            "phases[0]",
            json!({"org_unit_id": county, "year": year,
            "phases": [{"key": "a", "name": "甲", "starts_on": format!("{}-12-01", year - 1), "ends_on": format!("{year}-04-01")}]}),
        ),
        (
            "quotas[1].position",
            json!({"org_unit_id": county, "year": year,
            "quotas": [{"position": "village_official", "measure": "visits", "target": 1},
                       {"position": "village_official", "measure": "households", "target": 2}]}),
        ),
        (
            "org_unit_id",
            json!({"org_unit_id": demo_id("371526100201"), "year": year}),
        ),
        (
            "first_batch_due",
            json!({"org_unit_id": county, "year": year, "first_batch_due": format!("{year}-01-02")}),
        ),
    ];
    for (field, body) in cases {
        let response = app
            .post_json(Some(&admin), "/api/v1/campaigns", &body)
            .await;
        response.assert_problem(422, "validation_failed");
        assert!(
            response.text.contains(field),
            "{field} should be named: {}",
            response.text
        );
    }
    let body = json!({"org_unit_id": county, "year": year});
    assert_eq!(
        app.post_json(Some(&admin), "/api/v1/campaigns", &body)
            .await
            .status,
        201
    );
    app.post_json(Some(&admin), "/api/v1/campaigns", &body)
        .await
        .assert_problem(409, "campaign_exists");
    let leader = app.token_for("leader1").await;
    app.post_json(Some(&leader), "/api/v1/campaigns", &body)
        .await
        .assert_problem(403, "forbidden");
}

#[tokio::test]
async fn editing_a_campaign_needs_the_version_last_read() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let created = app
        .post_json(
            Some(&admin),
            "/api/v1/campaigns",
            &json!({"org_unit_id": demo_id("371526"), "year": this_year()}),
        )
        .await
        .json();
    let path = format!("/api/v1/campaigns/{}", created["id"].as_str().expect("id"));
    let changed = app
        .patch_json(
            &admin,
            &path,
            &json!({"version": 1, "deeds_per_cadre": 3, "quotas": [
                {"position": "village_contact_cadre", "measure": "households", "target": 100}]}),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.json()["version"], 2);
    assert_eq!(changed.json()["deeds_per_cadre"], 3);
    app.patch_json(&admin, &path, &json!({"version": 1, "deeds_per_cadre": 4}))
        .await
        .assert_problem(412, "version_mismatch");
    let recorded = app.audit_count().await;
    let same_again = app
        .patch_json(&admin, &path, &json!({"version": 2, "deeds_per_cadre": 3}))
        .await;
    assert_eq!(same_again.status, 200, "{}", same_again.text);
    assert_eq!(
        same_again.json()["version"],
        2,
        "nothing changed: no new version"
    );
    assert_eq!(app.audit_count().await, recorded, "and no audit row");
    let read = app.get_as(&admin, &path).await;
    assert_eq!(read.header("etag"), Some("\"2\""));
    assert_eq!(read.json()["quotas"][0]["target"], 100);
    let viewer = app.token_for("viewer1").await;
    app.patch_json(&viewer, &path, &json!({"deeds_per_cadre": 4}))
        .await
        .assert_problem(403, "forbidden");
}
