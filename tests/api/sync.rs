//! Offline sync, tested as two phones would use it.

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, TestResponse, demo_id, spawn_app, today, villages};

struct Phone<'a> {
    app: &'a TestApp,
    token: String,
    device: &'static str,
    cursor: Option<i64>,
}

impl<'a> Phone<'a> {
    async fn new(app: &'a TestApp, user: &str, device: &'static str) -> Self {
        Self {
            app,
            token: app.token_for(user).await,
            device,
            cursor: None,
        }
    }

    /// Pulls until a pull brings nothing new, and returns what they brought together. On
    /// PostgreSQL a cursor can come out a little below the last change when a transaction of
    /// another database (another test's) ends just as the cursor is taken (`sync::
    /// current_cursor` counts an ended transaction it cannot place as possibly this
    /// database's): the phone gets those changes at its next pull, never misses them. A test
    /// that counts what one sync brings syncs as a phone would, until there is nothing more.
    async fn pull(&mut self) -> Value {
        let mut changes = self.pull_once().await;
        for _ in 0..5 {
            let more = self.pull_once().await;
            let mut brought = false;
            for (table, lists) in more.as_object().expect("changes") {
                for (kind, records) in lists.as_object().expect("table") {
                    let list = changes[table][kind].as_array_mut().expect("list");
                    for record in records.as_array().expect("list") {
                        // A deletion is sent again until the cursor moves on: not new.
                        if !list.contains(record) {
                            list.push(record.clone());
                            brought = true;
                        }
                    }
                }
            }
            if !brought {
                break;
            }
        }
        changes
    }

    async fn pull_once(&mut self) -> Value {
        let cursor = self
            .cursor
            .map_or_else(|| "null".to_owned(), |cursor| cursor.to_string());
        let (token, device) = (self.token.clone(), self.device);
        let response = self
            .app
            .send(
                reqwest::Method::GET,
                &format!(
                    "/api/v1/sync/pull?last_pulled_at={cursor}&schema_version=1&migration=null"
                ),
                move |request| request.bearer_auth(token).header("x-device-id", device),
            )
            .await;
        assert_eq!(response.status, 200, "pull: {}", response.text);
        let body = response.json();
        let timestamp = body["timestamp"].as_i64().expect("timestamp");
        if let Some(previous) = self.cursor {
            assert!(timestamp >= previous, "the cursor never goes back");
        }
        self.cursor = Some(timestamp);
        body["changes"].clone()
    }

    async fn push(&self, changes: Value) -> TestResponse {
        let (token, device) = (self.token.clone(), self.device);
        let body = json!({"changes": changes});
        self.app
            .send(
                reqwest::Method::POST,
                &format!(
                    "/api/v1/sync/push?last_pulled_at={}",
                    self.cursor.unwrap_or(0)
                ),
                move |request| {
                    request
                        .bearer_auth(token)
                        .header("x-device-id", device)
                        .json(&body)
                },
            )
            .await
    }
}

fn ids(changes: &Value, table: &str, kind: &str) -> Vec<String> {
    changes[table][kind]
        .as_array()
        .unwrap_or_else(|| panic!("{table}.{kind} missing: {changes}"))
        .iter()
        .map(|record| {
            record.as_str().map_or_else(
                || record["id"].as_str().expect("id").to_owned(),
                str::to_owned,
            )
        })
        .collect()
}

fn new_household(id: Uuid, village: &str, name: &str) -> Value {
    json!({"id": id, "village_id": demo_id(village), "head_name": name, "phone": "13712345678",
           "tags": "party_member,hardship", "_status": "created", "_changed": ""})
}

fn new_visit(id: Uuid, household: Uuid) -> Value {
    json!({"id": id, "household_id": household, "channel": "door_to_door", "visited_at": 1_780_000_000_000_i64,
           "answers": "{\"difficulties\":\"缺劳力\"}", "service_card_given": true, "_status": "created"})
}

fn new_issue(id: Uuid, visit: Uuid) -> Value {
    let deadline = (chrono::Utc::now() + chrono::Duration::days(20))
        .date_naive()
        .to_string();
    json!({"id": id, "visit_id": visit, "category": "practical_difficulty", "matter": "缺劳力，需帮助秋收", "deadline": deadline})
}

#[tokio::test]
async fn the_first_pull_sends_the_whole_scope_as_created() {
    let app = spawn_app().await;
    app.seed().await;
    let mut phone = Phone::new(&app, "cadre1", "phone-a").await;

    let changes = phone.pull().await;

    let mut village_ids = ids(&changes, "villages", "created");
    village_ids.sort();
    let mut expected = vec![
        demo_id(villages::DONGGUAN).to_string(),
        demo_id(villages::LIUSHUTUN).to_string(),
    ];
    expected.sort();
    assert_eq!(village_ids, expected);
    assert_eq!(ids(&changes, "households", "created").len(), 100);
    assert_eq!(ids(&changes, "pairings", "created").len(), 5);
    for table in [
        "villages",
        "households",
        "enterprises",
        "visits",
        "issues",
        "issue_events",
        "pairings",
    ] {
        assert!(
            ids(&changes, table, "updated").is_empty(),
            "{table}: first sync sends only created"
        );
        assert!(ids(&changes, table, "deleted").is_empty(), "{table}");
    }
    let household = &changes["households"]["created"][0];
    assert!(
        household["phone"]
            .as_str()
            .is_some_and(|phone| !phone.contains('*')),
        "a cadre's own households, unmasked"
    );
    let again = phone.pull().await;
    assert!(
        ids(&again, "households", "created").is_empty()
            && ids(&again, "households", "updated").is_empty(),
        "nothing changed since"
    );
}

