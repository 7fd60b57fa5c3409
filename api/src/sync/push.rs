//! `POST /sync/push`: a phone's changes, applied all or nothing in one transaction, each
//! record through the same domain functions (rules, scope, audit trail) as the REST API.
//!
//! - `created` and `updated` are the same to the server: a record that exists is updated.
//! - A record that exists with the same content is left alone: re-pushing a batch whose
//!   acknowledgement was lost changes nothing.
//! - A record the server changed after the phone's `last_pulled_at`, pushed with other
//!   content, is a conflict: the whole push is refused with 409 naming every such record.
//! - What the phone may not write is refused with 403/422 naming the record.

use entity::{household, issue, issue_event};
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;
use validator::Validate;

use super::records::{PushedEvent, PushedHousehold, PushedIssue, PushedVisit};
use crate::{
    audit::{self, AuditEntry},
    auth::AuthUser,
    clock::LocalClock,
    db::{begin_write, commit},
    error::{ApiError, ApiResult},
    households::{self, HouseholdTag},
    ledger::{
        self, NewIssue,
        lifecycle::Step,
        steps::{self, StepInput},
    },
    privacy,
    visits::{self, NewVisit, Target},
};

/// Records a push may carry at most.
pub const MAX_RECORDS: usize = 1000;
/// Bytes a push body may have at most.
pub const MAX_BYTES: usize = 4 * 1024 * 1024;

/// `{created, updated, deleted}` of one table.
#[derive(Debug, Default, Deserialize)]
pub struct TableChanges {
    /// New records.
    #[serde(default)]
    pub created: Vec<Value>,
    /// Changed records.
    #[serde(default)]
    pub updated: Vec<Value>,
    /// Ids of deleted records.
    #[serde(default)]
    pub deleted: Vec<Uuid>,
}

impl TableChanges {
    fn len(&self) -> usize {
        self.created.len() + self.updated.len() + self.deleted.len()
    }

    fn written(&self) -> impl Iterator<Item = &Value> {
        self.created.iter().chain(&self.updated)
    }
}

/// A push body: `{changes: {table: {created, updated, deleted}}}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushBody {
    /// Per table; tables the app does not write are refused if they carry anything.
    pub changes: std::collections::BTreeMap<String, TableChanges>,
}

impl PushBody {
    /// Records in the push.
    pub fn record_count(&self) -> usize {
        self.changes.values().map(TableChanges::len).sum()
    }
}

/// What a push did.
#[derive(Debug, Default, serde::Serialize, utoipa::ToSchema)]
pub struct PushReport {
    /// Records written.
    pub applied: usize,
    /// Records that were on the server already with the same content.
    pub unchanged: usize,
}

/// An error about one record: the status of `error`, and `details` naming the record.
fn about(table: &str, id: Uuid, error: ApiError) -> ApiError {
    let problem = error.problem();
    let status = problem.status;
    // Faults of ours (500) and of the database (503) are not the record's fault.
    if status >= 500 {
        return error;
    }
    let details =
        json!({"table": table, "id": id, "reason": problem.code, "errors": problem.errors});
    let detail = format!("{table} {id}: {}", problem.detail);
    match status {
        403 | 404 => ApiError::ForbiddenWithDetails { detail, details },
        // A concurrent change of the same record while the push ran (412 inside it, or the
        // same record inserted beside it): a conflict, which a pull and a new push resolve.
        412 => ApiError::Conflict409WithDetails { detail, details },
        409 if problem.code == "already_exists" => {
            ApiError::Conflict409WithDetails { detail, details }
        }
        // Any other refusal — an ID number another household has, an id taken by a different
        // record, a step the issue's status does not allow — is not cured by pulling: the record
        // is invalid, `reason` says why, and the phone shows it instead of pulling and pushing
        // the same again for ever.
        _ => ApiError::Unprocessable {
            code: "invalid_record",
            detail,
            details,
        },
    }
}

