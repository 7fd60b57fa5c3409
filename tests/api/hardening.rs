//! The RELIABILITY.md rows a security reviewer and an operations lead would run that no
//! resource's own tests cover: slow clients, a database that stops answering, mass
//! assignment, leaks through lists and searches, personal data by audience over a realistic
//! roster, references to another cadre's records in a sync push, retried pushes of a full
//! batch, the object access matrix (every caller × household, visit, issue × read, write),
//! and a push whose answer was lost.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use chrono::{Days, NaiveDate, Utc};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

use crate::helpers::{
    TestApp, TestResponse, demo_id, on_postgres, spawn_app, spawn_app_with, villages,
};
use crate::helpers::{household, today};

fn in_days(days: u64) -> String {
    (today() + Days::new(days)).to_string()
}

/// Every page of a list (pages of 500).
async fn all_items(app: &TestApp, token: &str, path: &str) -> Vec<Value> {
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut collected = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let page = match &cursor {
            Some(cursor) => format!("{path}{separator}limit=500&cursor={cursor}"),
            None => format!("{path}{separator}limit=500"),
        };
        let response = app.get_as(token, &page).await;
        assert_eq!(response.status, 200, "{page}: {}", response.text);
        let body = response.json();
        collected.extend(body["items"].as_array().expect("items").iter().cloned());
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return collected,
        }
    }
    panic!("more than 100 pages of {path}");
}

/// A visit with the six answers and the given issues.
fn visit(household_id: Uuid, issues: Vec<Value>) -> Value {
    json!({
        "id": Uuid::new_v4(), "household_id": household_id, "channel": "door_to_door",
        "visited_at": Utc::now().to_rfc3339(),
        "answers": {"difficulties": "路灯坏了", "cadre_evaluation": {"rating": 4}},
        "service_card_given": true, "issues": issues,
    })
}

fn raised_issue(matter: &str) -> Value {
    json!({"id": Uuid::new_v4(), "category": "practical_difficulty", "matter": matter, "deadline": in_days(20)})
}

/// Records a visit; returns (visit id, issue ids).
async fn record_visit(app: &TestApp, token: &str, body: &Value) -> (String, Vec<String>) {
    let response = app.post_json(Some(token), "/api/v1/visits", body).await;
    assert_eq!(response.status, 201, "{}", response.text);
    let body = response.json();
    let issues = body["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|issue| issue["id"].as_str().expect("id").to_owned())
        .collect();
    (body["id"].as_str().expect("id").to_owned(), issues)
}

// ---------------------------------------------------------------------------------------
// Slow clients

/// The documented bounds (startup.rs, body_deadline.rs): a head within 10 s; a body gets
/// 10 s plus a second per KiB.
const HEAD_BOUND: Duration = Duration::from_secs(10);

fn socket_address(app: &TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection or `limit` passes; returns what was read
/// and whether the server closed it.
async fn read_until_closed(stream: &mut tokio::net::TcpStream, limit: Duration) -> (String, bool) {
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return (String::from_utf8_lossy(&received).into_owned(), false),
            Ok(Ok(0) | Err(_)) => return (String::from_utf8_lossy(&received).into_owned(), true),
            Ok(Ok(read)) => received.extend_from_slice(&buffer[..read]),
        }
    }
}

#[tokio::test]
async fn a_request_head_never_completed_is_answered_408_and_closed_within_the_bound() {
    let app = spawn_app().await;
    let mut stream = tokio::net::TcpStream::connect(socket_address(&app))
        .await
        .expect("connect");
    let began = Instant::now();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: minqing\r\nX-Slow: ")
        .await
        .expect("partial head");

    let (answer, closed) = read_until_closed(&mut stream, HEAD_BOUND * 3).await;

    let waited = began.elapsed();
    assert!(closed, "the connection is still open after {waited:?}");
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "408, then closed: {answer}"
    );
    assert!(
        waited < HEAD_BOUND * 3,
        "closed within 3× the bound: {waited:?}"
    );
}

#[tokio::test]
async fn a_body_trickled_at_one_byte_a_second_is_cut_with_408_within_the_bound() {
    let app = spawn_app().await;
    let mut stream = tokio::net::TcpStream::connect(socket_address(&app))
        .await
        .expect("connect");
    let body = br#"{"username":"admin","password":"demo-password-and-then-some-more-bytes-to-trickle-ever-so-slowly"}"#;
    let head = format!(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: minqing\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let began = Instant::now();
    // Well under the body's bound (10 s + a second per KiB: about 10 s for this body).
    let bound = Duration::from_secs(10) + Duration::from_millis(body.len() as u64 * 1000 / 1024);

    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        for byte in body {
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    let closed = loop {
        match tokio::time::timeout(bound * 3, reader.read(&mut buffer)).await {
            Err(_) => break false,
            Ok(Ok(0) | Err(_)) => break true,
            Ok(Ok(read)) => received.extend_from_slice(&buffer[..read]),
        }
    };
    let waited = began.elapsed();
    trickle.abort();

    let answer = String::from_utf8_lossy(&received);
    assert!(
        closed,
        "the connection is still open after {waited:?}: {answer}"
    );
    assert!(
        answer.starts_with("HTTP/1.1 408")
            && answer.contains("application/problem+json")
            && answer.contains("request_timeout"),
        "a 408 problem, then closed: {answer}"
    );
    assert!(waited < bound * 3, "closed within 3× the bound: {waited:?}");
    assert!(
        waited >= Duration::from_secs(5),
        "not cut before the grace time: {waited:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Database stall

/// A TCP proxy to the database that can stop passing bytes on (a database that stops
/// answering without closing anything: a frozen host, a dead switch).
struct StallingProxy {
    port: u16,
    frozen: tokio::sync::watch::Sender<bool>,
}

impl StallingProxy {
    async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let port = listener.local_addr().expect("address").port();
        let (frozen, watching) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(&target).await else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(Self::pass_on(client_read, server_write, watching.clone()));
                tokio::spawn(Self::pass_on(server_read, client_write, watching.clone()));
            }
        });
        Self { port, frozen }
    }

    async fn pass_on(
        mut from: tokio::net::tcp::OwnedReadHalf,
        mut to: tokio::net::tcp::OwnedWriteHalf,
        mut frozen: tokio::sync::watch::Receiver<bool>,
    ) {
        let mut buffer = vec![0_u8; 16 * 1024];
        loop {
            let read = match from.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => read,
            };
            // Frozen: hold the bytes (nothing is refused or closed) until thawed.
            while *frozen.borrow_and_update() {
                if frozen.changed().await.is_err() {
                    return;
                }
            }
            if to.write_all(&buffer[..read]).await.is_err() {
                return;
            }
        }
    }

    fn freeze(&self, frozen: bool) {
        self.frozen.send_replace(frozen);
    }
}