#[tokio::test]
async fn a_pull_of_many_chunks_arrives_whole() {
    let app = spawn_app().await;
    app.seed().await;
    let mut phone = Phone::new(&app, "cadre1", "phone-a").await;
    let households = ids(&phone.pull().await, "households", "created");
    // 900 visits: some 300 KB of JSON, several of the chunks a pull is sent in.
    let visits: Vec<Value> = (0..900)
        .map(|n| {
            let household = households[n % households.len()].parse().expect("id");
            new_visit(Uuid::now_v7(), household)
        })
        .collect();
    let mut pushed: Vec<String> = visits
        .iter()
        .map(|visit| visit["id"].as_str().expect("id").to_owned())
        .collect();
    let response = phone.push(json!({"visits": {"created": visits}})).await;
    assert_eq!(response.status, 200, "{}", response.text);

    let mut other = Phone::new(&app, "cadre1", "phone-b").await;
    let changes = other.pull().await;

    let mut sent = ids(&changes, "visits", "created");
    sent.retain(|id| pushed.contains(id));
    sent.sort();
    pushed.sort();
    assert_eq!(sent, pushed, "every visit, once");
    assert_eq!(ids(&changes, "households", "created").len(), 100);
    assert_eq!(
        ids(&changes, "pairings", "created").len(),
        5,
        "the last table too"
    );
}

#[tokio::test]
async fn a_pushed_visit_moves_its_households_last_visit_only_forward() {
    let app = spawn_app().await;
    app.seed().await;
    let mut phone = Phone::new(&app, "cadre1", "phone-a").await;
    let households = ids(&phone.pull().await, "households", "created");
    let (first, second): (Uuid, Uuid) = (
        households[0].parse().expect("id"),
        households[1].parse().expect("id"),
    );
    let visit_at = |household: Uuid, millis: i64| {
        let mut visit = new_visit(Uuid::now_v7(), household);
        visit["visited_at"] = json!(millis);
        visit
    };
    let last_visited = |household: Uuid| {
        let db = app.db.clone();
        async move {
            use sea_orm::EntityTrait;
            entity::household::Entity::find_by_id(household)
                .one(&db)
                .await
                .expect("read")
                .expect("household")
                .last_visited_at
                .map(|at| at.timestamp_millis())
        }
    };
    let (earlier, later, oldest) = (1_780_000_000_000_i64, 1_780_100_000_000, 1_700_000_000_000);

    // Two visits to the first household in one push, the later one first; one to the second.
    let response = phone
        .push(json!({"visits": {"created": [
            visit_at(first, later), visit_at(first, earlier), visit_at(second, earlier),
        ]}}))
        .await;
    assert_eq!(response.status, 200, "{}", response.text);
    assert_eq!(last_visited(first).await, Some(later));
    assert_eq!(last_visited(second).await, Some(earlier));

    // A visit older than the last one, synced late, leaves it where it was.
    let response = phone
        .push(json!({"visits": {"created": [visit_at(first, oldest), visit_at(second, later)]}}))
        .await;
    assert_eq!(response.status, 200, "{}", response.text);
    assert_eq!(last_visited(first).await, Some(later), "never moves back");
    assert_eq!(last_visited(second).await, Some(later));
}

#[tokio::test]
async fn a_visit_recorded_offline_on_one_phone_appears_on_the_other() {
    let app = spawn_app().await;
    app.seed().await;
    let mut a = Phone::new(&app, "cadre1", "phone-a").await;
    let mut b = Phone::new(&app, "official1", "phone-b").await;
    a.pull().await;
    b.pull().await;
    let (household, visit, issue) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());

    let pushed = a
        .push(json!({
            "households": {"created": [new_household(household, villages::DONGGUAN, "钱大江")], "updated": [], "deleted": []},
            "visits": {"created": [new_visit(visit, household)], "updated": [], "deleted": []},
            "issues": {"created": [new_issue(issue, visit)], "updated": [], "deleted": []},
        }))
        .await;
    let on_b = b.pull().await;
    let on_a = a.pull().await;

    assert_eq!(pushed.status, 200, "{}", pushed.text);
    assert_eq!(pushed.json()["applied"], 3);
    assert_eq!(
        ids(&on_b, "households", "created"),
        vec![household.to_string()]
    );
    assert_eq!(ids(&on_b, "visits", "created"), vec![visit.to_string()]);
    assert_eq!(ids(&on_b, "issues", "created"), vec![issue.to_string()]);
    assert_eq!(
        on_b["issues"]["created"][0]["lead_responsible_id"],
        json!(demo_id("user:cadre1"))
    );
    assert!(
        ids(&on_a, "households", "created").is_empty(),
        "a device's own records come back as updated"
    );
    assert!(ids(&on_a, "households", "updated").contains(&household.to_string()));
}

#[tokio::test]
async fn re_pushing_an_applied_batch_creates_no_duplicates() {
    let app = spawn_app().await;
    app.seed().await;
    let mut phone = Phone::new(&app, "cadre1", "phone-a").await;
    phone.pull().await;
    let (household, visit, issue, event) = (
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    let batch = json!({
        "households": {"created": [new_household(household, villages::DONGGUAN, "孔令华")]},
        "visits": {"created": [new_visit(visit, household)]},
        "issues": {"created": [new_issue(issue, visit)]},
        "issue_events": {"created": [{"id": event, "issue_id": issue, "kind": "progress", "note": "已联系帮扶队"}]},
    });
    let first = phone.push(batch.clone()).await;
    let counts = (
        app.count("households").await,
        app.count("visits").await,
        app.count("issues").await,
        app.count("issue_events").await,
        app.audit_count().await,
    );

    // The acknowledgement was lost: the phone pushes the same batch again, several times, some at once.
    let again = phone.push(batch.clone()).await;
    let together =
        futures_util::future::join_all([phone.push(batch.clone()), phone.push(batch.clone())])
            .await;

    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json()["unchanged"], 4);
    for response in &together {
        assert_eq!(response.status, 200, "{}", response.text);
    }
    let after = (
        app.count("households").await,
        app.count("visits").await,
        app.count("issues").await,
        app.count("issue_events").await,
        app.audit_count().await,
    );
    assert_eq!(after, counts, "no second record, event or audit row");
}