fn parse<T: for<'de> Deserialize<'de>>(table: &str, record: &Value) -> ApiResult<T> {
    let id = record
        .get("id")
        .and_then(Value::as_str)
        .and_then(|id| id.parse().ok())
        .unwrap_or_default();
    serde_json::from_value(record.clone()).map_err(|_| {
        about(
            table,
            id,
            ApiError::invalid_field(
                "record",
                "invalid",
                "A column is missing or has the wrong type.",
            ),
        )
    })
}

/// A push's `last_pulled_at` decides what counts as a conflict: one above the cursor now, that
/// this device was never given (a made-up or restored number), would let it overwrite every
/// change made on the server since. (On PostgreSQL a cursor given earlier can be a little
/// above a later one: a cursor kept for the device is taken.)
async fn check_cursor(
    db: &impl ConnectionTrait,
    user: &AuthUser,
    device: &str,
    last_pulled_at: i64,
) -> ApiResult<()> {
    if last_pulled_at <= super::current_cursor(db).await? {
        return Ok(());
    }
    let given = match user.principal.actor {
        crate::auth::Actor::User { id } => {
            entity::sync_device_scope::Entity::find_by_id((id, device.to_owned(), last_pulled_at))
                .one(db)
                .await?
                .is_some()
        }
        crate::auth::Actor::ApiToken { .. } => false,
    };
    if given {
        Ok(())
    } else {
        Err(ApiError::Conflict {
            code: "sync_reset_required",
            detail: "This device was never given this last_pulled_at: pull again with \
                     last_pulled_at=null, then push."
                .to_owned(),
        })
    }
}

/// Applies a push for `device`.
pub async fn push(
    db: &DatabaseConnection,
    user: &AuthUser,
    clock: LocalClock,
    last_pulled_at: i64,
    device: &str,
    body: PushBody,
) -> ApiResult<PushReport> {
    for (table, changes) in &body.changes {
        if !super::TABLES.contains(&table.as_str()) {
            return Err(ApiError::invalid_field(
                "changes",
                "unknown_table",
                format!("No table `{table}`."),
            ));
        }
        let read_only = matches!(table.as_str(), "villages" | "enterprises" | "pairings");
        if let Some(id) = changes
            .written()
            .filter_map(|record| record.get("id").and_then(Value::as_str))
            .next()
            .filter(|_| read_only)
        {
            return Err(ApiError::ForbiddenWithDetails {
                detail: format!(
                    "{table} {id}: the field app reads {table}, it does not write them."
                ),
                details: json!({"table": table, "id": id}),
            });
        }
    }
    for (table, changes) in &body.changes {
        let mut seen = std::collections::HashSet::new();
        for id in changes
            .written()
            .filter_map(|record| record.get("id").and_then(Value::as_str))
        {
            if !seen.insert(id) {
                return Err(ApiError::Unprocessable {
                    code: "invalid_record",
                    detail: format!("{table} {id}: the record appears twice in this push."),
                    details: json!({"table": table, "id": id}),
                });
            }
        }
    }
    let txn = begin_write(db).await?;
    check_cursor(&txn, user, device, last_pulled_at).await?;
    let mut report = PushReport::default();
    let mut conflicts = Vec::new();
    let empty = TableChanges::default();
    let table = |name: &str| body.changes.get(name).unwrap_or(&empty);
    lock_households(&txn, &body).await?;

    for record in table("households").written() {
        let pushed: PushedHousehold = parse("households", record)?;
        let id = pushed.id;
        match apply_household(&txn, user, device, last_pulled_at, pushed)
            .await
            .map_err(|error| about("households", id, error))?
        {
            Outcome::Applied => report.applied += 1,
            Outcome::Unchanged => report.unchanged += 1,
            Outcome::Conflict => conflicts.push(json!({"table": "households", "id": id})),
        }
    }
    // Household visits are recorded as one batch; enterprise visits one by one.
    let mut batch = Vec::new();
    for record in table("visits").written() {
        let pushed: PushedVisit = parse("visits", record)?;
        let id = pushed.id;
        let visit = new_visit(device, pushed).map_err(|error| about("visits", id, error))?;
        if matches!(visit.target, Target::Household(_)) {
            batch.push(visit);
            continue;
        }
        match visits::record_visit(&txn, user, clock, visit)
            .await
            .map_err(|error| about("visits", id, error))?
        {
            visits::Recorded::Created(..) => report.applied += 1,
            visits::Recorded::Existing(..) => report.unchanged += 1,
        }
    }
    if !batch.is_empty() {
        let outcomes = visits::record_household_visits(&txn, user, clock, batch)
            .await
            .map_err(|(id, error)| about("visits", id, error))?;
        for (_, outcome) in outcomes {
            match outcome {
                visits::BatchOutcome::Created => report.applied += 1,
                visits::BatchOutcome::Unchanged => report.unchanged += 1,
            }
        }
    }
    for record in table("issues").written() {
        let pushed: PushedIssue = parse("issues", record)?;
        let id = pushed.id;
        match apply_issue(&txn, user, clock, device, pushed)
            .await
            .map_err(|error| about("issues", id, error))?
        {
            Outcome::Applied => report.applied += 1,
            Outcome::Unchanged => report.unchanged += 1,
            Outcome::Conflict => conflicts.push(json!({"table": "issues", "id": id})),
        }
    }
    for record in table("issue_events").written() {
        let pushed: PushedEvent = parse("issue_events", record)?;
        let id = pushed.id;
        match apply_event(&txn, user, device, pushed)
            .await
            .map_err(|error| about("issue_events", id, error))?
        {
            Outcome::Applied => report.applied += 1,
            Outcome::Unchanged => report.unchanged += 1,
            Outcome::Conflict => conflicts.push(json!({"table": "issue_events", "id": id})),
        }
    }
    for (name, changes) in &body.changes {
        for id in &changes.deleted {
            if in_scope(&txn, user, name, *id).await? {
                return Err(ApiError::ForbiddenWithDetails {
                    detail: format!("{name} {id}: records are not deleted from the field app."),
                    details: json!({"table": name, "id": id}),
                });
            }
            // A deleted id the server does not have is ignored (WatermelonDB's contract), and
            // so is one it has outside the caller's scope: the answer must not tell which.
        }
    }
    if !conflicts.is_empty() {
        return Err(ApiError::Conflict409WithDetails {
            detail: format!(
                "{} record(s) changed on the server after last_pulled_at; pull, then push again.",
                conflicts.len()
            ),
            details: json!({"conflicts": conflicts}),
        });
    }
    commit(txn).await?;
    Ok(report)
}

