//! The scenarios: each drives the release server over HTTP and runs the raw database doing
//! the same work in the same run (alternating), and returns report rows.

use std::{sync::Arc, time::Instant};

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, Utc};
use entity::{household, issue, issue_event, org_unit, visit};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, Statement, TransactionTrait, Value,
};
use serde_json::{Value as Json, json};
use uuid::Uuid;

use crate::{
    BenchResult,
    bulk::{Bulk, placeholders},
    county::{County, PASSWORD, Phone},
    load::{Timed, alternate, drive},
    report::{Row, count, latency, ms},
};

/// What every scenario needs.
pub struct Ctx {
    /// The HTTP client (keep-alive).
    pub client: reqwest::Client,
    /// The server's address.
    pub address: String,
    /// The raw database: the server's own connection settings and pool size.
    pub raw: DatabaseConnection,
    /// The generated county.
    pub county: Arc<County>,
    /// Concurrent clients for the read and push scenarios.
    pub clients: usize,
    /// Concurrent clients for the single visit POST.
    pub visit_clients: usize,
    /// Requests per read scenario (each variant), and as many raw queries.
    pub requests: usize,
    /// Batches of 100 visits pushed.
    pub batches: usize,
    /// The most time each side of a read scenario variant may take.
    pub budget: Option<std::time::Duration>,
    /// SQLite takes one writer at a time: the raw writers queue here (as the server's do),
    /// rather than spin in SQLite's busy handler.
    pub write_turn: Arc<tokio::sync::Mutex<()>>,
}

impl Ctx {
    fn backend(&self) -> DbBackend {
        self.raw.get_database_backend()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }
}

/// Logs in and returns the access token.
pub async fn login(ctx: &Ctx, username: &str) -> BenchResult<String> {
    let response = ctx
        .client
        .post(ctx.url("/api/v1/auth/login"))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(format!("login {username}: {}", response.status()).into());
    }
    let body: Json = response.json().await?;
    Ok(body["access_token"]
        .as_str()
        .ok_or("no access_token")?
        .to_owned())
}

async fn get_ok(
    client: &reqwest::Client,
    url: &str,
    token: &str,
) -> BenchResult<reqwest::Response> {
    let response = client.get(url).bearer_auth(token).send().await?;
    if !response.status().is_success() {
        let status = response.status();
        return Err(format!("GET {url}: {status} {}", response.text().await?).into());
    }
    Ok(response)
}

/// The local (UTC+8) days the server counts against.
struct Today {
    today: NaiveDate,
    soon: NaiveDate,
    month_start: DateTime<Utc>,
}

fn today() -> Today {
    let offset = TimeDelta::hours(8);
    let today = (Utc::now() + offset).date_naive();
    let first = today.with_day(1).unwrap_or(today);
    Today {
        today,
        soon: today + chrono::Days::new(3),
        month_start: first.and_time(NaiveTime::MIN).and_utc() - offset,
    }
}

fn statement(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(backend, placeholders(backend, sql), values)
}

fn question_marks(count: usize) -> String {
    vec!["?"; count].join(", ")
}

// ----------------------------------------------------------------------------------------
// Sync pull

/// A cadre's first sync of their whole scope, five times, each beside the same rows read raw.
pub async fn pull(ctx: &Ctx) -> BenchResult<Vec<Row>> {
    let county = &ctx.county;
    let token = login(ctx, &county.cadre.cadre.username).await?;
    let mut api = Vec::new();
    let mut raw = Vec::new();
    let mut records = 0;
    let mut raw_records = 0;
    for round in 0..5 {
        let begun = Instant::now();
        let response = ctx
            .client
            .get(ctx.url("/api/v1/sync/pull?last_pulled_at=null&schema_version=1&migration=null"))
            .bearer_auth(&token)
            .header("x-device-id", format!("bench-pull-{round}"))
            .send()
            .await?;
        if !response.status().is_success() {
            return Err(format!("pull: {}", response.status()).into());
        }
        // Timed to the last byte, like the export: the phone's parse of the JSON is the
        // phone's work, and raw's rows need none.
        let body = response.bytes().await?;
        api.push(begun.elapsed().as_secs_f64() * 1000.0);
        let body: Json = serde_json::from_slice(&body)?;
        records = body["changes"].as_object().map_or(0, |tables| {
            tables
                .values()
                .map(|table| {
                    table["created"].as_array().map_or(0, Vec::len)
                        + table["updated"].as_array().map_or(0, Vec::len)
                })
                .sum::<usize>()
        });
        let begun = Instant::now();
        raw_records = raw_pull(ctx).await?;
        raw.push(begun.elapsed().as_secs_f64() * 1000.0);
    }
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        (values[values.len() / 2], values[values.len() - 1])
    };
    let (api_p50, api_max) = median(&mut api);
    let (raw_p50, raw_max) = median(&mut raw);
    Ok(vec![Row {
        scenario: format!(
            "sync pull, a cadre's whole scope ({} villages), first sync",
            county.cadre.villages.len()
        ),
        api: format!("median {} · max {}", ms(api_p50), ms(api_max)),
        raw: format!("median {} · max {}", ms(raw_p50), ms(raw_max)),
        ratio: Some(api_p50 / raw_p50),
        target: "≤ 1 s".to_owned(),
        met: Some(api_max <= 1000.0),
        note: format!(
            "{} records sent ({} rows read raw: villages, households, a year of visits, the \
             issues the cadre may see and their events, in one snapshot); 5 runs one after \
             another, each timed to the last byte. The API also builds and sends the JSON",
            count(records as u64),
            count(raw_records as u64)
        ),
    }])
}