#[tokio::test]
async fn a_push_after_a_concurrent_server_change_is_refused_until_the_phone_pulls() {
    let app = spawn_app().await;
    app.seed().await;
    let mut a = Phone::new(&app, "cadre1", "phone-a").await;
    let mut b = Phone::new(&app, "official1", "phone-b").await;
    a.pull().await;
    b.pull().await;
    let target = demo_id(&format!("household:{}:5", villages::DONGGUAN));
    let original = app
        .get_as(
            &app.token_for("cadre1").await,
            &format!("/api/v1/households/{target}"),
        )
        .await
        .json();
    let edit = |name: &str| {
        json!({"id": target, "village_id": demo_id(villages::DONGGUAN), "head_name": name,
               "phone": original["phone"], "members_count": original["members_count"], "tags": "hardship",
               "address": original["address"], "latitude": original["latitude"], "longitude": original["longitude"]})
    };

    let from_a = a
        .push(json!({"households": {"updated": [edit("甲改名")]}}))
        .await;
    let from_b = b
        .push(json!({"households": {"updated": [edit("乙改名")]}}))
        .await;
    let pulled = b.pull().await;
    let retried = b
        .push(json!({"households": {"updated": [edit("乙改名")]}}))
        .await;

    assert_eq!(from_a.status, 200, "{}", from_a.text);
    from_b.assert_problem(409, "sync_conflict");
    assert_eq!(
        from_b.json()["details"]["conflicts"],
        json!([{"table": "households", "id": target}])
    );
    assert!(ids(&pulled, "households", "updated").contains(&target.to_string()));
    assert_eq!(
        retried.status, 200,
        "after pulling, the push goes through: {}",
        retried.text
    );
}

#[tokio::test]
async fn a_push_that_fails_half_way_writes_nothing_and_names_the_record() {
    let app = spawn_app().await;
    app.seed().await;
    let mut phone = Phone::new(&app, "cadre1", "phone-a").await;
    phone.pull().await;
    let (good, bad, foreign) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let before = (app.count("households").await, app.audit_count().await);
    let mut invalid = new_household(bad, villages::DONGGUAN, "坏记录");
    invalid["id_card_number"] = json!("110105194912310021");

    let half = phone.push(json!({"households": {"created": [new_household(good, villages::DONGGUAN, "好记录"), invalid]}})).await;
    let outside = phone
        .push(json!({"households": {"created": [new_household(foreign, villages::HEWAN, "外村")]}}))
        .await;
    let read_only = phone
        .push(json!({"pairings": {"created": [{"id": Uuid::new_v4(), "cadre_id": demo_id("user:cadre1"), "household_id": good}]}}))
        .await;
    let deleting = phone.push(json!({"households": {"deleted": [demo_id(&format!("household:{}:1", villages::DONGGUAN))]}})).await;
    let unknown_deleted = phone
        .push(json!({"households": {"deleted": [Uuid::new_v4()]}}))
        .await;
    let foreign_deleted = phone
        .push(json!({"households": {"deleted": [demo_id(&format!("household:{}:1", villages::HEWAN))]}}))
        .await;

    half.assert_problem(422, "invalid_record");
    assert_eq!(half.json()["details"]["id"], json!(bad));
    assert_eq!(
        half.json()["details"]["errors"][0]["field"],
        "id_card_number"
    );
    outside.assert_problem(422, "invalid_record");
    assert_eq!(outside.json()["details"]["id"], json!(foreign));
    read_only.assert_problem(403, "forbidden");
    deleting.assert_problem(403, "forbidden");
    assert_eq!(
        unknown_deleted.status, 200,
        "a deleted id the server does not have is ignored"
    );
    assert_eq!(
        (foreign_deleted.status, foreign_deleted.json()),
        (unknown_deleted.status, unknown_deleted.json()),
        "one stored outside the scope is answered alike: the answer does not tell it exists"
    );
    assert_eq!(
        (app.count("households").await, app.audit_count().await),
        before,
        "nothing written"
    );
}

#[tokio::test]
async fn a_pushed_visit_out_of_scope_or_under_a_taken_id_is_refused_but_one_sent_again_after_its_village_was_taken_is_unchanged()
 {
    let app = spawn_app().await;
    app.seed().await;
    let mut phone = Phone::new(&app, "cadre1", "phone-a").await;
    phone.pull().await;
    let own = demo_id(&format!("household:{}:1", villages::LIUSHUTUN));
    let foreign = demo_id(&format!("household:{}:1", villages::HEWAN));
    let stored = Uuid::new_v4();
    let first = phone
        .push(json!({"visits": {"created": [new_visit(stored, own)]}}))
        .await;
    let before = (app.count("visits").await, app.audit_count().await);

    let (fresh, outside) = (Uuid::new_v4(), Uuid::new_v4());
    let out_of_scope = phone
        .push(json!({"visits": {"created": [new_visit(fresh, own), new_visit(outside, foreign)]}}))
        .await;
    let mut changed = new_visit(stored, own);
    changed["diary_note"] = json!("换了一户人家的记录");
    let taken = phone
        .push(json!({"visits": {"created": [new_visit(fresh, own), changed]}}))
        .await;
    let after_refusals = (app.count("visits").await, app.audit_count().await);
    let admin = app.token_for("admin").await;
    let ended = app
        .take_village_from(&admin, "cadre1", villages::LIUSHUTUN)
        .await;
    let resent = phone
        .push(json!({"visits": {"created": [new_visit(stored, own)]}}))
        .await;

    assert_eq!(first.status, 200, "{}", first.text);
    out_of_scope.assert_problem(422, "invalid_record");
    assert_eq!(out_of_scope.json()["details"]["id"], json!(outside));
    // Pulling would not cure it: refused as invalid, not as a conflict to pull and retry.
    taken.assert_problem(422, "invalid_record");
    assert_eq!(taken.json()["details"]["id"], json!(stored));
    assert_eq!(taken.json()["details"]["reason"], "id_taken");
    assert_eq!(
        after_refusals, before,
        "neither refused push wrote its good visit"
    );
    assert_eq!(ended.status, 200, "{}", ended.text);
    assert_eq!(resent.status, 200, "{}", resent.text);
    assert_eq!(resent.json()["unchanged"], 1);
    assert_eq!(resent.json()["applied"], 0);
}