/// `postgres://user@host:port/db` → (the same URL through `127.0.0.1:proxy`, `host:port`).
fn through_proxy(url: &str, proxy_port: u16) -> (String, String) {
    let (scheme, rest) = url.split_once("://").expect("scheme");
    let (credentials, rest) = rest
        .rsplit_once('@')
        .map_or(("", rest), |(user, rest)| (user, rest));
    let (authority, path) = rest.split_once('/').expect("database name");
    let at = if credentials.is_empty() { "" } else { "@" };
    (
        format!("{scheme}://{credentials}{at}127.0.0.1:{proxy_port}/{path}"),
        authority.to_owned(),
    )
}

#[tokio::test]
async fn a_database_that_stops_answering_gives_503_within_the_acquire_timeout_and_recovers() {
    if !on_postgres() {
        // SQLite is a file in the process: it cannot stop answering without the process
        // stopping too. Its stall, a lock held by another program, is
        // faults::a_locked_database_answers_503_within_the_timeout_and_recovers_without_a_restart.
        return;
    }
    let acquire_timeout = Duration::from_secs(2);
    let admin_url = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
    let (_, target) = through_proxy(&admin_url, 1);
    let proxy = StallingProxy::start(target).await;
    let app = spawn_app_with(|settings| {
        settings.database.url = through_proxy(&settings.database.url, proxy.port).0;
        settings.database.acquire_timeout = acquire_timeout;
        settings.database.statement_timeout = acquire_timeout;
    })
    .await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    assert_eq!(
        app.get_as(&cadre, "/api/v1/households?limit=1")
            .await
            .status,
        200
    );

    proxy.freeze(true);
    let mut answers = Vec::new();
    for path in ["/api/v1/households?limit=1", "/api/v1/issues", "/readyz"] {
        let began = Instant::now();
        let response = app.get_as(&cadre, path).await;
        answers.push((path, response, began.elapsed()));
    }
    let began = Instant::now();
    let write = app
        .post_json(
            Some(&cadre),
            "/api/v1/households",
            &json!({"village_id": demo_id(villages::DONGGUAN), "head_name": "停摆期间"}),
        )
        .await;
    answers.push(("POST /api/v1/households", write, began.elapsed()));
    proxy.freeze(false);
    let mut recovered = None;
    for attempt in 0..40 {
        let response = app.get_as(&cadre, "/api/v1/households?limit=1").await;
        if response.status == 200 {
            recovered = Some(attempt);
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    for (path, response, waited) in &answers {
        assert_eq!(response.status, 503, "{path}: {}", response.text);
        assert_eq!(
            response.header("content-type"),
            Some("application/problem+json"),
            "{path}"
        );
        assert!(response.header("retry-after").is_some(), "{path}");
        assert!(
            *waited < acquire_timeout * 3,
            "{path} answered within 3× the acquire timeout, not hung: {waited:?}"
        );
    }
    assert!(
        recovered.is_some(),
        "the server recovers by itself once the database answers"
    );
    assert_eq!(
        app.get_as(
            &app.token_for("admin").await,
            "/api/v1/households?q=停摆期间"
        )
        .await
        .json()["items"],
        json!([]),
        "the refused write wrote nothing"
    );
}

// ---------------------------------------------------------------------------------------
// Mass assignment

/// Asserts a refusal is a 4xx problem.
fn assert_refused(response: &TestResponse, case: &str) {
    assert!(
        (400..500).contains(&response.status),
        "{case}: {} {}",
        response.status,
        response.text
    );
    assert_eq!(
        response.header("content-type"),
        Some("application/problem+json"),
        "{case}"
    );
}

#[tokio::test]
async fn server_owned_fields_in_a_request_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let admin = app.token_for("admin").await;
    let other_cadre = demo_id("user:cadre2");
    let mine = household(villages::DONGGUAN, 4);
    let other = household(villages::DONGGUAN, 5);
    let (_, issues) = record_visit(
        &app,
        &cadre,
        &visit(mine, vec![raised_issue("路灯坏了三盏")]),
    )
    .await;
    let issue_path = format!("/api/v1/issues/{}", issues[0]);
    let household_path = format!("/api/v1/households/{mine}");
    let household_before = app.get_as(&admin, &household_path).await.json();
    let issue_before = app.get_as(&admin, &issue_path).await.json();
    let (households_before, visits_before, issues_before, audit_before) = (
        app.count("households").await,
        app.count("visits").await,
        app.count("issues").await,
        app.audit_count().await,
    );
    let base_household =
        json!({"village_id": demo_id(villages::DONGGUAN), "head_name": "批量赋值"});
    let with = |base: &Value, field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    let new_visit = |field: &str, value: Value| with(&visit(mine, vec![]), field, value);
    let visit_with_issue = |field: &str, value: Value| {
        visit(
            mine,
            vec![with(&raised_issue("批量赋值的问题"), field, value)],
        )
    };
    let hotline = |field: &str, value: Value| {
        with(
            &json!({"id": Uuid::new_v4(), "village_id": demo_id(villages::DONGGUAN), "channel": "hotline",
                    "applicant_name": "来电人", "category": "practical_difficulty", "matter": "批量赋值的来电",
                    "deadline": in_days(10)}),
            field,
            value,
        )
    };
    let post = reqwest::Method::POST;
    let patch = reqwest::Method::PATCH;
    let cases: Vec<(&str, reqwest::Method, String, Value)> = vec![
        (
            "household: created_by",
            post.clone(),
            "/api/v1/households".into(),
            with(&base_household, "created_by", json!(other_cadre)),
        ),
        (
            "household: created_at",
            post.clone(),
            "/api/v1/households".into(),
            with(&base_household, "created_at", json!("2020-01-01T00:00:00Z")),
        ),
        (
            "household: town_id",
            post.clone(),
            "/api/v1/households".into(),
            with(&base_household, "town_id", json!(demo_id("371526101"))),
        ),
        (
            "household: last_visited_at",
            post.clone(),
            "/api/v1/households".into(),
            with(
                &base_household,
                "last_visited_at",
                json!("2026-01-01T00:00:00Z"),
            ),
        ),
        (
            "household: unknown field",
            post.clone(),
            "/api/v1/households".into(),
            with(&base_household, "is_admin", json!(true)),
        ),
        (
            "household update: id of another record",
            patch.clone(),
            household_path.clone(),
            json!({"id": other, "notes": "换了户"}),
        ),
        (
            "household update: created_by",
            patch.clone(),
            household_path.clone(),
            json!({"created_by": other_cadre, "notes": "x"}),
        ),
        (
            "household update: town_id",
            patch.clone(),
            household_path.clone(),
            json!({"town_id": demo_id("371526101")}),
        ),
        (
            "household update: change_seq",
            patch.clone(),
            household_path.clone(),
            json!({"change_seq": 0}),
        ),
        (
            "visit: cadre_id",
            post.clone(),
            "/api/v1/visits".into(),
            new_visit("cadre_id", json!(other_cadre)),
        ),
        (
            "visit: received_at",
            post.clone(),
            "/api/v1/visits".into(),
            new_visit("received_at", json!("2020-01-01T00:00:00Z")),
        ),
        (
            "visit: village_id",
            post.clone(),
            "/api/v1/visits".into(),
            new_visit("village_id", json!(demo_id(villages::HEWAN))),
        ),
        (
            "visit issue: status",
            post.clone(),
            "/api/v1/visits".into(),
            visit_with_issue("status", json!("closed")),
        ),
        (
            "visit issue: lead_responsible_id",
            post.clone(),
            "/api/v1/visits".into(),
            visit_with_issue("lead_responsible_id", json!(other_cadre)),
        ),
        (
            "visit issue: version",
            post.clone(),
            "/api/v1/visits".into(),
            visit_with_issue("version", json!(9)),
        ),
        (
            "hotline issue: status",
            post.clone(),
            "/api/v1/issues".into(),
            hotline("status", json!("closed")),
        ),
        (
            "hotline issue: lead_responsible_id",
            post.clone(),
            "/api/v1/issues".into(),
            hotline("lead_responsible_id", json!(other_cadre)),
        ),
        (
            "hotline issue: handler_org_unit_id",
            post.clone(),
            "/api/v1/issues".into(),
            hotline("handler_org_unit_id", json!(demo_id("371526"))),
        ),
        (
            "hotline issue: created_at",
            post.clone(),
            "/api/v1/issues".into(),
            hotline("created_at", json!("2020-01-01T00:00:00Z")),
        ),
        (
            "progress: status",
            post.clone(),
            format!("{issue_path}/progress"),
            json!({"note": "在办", "status": "closed"}),
        ),
        (
            "progress: lead_responsible_id",
            post.clone(),
            format!("{issue_path}/progress"),
            json!({"note": "在办", "lead_responsible_id": other_cadre}),
        ),
        (
            "resolve: version",
            post.clone(),
            format!("{issue_path}/resolve"),
            json!({"resolution": "已修好", "version": 1, "level": "county"}),
        ),
    ];

    let mut accepted = Vec::new();
    for (case, method, path, body) in &cases {
        let response = app
            .call(method.clone(), Some(&cadre), path, Some(body))
            .await;
        if response.status < 400 {
            accepted.push(format!("{case} → {} {}", response.status, response.text));
        } else {
            assert_refused(&response, case);
        }
    }

    assert!(
        accepted.is_empty(),
        "accepted with a server-owned field:\n{}",
        accepted.join("\n")
    );
    // Counted before reading back: an admin reading a phone in full is audited.
    assert_eq!(
        (
            app.count("households").await,
            app.count("visits").await,
            app.count("issues").await,
            app.audit_count().await
        ),
        (
            households_before,
            visits_before,
            issues_before,
            audit_before
        ),
        "nothing was written"
    );
    assert_eq!(
        app.get_as(&admin, &household_path).await.json(),
        household_before,
        "the household is unchanged"
    );
    assert_eq!(
        app.get_as(&admin, &issue_path).await.json(),
        issue_before,
        "the issue is unchanged"
    );
}

#[tokio::test]
async fn server_owned_columns_in_a_sync_push_are_ignored_as_documented() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let admin = app.token_for("admin").await;
    let other_cadre = demo_id("user:cadre2");
    let (household_id, visit_id, issue_id) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());

    let pushed = app.push_as(&cadre, "phone-a", json!({
        "households": {"created": [{"id": household_id, "village_id": demo_id(villages::DONGGUAN), "head_name": "同步赋值",
            "version": 42, "town_id": demo_id("371526101"), "county_id": Uuid::new_v4(), "created_by": other_cadre,
            "last_visited_at": 1_000, "change_seq": 0, "_status": "created", "_changed": "version"}]},
        "visits": {"created": [{"id": visit_id, "household_id": household_id, "channel": "door_to_door",
            "visited_at": 1_780_000_000_000_i64, "cadre_id": other_cadre, "received_at": 1_000,
            "village_id": demo_id(villages::HEWAN)}]},
        "issues": {"created": [{"id": issue_id, "visit_id": visit_id, "category": "practical_difficulty",
            "matter": "同步赋值的问题", "deadline": in_days(20), "status": "closed", "lead_responsible_id": other_cadre,
            "version": 9, "created_at": 1_000, "handler_org_unit_id": demo_id("371526"), "feedback_given": true,
            "applicant_satisfied": true}]},
    }))
    .await;

    assert_eq!(pushed.status, 200, "{}", pushed.text);
    let stored_household = app
        .get_as(&admin, &format!("/api/v1/households/{household_id}"))
        .await
        .json();
    assert_eq!(stored_household["version"], 1);
    assert_eq!(
        stored_household["town_id"],
        json!(demo_id("371526100")),
        "the town follows the village"
    );
    assert!(
        !stored_household["last_visited_at"]
            .as_str()
            .is_some_and(|at| at.starts_with("1970")),
        "last_visited_at is the server's: {stored_household}"
    );
    let stored_visit = app
        .get_as(&admin, &format!("/api/v1/visits/{visit_id}"))
        .await
        .json();
    assert_eq!(
        stored_visit["cadre_id"],
        json!(demo_id("user:cadre1")),
        "the visit is the caller's"
    );
    assert_eq!(
        stored_visit["village_id"],
        json!(demo_id(villages::DONGGUAN))
    );
    let stored_issue = app
        .get_as(&admin, &format!("/api/v1/issues/{issue_id}"))
        .await
        .json();
    assert_eq!(stored_issue["status"], "open");
    assert_eq!(
        stored_issue["lead_responsible_id"],
        json!(demo_id("user:cadre1")),
        "首访负责制"
    );
    assert_eq!(stored_issue["version"], 1);
    assert_eq!(stored_issue["feedback_given"], false);
    assert_eq!(
        stored_issue["handler_org_unit_id"],
        json!(demo_id(villages::DONGGUAN))
    );
}

