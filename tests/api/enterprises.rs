//! Enterprises a cadre visits (企业走访): recorded once by id, and what each role sees of them.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{demo_id, spawn_app, villages};

#[tokio::test]
async fn an_enterprise_sent_again_is_answered_with_itself_and_a_correction_under_its_id_is_refused()
{
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let body = json!({
        "id": Uuid::new_v4(), "village_id": demo_id(villages::DONGGUAN), "name": "东关面粉厂",
        "contact_name": "赵建国", "contact_phone": "13812345678", "address": "东关村南街1号",
        "notes": "法人赵建国，电话同上",
    });
    let mut corrected = body.clone();
    corrected["contact_phone"] = json!("13987654321");

    let created = app
        .post_json(Some(&cadre), "/api/v1/enterprises", &body)
        .await;
    let count = app.count("enterprises").await;
    let again = app
        .post_json(Some(&cadre), "/api/v1/enterprises", &body)
        .await;
    let correction = app
        .post_json(Some(&cadre), "/api/v1/enterprises", &corrected)
        .await;

    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json()["id"], body["id"]);
    correction.assert_problem(409, "id_taken");
    assert_eq!(app.count("enterprises").await, count);
    assert_eq!(
        app.get_as(
            &cadre,
            &format!("/api/v1/enterprises/{}", body["id"].as_str().expect("id"))
        )
        .await
        .json()["contact_phone"],
        "13812345678",
        "the first one stands"
    );
}

#[tokio::test]
async fn viewers_see_an_enterprise_without_its_address_notes_or_contacts_phone() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let id = Uuid::new_v4();
    let created = app
        .post_json(
            Some(&cadre),
            "/api/v1/enterprises",
            &json!({"id": id, "village_id": demo_id(villages::DONGGUAN), "name": "东关合作社",
                    "contact_name": "钱进", "contact_phone": "13811112222",
                    "address": "东关村北街", "notes": "社长钱进 13811112222"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let path = format!("/api/v1/enterprises/{id}");

    let reads =
        "SELECT COUNT(*) AS n FROM audit_log WHERE action = 'enterprise.read_personal_data'";
    let viewer = app.token_for("viewer1").await;
    let before = app.scalar(reads).await;
    let for_cadre = app.get_as(&cadre, &path).await.json();
    let after_the_cadre = app.scalar(reads).await;
    let for_viewer = app.get_as(&viewer, &path).await.json();
    let listed = app.get_as(&cadre, "/api/v1/enterprises?limit=500").await;
    let after_the_list = app.scalar(reads).await;
    app.get_as(&viewer, "/api/v1/enterprises?limit=500").await;

    // The contact's phone shown in full is a read of personal data, audited (PIPL); masked,
    // it is not.
    assert_eq!(for_cadre["contact_phone"], "13811112222");
    assert_eq!(after_the_cadre, before + 1, "the cadre's read is audited");
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(after_the_list, before + 2, "a page is one entry");
    assert_eq!(
        app.scalar(reads).await,
        before + 2,
        "a viewer's masked read is not"
    );
    assert_eq!(for_cadre["notes"], "社长钱进 13811112222");
    assert_eq!(for_cadre["address"], "东关村北街");
    assert_eq!(for_viewer["name"], "东关合作社");
    assert_eq!(
        (&for_viewer["address"], &for_viewer["notes"]),
        (&Value::Null, &Value::Null),
        "{for_viewer}"
    );
    assert_eq!(for_viewer["contact_name"], "钱*");
    assert!(
        for_viewer["contact_phone"]
            .as_str()
            .is_some_and(|phone| phone.contains("****")),
        "{for_viewer}"
    );
}