#[tokio::test]
async fn a_village_taken_from_a_cadre_comes_down_as_deleted() {
    let app = spawn_app().await;
    app.seed().await;
    let mut phone = Phone::new(&app, "cadre1", "phone-a").await;
    phone.pull().await;
    let admin = app.token_for("admin").await;
    let ended = app
        .take_village_from(&admin, "cadre1", villages::LIUSHUTUN)
        .await;
    assert_eq!(ended.status, 200, "{}", ended.text);

    let changes = phone.pull().await;

    assert_eq!(
        ids(&changes, "villages", "deleted"),
        vec![demo_id(villages::LIUSHUTUN).to_string()]
    );
    let deleted = ids(&changes, "households", "deleted");
    assert_eq!(deleted.len(), 50);
    assert!(
        deleted.contains(&demo_id(&format!("household:{}:0", villages::LIUSHUTUN)).to_string())
    );
}

#[tokio::test]
async fn a_village_given_and_taken_back_while_nothing_else_changed_leaves_the_phone_again() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let mut phone = Phone::new(&app, "cadre1", "phone-a").await;
    phone.pull().await;
    // A village given by mistake, and nothing synced written anywhere since the last pull.
    let given = app
        .post_json(
            Some(&admin),
            &format!("/api/v1/users/{}/assignments", demo_id("user:cadre1")),
            &json!({"village_id": demo_id(villages::HEWAN), "starts_on": "2026-01-01"}),
        )
        .await;
    assert_eq!(given.status, 201, "{}", given.text);
    let mistaken = phone.pull_once().await;
    let ended = app
        .patch_json(
            &admin,
            &format!(
                "/api/v1/assignments/{}",
                given.json()["id"].as_str().expect("id")
            ),
            &json!({"ends_on": (today() - chrono::Days::new(1)).to_string()}),
        )
        .await;
    assert_eq!(ended.status, 200, "{}", ended.text);

    let corrected = phone.pull_once().await;

    assert_eq!(
        ids(&mistaken, "villages", "created"),
        vec![demo_id(villages::HEWAN).to_string()]
    );
    let hewan_households = ids(&mistaken, "households", "created");
    assert!(!hewan_households.is_empty());
    assert_eq!(
        ids(&corrected, "villages", "deleted"),
        vec![demo_id(villages::HEWAN).to_string()],
        "the village leaves the phone"
    );
    let deleted = ids(&corrected, "households", "deleted");
    assert!(
        hewan_households.iter().all(|id| deleted.contains(id)),
        "and so do its households"
    );
}

#[tokio::test]
async fn a_village_leaving_the_phone_does_not_name_the_complaints_it_never_had() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let official = app.token_for("official1").await;
    let deadline = (today() + chrono::Days::new(10)).to_string();
    let complaint = Uuid::new_v4();
    let difficulty = Uuid::new_v4();
    let recorded = app
        .post_json(
            Some(&official),
            "/api/v1/visits",
            &json!({
                "id": Uuid::new_v4(),
                "household_id": demo_id(&format!("household:{}:9", villages::DONGGUAN)),
                "channel": "door_to_door",
                "visited_at": chrono::Utc::now().to_rfc3339(),
                "answers": {"difficulties": "化粪池满了"},
                "issues": [
                    {"id": complaint, "category": "cadre_conduct", "matter": "包村干部态度生硬",
                     "deadline": deadline, "named_cadre_id": demo_id("user:cadre1")},
                    {"id": difficulty, "category": "practical_difficulty", "matter": "化粪池满了",
                     "deadline": deadline},
                ],
            }),
        )
        .await;
    assert_eq!(recorded.status, 201, "{}", recorded.text);
    let mut phone = Phone::new(&app, "cadre1", "phone-a").await;
    let first = phone.pull().await;
    let ended = app
        .take_village_from(&admin, "cadre1", villages::DONGGUAN)
        .await;
    assert_eq!(ended.status, 200, "{}", ended.text);

    let after = phone.pull().await;

    let had = ids(&first, "issues", "created");
    assert!(had.contains(&difficulty.to_string()) && !had.contains(&complaint.to_string()));
    let deleted = ids(&after, "issues", "deleted");
    assert!(deleted.contains(&difficulty.to_string()), "{deleted:?}");
    assert!(
        !deleted.contains(&complaint.to_string()),
        "the complaint it never had is not named"
    );
    let events_of = |issue: Uuid| {
        let app = &app;
        async move {
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
            entity::issue_event::Entity::find()
                .filter(entity::issue_event::Column::IssueId.eq(issue))
                .all(&app.db)
                .await
                .expect("events")
                .into_iter()
                .map(|event| event.id.to_string())
                .collect::<Vec<_>>()
        }
    };
    let deleted_events = ids(&after, "issue_events", "deleted");
    let (its_events, complaint_events) = (events_of(difficulty).await, events_of(complaint).await);
    assert!(!its_events.is_empty() && !complaint_events.is_empty());
    assert!(
        its_events.iter().all(|id| deleted_events.contains(id)),
        "the events it had leave with their issue"
    );
    assert!(
        complaint_events
            .iter()
            .all(|id| !deleted_events.contains(id)),
        "and the complaint's are not named either"
    );
}