// ---------------------------------------------------------------------------------------
// Sync with foreign references

#[tokio::test]
async fn a_push_referencing_another_cadres_records_is_refused_naming_them_and_writes_nothing() {
    let app = spawn_app().await;
    app.seed().await;
    let owner = app.token_for("cadre1").await;
    let intruder = app.token_for("cadre2").await;
    let theirs = household(villages::DONGGUAN, 7);
    let (their_visit, their_issues) =
        record_visit(&app, &owner, &visit(theirs, vec![raised_issue("甲村的事")])).await;
    let their_issue = &their_issues[0];
    let before = (
        app.count("households").await,
        app.count("visits").await,
        app.count("issues").await,
        app.count("issue_events").await,
        app.audit_count().await,
    );
    let (visit_id, issue_id, event_id) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let cases = [
        (
            "a visit to their household",
            json!({"visits": {"created": [
            {"id": visit_id, "household_id": theirs, "channel": "door_to_door", "visited_at": 1_780_000_000_000_i64}]}}),
            visit_id.to_string(),
        ),
        (
            "an issue raised in their visit",
            json!({"issues": {"created": [
            {"id": issue_id, "visit_id": their_visit, "category": "practical_difficulty", "matter": "冒名", "deadline": in_days(9)}]}}),
            issue_id.to_string(),
        ),
        (
            "a progress note on their issue",
            json!({"issue_events": {"created": [
            {"id": event_id, "issue_id": their_issue, "kind": "progress", "note": "冒名进展"}]}}),
            event_id.to_string(),
        ),
        (
            "an edit of their household",
            json!({"households": {"updated": [
            {"id": theirs, "village_id": demo_id(villages::DONGGUAN), "head_name": "改名"}]}}),
            theirs.to_string(),
        ),
        (
            "their household moved into my village",
            json!({"households": {"updated": [
            {"id": theirs, "village_id": demo_id(villages::HEWAN), "head_name": "搬走"}]}}),
            theirs.to_string(),
        ),
    ];

    for (case, changes, named) in cases {
        let response = app.push_as(&intruder, "phone-b", changes).await;
        assert_refused(&response, case);
        assert!(
            response.json()["details"]["id"].as_str() == Some(named.as_str()),
            "{case}: the refusal names the record: {}",
            response.text
        );
    }
    let after = (
        app.count("households").await,
        app.count("visits").await,
        app.count("issues").await,
        app.count("issue_events").await,
        app.audit_count().await,
    );
    assert_eq!(after, before, "nothing written");
    let stored = app
        .get_as(&owner, &format!("/api/v1/households/{theirs}"))
        .await
        .json();
    assert_eq!(stored["village_id"], json!(demo_id(villages::DONGGUAN)));
    assert_eq!(stored["version"], 1);
}