/// A push that writes households locks every household it names (its own rows and the targets
/// of its visits) before anything is written, all at once and in id order
/// ([`households::lock_in_order`]): two pushes touching the same households cannot deadlock. A
/// push of visits alone locks nothing here: its batch locks the households it visited the
/// same way, just before it updates them (`visits::record_household_visits`), so concurrent
/// pushes to one village wait for each other only from that update to the commit.
async fn lock_households(db: &impl ConnectionTrait, body: &PushBody) -> ApiResult<()> {
    let Some(households) = body
        .changes
        .get("households")
        .filter(|changes| changes.len() > 0)
    else {
        return Ok(());
    };
    let id_of = |record: &Value, field: &str| {
        record
            .get(field)
            .and_then(Value::as_str)
            .and_then(|id| id.parse::<Uuid>().ok())
    };
    let mut ids: Vec<Uuid> = households
        .written()
        .filter_map(|record| id_of(record, "id"))
        .collect();
    if let Some(changes) = body.changes.get("visits") {
        ids.extend(
            changes
                .written()
                .filter_map(|record| id_of(record, "household_id")),
        );
    }
    ids.sort();
    ids.dedup();
    households::lock_in_order(db, &ids).await?;
    Ok(())
}

/// What happened to one pushed record.
enum Outcome {
    Applied,
    Unchanged,
    Conflict,
}