/// The rows a first pull sends, read by hand in one read transaction.
async fn raw_pull(ctx: &Ctx) -> BenchResult<usize> {
    let backend = ctx.backend();
    let county = &ctx.county;
    let villages: Vec<Value> = county
        .cadre
        .villages
        .iter()
        .map(|id| (*id).into())
        .collect();
    let marks = question_marks(villages.len());
    let year_ago = Utc::now() - TimeDelta::days(365);
    let me: Value = county.cadre.cadre.id.into();
    let txn = ctx.raw.begin().await?;
    let units = org_unit::Entity::find()
        .from_raw_sql(statement(
            backend,
            &format!("SELECT * FROM org_units WHERE kind = 'village' AND id IN ({marks})"),
            villages.clone(),
        ))
        .all(&txn)
        .await?;
    let households = household::Entity::find()
        .from_raw_sql(statement(
            backend,
            &format!("SELECT * FROM households WHERE village_id IN ({marks})"),
            villages.clone(),
        ))
        .all(&txn)
        .await?;
    let mut values = villages.clone();
    values.push(year_ago.into());
    let visits = visit::Entity::find()
        .from_raw_sql(statement(
            backend,
            &format!("SELECT * FROM visits WHERE village_id IN ({marks}) AND visited_at >= ?"),
            values,
        ))
        .all(&txn)
        .await?;
    let visible = format!(
        "(village_id IN ({marks}) OR lead_responsible_id = ?) \
         AND (named_cadre_id IS NULL OR named_cadre_id <> ?)"
    );
    let mut values = villages.clone();
    values.extend([me.clone(), me.clone(), year_ago.into()]);
    let issues = issue::Entity::find()
        .from_raw_sql(statement(
            backend,
            &format!(
                "SELECT * FROM issues WHERE {visible} AND \
                 ((status IN ('open', 'in_progress') AND answered_on_spot = FALSE) OR created_at >= ?)"
            ),
            values,
        ))
        .all(&txn)
        .await?;
    let mut values = villages;
    values.extend([me.clone(), me]);
    let events = issue_event::Entity::find()
        .from_raw_sql(statement(
            backend,
            &format!("SELECT * FROM issue_events WHERE issue_id IN (SELECT id FROM issues WHERE {visible})"),
            values,
        ))
        .all(&txn)
        .await?;
    txn.rollback().await?;
    Ok(units.len() + households.len() + visits.len() + issues.len() + events.len())
}

// ----------------------------------------------------------------------------------------
// Deadlines dashboard

/// The deadlines dashboard as the county viewer and as a town leader, grouped by town and by
/// village, beside its three grouped counts written by hand.
pub async fn dashboard(ctx: &Ctx) -> BenchResult<Vec<Row>> {
    let county = ctx.county.clone();
    let mut rows = Vec::new();
    for (who, person, place_column, place) in [
        (
            "county viewer",
            &county.viewer,
            "county_id",
            county.county_id,
        ),
        (
            "town leader",
            &county.town_leader,
            "town_id",
            county.town_id,
        ),
    ] {
        let token = Arc::new(login(ctx, &person.username).await?);
        for group in ["town", "village"] {
            let url = Arc::new(ctx.url(&format!("/api/v1/dashboard/deadlines?group_by={group}")));
            // Once, to check that the API and the hand-written counts agree. The server's first
            // dashboard request loads the live ledger: its time is reported.
            let started = Instant::now();
            let body: Json = get_ok(&ctx.client, &url, &token).await?.json().await?;
            let first_ms = started.elapsed().as_secs_f64() * 1e3;
            let raw_totals =
                raw_deadline_counts(ctx, group, place_column, place, person.id).await?;
            let totals = &body["totals"];
            let api_totals = [
                "open",
                "overdue",
                "due_soon",
                "awaiting_feedback",
                "closed_this_month",
            ]
            .map(|field| totals[field].as_i64().unwrap_or(-1));
            let agree = api_totals == raw_totals;
            if !agree {
                eprintln!(
                    "warning: dashboard totals differ for {who}, group_by={group}: API {api_totals:?}, raw {raw_totals:?}"
                );
            }
            let client = ctx.client.clone();
            let api_job = {
                let (url, token) = (url.clone(), token.clone());
                move |_| {
                    let (client, url, token) = (client.clone(), url.clone(), token.clone());
                    async move {
                        get_ok(&client, &url, &token).await?.bytes().await?;
                        Ok(())
                    }
                }
            };
            let raw_db = ctx.raw.clone();
            let viewer_id = person.id;
            let raw_job = move |_| {
                let db = raw_db.clone();
                async move {
                    raw_deadline_counts_on(&db, group, place_column, place, viewer_id).await?;
                    Ok(())
                }
            };
            let (api, raw) = alternate_reads(ctx, api_job, raw_job).await?;
            rows.push(read_row(
                format!(
                    "deadlines dashboard, {who}, group_by={group}, {} clients",
                    ctx.clients
                ),
                &api,
                &raw,
                format!(
                    "{}{} groups; totals open {}, overdue {}, due soon {}, awaiting feedback {}, \
                     struck off this month {} — {}. Raw: the dashboard's three grouped COUNTs \
                     by hand; the API also authenticates, resolves the place, names the groups \
                     and lists the ten oldest overdue issues",
                    first_request(rows.is_empty(), first_ms),
                    body["groups"].as_array().map_or(0, Vec::len),
                    api_totals[0],
                    api_totals[1],
                    api_totals[2],
                    api_totals[3],
                    api_totals[4],
                    if agree {
                        "same as raw"
                    } else {
                        "**differ from raw**"
                    }
                ),
            ));
        }
    }
    rows.push(dashboard_while_writing(ctx).await?);
    Ok(rows)
}