// ---------------------------------------------------------------------------------------
// List and search leak

#[tokio::test]
async fn a_cadre_finds_nothing_of_another_cadres_villages_by_id_name_filter_or_page_size() {
    let app = spawn_app().await;
    app.seed().await;
    let b = app.token_for("cadre1").await;
    let a = app.token_for("cadre2").await;
    let admin = app.token_for("admin").await;
    // B's records: the roster of 东关村 and 柳树屯村, a household with a name nobody else
    // has, visits and issues (one a cadre-conduct complaint) recorded by B.
    let secret_name = "泄露探针户";
    let created = app
        .post_json(Some(&b), "/api/v1/households", &json!({"village_id": demo_id(villages::LIUSHUTUN), "head_name": secret_name, "phone": "13900009999"}))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let secret_household = created.json()["id"].as_str().expect("id").to_owned();
    let (b_visit, b_issues) = record_visit(
        &app,
        &b,
        &visit(
            household(villages::DONGGUAN, 1),
            vec![raised_issue("泄露探针事项"), raised_issue("泄露探针二")],
        ),
    )
    .await;
    // A's own records, so that A's lists are not trivially empty.
    let (a_visit, a_issues) = record_visit(
        &app,
        &a,
        &visit(
            household(villages::HEWAN, 1),
            vec![raised_issue("河湾村自己的事")],
        ),
    )
    .await;
    let b_households: Vec<String> = [villages::DONGGUAN, villages::LIUSHUTUN]
        .iter()
        .flat_map(|village| (0..50).map(move |index| household(village, index).to_string()))
        .chain([secret_household.clone()])
        .collect();
    let mut b_markers: Vec<String> = b_households.clone();
    b_markers.extend([
        b_visit.clone(),
        secret_name.to_owned(),
        "泄露探针".to_owned(),
        "13900009999".to_owned(),
    ]);
    b_markers.extend(b_issues.iter().cloned());
    b_markers
        .extend([villages::DONGGUAN, villages::LIUSHUTUN].map(|code| demo_id(code).to_string()));
    let b_village = demo_id(villages::DONGGUAN);
    let b_town = demo_id("371526100");
    let b_cadre = demo_id("user:cadre1");

    let probes: Vec<String> = vec![
        "/api/v1/households?limit=500".into(),
        format!("/api/v1/households?village_id={b_village}"),
        format!("/api/v1/households?town_id={b_town}&limit=500"),
        format!("/api/v1/households?q={secret_name}"),
        "/api/v1/households?q=泄露".into(),
        format!("/api/v1/households?cursor={}&limit=500", b_households[0]),
        format!("/api/v1/households/{secret_household}"),
        format!("/api/v1/households/{}", b_households[3]),
        "/api/v1/visits?limit=500".into(),
        format!("/api/v1/visits?village_id={b_village}"),
        format!(
            "/api/v1/visits?household_id={}",
            household(villages::DONGGUAN, 1)
        ),
        format!("/api/v1/visits?cadre_id={b_cadre}&limit=500"),
        format!("/api/v1/visits/{b_visit}"),
        "/api/v1/issues?limit=500".into(),
        format!("/api/v1/issues?village_id={b_village}"),
        format!("/api/v1/issues?town_id={b_town}"),
        format!("/api/v1/issues?org_unit_id={b_village}"),
        format!("/api/v1/issues?responsible_id={b_cadre}&limit=500"),
        format!("/api/v1/issues?cursor={}~{}", in_days(20), b_issues[0]),
        format!("/api/v1/issues/{}", b_issues[0]),
        "/api/v1/pairings?limit=500".into(),
        format!("/api/v1/pairings?cadre_id={b_cadre}"),
        "/api/v1/pairings/status?limit=500".into(),
        format!("/api/v1/enterprises?village_id={b_village}"),
        "/api/v1/enterprises?limit=500".into(),
        format!("/api/v1/dashboard/deadlines?org_unit_id={b_village}"),
        format!("/api/v1/dashboard/deadlines?org_unit_id={b_town}&group_by=village"),
        format!("/api/v1/ledger/export?format=csv&village_id={b_village}"),
        format!(
            "/api/v1/ledger/monthly/{}?org_unit_id={b_town}",
            today().format("%Y-%m")
        ),
        "/api/v1/org-units?limit=500".into(),
        format!("/api/v1/org-units/{b_village}"),
        format!("/api/v1/users/{b_cadre}"),
        format!("/api/v1/duties?village_id={b_village}"),
    ];

    let mut leaks = Vec::new();
    for path in &probes {
        let response = app.get_as(&a, path).await;
        assert!(
            response.status < 500,
            "{path}: {} {}",
            response.status,
            response.text
        );
        for marker in &b_markers {
            if response.text.contains(marker.as_str()) {
                leaks.push(format!("{path} ({}) shows {marker}", response.status));
            }
        }
    }
    let pull = app
        .send(
            reqwest::Method::GET,
            "/api/v1/sync/pull?last_pulled_at=null",
            |request| request.bearer_auth(&a).header("x-device-id", "phone-a"),
        )
        .await;
    assert_eq!(pull.status, 200, "{}", pull.text);
    for marker in &b_markers {
        if pull.text.contains(marker.as_str()) {
            leaks.push(format!("sync pull shows {marker}"));
        }
    }
    let huge = app.get_as(&a, "/api/v1/households?limit=100000").await;

    assert!(
        leaks.is_empty(),
        "B's records reached A:\n{}",
        leaks.join("\n")
    );
    huge.assert_problem(422, "validation_failed");
    let own = all_items(&app, &a, "/api/v1/issues").await;
    assert_eq!(own.len(), 1, "A sees their own issue");
    assert_eq!(own[0]["id"], json!(a_issues[0]));
    assert_eq!(
        app.get_as(&a, &format!("/api/v1/visits/{a_visit}"))
            .await
            .status,
        200
    );
    let everyone = all_items(&app, &admin, "/api/v1/households?q=泄露").await;
    assert_eq!(
        everyone.len(),
        1,
        "the probe exists, for those who may see it"
    );
}