/// Whether `id` of `table` is stored where the caller sees it: what their pull would send.
async fn in_scope(
    db: &impl ConnectionTrait,
    user: &AuthUser,
    table: &str,
    id: Uuid,
) -> Result<bool, sea_orm::DbErr> {
    let scope = user.scope();
    Ok(match table {
        "households" => households::find_household(db, scope, id).await?.is_some(),
        "visits" => visits::find_visit(db, scope, id).await?.is_some(),
        "issues" => ledger::find_issue(db, &user.principal, id).await?.is_some(),
        "issue_events" => match issue_event::Entity::find_by_id(id).one(db).await? {
            Some(event) => ledger::find_issue(db, &user.principal, event.issue_id)
                .await?
                .is_some(),
            None => false,
        },
        "villages" => crate::org::find_org_unit(db, scope, id).await?.is_some(),
        "enterprises" => crate::enterprises::find_enterprise(db, scope, id)
            .await?
            .is_some(),
        "pairings" => crate::pairings::find_pairing(db, scope, id)
            .await?
            .is_some(),
        _ => false,
    })
}

fn tags_of(pushed: &PushedHousehold) -> ApiResult<i32> {
    let mut bits = 0;
    for text in pushed.tags.iter().flatten() {
        bits |= HouseholdTag::parse(text)
            .ok_or_else(|| {
                ApiError::invalid_field("tags", "unknown_tag", format!("Unknown tag `{text}`."))
            })?
            .bit();
    }
    Ok(bits)
}

fn check_household(pushed: &PushedHousehold) -> ApiResult<()> {
    let mut problems = Vec::new();
    let mut fail = |field: &str, code: &str, message: &str| {
        problems.push(crate::error::FieldError {
            field: field.to_owned(),
            code: code.to_owned(),
            message: message.to_owned(),
        });
    };
    if pushed.head_name.trim().is_empty() || pushed.head_name.chars().count() > 50 {
        fail("head_name", "length", "1 to 50 characters.");
    }
    if pushed
        .phone
        .as_deref()
        .is_some_and(|phone| !phone.is_empty() && !privacy::valid_phone(phone))
    {
        fail("phone", "invalid_phone", "A mobile or a landline.");
    }
    if pushed
        .id_card_number
        .as_deref()
        .is_some_and(|number| !number.is_empty() && !privacy::valid_id_card(number))
    {
        fail(
            "id_card_number",
            "invalid_id_card",
            "Not a valid resident ID number.",
        );
    }
    if pushed
        .members_count
        .is_some_and(|count| !(1..=99).contains(&count))
    {
        fail("members_count", "range", "Between 1 and 99.");
    }
    if pushed
        .address
        .as_deref()
        .is_some_and(|address| address.chars().count() > 200)
    {
        fail("address", "length", "At most 200 characters.");
    }
    if pushed
        .notes
        .as_deref()
        .is_some_and(|notes| notes.chars().count() > 2000)
    {
        fail("notes", "length", "At most 2000 characters.");
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(problems))
    }
}