#[tokio::test]
async fn a_complaint_pushed_later_withholds_its_visit_from_the_phone_of_the_cadre_it_names() {
    let app = spawn_app().await;
    app.seed().await;
    let mut official = Phone::new(&app, "official1", "phone-o").await;
    official.pull().await;
    let mut cadre = Phone::new(&app, "cadre1", "phone-c").await;
    cadre.pull().await;
    let visit = Uuid::new_v4();
    let household = demo_id(&format!("household:{}:7", villages::DONGGUAN));
    let pushed = official
        .push(json!({"visits": {"created": [new_visit(visit, household)]}}))
        .await;
    assert_eq!(pushed.status, 200, "{}", pushed.text);
    let before = cadre.pull().await;
    official.pull().await;
    let mut complaint = new_issue(Uuid::new_v4(), visit);
    complaint["category"] = json!("cadre_conduct");
    complaint["matter"] = json!("包村干部态度生硬");
    complaint["named_cadre_id"] = json!(demo_id("user:cadre1"));
    let complained = official
        .push(json!({"issues": {"created": [complaint]}}))
        .await;
    assert_eq!(complained.status, 200, "{}", complained.text);

    let after = cadre.pull().await;

    let held = |changes: &Value, kind: &str| {
        changes["visits"][kind]
            .as_array()
            .expect("visits")
            .iter()
            .find(|record| record["id"] == json!(visit))
            .cloned()
    };
    let first = held(&before, "created").expect("the visit came down");
    assert!(first["answers"].is_string(), "in full at first: {first}");
    let again = held(&after, "updated").expect("the visit comes down again");
    assert!(again["answers"].is_null(), "withheld now: {again}");
}

#[tokio::test]
async fn a_pushed_record_is_checked_as_the_rest_api_checks_it_and_a_made_up_cursor_is_refused() {
    let app = spawn_app().await;
    app.seed().await;
    let mut phone = Phone::new(&app, "cadre1", "phone-a").await;
    phone.pull().await;
    let household = demo_id(&format!("household:{}:2", villages::DONGGUAN));
    let visit = Uuid::new_v4();
    let mut blank_matter = new_issue(Uuid::new_v4(), visit);
    blank_matter["matter"] = json!("   ");
    let mut long_name = new_issue(Uuid::new_v4(), visit);
    long_name["applicant_name"] = json!("长".repeat(51));
    let mut bad_rating = new_visit(Uuid::new_v4(), household);
    bad_rating["answers"] = json!("{\"cadre_evaluation\":{\"rating\":9}}");
    let mut far_away = new_visit(Uuid::new_v4(), household);
    far_away["latitude"] = json!(1e300);
    let before = (app.count("visits").await, app.count("issues").await);

    let refused = [
        phone
            .push(json!({"visits": {"created": [new_visit(visit, household)]}, "issues": {"created": [blank_matter]}}))
            .await,
        phone
            .push(json!({"visits": {"created": [new_visit(visit, household)]}, "issues": {"created": [long_name]}}))
            .await,
        phone.push(json!({"visits": {"created": [bad_rating]}})).await,
        phone.push(json!({"visits": {"created": [far_away]}})).await,
    ];
    phone.cursor = Some(i64::MAX);
    let made_up = phone
        .push(json!({"visits": {"created": [new_visit(Uuid::new_v4(), household)]}}))
        .await;

    let fields: Vec<String> = refused
        .iter()
        .map(|response| {
            response.assert_problem(422, "invalid_record");
            response.json()["details"]["errors"][0]["field"]
                .as_str()
                .expect("the field")
                .to_owned()
        })
        .collect();
    assert_eq!(
        fields,
        [
            "matter",
            "applicant_name",
            "answers.cadre_evaluation.rating",
            "latitude"
        ]
    );
    made_up.assert_problem(409, "sync_reset_required");
    assert_eq!(
        (app.count("visits").await, app.count("issues").await),
        before,
        "nothing written"
    );
}

#[tokio::test]
async fn pushes_over_the_record_limit_are_413_and_bad_cursors_are_refused() {
    let app = spawn_app().await;
    app.seed().await;
    let mut phone = Phone::new(&app, "cadre1", "phone-a").await;
    phone.pull().await;
    let many: Vec<Value> = (0..1001)
        .map(|index| new_household(Uuid::new_v4(), villages::DONGGUAN, &format!("户{index}")))
        .collect();

    let too_many = phone.push(json!({"households": {"created": many}})).await;
    let bad_cursor = app
        .get_as(&phone.token, "/api/v1/sync/pull?last_pulled_at=yesterday")
        .await;
    let as_viewer = app
        .get_as(
            &app.token_for("viewer1").await,
            "/api/v1/sync/pull?last_pulled_at=null",
        )
        .await;

    too_many.assert_problem(413, "payload_too_large");
    bad_cursor.assert_problem(422, "validation_failed");
    as_viewer.assert_problem(403, "forbidden");
}