// ---------------------------------------------------------------------------------------
// Personal data by audience

/// Maximal runs of `[0-9Xx]` in a text.
fn digit_runs(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_digit() || c == 'X' || c == 'x'))
        .filter(|run| run.len() >= 11)
        .collect()
}

/// Full mobile numbers of `mobiles` and any valid 18-character ID number in `text`.
fn personal_data_in(text: &str, mobiles: &HashSet<String>) -> Vec<String> {
    digit_runs(text)
        .into_iter()
        .filter(|run| mobiles.contains(*run) || api::privacy::valid_id_card(run))
        .map(str::to_owned)
        .collect()
}

fn imported_id_card(index: usize) -> String {
    let birth = NaiveDate::from_ymd_opt(1960, 1, 1).expect("date") + Days::new(index as u64 * 7);
    let first = format!("110105{}{:03}", birth.format("%Y%m%d"), index % 1000);
    let check = api::privacy::id_card_check_character(&first).expect("check");
    format!("{first}{check}")
}

#[tokio::test]
async fn no_audience_without_the_right_sees_a_full_phone_or_id_number_over_a_county_roster() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let cadre = app.token_for("cadre1").await;
    // 1,200 households with mobiles and ID numbers, 300 in each of four villages.
    let village_codes = [
        villages::DONGGUAN,
        villages::LIUSHUTUN,
        villages::SHIQIAO,
        villages::HEWAN,
    ];
    let mut csv = String::from("村,户主姓名,联系电话,身份证号,住址\n");
    for index in 0..1200 {
        csv.push_str(&format!(
            "{},审计户{index:04},139{:08},{},第{}组\n",
            village_codes[index % 4],
            55_000_000 + index * 13,
            imported_id_card(index),
            index % 9 + 1
        ));
    }
    let imported = app
        .send(
            reqwest::Method::POST,
            "/api/v1/households/import",
            |request| {
                request
                    .bearer_auth(&admin)
                    .header("content-type", "text/csv")
                    .body(csv)
            },
        )
        .await;
    assert_eq!(imported.status, 200, "{}", imported.text);
    assert_eq!(imported.json()["created"], 1200);
    // Issues whose applicants are imported households (their phones are the applicants'),
    // one of them escalated to the county transport bureau (dept1).
    let in_dongguan = all_items(
        &app,
        &cadre,
        &format!(
            "/api/v1/households?village_id={}&q=审计户",
            demo_id(villages::DONGGUAN)
        ),
    )
    .await;
    assert_eq!(in_dongguan.len(), 300);
    let mut issue_ids = Vec::new();
    for household in in_dongguan.iter().take(20) {
        let id: Uuid = household["id"].as_str().expect("id").parse().expect("uuid");
        let (_, issues) = record_visit(
            &app,
            &cadre,
            &visit(id, vec![raised_issue("村道坑洼需要修补")]),
        )
        .await;
        issue_ids.extend(issues);
    }
    for (department, days) in [("dept-371526100-mz", 14), ("dept-371526-jt", 21)] {
        let escalated = app
            .post_json(
                Some(&cadre),
                &format!("/api/v1/issues/{}/escalations", issue_ids[0]),
                &json!({"department_id": demo_id(department), "reason": "村级无力解决", "new_deadline": in_days(days)}),
            )
            .await;
        assert_eq!(escalated.status, 201, "{}", escalated.text);
    }
    use sea_orm::EntityTrait;
    let mut mobiles: HashSet<String> = entity::household::Entity::find()
        .all(&app.db)
        .await
        .expect("households")
        .into_iter()
        .filter_map(|household| household.phone)
        .filter(|phone| phone.len() == 11)
        .collect();
    mobiles.extend(
        entity::issue::Entity::find()
            .all(&app.db)
            .await
            .expect("issues")
            .into_iter()
            .filter_map(|issue| issue.applicant_phone),
    );
    assert!(mobiles.len() >= 1200, "{} mobiles", mobiles.len());
    let leader = app.token_for("leader1").await;
    let viewer = app.token_for("viewer1").await;
    let department = app.token_for("dept1").await;
    let month = today().format("%Y-%m").to_string();
    let town = demo_id("371526100");

    // (audience, response text, may it see applicants' phones?)
    let mut seen: Vec<(String, String, bool)> = Vec::new();
    for (name, token) in [("leader", &leader), ("viewer", &viewer)] {
        for path in ["/api/v1/households", "/api/v1/issues"] {
            let items = all_items(&app, token, path).await;
            assert!(!items.is_empty(), "{name} {path}");
            seen.push((
                format!("{name} {path}"),
                serde_json::to_string(&items).expect("json"),
                false,
            ));
        }
        for path in [
            "/api/v1/ledger/export?format=csv".to_owned(),
            format!("/api/v1/ledger/monthly/{month}?org_unit_id={town}"),
            format!("/api/v1/ledger/monthly/{month}/export?format=csv&org_unit_id={town}"),
            "/api/v1/dashboard/deadlines?group_by=responsible".to_owned(),
            format!("/api/v1/issues/{}", issue_ids[0]),
            format!(
                "/api/v1/households/{}",
                in_dongguan[0]["id"].as_str().expect("id")
            ),
        ] {
            let response = app.get_as(token, &path).await;
            assert_eq!(response.status, 200, "{name} {path}: {}", response.text);
            seen.push((format!("{name} {path}"), response.text, false));
        }
    }
    for path in [
        "/api/v1/issues".to_owned(),
        format!("/api/v1/issues/{}", issue_ids[0]),
    ] {
        let response = app.get_as(&department, &path).await;
        assert_eq!(response.status, 200, "department {path}: {}", response.text);
        assert!(
            response.text.contains(&issue_ids[0]),
            "the department sees what was sent to it"
        );
        seen.push((format!("department {path}"), response.text, true));
    }
    app.get_as(&department, "/api/v1/households")
        .await
        .assert_problem(403, "forbidden");
    for path in [
        format!("/public/villages/{}/board", demo_id(villages::DONGGUAN)),
        format!("/public/towns/{town}/board"),
    ] {
        for accept in ["application/json", "text/html"] {
            let response = app
                .send(reqwest::Method::GET, &path, |request| {
                    request.header("accept", accept)
                })
                .await;
            assert_eq!(response.status, 200, "{path}: {}", response.text);
            assert!(
                response.text.contains("村道坑洼"),
                "the board lists the matters"
            );
            seen.push((format!("public {path} ({accept})"), response.text, false));
        }
    }

    let mut leaks = Vec::new();
    for (audience, text, sees_applicant_phones) in &seen {
        for found in personal_data_in(text, &mobiles) {
            let is_id = found.len() == 18;
            if is_id || !sees_applicant_phones {
                leaks.push(format!("{audience}: {found}"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "personal data in full:\n{}",
        leaks.join("\n")
    );
    // The scan finds what it looks for: the household's own cadre sees them in full.
    let own = all_items(
        &app,
        &cadre,
        &format!(
            "/api/v1/households?village_id={}",
            demo_id(villages::DONGGUAN)
        ),
    )
    .await;
    let own_text = serde_json::to_string(&own).expect("json");
    assert!(personal_data_in(&own_text, &mobiles).len() >= 300);
}

// ---------------------------------------------------------------------------------------
// Idempotent retry

#[tokio::test]
async fn a_full_batch_pushed_five_times_and_twice_at_once_lands_exactly_once() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let households: Vec<Uuid> = [villages::DONGGUAN, villages::LIUSHUTUN]
        .iter()
        .flat_map(|village| (0..50).map(move |index| household(village, index)))
        .collect();
    let visits: Vec<(Uuid, Value)> = (0..1000)
        .map(|index| {
            let id = Uuid::new_v4();
            (id, json!({"id": id, "household_id": households[index % households.len()], "channel": "door_to_door",
                        "visited_at": 1_780_000_000_000_i64 + index as i64 * 60_000,
                        "answers": "{\"difficulties\":\"缺劳力\"}", "service_card_given": true, "_status": "created"}))
        })
        .collect();
    // A push carries at most 1,000 records: the visits, then the issues raised in half of them.
    let visit_batch = json!({"visits": {"created": visits.iter().map(|(_, visit)| visit.clone()).collect::<Vec<_>>()}});
    let issue_batch = json!({"issues": {"created": visits.iter().step_by(2).map(|(visit, _)| json!({
        "id": Uuid::new_v4(), "visit_id": visit, "category": "practical_difficulty", "matter": "缺劳力，需帮助秋收",
        "deadline": in_days(30)})).collect::<Vec<_>>()}});
    let state = async || {
        (
            app.count("visits").await,
            app.count("issues").await,
            app.count("issue_events").await,
            app.audit_count().await,
            // The latest sync stamp of any visit, issue or household: a retry restamps none.
            app.scalar(
                "SELECT MAX(n) AS n FROM (SELECT MAX(change_seq) AS n FROM visits \
                 UNION ALL SELECT MAX(change_seq) FROM issues \
                 UNION ALL SELECT MAX(change_seq) FROM households) AS stamps",
            )
            .await,
        )
    };
    let before = state().await;

    let mut answers = Vec::new();
    for batch in [&visit_batch, &issue_batch] {
        for _ in 0..5 {
            answers.push(app.push_as(&cadre, "phone-a", batch.clone()).await);
        }
    }
    let once = state().await;
    let at_once = futures_util::future::join_all([
        app.push_as(&cadre, "phone-a", visit_batch.clone()),
        app.push_as(&cadre, "phone-a", visit_batch.clone()),
        app.push_as(&cadre, "phone-a", issue_batch.clone()),
        app.push_as(&cadre, "phone-a", issue_batch.clone()),
    ])
    .await;
    let after = state().await;

    for (index, response) in answers.iter().chain(&at_once).enumerate() {
        assert_eq!(response.status, 200, "push {index}: {}", response.text);
    }
    assert_eq!(answers[0].json()["applied"], 1000);
    assert_eq!(answers[5].json()["applied"], 500);
    for (index, retry) in answers
        .iter()
        .enumerate()
        .filter(|(index, _)| index % 5 != 0)
    {
        assert_eq!(retry.json()["applied"], 0, "retry {index}: {}", retry.text);
    }
    assert_eq!(once.0 - before.0, 1000, "exactly 1,000 visits");
    assert_eq!(once.1 - before.1, 500, "exactly their 500 issues");
    assert_eq!(
        after, once,
        "no second visit, issue, event, audit row or sync change"
    );
}

// ---------------------------------------------------------------------------------------
// Object access matrix

/// The callers of the matrix, in the order of its columns. `dept2` (县水利局, a county
/// department other than dept1's 县交通运输局) is created through the admin API.
const CALLERS: [&str; 8] = [
    "cadre1",
    "cadre2",
    "official1",
    "leader1",
    "dept1",
    "dept2",
    "viewer1",
    "anonymous",
];

/// Every caller × every record × read and write, as the campaign's rules say (DOMAIN.md,
/// "Roles and scope"; ARCHITECTURE.md: out of scope 404, in scope but forbidden 403, no token
/// 401). Village A is 东关村 (cadre1 and official1; leader1's town 东岭镇), village B is 河湾村
/// (cadre2, town 西河镇); viewer1 reads the whole county. The policy runs before the scope:
/// a role that may never take the action gets 403 whether or not the record is in its scope
/// (leaders never edit the roster, departments never see it). Issues are visible to a
/// department only when sent to it. A progress note is taken by the issue's lead
/// (first visitor) or its current handler: the official of the village while the issue is at
/// village level, the department it was escalated to after that.
///
/// Visits are never changed through the API: there is no write route (`PATCH` is 405 for
/// everybody), and re-sending a visit's id (`POST /visits`, the phone's retry) is the only
/// write that names one. The recorder gets the stored visit back (200); anybody else — in
/// scope or not — gets 409 `id_taken` and changes nothing. That 409 tells an out-of-scope
/// caller only that a UUID it already holds is in use; it is in the table as it is.
#[rustfmt::skip]
const MATRIX: [(&str, &str, [u16; 8]); 16] = [
    //                                   cadre1 cadre2 official1 leader1 dept1 dept2 viewer1 anonymous
    ("household A", "read",             [200,   404,   200,      200,    403,  403,  200,    401]),
    ("household A", "write",            [200,   404,   200,      403,    403,  403,  403,    401]),
    ("household B", "read",             [404,   200,   404,      404,    403,  403,  200,    401]),
    ("household B", "write",            [404,   200,   404,      403,    403,  403,  403,    401]),
    ("visit A", "read",                 [200,   404,   200,      200,    403,  403,  200,    401]),
    ("visit A", "write",                [405,   405,   405,      405,    405,  405,  405,    405]),
    ("visit A", "re-send",              [200,   409,   409,      409,    403,  403,  403,    401]),
    ("visit B", "read",                 [404,   200,   404,      404,    403,  403,  200,    401]),
    ("visit B", "write",                [405,   405,   405,      405,    405,  405,  405,    405]),
    ("visit B", "re-send",              [409,   200,   409,      409,    403,  403,  403,    401]),
    ("issue A", "read",                 [200,   404,   200,      200,    404,  404,  200,    401]),
    ("issue A", "write",                [200,   404,   200,      403,    404,  404,  403,    401]),
    ("issue B", "read",                 [404,   200,   404,      404,    404,  404,  200,    401]),
    ("issue B", "write",                [404,   200,   404,      403,    404,  404,  403,    401]),
    ("issue sent to dept1", "read",     [200,   404,   200,      200,    200,  404,  200,    401]),
    ("issue sent to dept1", "write",    [200,   404,   403,      403,    200,  404,  403,    401]),
];

#[tokio::test]
async fn every_role_reads_and_writes_each_household_visit_and_issue_as_the_matrix_says() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let second_department = app
        .post_json(
            Some(&admin),
            "/api/v1/users",
            &json!({"username": "dept2", "display_name": "水利局干部", "position": "department_staff",
                    "role": "department", "department_id": demo_id("dept-371526-sl"),
                    "password": crate::helpers::DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(second_department.status, 201, "{}", second_department.text);
    let mut tokens = Vec::new();
    for caller in CALLERS {
        tokens.push(match caller {
            "anonymous" => None,
            user => Some(app.token_for(user).await),
        });
    }
    let token = |user: &str| {
        tokens[CALLERS
            .iter()
            .position(|caller| *caller == user)
            .expect("caller")]
        .clone()
        .expect("token")
    };
    let (cadre_a, cadre_b) = (token("cadre1"), token("cadre2"));

    let (household_a, household_b) = (
        household(villages::DONGGUAN, 10),
        household(villages::HEWAN, 10),
    );
    let visit_a_body = visit(
        household(villages::DONGGUAN, 11),
        vec![
            raised_issue("东关村路灯坏了"),
            raised_issue("东关村通村路破损"),
        ],
    );
    let visit_b_body = visit(
        household(villages::HEWAN, 11),
        vec![raised_issue("河湾村水井干了")],
    );
    let (visit_a, issues_a) = record_visit(&app, &cadre_a, &visit_a_body).await;
    let (visit_b, issues_b) = record_visit(&app, &cadre_b, &visit_b_body).await;
    let (issue_a, issue_x, issue_b) = (&issues_a[0], &issues_a[1], &issues_b[0]);
    // Village → town (东岭镇民政办) → county (县交通运输局, dept1's department).
    for department in ["dept-371526100-mz", "dept-371526-jt"] {
        let escalated = app
            .post_json(
                Some(&cadre_a),
                &format!("/api/v1/issues/{issue_x}/escalations"),
                &json!({"department_id": demo_id(department), "reason": "村级无力解决", "new_deadline": in_days(30)}),
            )
            .await;
        assert_eq!(escalated.status, 201, "{}", escalated.text);
    }
    let versions_before = (
        app.get_as(&cadre_a, &format!("/api/v1/issues/{issue_a}"))
            .await
            .json()["version"]
            .clone(),
        app.get_as(&cadre_b, &format!("/api/v1/issues/{issue_b}"))
            .await
            .json()["version"]
            .clone(),
        app.get_as(&cadre_a, &format!("/api/v1/issues/{issue_x}"))
            .await
            .json()["version"]
            .clone(),
    );
    // A visit as stored, without the issues raised in it (their steps are in the matrix).
    let visit_itself = async |token: &str, id: &str| {
        let mut stored = app
            .get_as(token, &format!("/api/v1/visits/{id}"))
            .await
            .json();
        stored.as_object_mut().expect("object").remove("issues");
        stored
    };
    let stored_visits = (
        visit_itself(&cadre_a, &visit_a).await,
        visit_itself(&cadre_b, &visit_b).await,
    );

    let mut mismatches = Vec::new();
    let mut cells = 0;
    for (record, operation, expected) in MATRIX {
        for ((caller, token), expected) in CALLERS.iter().zip(&tokens).zip(expected) {
            let note = json!({"note": format!("{caller}的办理情况")});
            let (method, path, body) = match (record, operation) {
                ("household A" | "household B", _) => {
                    let id = if record == "household A" {
                        household_a
                    } else {
                        household_b
                    };
                    let path = format!("/api/v1/households/{id}");
                    match operation {
                        "read" => (reqwest::Method::GET, path, None),
                        _ => (
                            reqwest::Method::PATCH,
                            path,
                            Some(json!({"notes": format!("{caller}改过")})),
                        ),
                    }
                }
                ("visit A" | "visit B", _) => {
                    let (id, body) = if record == "visit A" {
                        (&visit_a, &visit_a_body)
                    } else {
                        (&visit_b, &visit_b_body)
                    };
                    match operation {
                        "read" => (reqwest::Method::GET, format!("/api/v1/visits/{id}"), None),
                        "write" => (
                            reqwest::Method::PATCH,
                            format!("/api/v1/visits/{id}"),
                            Some(json!({"diary_note": "改写"})),
                        ),
                        _ => (
                            reqwest::Method::POST,
                            "/api/v1/visits".to_owned(),
                            Some(body.clone()),
                        ),
                    }
                }
                _ => {
                    let id = match record {
                        "issue A" => issue_a,
                        "issue B" => issue_b,
                        _ => issue_x,
                    };
                    match operation {
                        "read" => (reqwest::Method::GET, format!("/api/v1/issues/{id}"), None),
                        _ => (
                            reqwest::Method::POST,
                            format!("/api/v1/issues/{id}/progress"),
                            Some(note),
                        ),
                    }
                }
            };
            let response = app
                .call(method.clone(), token.as_deref(), &path, body.as_ref())
                .await;
            cells += 1;
            if response.status != expected {
                mismatches.push(format!(
                    "{caller} × {record} × {operation} ({method} {path}): expected {expected}, got {} {}",
                    response.status, response.text
                ));
            } else if response.status >= 400 {
                let problem = response.header("content-type") == Some("application/problem+json");
                if !problem {
                    mismatches.push(format!(
                        "{caller} × {record} × {operation}: {} without problem+json",
                        response.status
                    ));
                }
            }
        }
    }

    assert_eq!(cells, 16 * 8);
    assert!(
        mismatches.is_empty(),
        "cells that differ from the matrix:\n{}",
        mismatches.join("\n")
    );
    // The refused writes changed nothing: each record has exactly the versions of its allowed
    // writes (household A: cadre1 and official1; B: cadre2; issue A: cadre1 and official1;
    // B: cadre2; the escalated one: cadre1 and dept1), and the visits are as recorded.
    let household_a_now = app
        .get_as(&cadre_a, &format!("/api/v1/households/{household_a}"))
        .await
        .json();
    let household_b_now = app
        .get_as(&cadre_b, &format!("/api/v1/households/{household_b}"))
        .await
        .json();
    assert_eq!(
        (
            household_a_now["version"].clone(),
            household_a_now["notes"].clone()
        ),
        (json!(3), json!("official1改过"))
    );
    assert_eq!(
        (
            household_b_now["version"].clone(),
            household_b_now["notes"].clone()
        ),
        (json!(2), json!("cadre2改过"))
    );
    let version = |value: &Value| value.as_i64().expect("version");
    let issue_version = async |token: &str, id: &str| {
        version(
            &app.get_as(token, &format!("/api/v1/issues/{id}"))
                .await
                .json()["version"],
        )
    };
    assert_eq!(
        issue_version(&cadre_a, issue_a).await,
        version(&versions_before.0) + 2
    );
    assert_eq!(
        issue_version(&cadre_b, issue_b).await,
        version(&versions_before.1) + 1
    );
    assert_eq!(
        issue_version(&cadre_a, issue_x).await,
        version(&versions_before.2) + 2
    );
    assert_eq!(
        (
            visit_itself(&cadre_a, &visit_a).await,
            visit_itself(&cadre_b, &visit_b).await
        ),
        stored_visits,
        "the visits are unchanged"
    );
}

// ---------------------------------------------------------------------------------------
// Lost response

/// Sends a whole push over a raw connection and hangs up without reading a byte of the
/// answer. With `committed_visits`, it first waits (up to 30 s) until that many visits are in
/// the database — the push has committed — so the answer is lost after the commit.
async fn push_and_hang_up(app: &TestApp, token: &str, body: &Value, committed_visits: Option<i64>) {
    let payload = body.to_string();
    let head = format!(
        "POST /api/v1/sync/push?last_pulled_at=0 HTTP/1.1\r\nHost: minqing\r\n\
         Authorization: Bearer {token}\r\nX-Device-Id: phone-a\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        payload.len()
    );
    let mut stream = tokio::net::TcpStream::connect(socket_address(app))
        .await
        .expect("connect");
    stream.write_all(head.as_bytes()).await.expect("head");
    stream.write_all(payload.as_bytes()).await.expect("body");
    stream.flush().await.expect("flush");
    if let Some(expected) = committed_visits {
        let deadline = Instant::now() + Duration::from_secs(30);
        while app.count("visits").await < expected {
            assert!(Instant::now() < deadline, "the push never committed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    drop(stream);
}

/// The phone's answer is lost and it retries the same push: one copy of each visit and one
/// audit row for it. Dropping the connection exactly between the server's commit and its
/// answer cannot be forced from outside the process; two practical versions are run: the
/// phone closes the connection right after sending the whole push (the server may not have
/// started it, may be in the middle of it — actix drops the handler of a client that left,
/// which rolls its transaction back — or may have committed it), and the phone closes only
/// once the push's visits are in the database, without reading the answer (the answer is
/// lost after the commit, as when the network fails on the way back).
#[tokio::test]
async fn a_push_whose_answer_was_lost_is_retried_and_lands_exactly_once() {
    const VISITS: usize = 200;
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let batch = |offset: i64| {
        json!({"visits": {"created": (0..VISITS).map(|index| json!({
            "id": Uuid::new_v4(), "household_id": household(villages::DONGGUAN, index % 50),
            "channel": "door_to_door", "service_card_given": true,
            "visited_at": 1_780_000_000_000_i64 + (offset + index as i64) * 60_000,
        })).collect::<Vec<_>>(), "updated": [], "deleted": []}})
    };
    let visit_audit_rows = async || {
        app.scalar("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'visit.create'")
            .await
    };
    let before = (app.count("visits").await, visit_audit_rows().await);

    // Closed at once: the retry follows immediately, maybe while the first is still running.
    let closed_at_once = batch(0);
    push_and_hang_up(&app, &cadre, &json!({"changes": closed_at_once}), None).await;
    let first_retry = app.push_as(&cadre, "phone-a", closed_at_once.clone()).await;
    let second_retry = app.push_as(&cadre, "phone-a", closed_at_once).await;
    let after_first = (app.count("visits").await, visit_audit_rows().await);

    // Closed after the commit: the answer was on its way when the phone lost it.
    let closed_after_commit = batch(10_000);
    push_and_hang_up(
        &app,
        &cadre,
        &json!({"changes": closed_after_commit}),
        Some(after_first.0 + VISITS as i64),
    )
    .await;
    let late_retry = app.push_as(&cadre, "phone-a", closed_after_commit).await;
    let after_second = (app.count("visits").await, visit_audit_rows().await);

    for (name, retry) in [
        ("first retry", &first_retry),
        ("second retry", &second_retry),
        ("retry after the commit", &late_retry),
    ] {
        assert_eq!(retry.status, 200, "{name}: {}", retry.text);
    }
    let applied = first_retry.json()["applied"].as_u64().expect("applied");
    assert!(
        applied == 0 || applied == VISITS as u64,
        "all or nothing: {applied}"
    );
    assert_eq!(second_retry.json()["applied"], 0, "{}", second_retry.text);
    assert_eq!(
        late_retry.json()["applied"],
        0,
        "the lost push had committed: {}",
        late_retry.text
    );
    let expected = VISITS as i64;
    assert_eq!(
        after_first,
        (before.0 + expected, before.1 + expected),
        "one copy of each visit and one audit row for it"
    );
    assert_eq!(
        after_second,
        (before.0 + 2 * expected, before.1 + 2 * expected),
        "one copy of each visit and one audit row for it"
    );
}