async fn apply_household(
    db: &impl ConnectionTrait,
    user: &AuthUser,
    device: &str,
    last_pulled_at: i64,
    pushed: PushedHousehold,
) -> ApiResult<Outcome> {
    if !crate::access::role_may(user.principal.role, crate::access::Action::WriteRoster) {
        return Err(ApiError::Forbidden(
            "Your role does not register households.".to_owned(),
        ));
    }
    check_household(&pushed)?;
    let tags = tags_of(&pushed)?;
    let place =
        households::village_in_scope(db, user.scope(), pushed.village_id, "village_id").await?;
    let blank = |text: Option<String>| text.filter(|text| !text.trim().is_empty());
    let now = chrono::Utc::now();
    let existing = households::find_any(db, pushed.id).await?;
    let Some(existing) = existing else {
        let row = household::Model {
            id: pushed.id,
            county_id: place.county_id,
            town_id: place.town_id,
            village_id: place.village_id,
            head_name: pushed.head_name.trim().to_owned(),
            phone: blank(pushed.phone),
            address: blank(pushed.address),
            members_count: pushed.members_count,
            id_card_number: blank(pushed.id_card_number)
                .as_deref()
                .map(privacy::normalise_id_card),
            latitude: pushed.latitude,
            longitude: pushed.longitude,
            tags,
            notes: blank(pushed.notes),
            last_visited_at: None,
            version: 1,
            created_by: user.user_id().ok(),
            created_at: now,
            updated_at: now,
            change_seq: 0,
            created_seq: 0,
            origin_device: Some(device.to_owned()),
        };
        if let households::Inserted::Existing(_) = households::insert_household(db, &row).await? {
            return Ok(Outcome::Unchanged);
        }
        audit::record(
            db,
            &user.audit_actor(),
            AuditEntry::new("household.create", "household", row.id)
                .with_changes(json!({"via": "sync", "village_id": row.village_id})),
        )
        .await?;
        return Ok(Outcome::Applied);
    };
    if households::find_household(db, user.scope(), existing.id)
        .await?
        .is_none()
    {
        return Err(ApiError::Forbidden(
            "This household is not in your villages.".to_owned(),
        ));
    }
    let mut changed = existing.clone();
    changed.county_id = place.county_id;
    changed.town_id = place.town_id;
    changed.village_id = place.village_id;
    changed.head_name = pushed.head_name.trim().to_owned();
    // A masked value coming back from a phone is not a change (the phone never saw more).
    let keep_masked = |pushed: Option<String>, stored: &Option<String>| match pushed {
        Some(value) if value.contains('*') => stored.clone(),
        other => blank(other),
    };
    changed.phone = keep_masked(pushed.phone, &existing.phone);
    changed.address = blank(pushed.address);
    changed.members_count = pushed.members_count;
    changed.id_card_number = keep_masked(pushed.id_card_number, &existing.id_card_number)
        .as_deref()
        .map(privacy::normalise_id_card);
    changed.latitude = pushed.latitude;
    changed.longitude = pushed.longitude;
    changed.tags = tags;
    changed.notes = blank(pushed.notes);
    if households::same_content(&changed, &existing) {
        return Ok(Outcome::Unchanged);
    }
    if existing.change_seq > last_pulled_at {
        return Ok(Outcome::Conflict);
    }
    changed.version = existing.version + 1;
    changed.updated_at = now;
    let saved = households::save_household(db, existing.version, changed).await?;
    if saved.village_id != existing.village_id {
        crate::pairings::follow_household(db, &existing, &saved).await?;
    }
    audit::record(
        db,
        &user.audit_actor(),
        AuditEntry::new("household.update", "household", saved.id)
            .with_changes(json!({"via": "sync"})),
    )
    .await?;
    Ok(Outcome::Applied)
}

fn new_visit(device: &str, pushed: PushedVisit) -> ApiResult<NewVisit> {
    pushed.validate()?;
    // The answers as `POST /visits` takes them: the six questions, each within its length.
    if let Some(answers) = &pushed.answers {
        let six: crate::routes::visits::SixAnswers = serde_json::from_value(answers.clone())
            .map_err(|_| {
                ApiError::invalid_field(
                    "answers",
                    "invalid",
                    "The answers are the six questions (六问) as POST /visits takes them.",
                )
            })?;
        six.validate()
            .map_err(|errors| match ApiError::from(errors) {
                ApiError::Validation(fields) => ApiError::Validation(
                    fields
                        .into_iter()
                        .map(|mut error| {
                            error.field = format!("answers.{}", error.field);
                            error
                        })
                        .collect(),
                ),
                other => other,
            })?;
    }
    let target = match (pushed.household_id, pushed.enterprise_id) {
        (Some(household), None) => Target::Household(household),
        (None, Some(enterprise)) => Target::Enterprise(enterprise),
        _ => {
            return Err(ApiError::invalid_field(
                "household_id",
                "one_target",
                "Give either household_id or enterprise_id.",
            ));
        }
    };
    let cadre_rating = pushed
        .answers
        .as_ref()
        .and_then(|answers| answers.pointer("/cadre_evaluation/rating"))
        .and_then(Value::as_i64)
        .and_then(|rating| i16::try_from(rating).ok())
        .filter(|rating| (1..=5).contains(rating));
    Ok(NewVisit {
        id: pushed.id,
        target,
        channel: pushed.channel,
        visited_at: pushed.visited_at,
        answers: pushed.answers,
        cadre_rating,
        diary_note: pushed.diary_note,
        service_card_given: pushed.service_card_given,
        latitude: pushed.latitude,
        longitude: pushed.longitude,
        device_id: Some(device.to_owned()),
        issues: Vec::new(),
    })
}