/// The note on the server's first dashboard request (it loads the live ledger).
fn first_request(first: bool, ms: f64) -> String {
    if first {
        format!(
            "the server's first dashboard request, which loads the live ledger, took {ms:.0} ms; "
        )
    } else {
        String::new()
    }
}

/// How often the cadre records an issue while the county's dashboard is read.
const WRITE_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// The county's dashboard read while a cadre records a visit with an issue every
/// [`WRITE_EVERY`] through the API: most reads have issues written since the one before to take
/// in (a cache of finished counts would count afresh each time).
async fn dashboard_while_writing(ctx: &Ctx) -> BenchResult<Row> {
    let county = ctx.county.clone();
    let token = Arc::new(login(ctx, &county.viewer.username).await?);
    let cadre = login(ctx, &county.cadre.cadre.username).await?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = tokio::spawn({
        let (client, address, stop) = (ctx.client.clone(), ctx.address.clone(), stop.clone());
        let households = county.cadre.households.clone();
        let deadline = (Utc::now().date_naive() + TimeDelta::days(5)).to_string();
        async move {
            let mut written = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let body = json!({"id": Uuid::now_v7(),
                    "household_id": households[(written * 7919) % households.len()],
                    "channel": "door_to_door", "visited_at": Utc::now().to_rfc3339(),
                    "issues": [{"id": Uuid::now_v7(), "category": "practical_difficulty",
                                "matter": "路灯坏了", "deadline": deadline}]});
                let response = client
                    .post(format!("{address}/api/v1/visits"))
                    .bearer_auth(&cadre)
                    .json(&body)
                    .send()
                    .await?;
                if response.status().as_u16() != 201 {
                    return Err(format!(
                        "visit with an issue: {} {}",
                        response.status(),
                        response.text().await?
                    )
                    .into());
                }
                written += 1;
                tokio::time::sleep(WRITE_EVERY).await;
            }
            BenchResult::Ok(written)
        }
    });
    let url = Arc::new(ctx.url("/api/v1/dashboard/deadlines?group_by=village"));
    let client = ctx.client.clone();
    let api_job = move |_| {
        let (client, url, token) = (client.clone(), url.clone(), token.clone());
        async move {
            get_ok(&client, &url, &token).await?.bytes().await?;
            Ok(())
        }
    };
    let (raw_db, viewer_id, place) = (ctx.raw.clone(), county.viewer.id, county.county_id);
    let raw_job = move |_| {
        let db = raw_db.clone();
        async move {
            raw_deadline_counts_on(&db, "village", "county_id", place, viewer_id).await?;
            Ok(())
        }
    };
    let measured = alternate_reads(ctx, api_job, raw_job).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.map_err(|error| error.to_string())??;
    let (api, raw) = measured?;
    Ok(read_row(
        format!(
            "deadlines dashboard, county viewer, group_by=village, {} clients, a cadre recording \
             an issue every {} ms",
            ctx.clients,
            WRITE_EVERY.as_millis()
        ),
        &api,
        &raw,
        format!(
            "{written} visits with an issue recorded through the API while both sides ran; each \
             API read first takes in the issues written since the one before"
        ),
    ))
}

/// [`alternate`] for a read scenario: the run's clients and requests, in four slices, within
/// its time budget, with nothing to settle between the sides.
async fn alternate_reads<A, AF, R, RF>(ctx: &Ctx, api: A, raw: R) -> BenchResult<(Timed, Timed)>
where
    A: Fn(usize) -> AF + Send + Sync + 'static,
    AF: std::future::Future<Output = BenchResult<()>> + Send,
    R: Fn(usize) -> RF + Send + Sync + 'static,
    RF: std::future::Future<Output = BenchResult<()>> + Send,
{
    alternate(ctx.clients, ctx.requests, 4, ctx.budget, None, api, raw).await
}