#[tokio::test]
async fn a_lost_pull_answer_is_sent_again_and_moved_households_leave_the_old_village() {
    let app = spawn_app().await;
    app.seed().await;
    let mut phone = Phone::new(&app, "cadre1", "phone-a").await;
    phone.pull().await;
    let admin = app.token_for("admin").await;
    app.take_village_from(&admin, "cadre1", villages::LIUSHUTUN)
        .await;

    let cursor = phone.cursor;
    let first = phone.pull_once().await;
    phone.cursor = cursor; // the answer was lost: the phone asks again from where it was
    let again = phone.pull().await;

    assert_eq!(
        ids(&first, "villages", "deleted"),
        vec![demo_id(villages::LIUSHUTUN).to_string()]
    );
    assert_eq!(
        ids(&again, "villages", "deleted"),
        vec![demo_id(villages::LIUSHUTUN).to_string()],
        "sent again"
    );

    // A household moved from 东关村 to 石桥村 (outside cadre1's villages) comes down as deleted.
    let moved = demo_id(&format!("household:{}:20", villages::DONGGUAN));
    let patched = app
        .patch_json(
            &admin,
            &format!("/api/v1/households/{moved}"),
            &json!({"village_id": demo_id(villages::SHIQIAO)}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    let after_move = phone.pull().await;
    assert!(
        ids(&after_move, "households", "deleted").contains(&moved.to_string()),
        "{after_move}"
    );
}

#[tokio::test]
async fn sync_needs_a_device_id_and_refuses_an_id_twice_in_one_push() {
    let app = spawn_app().await;
    app.seed().await;
    let mut phone = Phone::new(&app, "cadre1", "phone-a").await;
    phone.pull().await;
    let household = Uuid::new_v4();
    let record = new_household(household, villages::DONGGUAN, "重复");

    let without_device = app
        .get_as(&phone.token, "/api/v1/sync/pull?last_pulled_at=null")
        .await;
    let twice = phone
        .push(json!({"households": {"created": [record.clone()], "updated": [record]}}))
        .await;
    let unknown_cursor = {
        // A cursor this device was never given, and older than any. (Its own cursor less one
        // was flaky on PostgreSQL: the server's cursor can come out a little lower at a later
        // snapshot while other databases' transactions run, and a cursor above the server's
        // is taken for one from before a restore: a first pull, 200.)
        phone.cursor = Some(1);
        let (token, device) = (phone.token.clone(), phone.device);
        app.send(
            reqwest::Method::GET,
            &format!(
                "/api/v1/sync/pull?last_pulled_at={}",
                phone.cursor.unwrap_or(0)
            ),
            move |request| request.bearer_auth(token).header("x-device-id", device),
        )
        .await
    };

    without_device.assert_problem(400, "invalid_device_id");
    twice.assert_problem(422, "invalid_record");
    unknown_cursor.assert_problem(409, "sync_reset_required");
}

#[tokio::test]
async fn a_change_committed_under_an_older_open_transaction_comes_down_once_at_a_later_pull() {
    if !crate::helpers::on_postgres() {
        // SQLite writes one transaction at a time: none can commit under another.
        return;
    }
    use sea_orm::{ConnectionTrait, Database, TransactionTrait};
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let mut phone = Phone::new(&app, "cadre1", "phone-a").await;
    phone.pull().await;
    let slow = demo_id(&format!("household:{}:1", villages::DONGGUAN)).to_string();
    let quick = demo_id(&format!("household:{}:2", villages::DONGGUAN)).to_string();

    // An older transaction changes a household and stays open …
    let other = Database::connect(app.db_url().as_str())
        .await
        .expect("second connection");
    let older = other.begin().await.expect("begin");
    older
        .execute_unprepared(&format!(
            "UPDATE households SET head_name = '慢事务', change_seq = 0 WHERE id = '{slow}'"
        ))
        .await
        .expect("change");
    // … while a newer one commits through the API.
    let patched = app
        .patch_json(
            &admin,
            &format!("/api/v1/households/{quick}"),
            &json!({"notes": "快事务"}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    let during = phone.pull().await;
    older.commit().await.expect("commit");
    let after = phone.pull().await;

    let sent = |changes: &Value| {
        let mut sent = ids(changes, "households", "updated");
        sent.extend(ids(changes, "households", "created"));
        sent
    };
    assert!(!sent(&during).contains(&slow), "not before it commits");
    let both: Vec<String> = sent(&during).into_iter().chain(sent(&after)).collect();
    assert_eq!(
        both.iter().filter(|id| **id == quick).count(),
        1,
        "the newer change comes down once: {both:?}"
    );
    assert_eq!(
        both.iter().filter(|id| **id == slow).count(),
        1,
        "the older change, committed after the first pull, is not skipped: {both:?}"
    );
}

#[tokio::test]
async fn a_household_moved_between_two_of_the_phones_villages_comes_down_updated_not_deleted() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let mut phone = Phone::new(&app, "cadre1", "phone-a").await;
    phone.pull().await;
    let moved = demo_id(&format!("household:{}:5", villages::DONGGUAN)).to_string();

    let patched = app
        .patch_json(
            &admin,
            &format!("/api/v1/households/{moved}"),
            &json!({"village_id": demo_id(villages::LIUSHUTUN)}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    let changes = phone.pull().await;

    assert!(
        ids(&changes, "households", "updated").contains(&moved),
        "sent with its new village: {changes}"
    );
    assert!(
        !ids(&changes, "households", "deleted").contains(&moved),
        "not also deleted (the app would drop it): {changes}"
    );
}

#[tokio::test]
async fn after_a_restore_into_a_new_cluster_new_changes_are_stamped_above_every_stamp_kept() {
    if !crate::helpers::on_postgres() {
        // SQLite's counter travels with its file: a restored file goes on from its own stamps.
        return;
    }
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let (kept, changed) = (
        demo_id(&format!("household:{}:1", villages::DONGGUAN)),
        demo_id(&format!("household:{}:2", villages::DONGGUAN)),
    );
    // As after `pg_dump` into a new cluster: stamps far above the new transaction ids.
    let far = 1_000_000_000_000_i64;
    app.db
        .execute_unprepared(&format!(
            "UPDATE households SET change_seq = {far} WHERE id = '{kept}'"
        ))
        .await
        .expect("restored stamp");

    // The server starts again on it.
    api::db::connect_and_migrate(&api::config::DatabaseSettings::new(app.db_url()))
        .await
        .expect("start");
    let patched = app
        .patch_json(
            &admin,
            &format!("/api/v1/households/{changed}"),
            &json!({"notes": "恢复之后"}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);

    let stamp = app
        .scalar(&format!(
            "SELECT change_seq AS n FROM households WHERE id = '{changed}'"
        ))
        .await;
    assert!(stamp > far, "stamped {stamp}, above the restored {far}");
}

#[tokio::test]
async fn an_issue_pushed_for_a_visit_whose_household_moved_away_copies_nothing_of_it() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let mut phone = Phone::new(&app, "cadre1", "phone-a").await;
    phone.pull().await;
    let household = demo_id(&format!("household:{}:2", villages::DONGGUAN));
    let visit = Uuid::new_v4();
    let visited = phone
        .push(json!({"visits": {"created": [new_visit(visit, household)]}}))
        .await;
    assert_eq!(visited.status, 200, "{}", visited.text);
    let moved = app
        .patch_json(
            &admin,
            &format!("/api/v1/households/{household}"),
            &json!({"village_id": demo_id(villages::HEWAN)}),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);

    let unnamed = phone
        .push(json!({"issues": {"created": [new_issue(Uuid::new_v4(), visit)]}}))
        .await;
    let named_id = Uuid::new_v4();
    let mut named = new_issue(named_id, visit);
    named["applicant_name"] = json!("赵老汉");
    let with_a_name = phone.push(json!({"issues": {"created": [named]}})).await;
    let stored = app
        .get_as(&phone.token, &format!("/api/v1/issues/{named_id}"))
        .await;

    unnamed.assert_problem(422, "invalid_record");
    assert_eq!(
        unnamed.json()["details"]["errors"][0]["field"],
        "applicant_name"
    );
    assert_eq!(with_a_name.status, 200, "{}", with_a_name.text);
    assert_eq!(stored.status, 200, "{}", stored.text);
    let stored = stored.json();
    assert_eq!(stored["applicant_name"], "赵老汉");
    assert_eq!(
        stored["applicant_phone"],
        Value::Null,
        "not the household's phone"
    );
    assert_eq!(stored["applicant_household_id"], json!(household));
}

fn millis(time: chrono::DateTime<chrono::Utc>) -> i64 {
    time.timestamp_millis()
}

fn time_of(value: &Value) -> chrono::DateTime<chrono::Utc> {
    value
        .as_str()
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
        .unwrap_or_else(|| panic!("a time: {value}"))
        .with_timezone(&chrono::Utc)
}

/// A visit to a demo household of Dongguan made `ago` before now, raising one issue due on
/// `deadline`, as a phone pushes them.
fn visit_raising(
    visit: Uuid,
    issue: Uuid,
    ago: chrono::Duration,
    deadline: chrono::NaiveDate,
) -> Value {
    json!({
        "visits": {"created": [{"id": visit, "household_id": crate::helpers::household(villages::DONGGUAN, 1),
                                "channel": "door_to_door", "visited_at": millis(chrono::Utc::now() - ago)}]},
        "issues": {"created": [{"id": issue, "visit_id": visit, "category": "practical_difficulty",
                                "matter": "灌溉渠堵塞", "deadline": deadline}]},
    })
}

fn step_taken(issue: Uuid, kind: &str, at: chrono::DateTime<chrono::Utc>) -> Value {
    json!({"issue_events": {"created": [{"id": Uuid::now_v7(), "issue_id": issue, "kind": kind,
                                         "note": "已清淤", "occurred_at": millis(at)}]}})
}

#[tokio::test]
async fn an_issue_raised_and_resolved_offline_before_its_deadline_is_resolved_in_time_though_synced_after_it()
 {
    let app = spawn_app().await;
    app.seed().await;
    let mut phone = Phone::new(&app, "cadre1", "phone-a").await;
    phone.pull().await;
    let (visit, issue) = (Uuid::new_v4(), Uuid::new_v4());
    let deadline = today() - chrono::Days::new(1);
    let resolved_at = chrono::Utc::now() - chrono::Duration::days(2);
    let mut changes = visit_raising(visit, issue, chrono::Duration::days(3), deadline);
    changes["issue_events"] = step_taken(issue, "resolved", resolved_at)["issue_events"].clone();

    // No signal for three days: the visit, its issue and the resolution arrive together.
    let pushed = phone.push(changes).await;
    let stored = app
        .get_as(&phone.token, &format!("/api/v1/issues/{issue}"))
        .await;

    assert_eq!(pushed.status, 200, "{}", pushed.text);
    assert_eq!(stored.status, 200, "{}", stored.text);
    let stored = stored.json();
    assert_eq!(stored["status"], "resolved");
    assert_eq!(
        millis(time_of(&stored["resolved_at"])),
        millis(resolved_at),
        "resolved when the phone resolved it, before the deadline: {stored}"
    );
    let events = stored["events"].as_array().expect("events");
    let kinds: Vec<&str> = events
        .iter()
        .map(|event| event["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(
        kinds,
        ["created", "resolved"],
        "raised, then resolved: {stored}"
    );
    assert!(
        time_of(&events[0]["occurred_at"]) < time_of(&events[1]["occurred_at"]),
        "raised at the visit, before the resolution: {stored}"
    );
    let resolved = &events[1];
    assert_eq!(
        millis(time_of(&resolved["occurred_at"])),
        millis(resolved_at)
    );
    assert!(
        time_of(&resolved["data"]["received_at"]) > resolved_at,
        "the server's receipt is kept beside the phone's time: {resolved}"
    );
    assert_eq!(
        resolved["data"]["device_time"],
        Value::Null,
        "the phone's time was kept as given"
    );
}

#[tokio::test]
async fn a_phones_time_dates_a_step_after_the_issues_last_standing_step_within_a_week_and_never_after_its_arrival()
 {
    let app = spawn_app().await;
    app.seed().await;
    let leader = app.token_for("leader1").await;
    let mut phone = Phone::new(&app, "cadre1", "phone-a").await;
    phone.pull().await;
    let [urged, progressed, old, ahead, far_ahead, unset] = [(); 6].map(|()| Uuid::new_v4());
    for (issue, ago) in [
        (urged, 3),
        (progressed, 3),
        (old, 12),
        (ahead, 1),
        (far_ahead, 1),
        (unset, 1),
    ] {
        let raised = phone
            .push(visit_raising(
                Uuid::new_v4(),
                issue,
                chrono::Duration::days(ago),
                today() + chrono::Days::new(10),
            ))
            .await;
        assert_eq!(raised.status, 200, "{}", raised.text);
    }
    let urge = app
        .post_json(
            Some(&leader),
            &format!("/api/v1/issues/{urged}/urge"),
            &json!({"note": "抓紧办"}),
        )
        .await;
    assert_eq!(urge.status, 200, "{}", urge.text);
    let noted = app
        .post_json(
            Some(&phone.token),
            &format!("/api/v1/issues/{progressed}/progress"),
            &json!({"note": "在办公室登记了进展"}),
        )
        .await;
    assert_eq!(noted.status, 200, "{}", noted.text);
    let now = chrono::Utc::now();

    // Progress made offline two days ago; the leader, not knowing, urged the issue since.
    let before_the_urge = phone
        .push(step_taken(
            urged,
            "progress",
            now - chrono::Duration::days(2),
        ))
        .await;
    // A resolution the phone dates before progress the server took since (its clock, or its
    // user, is wrong).
    let before_the_progress = phone
        .push(step_taken(
            progressed,
            "resolved",
            now - chrono::Duration::days(2),
        ))
        .await;
    // Progress of eleven days ago, the phone offline all that time.
    let eleven_days_back = phone
        .push(step_taken(
            old,
            "progress",
            now - chrono::Duration::days(11),
        ))
        .await;
    // A clock an hour fast, one two days fast, and a time the app never set (0).
    let an_hour_ahead = phone
        .push(step_taken(
            ahead,
            "progress",
            now + chrono::Duration::hours(1),
        ))
        .await;
    let two_days_ahead = phone
        .push(step_taken(
            far_ahead,
            "progress",
            now + chrono::Duration::days(2),
        ))
        .await;
    let mut never_set = step_taken(unset, "progress", now);
    never_set["issue_events"]["created"][0]["occurred_at"] = json!(0);
    let never_set = phone.push(never_set).await;

    let timeline = |issue: Uuid| {
        let token = phone.token.clone();
        let app = &app;
        async move {
            let response = app.get_as(&token, &format!("/api/v1/issues/{issue}")).await;
            assert_eq!(response.status, 200, "{}", response.text);
            response.json()["events"]
                .as_array()
                .expect("events")
                .clone()
        }
    };
    let kinds = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .map(|event| event["kind"].as_str().expect("kind").to_owned())
            .collect()
    };
    for pushed in [
        &before_the_urge,
        &before_the_progress,
        &eleven_days_back,
        &an_hour_ahead,
        &never_set,
    ] {
        assert_eq!(pushed.status, 200, "{}", pushed.text);
    }
    let events = timeline(urged).await;
    assert_eq!(
        kinds(&events),
        ["created", "progress", "urged"],
        "an urge does not move the phone's time: {events:?}"
    );
    assert_eq!(
        millis(time_of(&events[1]["occurred_at"])),
        millis(now - chrono::Duration::days(2))
    );
    let events = timeline(progressed).await;
    assert_eq!(
        kinds(&events),
        ["created", "progress", "resolved"],
        "after the step it followed on the server: {events:?}"
    );
    assert!(time_of(&events[2]["occurred_at"]) > time_of(&events[1]["occurred_at"]));
    assert_eq!(
        millis(time_of(&events[2]["data"]["device_time"])),
        millis(now - chrono::Duration::days(2)),
        "the phone's own time is kept"
    );
    let events = timeline(old).await;
    let dated = time_of(&events[1]["occurred_at"]);
    let received = time_of(&events[1]["data"]["received_at"]);
    assert_eq!(
        millis(dated),
        millis(received - chrono::Duration::days(7)),
        "a week before it arrived"
    );
    let events = timeline(ahead).await;
    assert_eq!(
        millis(time_of(&events[1]["occurred_at"])),
        millis(time_of(&events[1]["data"]["received_at"])),
        "never after it arrived"
    );
    two_days_ahead.assert_problem(422, "invalid_record");
    assert_eq!(
        two_days_ahead.json()["details"]["errors"][0]["field"],
        "occurred_at",
        "{}",
        two_days_ahead.text
    );
    assert_eq!(timeline(far_ahead).await.len(), 1, "nothing written");
    let events = timeline(unset).await;
    assert_eq!(
        events[1]["data"],
        Value::Null,
        "dated at its arrival: {events:?}"
    );
    assert!(millis(time_of(&events[1]["occurred_at"])) >= millis(now));
}