async fn apply_issue(
    db: &impl ConnectionTrait,
    user: &AuthUser,
    clock: LocalClock,
    device: &str,
    pushed: PushedIssue,
) -> ApiResult<Outcome> {
    pushed.validate()?;
    if let Some(stored) = issue::Entity::find_by_id(pushed.id).one(db).await? {
        if ledger::find_issue(db, &user.principal, stored.id)
            .await?
            .is_none()
        {
            return Err(ApiError::Forbidden(
                "This issue is not yours to write.".to_owned(),
            ));
        }
        // An issue changes through its timeline (issue_events), not by editing its columns:
        // the same issue again is a re-push; other content is refused.
        return if stored.matter == pushed.matter
            && stored.category == pushed.category
            && stored.visit_id == Some(pushed.visit_id)
        {
            Ok(Outcome::Unchanged)
        } else {
            Err(ApiError::invalid_field(
                "matter",
                "immutable",
                "An issue is changed through its timeline (issue_events: progress, resolved, feedback), not by editing it.",
            ))
        };
    }
    let visit = visits::find_visit(db, user.scope(), pushed.visit_id)
        .await?
        .ok_or_else(|| {
            ApiError::invalid_field(
                "visit_id",
                "not_found",
                "No such visit in your scope (push it in the same batch).",
            )
        })?;
    // The household as the caller sees it now: one that has since moved out of their villages
    // lends the issue neither its head's name nor its phone.
    let household = match visit.household_id {
        Some(id) => households::find_household(db, user.scope(), id).await?,
        None => None,
    };
    if pushed.applicant_name.is_none() && visit.household_id.is_some() && household.is_none() {
        return Err(ApiError::invalid_field(
            "applicant_name",
            "required",
            "The visit's household is no longer in your villages: give the applicant's name.",
        ));
    }
    let place = households::VillagePlace {
        county_id: visit.county_id,
        town_id: visit.town_id,
        village_id: visit.village_id,
    };
    let raised_on = clock.date_of(visit.visited_at);
    let deadline = crate::calendar::resolve_deadline(
        db,
        pushed.deadline,
        // A WatermelonDB number column that is not optional reads 0 when unset: 0 is "not given".
        pushed.deadline_working_days.filter(|days| *days > 0),
        raised_on,
        "deadline",
        "deadline_working_days",
    )
    .await?;
    let applicant_name = pushed
        .applicant_name
        .or_else(|| {
            household
                .as_ref()
                .map(|household| household.head_name.clone())
        })
        .unwrap_or_else(|| crate::privacy::ENTERPRISE_APPLICANT.to_owned());
    ledger::create_issue(
        db,
        &user.principal,
        NewIssue {
            id: pushed.id,
            visit_id: Some(visit.id),
            channel: visit.channel,
            place,
            applicant_household_id: visit.household_id,
            applicant_name,
            applicant_phone: pushed
                .applicant_phone
                .or_else(|| household.and_then(|household| household.phone)),
            category: pushed.category,
            matter: pushed.matter,
            answered_on_spot: pushed.answered_on_spot,
            spot_answer: pushed.spot_answer,
            level: pushed.level,
            handler_department_id: pushed.handler_department_id,
            named_cadre_id: pushed.named_cadre_id,
            deadline,
            is_deed: pushed.is_deed,
            raised_on,
            raised_at: visit.visited_at,
            origin_device: Some(device.to_owned()),
        },
        "",
    )
    .await?;
    audit::record(
        db,
        &user.audit_actor(),
        AuditEntry::new("issue.create", "issue", pushed.id)
            .with_changes(json!({"via": "sync", "visit_id": visit.id})),
    )
    .await?;
    Ok(Outcome::Applied)
}