/// The target of the read scenarios: p99 ≤ 20 ms and ≤ 2× the raw query.
fn read_row(scenario: String, api: &Timed, raw: &Timed, note: String) -> Row {
    let ratio = api.ms(0.99) / raw.ms(0.99).max(1e-3);
    Row {
        scenario,
        api: latency(api.ms(0.5), api.ms(0.99)),
        raw: latency(raw.ms(0.5), raw.ms(0.99)),
        ratio: Some(ratio),
        target: "p99 ≤ 20 ms and ≤ 2× raw".to_owned(),
        met: Some(api.ms(0.99) <= 20.0 && ratio <= 2.0),
        note: format!(
            "{} requests and {} raw runs, alternating (each side stops at its time budget); {note}",
            count(api.jobs as u64),
            count(raw.jobs as u64)
        ),
    }
}

async fn raw_deadline_counts(
    ctx: &Ctx,
    group: &str,
    place_column: &str,
    place: Uuid,
    caller: Uuid,
) -> BenchResult<[i64; 5]> {
    raw_deadline_counts_on(&ctx.raw, group, place_column, place, caller).await
}

/// The three grouped counts of the deadlines dashboard, by hand: open (with overdue and due
/// soon), resolved awaiting feedback, struck off this month. Returns the totals.
async fn raw_deadline_counts_on(
    db: &DatabaseConnection,
    group: &str,
    place_column: &str,
    place: Uuid,
    caller: Uuid,
) -> BenchResult<[i64; 5]> {
    let backend = db.get_database_backend();
    let days = today();
    let key = format!("{group}_id");
    // SQLite's planner, without statistics, takes the whole ledger's index for these (3–5 s a
    // county at 200,000 issues); the best plain SQL names the slice's partial index.
    let place_kind = place_column.trim_end_matches("_id");
    let indexed = |slice: &str| match (backend, slice) {
        (DbBackend::Sqlite, "awaiting_feedback") => {
            "issues INDEXED BY idx_issues_awaiting_feedback".to_owned()
        }
        (DbBackend::Sqlite, "open") => {
            format!("issues INDEXED BY idx_issues_open_{place_kind}_deadline")
        }
        (DbBackend::Sqlite, _) => format!("issues INDEXED BY idx_issues_closed_{place_kind}"),
        _ => "issues".to_owned(),
    };
    let base = format!(
        "{place_column} = ? AND answered_on_spot = FALSE \
         AND (named_cadre_id IS NULL OR named_cadre_id <> ?)"
    );
    let open = db
        .query_all_raw(statement(
            backend,
            &format!(
                "SELECT {key}, COUNT(*) AS open, \
                 SUM(CASE WHEN deadline < ? THEN 1 ELSE 0 END) AS overdue, \
                 SUM(CASE WHEN deadline >= ? AND deadline <= ? THEN 1 ELSE 0 END) AS due_soon \
                 FROM {} WHERE {base} AND status IN ('open', 'in_progress') GROUP BY {key}",
                indexed("open")
            ),
            vec![
                days.today.into(),
                days.today.into(),
                days.soon.into(),
                place.into(),
                caller.into(),
            ],
        ))
        .await?;
    let awaiting = db
        .query_all_raw(statement(
            backend,
            &format!(
                "SELECT {key}, COUNT(*) AS n FROM {} WHERE {base} \
                 AND status = 'resolved' AND feedback_given = FALSE GROUP BY {key}",
                indexed("awaiting_feedback")
            ),
            vec![place.into(), caller.into()],
        ))
        .await?;
    let closed = db
        .query_all_raw(statement(
            backend,
            &format!(
                "SELECT {key}, COUNT(*) AS n FROM {} WHERE {base} \
                 AND status = 'closed' AND closed_at >= ? GROUP BY {key}",
                indexed("closed")
            ),
            vec![place.into(), caller.into(), days.month_start.into()],
        ))
        .await?;
    let mut totals = [0i64; 5];
    for row in &open {
        totals[0] += row.try_get::<i64>("", "open")?;
        totals[1] += row.try_get::<i64>("", "overdue")?;
        totals[2] += row.try_get::<i64>("", "due_soon")?;
    }
    for row in &awaiting {
        totals[3] += row.try_get::<i64>("", "n")?;
    }
    for row in &closed {
        totals[4] += row.try_get::<i64>("", "n")?;
    }
    Ok(totals)
}

// ----------------------------------------------------------------------------------------
// Ledger first page