async fn apply_event(
    db: &impl ConnectionTrait,
    user: &AuthUser,
    device: &str,
    pushed: PushedEvent,
) -> ApiResult<Outcome> {
    pushed.validate()?;
    if let Some(stored) = issue_event::Entity::find_by_id(pushed.id).one(db).await? {
        return if stored.issue_id == pushed.issue_id
            && stored.kind == pushed.kind
            && stored.note == pushed.note
        {
            Ok(Outcome::Unchanged)
        } else {
            Err(ApiError::invalid_field(
                "id",
                "taken",
                "Another event has this id.",
            ))
        };
    }
    let step = match pushed.kind {
        issue_event::EventKind::Progress => Step::Progress,
        issue_event::EventKind::Resolved => Step::Resolve,
        issue_event::EventKind::Feedback => Step::Feedback,
        _ => {
            return Err(ApiError::invalid_field(
                "kind",
                "not_allowed",
                "The field app records progress, resolved and feedback events.",
            ));
        }
    };
    let input = StepInput {
        note: pushed.note,
        satisfied: pushed.satisfied,
        event_id: Some(pushed.id),
        origin_device: Some(device.to_owned()),
        // A number column the app never set reads 0: not a time.
        taken_at: pushed.occurred_at.filter(|at| at.timestamp_millis() > 0),
        ..StepInput::default()
    };
    steps::take_step(
        db,
        &user.principal,
        &user.meta,
        pushed.issue_id,
        step,
        input,
        &|_| Ok(()),
    )
    .await?;
    Ok(Outcome::Applied)
}

#[cfg(test)]
mod proptests {
    //! The push body and record parsers over arbitrary JSON: a push body either parses or is
    //! refused, a record either becomes its typed form or a 422 naming the record, and the
    //! checks after parsing (household fields, tags, the visit's target and rating) answer
    //! with errors, never a panic.

    use proptest::{
        prelude::*,
        test_runner::{Config, RngAlgorithm, RngSeed},
    };
    use serde_json::{Map, Value, json};

    use super::*;

    fn config() -> Config {
        Config {
            cases: 300,
            failure_persistence: None,
            rng_algorithm: RngAlgorithm::ChaCha,
            rng_seed: RngSeed::Fixed(0x6d69_6e71_696e_6703),
            ..Config::default()
        }
    }

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_filter_map("finite", |number| {
                serde_json::Number::from_f64(number).map(Value::Number)
            }),
            ".{0,24}".prop_map(Value::String),
            Just(json!("0192f8a0-0000-7000-8000-000000000001")),
            Just(json!("door_to_door")),
            Just(json!("party_member,hardship")),
            Just(json!("{\"cadre_evaluation\":{\"rating\":9999999999}}")),
            Just(json!("2026-05-06T09:30:00+08:00")),
            Just(json!(i64::MAX)),
            Just(json!(i64::MIN)),
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(3, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".{0,10}", inner, 0..6)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    const FIELDS: [&str; 24] = [
        "id",
        "village_id",
        "head_name",
        "phone",
        "id_card_number",
        "members_count",
        "tags",
        "latitude",
        "longitude",
        "household_id",
        "enterprise_id",
        "channel",
        "visited_at",
        "answers",
        "service_card_given",
        "visit_id",
        "category",
        "matter",
        "level",
        "deadline",
        "deadline_working_days",
        "issue_id",
        "kind",
        "satisfied",
    ];

    /// A record that starts valid and has some fields replaced by arbitrary values (or
    /// removed), and maybe extra ones: closer to the parser's edges than pure noise.
    fn near_record(base: Value) -> impl Strategy<Value = Value> {
        prop::collection::vec(
            (
                prop::sample::select(FIELDS.as_slice()),
                prop::option::of(json_value()),
            ),
            0..6,
        )
        .prop_map(move |changes| {
            let mut record: Map<String, Value> = base.as_object().cloned().unwrap_or_default();
            for (field, value) in changes {
                match value {
                    Some(value) => record.insert(field.to_owned(), value),
                    None => record.remove(field),
                };
            }
            Value::Object(record)
        })
    }