/// The ledger's first page (50) as a town leader and as the county viewer, beside the same
/// SELECT by hand.
pub async fn ledger(ctx: &Ctx) -> BenchResult<Vec<Row>> {
    let county = ctx.county.clone();
    let mut rows = Vec::new();
    for (who, person, place_column, place) in [
        (
            "town leader",
            &county.town_leader,
            "town_id",
            county.town_id,
        ),
        (
            "county viewer",
            &county.viewer,
            "county_id",
            county.county_id,
        ),
    ] {
        let token = Arc::new(login(ctx, &person.username).await?);
        let url = Arc::new(ctx.url("/api/v1/issues?limit=50"));
        let body: Json = get_ok(&ctx.client, &url, &token).await?.json().await?;
        let api_ids: Vec<String> = body["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|item| item["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let raw_ids: Vec<String> = raw_ledger_page(&ctx.raw, place_column, place, person.id)
            .await?
            .iter()
            .take(50)
            .map(|row| row.id.to_string())
            .collect();
        let agree = api_ids == raw_ids;
        if !agree {
            eprintln!(
                "warning: ledger first page differs for {who}: API {api_ids:?}, raw {raw_ids:?}"
            );
        }
        let client = ctx.client.clone();
        let api_job = {
            let (url, token) = (url.clone(), token.clone());
            move |_| {
                let (client, url, token) = (client.clone(), url.clone(), token.clone());
                async move {
                    get_ok(&client, &url, &token).await?.bytes().await?;
                    Ok(())
                }
            }
        };
        let raw_db = ctx.raw.clone();
        let caller = person.id;
        let raw_job = move |_| {
            let db = raw_db.clone();
            async move {
                raw_ledger_page(&db, place_column, place, caller).await?;
                Ok(())
            }
        };
        let (api, raw) = alternate_reads(ctx, api_job, raw_job).await?;
        rows.push(read_row(
            format!("ledger first page (50), {who}, {} clients", ctx.clients),
            &api,
            &raw,
            format!(
                "raw: `SELECT * FROM issues WHERE {place_column} = ? AND answered_on_spot = FALSE AND (named_cadre_id IS NULL OR named_cadre_id <> ?) ORDER BY deadline, id LIMIT 51`, rows decoded; {}",
                if agree { "same 50 issues as the API" } else { "**the API's page differs**" }
            ),
        ));
    }
    Ok(rows)
}

async fn raw_ledger_page(
    db: &DatabaseConnection,
    place_column: &str,
    place: Uuid,
    caller: Uuid,
) -> BenchResult<Vec<issue::Model>> {
    let backend = db.get_database_backend();
    Ok(issue::Entity::find()
        .from_raw_sql(statement(
            backend,
            &format!(
                "SELECT * FROM issues WHERE {place_column} = ? AND answered_on_spot = FALSE \
                 AND (named_cadre_id IS NULL OR named_cadre_id <> ?) \
                 ORDER BY deadline, id LIMIT 51"
            ),
            vec![place.into(), caller.into()],
        ))
        .all(db)
        .await?)
}

// ----------------------------------------------------------------------------------------
// xlsx export

/// The whole county's ledger as xlsx, as the county viewer: time to the last byte, beside
/// reading the same rows raw. (The server's peak RSS during it is added by the caller.)
pub async fn export(ctx: &Ctx) -> BenchResult<Vec<Row>> {
    let county = &ctx.county;
    let token = login(ctx, &county.viewer.username).await?;
    let begun = Instant::now();
    let response = ctx
        .client
        .get(ctx.url("/api/v1/ledger/export?format=xlsx"))
        .bearer_auth(&token)
        .send()
        .await?;
    let status = response.status();
    if status.as_u16() == 404 {
        return Ok(vec![Row {
            scenario: EXPORT_SCENARIO.to_owned(),
            api: "skipped".to_owned(),
            raw: "–".to_owned(),
            ratio: None,
            target: "RSS ≤ 100 MB".to_owned(),
            met: None,
            note: "`GET /api/v1/ledger/export` answered 404: not in this build".to_owned(),
        }]);
    }
    if !status.is_success() {
        return Err(format!("export: {status} {}", response.text().await?).into());
    }
    let first_byte = begun.elapsed();
    let bytes = response.bytes().await?;
    let last_byte = begun.elapsed();
    // The raw side: the same rows read by hand, in ledger order, in one query.
    let begun = Instant::now();
    let raw_rows = issue::Entity::find()
        .from_raw_sql(statement(
            ctx.backend(),
            "SELECT * FROM issues WHERE county_id = ? AND answered_on_spot = FALSE \
             AND (named_cadre_id IS NULL OR named_cadre_id <> ?) ORDER BY deadline, id",
            vec![county.county_id.into(), county.viewer.id.into()],
        ))
        .all(&ctx.raw)
        .await?
        .len();
    let raw_time = begun.elapsed();
    Ok(vec![Row {
        scenario: EXPORT_SCENARIO.to_owned(),
        api: format!(
            "{:.2} s to the last byte (first byte {:.2} s)",
            last_byte.as_secs_f64(),
            first_byte.as_secs_f64(),
        ),
        raw: format!("{:.2} s to read the rows", raw_time.as_secs_f64()),
        ratio: Some(last_byte.as_secs_f64() / raw_time.as_secs_f64().max(1e-6)),
        target: "RSS ≤ 100 MB".to_owned(),
        met: None,
        note: format!(
            "{} ledger rows, {:.1} MiB of xlsx, one request; raw: one `SELECT * … ORDER BY \
             deadline, id` of the same rows, decoded (no spreadsheet written)",
            count(raw_rows as u64),
            bytes.len() as f64 / 1024.0 / 1024.0,
        ),
    }])
}

/// The export's row name (its target is the server's RSS, which the caller measures).
pub const EXPORT_SCENARIO: &str = "xlsx export of the county's whole ledger, county viewer";

// ----------------------------------------------------------------------------------------
// Writes

fn visit_records(households: &[Uuid], count: usize, seed: usize) -> Vec<Json> {
    (0..count)
        .map(|index| {
            json!({"id": Uuid::now_v7(), "household_id": households[(seed * 31 + index) % households.len()],
                   "channel": "door_to_door",
                   "visited_at": Utc::now().timestamp_millis() - (index as i64) * 1000,
                   "answers": "{\"difficulties\":\"缺劳力\"}", "service_card_given": true})
        })
        .collect()
}

const VISIT_COLUMNS: &[&str] = &[
    "id",
    "county_id",
    "town_id",
    "village_id",
    "household_id",
    "cadre_id",
    "channel",
    "visited_at",
    "received_at",
    "answers",
    "service_card_given",
    "device_id",
    "change_seq",
    "created_seq",
    "origin_device",
];

const AUDIT_COLUMNS: &[&str] = &[
    "id",
    "occurred_at",
    "actor_type",
    "actor_id",
    "actor_role",
    "action",
    "entity_type",
    "entity_id",
    "changes",
    "seq",
    "prev_hash",
    "row_hash",
];

/// What the raw side of a push writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RawWrites {
    /// The visits only.
    Visits,
    /// What the server writes for them: the visits and their households' `last_visited_at`,
    /// stamped with the transaction's change stamp, and an audit row each, stored already linked (the raw side holds no chain, so its `seq`
    /// numbers are negative and its hashes are placeholders of the same size).
    Same,
}