    fn household() -> Value {
        json!({"id": "0192f8a0-0000-7000-8000-000000000001", "village_id": "0192f8a0-0000-7000-8000-000000000002",
               "head_name": "钱大江", "phone": "13712345678", "tags": "party_member,hardship", "_status": "created"})
    }

    fn visit() -> Value {
        json!({"id": "0192f8a0-0000-7000-8000-000000000003", "household_id": "0192f8a0-0000-7000-8000-000000000001",
               "channel": "door_to_door", "visited_at": 1_780_000_000_000_i64,
               "answers": "{\"cadre_evaluation\":{\"rating\":4}}", "service_card_given": true})
    }

    fn issue() -> Value {
        json!({"id": "0192f8a0-0000-7000-8000-000000000004", "visit_id": "0192f8a0-0000-7000-8000-000000000003",
               "category": "practical_difficulty", "matter": "路灯坏了", "deadline": "2026-05-13"})
    }

    fn event() -> Value {
        json!({"id": "0192f8a0-0000-7000-8000-000000000005", "issue_id": "0192f8a0-0000-7000-8000-000000000004",
               "kind": "progress", "note": "已联系"})
    }

    /// A refusal of one record is a 4xx naming it.
    fn refused_naming_the_record(error: &ApiError, table: &str) -> Result<(), TestCaseError> {
        let problem = error.problem();
        prop_assert!((400..500).contains(&problem.status), "{:?}", problem);
        if let Some(details) = &problem.details {
            prop_assert_eq!(details["table"].as_str(), Some(table));
        }
        Ok(())
    }

    fn check_all(record: &Value) -> Result<(), TestCaseError> {
        match parse::<PushedHousehold>("households", record) {
            Ok(household) => {
                if let Err(error) = check_household(&household) {
                    prop_assert_eq!(error.problem().status, 422);
                }
                if let Err(error) = tags_of(&household) {
                    prop_assert_eq!(error.problem().status, 422);
                }
            }
            Err(error) => refused_naming_the_record(&error, "households")?,
        }
        match parse::<PushedVisit>("visits", record) {
            Ok(visit) => match new_visit("phone-a", visit) {
                Ok(visit) => {
                    prop_assert!(
                        visit
                            .cadre_rating
                            .is_none_or(|rating| (1..=5).contains(&rating))
                    );
                }
                Err(error) => prop_assert_eq!(error.problem().status, 422),
            },
            Err(error) => refused_naming_the_record(&error, "visits")?,
        }
        if let Err(error) = parse::<PushedIssue>("issues", record) {
            refused_naming_the_record(&error, "issues")?;
        }
        if let Err(error) = parse::<PushedEvent>("issue_events", record) {
            refused_naming_the_record(&error, "issue_events")?;
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_json_is_a_push_body_or_refused_never_a_panic(body in json_value()) {
            if let Ok(body) = serde_json::from_value::<PushBody>(body.clone()) {
                let _ = body.record_count();
            }
            let wrapped = json!({"changes": {"households": {"created": [body.clone()]}, "visits": {"updated": [body]}}});
            if let Ok(push) = serde_json::from_value::<PushBody>(wrapped) {
                prop_assert_eq!(push.record_count(), 2);
                for changes in push.changes.values() {
                    for record in changes.written() {
                        check_all(record)?;
                    }
                }
            }
        }

        #[test]
        fn any_json_record_parses_or_is_refused_naming_it(record in json_value()) {
            check_all(&record)?;
        }

        #[test]
        fn nearly_valid_households_parse_or_are_refused(record in near_record(household())) {
            check_all(&record)?;
        }

        #[test]
        fn nearly_valid_visits_parse_or_are_refused(record in near_record(visit())) {
            check_all(&record)?;
        }

        #[test]
        fn nearly_valid_issues_and_events_parse_or_are_refused(
            issue in near_record(issue()),
            event in near_record(event()),
        ) {
            check_all(&issue)?;
            check_all(&event)?;
        }
    }
}