/// Negative `seq` numbers for the raw side's audit rows, out of the chain's way.
static RAW_AUDIT_SEQ: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(-1);

/// Inserts `count` visits of the phone's cadre in one multi-row INSERT, in one write
/// transaction (and, for [`RawWrites::Same`], updates their households and inserts their audit
/// rows in it).
async fn raw_insert_visits(
    db: &DatabaseConnection,
    turn: &tokio::sync::Mutex<()>,
    county_id: Uuid,
    phone: &Phone,
    first: usize,
    count: usize,
    writes: RawWrites,
) -> BenchResult<()> {
    let backend = db.get_database_backend();
    // A plain write transaction (IMMEDIATE on SQLite, one writer at a time), as a
    // hand-written service would.
    let asked = Instant::now();
    let _turn = match backend {
        DbBackend::Sqlite => Some(turn.lock().await),
        _ => None,
    };
    let turned = Instant::now();
    let txn = db
        .begin_with_options(sea_orm::TransactionOptions {
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?;
    let begun = Instant::now();
    // The same writes store the same change stamp: one per transaction, taken as the server
    // takes it. A constant stamp would let PostgreSQL update a household in place (a HOT
    // update: no indexed column changes), which a real stamp, moving on every write, forbids.
    let stamp = match writes {
        RawWrites::Same => raw_stamp(&txn).await?,
        RawWrites::Visits => 1,
    };
    let mut bulk = Bulk::new(backend, "visits", VISIT_COLUMNS);
    let mut audit = Bulk::new(backend, "audit_log", AUDIT_COLUMNS);
    let mut touched = std::collections::BTreeSet::new();
    let households = &phone.households;
    for offset in 0..count {
        let index = (first * 31 + offset) % households.len();
        let now = Utc::now();
        let id = Uuid::now_v7();
        touched.insert(households[index]);
        if writes == RawWrites::Same {
            let seq = RAW_AUDIT_SEQ.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            audit.push([
                Uuid::now_v7().into(),
                now.into(),
                "user".into(),
                Some(phone.cadre.id).into(),
                Some("cadre".to_owned()).into(),
                "visit.create".into(),
                "visit".into(),
                Some(id).into(),
                Some(json!({"household_id": households[index], "village_id": phone.village_of(index),
                            "channel": "door_to_door", "visited_at": now, "issues": [], "via": "sync"}))
                .into(),
                Some(seq).into(),
                Some("0".repeat(64)).into(),
                Some("f".repeat(64)).into(),
            ]);
        }
        bulk.push([
            id.into(),
            county_id.into(),
            phone.town_id.into(),
            phone.village_of(index).into(),
            Some(households[index]).into(),
            phone.cadre.id.into(),
            "door_to_door".into(),
            now.into(),
            now.into(),
            Some(json!({"difficulties": "缺劳力"})).into(),
            true.into(),
            Some("raw".to_owned()).into(),
            stamp.into(),
            stamp.into(),
            Option::<String>::None.into(),
        ]);
    }
    let ids = touched.into_iter().collect::<Vec<_>>();
    if writes == RawWrites::Same && backend == DbBackend::Postgres {
        // Concurrent batches share households: lock them in one order before anything else
        // (the visits' foreign keys share-lock them too), or they deadlock.
        let lock = format!(
            "SELECT id FROM households WHERE id IN ({}) ORDER BY id FOR NO KEY UPDATE",
            question_marks(ids.len())
        );
        let values = ids.iter().copied().map(Value::from).collect();
        txn.query_all_raw(statement(backend, &lock, values)).await?;
    }
    bulk.flush(&txn).await?;
    if writes == RawWrites::Same {
        let sql = format!(
            "UPDATE households SET last_visited_at = ?, change_seq = ? WHERE id IN ({})",
            question_marks(ids.len())
        );
        let mut values: Vec<Value> = vec![Utc::now().into(), stamp.into()];
        values.extend(ids.into_iter().map(Value::from));
        txn.execute_raw(statement(backend, &sql, values)).await?;
        audit.flush(&txn).await?;
    }
    let written = Instant::now();
    txn.commit().await?;
    let committed = Instant::now();
    // Raw's own batches have stalled now and then on SQLite (BENCHMARKS.md, sessions 11–13):
    // say where a slow one spent its time.
    if committed - asked > std::time::Duration::from_millis(250) {
        let ms = |from: Instant, to: Instant| (to - from).as_secs_f64() * 1e3;
        eprintln!(
            "  slow raw batch ({count} visits): {:.0} ms waiting for the turn, {:.0} ms to begin, \
             {:.0} ms writing, {:.0} ms to commit",
            ms(asked, turned),
            ms(turned, begun),
            ms(begun, written),
            ms(written, committed)
        );
    }
    Ok(())
}

/// The change stamp of a write transaction, taken as the server takes it: on SQLite the next
/// value of the `sync_counter` row (`db::next_stamp`), on PostgreSQL the transaction's id
/// plus that row's value (the `sync_stamp()` trigger).
async fn raw_stamp(txn: &sea_orm::DatabaseTransaction) -> BenchResult<i64> {
    let sql = match txn.get_database_backend() {
        DbBackend::Postgres => {
            "SELECT pg_current_xact_id()::text::bigint + value AS value FROM sync_counter \
             WHERE id = 1"
        }
        _ => "UPDATE sync_counter SET value = value + 1 WHERE id = 1 RETURNING value",
    };
    let row = txn
        .query_one_raw(Statement::from_string(txn.get_database_backend(), sql))
        .await?
        .ok_or("no sync_counter row")?;
    Ok(row.try_get("", "value")?)
}

/// Sync push of batches of 100 visits by `clients` phones at once, beside the same rows
/// inserted raw. Batch `index` comes from phone `index % phones` (a cadre per town, villages
/// apart: the batches pushed at the same moment are different cadres', as in a county), its
/// households moving on along the cadre's list from one of their batches to the next.
pub async fn push(ctx: &Ctx) -> BenchResult<Vec<Row>> {
    let county = ctx.county.clone();
    let phones = Arc::new(county.phones.clone());
    let mut tokens = Vec::with_capacity(phones.len());
    for phone in phones.iter() {
        tokens.push(login(ctx, &phone.cadre.username).await?);
    }
    let tokens = Arc::new(tokens);
    let (client, address) = (ctx.client.clone(), ctx.address.clone());
    let api_job = {
        let phones = phones.clone();
        move |index: usize| {
            let (client, address, tokens, phones) = (
                client.clone(),
                address.clone(),
                tokens.clone(),
                phones.clone(),
            );
            async move {
                let (phone, batch) = (index % phones.len(), index / phones.len());
                let records = visit_records(&phones[phone].households, 100, batch);
                let body = json!({"changes": {"visits": {"created": records, "updated": [], "deleted": []}}});
                let response = client
                    .post(format!("{address}/api/v1/sync/push?last_pulled_at=0"))
                    .bearer_auth(tokens[phone].as_str())
                    .header("x-device-id", format!("bench-phone-{phone}"))
                    .json(&body)
                    .send()
                    .await?;
                if !response.status().is_success() {
                    return Err(
                        format!("push: {} {}", response.status(), response.text().await?).into(),
                    );
                }
                Ok(())
            }
        }
    };
    let api_job = Arc::new(api_job);
    let mut rows = Vec::new();
    // Half the batches beside a raw side doing the same writes (the target's comparison), half
    // beside one inserting the visits alone (what the insert itself costs).
    for writes in [RawWrites::Same, RawWrites::Visits] {
        let (raw_db, turn, raw_phones) = (ctx.raw.clone(), ctx.write_turn.clone(), phones.clone());
        let county_id = county.county_id;
        let raw_job = move |index: usize| {
            let (db, turn, phones) = (raw_db.clone(), turn.clone(), raw_phones.clone());
            async move {
                let (phone, batch) = (index % phones.len(), index / phones.len());
                raw_insert_visits(&db, &turn, county_id, &phones[phone], batch, 100, writes).await
            }
        };
        let api_job = api_job.clone();
        let (api, raw) = alternate(
            ctx.clients,
            (ctx.batches / 2).max(1),
            2,
            None,
            Some(&ctx.raw),
            move |index| api_job(index),
            raw_job,
        )
        .await?;
        let (api_rate, raw_rate) = (api.rate() * 100.0, raw.rate() * 100.0);
        let ratio = api_rate / raw_rate;
        let (versus, raw_does, target) = match writes {
            RawWrites::Same => (
                "raw doing the same writes",
                "raw: per transaction its change stamp (taken as the server takes it), one \
                 100-row INSERT of visits, one UPDATE of their households' last_visited_at, \
                 both stamped, one 100-row INSERT of audit rows (stored linked, \
                 with placeholder hashes: no chain is computed)",
                0.8,
            ),
            RawWrites::Visits => (
                "raw inserting the visits only",
                "raw: one 100-row INSERT of visits per transaction, nothing else",
                0.5,
            ),
        };
        rows.push(Row {
            scenario: format!(
                "sync push, batches of 100 visits, {} clients, {} cadres' phones, vs {versus}",
                ctx.clients,
                phones.len()
            ),
            api: format!(
                "{} visits/s ({})",
                count(api_rate as u64),
                latency(api.ms(0.5), api.ms(0.99))
            ),
            raw: format!(
                "{} visits/s ({})",
                count(raw_rate as u64),
                latency(raw.ms(0.5), raw.ms(0.99))
            ),
            ratio: Some(ratio),
            target: format!("≥ {target}× raw"),
            met: Some(ratio >= target),
            note: format!(
                "{} visits each side, alternating; {raw_does}. Each pushed visit is checked \
                 for scope, audited into the hash chain, moves its household's \
                 last_visited_at and is stamped for sync",
                count(((ctx.batches / 2).max(1) * 100) as u64)
            ),
        });
    }
    Ok(rows)
}

/// Single visit POSTs with `visit_clients` clients, beside one-row INSERT transactions.
pub async fn single_visit(ctx: &Ctx) -> BenchResult<Vec<Row>> {
    let county = ctx.county.clone();
    let total = 2000;
    let token = Arc::new(login(ctx, &county.cadre.cadre.username).await?);
    let households = Arc::new(county.cadre.households.clone());
    let (client, address) = (ctx.client.clone(), ctx.address.clone());
    let api_job = move |index: usize| {
        let (client, address, token, households) = (
            client.clone(),
            address.clone(),
            token.clone(),
            households.clone(),
        );
        async move {
            let response = client
                .post(format!("{address}/api/v1/visits"))
                .bearer_auth(token.as_str())
                .json(&json!({"id": Uuid::now_v7(), "household_id": households[(index * 7919) % households.len()],
                              "channel": "door_to_door", "visited_at": Utc::now().to_rfc3339(),
                              "service_card_given": true}))
                .send()
                .await?;
            if response.status().as_u16() != 201 {
                return Err(
                    format!("visit: {} {}", response.status(), response.text().await?).into(),
                );
            }
            Ok(())
        }
    };
    let (raw_db, turn, raw_county) = (ctx.raw.clone(), ctx.write_turn.clone(), county.clone());
    let raw_job = move |index: usize| {
        let (db, turn, county) = (raw_db.clone(), turn.clone(), raw_county.clone());
        async move {
            raw_insert_visits(
                &db,
                &turn,
                county.county_id,
                &county.cadre,
                index * 7919,
                1,
                RawWrites::Visits,
            )
            .await
        }
    };
    let (api, raw) = alternate(
        ctx.visit_clients,
        total,
        2,
        None,
        Some(&ctx.raw),
        api_job,
        raw_job,
    )
    .await?;
    let ratio = api.ms(0.99) / raw.ms(0.99).max(1e-3);
    Ok(vec![Row {
        scenario: format!("single visit POST, {} clients", ctx.visit_clients),
        api: format!(
            "{} requests/s ({})",
            count(api.rate() as u64),
            latency(api.ms(0.5), api.ms(0.99))
        ),
        raw: format!(
            "{} tx/s ({})",
            count(raw.rate() as u64),
            latency(raw.ms(0.5), raw.ms(0.99))
        ),
        ratio: Some(ratio),
        target: "p99 ≤ 10 ms (PostgreSQL)".to_owned(),
        met: Some(api.ms(0.99) <= 10.0),
        note: format!(
            "{} visits each side, alternating; raw: one one-row INSERT per transaction on a \
             pool of 8. The API also authenticates (every client as one cadre, whose role \
             and scope the server reads at most once a second), checks scope, updates the \
             household, writes the audit row and stamps the sync counter",
            count(total as u64)
        ),
    }])
}

/// A few ledger requests first, so that the server's pool and caches are warm.
pub async fn warm_up(ctx: &Ctx) -> BenchResult<()> {
    let token = Arc::new(login(ctx, &ctx.county.viewer.username).await?);
    let client = ctx.client.clone();
    let url = Arc::new(ctx.url("/api/v1/issues?limit=1"));
    drive(
        ctx.clients,
        0,
        ctx.clients * 4,
        None,
        Arc::new(move |_| {
            let (client, url, token) = (client.clone(), url.clone(), token.clone());
            async move {
                get_ok(&client, &url, &token).await?.bytes().await?;
                Ok(())
            }
        }),
    )
    .await?;
    Ok(())
}
