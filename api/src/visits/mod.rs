//! Visits (走访): recording one with the issues raised in it, in one transaction, exactly
//! once per client UUID.

use chrono::{DateTime, SubsecRound, Utc};
use entity::{household, issue, visit};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{CaseStatement, Expr, ExprTrait},
};
use serde_json::{Value, json};
use uuid::Uuid;

pub mod group;

use crate::{
    access::Scope,
    audit::{self, AuditEntry},
    auth::{Actor, AuthUser},
    calendar,
    clock::LocalClock,
    error::{ApiError, ApiResult},
    households::{self, VillagePlace},
    ledger::{self, NewIssue},
};

/// Who or what was visited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A household.
    Household(Uuid),
    /// An enterprise.
    Enterprise(Uuid),
}

/// An issue raised in a visit, as the phone sends it.
#[derive(Debug, Clone)]
pub struct RaisedIssue {
    /// The phone's UUID.
    pub id: Uuid,
    /// Category.
    pub category: entity::issue::Category,
    /// What is asked.
    pub matter: String,
    /// Answered on the spot.
    pub answered_on_spot: bool,
    /// The answer given.
    pub spot_answer: Option<String>,
    /// The level that can solve it.
    pub level: entity::issue::Level,
    /// 办结时限.
    pub deadline: Option<chrono::NaiveDate>,
    /// 办结时限 in working days after the day of the visit (instead of `deadline`).
    pub deadline_working_days: Option<u32>,
    /// A practical deed.
    pub is_deed: bool,
    /// The cadre a conduct complaint names.
    pub named_cadre_id: Option<Uuid>,
    /// The department, for town or county issues.
    pub handler_department_id: Option<Uuid>,
    /// The applicant, when not the household head.
    pub applicant_name: Option<String>,
    /// The applicant's phone, when not the household's.
    pub applicant_phone: Option<String>,
}

/// A visit as the phone sends it.
#[derive(Debug, Clone)]
pub struct NewVisit {
    /// The phone's UUID.
    pub id: Uuid,
    /// Who was visited.
    pub target: Target,
    /// Channel.
    pub channel: entity::visit::Channel,
    /// When, as the device says.
    pub visited_at: DateTime<Utc>,
    /// The six answers (JSON).
    pub answers: Option<Value>,
    /// The cadre rating from the answers.
    pub cadre_rating: Option<i16>,
    /// Diary note.
    pub diary_note: Option<String>,
    /// Service card handed over.
    pub service_card_given: bool,
    /// Latitude.
    pub latitude: Option<f64>,
    /// Longitude.
    pub longitude: Option<f64>,
    /// The device (sync).
    pub device_id: Option<String>,
    /// The issues raised.
    pub issues: Vec<RaisedIssue>,
}

impl NewVisit {
    /// The household visited, if a household was.
    pub fn household(&self) -> Option<Uuid> {
        match self.target {
            Target::Household(id) => Some(id),
            Target::Enterprise(_) => None,
        }
    }
}

/// What recording a visit did.
#[derive(Debug)]
pub enum Recorded {
    /// It was new and is stored now, with its issues.
    Created(visit::Model, Vec<issue::Model>),
    /// The same visit was stored already (a retry): nothing was written.
    Existing(visit::Model, Vec<issue::Model>),
}

/// A device time a visit can have: not before 2000, not more than a day ahead (clocks drift).
fn check_visited_at(visited_at: DateTime<Utc>) -> ApiResult<()> {
    let earliest = DateTime::from_timestamp(946_684_800, 0).unwrap_or_default();
    if visited_at < earliest || visited_at > Utc::now() + chrono::Duration::days(1) {
        return Err(ApiError::invalid_field(
            "visited_at",
            "out_of_range",
            "A time between 2000 and tomorrow.",
        ));
    }
    Ok(())
}

/// Whether a stored visit is the one sent again: same cadre, target, time and content.
fn same_visit(stored: &visit::Model, cadre_id: Uuid, new: &NewVisit) -> bool {
    let same_target = match new.target {
        Target::Household(id) => stored.household_id == Some(id),
        Target::Enterprise(id) => stored.enterprise_id == Some(id),
    };
    stored.cadre_id == cadre_id
        && same_target
        && stored.visited_at == new.visited_at
        && stored.channel == new.channel
        && stored.answers == new.answers
        && stored.diary_note == new.diary_note
        && stored.service_card_given == new.service_card_given
        && stored.latitude == new.latitude
        && stored.longitude == new.longitude
}

/// The duty a sit-in visit (值班坐访) was made on: the village's duty of the visit's local
/// date, if one is rostered. Visits of other channels have none.
async fn duty_of_sit_in(
    db: &impl ConnectionTrait,
    clock: LocalClock,
    channel: visit::Channel,
    village_id: Uuid,
    visited_at: DateTime<Utc>,
) -> Result<Option<Uuid>, DbErr> {
    if channel != visit::Channel::DutySitIn {
        return Ok(None);
    }
    Ok(
        crate::duties::duty_on(db, village_id, clock.date_of(visited_at))
            .await?
            .map(|duty| duty.id),
    )
}

/// The visit stored under `new`'s id, when there is one: `Some` if it is the same visit (a
/// retry: returned with its issues, nothing written), 409 if it is another.
async fn stored_copy(
    db: &impl ConnectionTrait,
    user: &AuthUser,
    cadre_id: Uuid,
    new: &NewVisit,
) -> ApiResult<Option<Recorded>> {
    match visit::Entity::find_by_id(new.id).one(db).await? {
        Some(stored) if same_visit(&stored, cadre_id, new) => {
            let issues = issues_of_visit(db, &user.principal, stored.id).await?;
            Ok(Some(Recorded::Existing(stored, issues)))
        }
        Some(_) => Err(id_taken()),
        None => Ok(None),
    }
}

fn id_taken() -> ApiError {
    ApiError::Conflict {
        code: "id_taken",
        detail: "A different visit already has this id.".to_owned(),
    }
}

/// The place of a visit's household or enterprise in the caller's scope, and the applicant
/// its issues are raised for (the household's head, or the enterprise's contact): name and
/// phone. 422 (`ApiError::Validation`) when the target is not in scope, or is an enterprise
/// outside any village.
async fn target_of(
    db: &impl ConnectionTrait,
    user: &AuthUser,
    target: Target,
) -> ApiResult<(VillagePlace, Option<Uuid>, String, Option<String>)> {
    Ok(match target {
        Target::Household(id) => {
            let household = households::find_household(db, user.scope(), id)
                .await?
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        "household_id",
                        "not_found",
                        "No such household in your scope.",
                    )
                })?;
            let place = VillagePlace {
                county_id: household.county_id,
                town_id: household.town_id,
                village_id: household.village_id,
            };
            (
                place,
                Some(household.id),
                household.head_name,
                household.phone,
            )
        }
        Target::Enterprise(id) => {
            let enterprise = crate::enterprises::find_enterprise(db, user.scope(), id)
                .await?
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        "enterprise_id",
                        "not_found",
                        "No such enterprise in your scope.",
                    )
                })?;
            let village_id = enterprise.village_id.ok_or_else(|| {
                ApiError::invalid_field("enterprise_id", "no_village", "This enterprise is not in a village; record its issues with POST /api/v1/issues.")
            })?;
            let place = VillagePlace {
                county_id: enterprise.county_id,
                town_id: enterprise.town_id,
                village_id,
            };
            (
                place,
                None,
                enterprise.contact_name.unwrap_or(enterprise.name),
                enterprise.contact_phone,
            )
        }
    })
}

/// The row of a new visit to `place`, received at `received_at` and stamped `stamp` (`0`:
/// marked changed, stamped at the commit or by the trigger).
fn new_row(
    new: &NewVisit,
    cadre_id: Uuid,
    place: VillagePlace,
    duty_id: Option<Uuid>,
    received_at: DateTime<Utc>,
    stamp: i64,
) -> visit::Model {
    visit::Model {
        id: new.id,
        county_id: place.county_id,
        town_id: place.town_id,
        village_id: place.village_id,
        household_id: new.household(),
        enterprise_id: match new.target {
            Target::Enterprise(id) => Some(id),
            Target::Household(_) => None,
        },
        cadre_id,
        channel: new.channel,
        visited_at: new.visited_at,
        received_at,
        answers: new.answers.clone(),
        cadre_rating: new.cadre_rating,
        diary_note: new.diary_note.clone(),
        service_card_given: new.service_card_given,
        latitude: new.latitude,
        longitude: new.longitude,
        device_id: new.device_id.clone(),
        duty_id,
        change_seq: stamp,
        created_seq: stamp,
        origin_device: new.device_id.clone(),
    }
}

/// The audit entry of a visit recorded by `POST /visits`, with the ids of its issues.
fn created_entry(row: &visit::Model, issues: Vec<Uuid>) -> AuditEntry {
    AuditEntry::new("visit.create", "visit", row.id).with_changes(json!({
        "household_id": row.household_id,
        "enterprise_id": row.enterprise_id,
        "village_id": row.village_id,
        "channel": row.channel,
        "visited_at": row.visited_at,
        "issues": issues,
    }))
}

/// Records a visit and its issues in `db` (the caller's transaction). A visit whose id is
/// stored already is a retry when it is the same visit (same cadre, target and time): the
/// stored one is returned and nothing is written; otherwise the id clash is 409. A retry is
/// recognised when its insert does nothing, or when its target is refused (the household
/// left the caller's scope after the first try): the visit is not read before.
pub async fn record_visit(
    db: &impl ConnectionTrait,
    user: &AuthUser,
    clock: LocalClock,
    new: NewVisit,
) -> ApiResult<Recorded> {
    // Both engines keep microseconds: compare and store what they can hold.
    let mut new = new;
    new.visited_at = new.visited_at.trunc_subsecs(6);
    check_visited_at(new.visited_at)?;
    let Actor::User { id: cadre_id } = user.principal.actor else {
        return Err(ApiError::Forbidden(
            "Visits are recorded by a person, not an API token.".to_owned(),
        ));
    };
    let (place, applicant_household_id, applicant_name, applicant_phone) =
        match target_of(db, user, new.target).await {
            Ok(target) => target,
            // Refused as out of scope (or no village): a retry of a visit stored before is
            // still answered with it. A database error is returned as it is: on PostgreSQL
            // the transaction is aborted, and a read now would hide the cause.
            Err(refused @ ApiError::Validation(_)) => {
                return stored_copy(db, user, cadre_id, &new).await?.ok_or(refused);
            }
            Err(error) => return Err(error),
        };
    let duty_id = duty_of_sit_in(db, clock, new.channel, place.village_id, new.visited_at).await?;
    let row = new_row(&new, cadre_id, place, duty_id, Utc::now(), 0);
    // A concurrent copy of the same request may be inserting the same id: on PostgreSQL
    // `ON CONFLICT DO NOTHING` waits for it to commit, and then this copy is a retry.
    let inserted = visit::Entity::insert(visit::ActiveModel::from(row.clone()))
        .on_conflict_do_nothing()
        .exec_without_returning(db)
        .await?;
    if !matches!(inserted, sea_orm::TryInsertResult::Inserted(1)) {
        return stored_copy(db, user, cadre_id, &new)
            .await?
            .ok_or_else(id_taken);
    }
    let raised_on = clock.date_of(new.visited_at);
    let mut issues = Vec::with_capacity(new.issues.len());
    for (index, raised) in new.issues.into_iter().enumerate() {
        let deadline = calendar::resolve_deadline(
            db,
            raised.deadline,
            raised.deadline_working_days,
            raised_on,
            &format!("issues[{index}].deadline"),
            &format!("issues[{index}].deadline_working_days"),
        )
        .await?;
        let issue = ledger::create_issue(
            db,
            &user.principal,
            NewIssue {
                id: raised.id,
                visit_id: Some(row.id),
                channel: row.channel,
                place,
                applicant_household_id,
                applicant_name: raised
                    .applicant_name
                    .unwrap_or_else(|| applicant_name.clone()),
                applicant_phone: raised.applicant_phone.or_else(|| applicant_phone.clone()),
                category: raised.category,
                matter: raised.matter,
                answered_on_spot: raised.answered_on_spot,
                spot_answer: raised.spot_answer,
                level: raised.level,
                handler_department_id: raised.handler_department_id,
                named_cadre_id: raised.named_cadre_id,
                deadline,
                is_deed: raised.is_deed,
                raised_on,
                raised_at: row.visited_at,
                origin_device: row.device_id.clone(),
            },
            &format!("issues[{index}]"),
        )
        .await?;
        issues.push(issue);
    }
    if let Some(household_id) = applicant_household_id {
        // The household's "last visited" moves forward only: a late-synced old visit does
        // not make a recent one look older.
        household::Entity::update_many()
            .col_expr(
                household::Column::LastVisitedAt,
                Expr::value(row.visited_at),
            )
            .col_expr(household::Column::ChangeSeq, Expr::value(0))
            .filter(household::Column::Id.eq(household_id))
            .filter(
                Condition::any()
                    .add(household::Column::LastVisitedAt.is_null())
                    .add(household::Column::LastVisitedAt.lt(row.visited_at)),
            )
            .exec(db)
            .await?;
    }
    let issue_ids = issues.iter().map(|issue| issue.id).collect();
    audit::record(db, &user.audit_actor(), created_entry(&row, issue_ids)).await?;
    Ok(Recorded::Created(row, issues))
}

/// The issues of a visit that the caller may see.
pub async fn issues_of_visit(
    db: &impl ConnectionTrait,
    caller: &crate::auth::Principal,
    visit_id: Uuid,
) -> Result<Vec<issue::Model>, DbErr> {
    issue::Entity::find()
        .filter(issue::Column::VisitId.eq(visit_id))
        .filter(ledger::visible_condition(caller))
        .order_by_asc(issue::Column::CreatedAt)
        .order_by_asc(issue::Column::Id)
        .all(db)
        .await
}

/// The visit as a caller named by a complaint raised in it is shown it ([`visits_naming`]):
/// without the answers and the diary.
pub fn withheld(row: visit::Model) -> visit::Model {
    visit::Model {
        answers: None,
        diary_note: None,
        ..row
    }
}

/// Of these visits, those in which an issue names the caller (a cadre-conduct complaint):
/// their answers and diary are withheld from the caller — the evaluation of cadres is where
/// such complaints are told.
pub async fn visits_naming(
    db: &impl ConnectionTrait,
    caller: &crate::auth::Principal,
    visit_ids: &[Uuid],
) -> Result<std::collections::HashSet<Uuid>, DbErr> {
    let Actor::User { id } = caller.actor else {
        return Ok(Default::default());
    };
    if visit_ids.is_empty() {
        return Ok(Default::default());
    }
    let mut naming = std::collections::HashSet::new();
    for chunk in visit_ids.chunks(500) {
        let found: Vec<Option<Uuid>> = issue::Entity::find()
            .select_only()
            .column(issue::Column::VisitId)
            .filter(issue::Column::NamedCadreId.eq(id))
            .filter(issue::Column::VisitId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        naming.extend(found.into_iter().flatten());
    }
    Ok(naming)
}

fn scope_condition(scope: &Scope) -> Condition {
    scope.village_condition(
        visit::Column::CountyId,
        visit::Column::TownId,
        visit::Column::VillageId,
    )
}

/// One visit in scope.
pub async fn find_visit(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: Uuid,
) -> Result<Option<visit::Model>, DbErr> {
    visit::Entity::find_by_id(id)
        .filter(scope_condition(scope))
        .one(db)
        .await
}

/// Filters of the visit list.
#[derive(Debug, Clone, Default)]
pub struct VisitFilter {
    /// Only this village.
    pub village_id: Option<Uuid>,
    /// Only this household.
    pub household_id: Option<Uuid>,
    /// Only this cadre's visits.
    pub cadre_id: Option<Uuid>,
    /// From (inclusive).
    pub since: Option<DateTime<Utc>>,
    /// Until (exclusive).
    pub until: Option<DateTime<Utc>>,
}

/// Visits in scope, newest first; `before` is the (time, id) of the last visit of the
/// previous page.
pub async fn list_visits(
    db: &impl ConnectionTrait,
    scope: &Scope,
    filter: &VisitFilter,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
) -> Result<Vec<visit::Model>, DbErr> {
    let mut query = visit::Entity::find().filter(scope_condition(scope));
    if let Some(village_id) = filter.village_id {
        query = query.filter(visit::Column::VillageId.eq(village_id));
    }
    if let Some(household_id) = filter.household_id {
        query = query.filter(visit::Column::HouseholdId.eq(household_id));
    }
    if let Some(cadre_id) = filter.cadre_id {
        query = query.filter(visit::Column::CadreId.eq(cadre_id));
    }
    if let Some(since) = filter.since {
        query = query.filter(visit::Column::VisitedAt.gte(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(visit::Column::VisitedAt.lt(until));
    }
    if let Some((time, id)) = before {
        query = query.filter(
            Condition::any().add(visit::Column::VisitedAt.lt(time)).add(
                Condition::all()
                    .add(visit::Column::VisitedAt.eq(time))
                    .add(visit::Column::Id.lt(id)),
            ),
        );
    }
    query
        .order_by_desc(visit::Column::VisitedAt)
        .order_by_desc(visit::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// What happened to one visit of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchOutcome {
    /// Stored now.
    Created,
    /// Stored already, the same (a re-push).
    Unchanged,
}

/// Records many household visits without issues (a sync push) with the rules of
/// [`record_visit`] — scope, idempotency by id, `last_visited_at`, one audit row each — in a
/// few statements per batch instead of several per visit. An error names the visit it is
/// about.
pub async fn record_household_visits(
    db: &crate::db::WriteTxn,
    user: &AuthUser,
    clock: LocalClock,
    visits: Vec<NewVisit>,
) -> Result<Vec<(Uuid, BatchOutcome)>, (Uuid, ApiError)> {
    use std::collections::HashMap;
    let first = visits.first().map(|visit| visit.id).unwrap_or_default();
    let Actor::User { id: cadre_id } = user.principal.actor else {
        return Err((
            first,
            ApiError::Forbidden("Visits are recorded by a person, not an API token.".to_owned()),
        ));
    };
    let db_error = |id: Uuid| move |error: DbErr| (id, ApiError::from(error));
    let visits: Vec<NewVisit> = visits
        .into_iter()
        .map(|mut visit| {
            visit.visited_at = visit.visited_at.trunc_subsecs(6);
            visit
        })
        .collect();
    for visit in &visits {
        check_visited_at(visit.visited_at).map_err(|error| (visit.id, error))?;
    }
    let household_ids: Vec<Uuid> = visits.iter().filter_map(NewVisit::household).collect();
    let places = household_places(db, user.scope(), &household_ids)
        .await
        .map_err(db_error(first))?;
    // Microseconds, as both engines store them: the stored copy is recognised as ours by it.
    let now = Utc::now().trunc_subsecs(6);
    let stamp = if visits.is_empty() {
        0
    } else {
        db.stamp().await.map_err(db_error(first))?
    };
    // A row for every visit of a household in scope; the others are judged after the insert
    // (stored already, they are a re-push; else they are refused).
    let mut rows = Vec::with_capacity(visits.len());
    let mut duties = HashMap::new();
    for visit in &visits {
        let Some(household_id) = visit.household() else {
            return Err((
                visit.id,
                ApiError::invalid_field(
                    "household_id",
                    "required",
                    "Batch visits are household visits.",
                ),
            ));
        };
        let Some(place) = places.get(&household_id) else {
            continue;
        };
        // A batch's duty sit-ins share a few villages and days: one look-up each.
        let duty_id = match visit.channel {
            visit::Channel::DutySitIn => {
                let day = (place.village_id, clock.date_of(visit.visited_at));
                match duties.get(&day) {
                    Some(duty) => *duty,
                    None => {
                        let duty = duty_of_sit_in(
                            db,
                            clock,
                            visit.channel,
                            place.village_id,
                            visit.visited_at,
                        )
                        .await
                        .map_err(db_error(visit.id))?;
                        duties.insert(day, duty);
                        duty
                    }
                }
            }
            _ => None,
        };
        rows.push(new_row(visit, cadre_id, *place, duty_id, now, stamp));
    }
    let inserted = insert_new(db, &rows).await.map_err(db_error(first))?;
    // The rest were stored before (this push sent again, or a copy of it committed first), or
    // are of households out of scope.
    let not_inserted: Vec<Uuid> = visits
        .iter()
        .map(|visit| visit.id)
        .filter(|id| !inserted.contains(id))
        .collect();
    let mut stored: HashMap<Uuid, visit::Model> = HashMap::new();
    for chunk in not_inserted.chunks(500) {
        for row in visit::Entity::find()
            .filter(visit::Column::Id.is_in(chunk.iter().copied()))
            .all(db)
            .await
            .map_err(db_error(first))?
        {
            stored.insert(row.id, row);
        }
    }
    let mut outcomes = Vec::with_capacity(visits.len());
    for visit in &visits {
        if inserted.contains(&visit.id) {
            outcomes.push((visit.id, BatchOutcome::Created));
            continue;
        }
        let refused = match stored.get(&visit.id) {
            Some(existing) if same_visit(existing, cadre_id, visit) => {
                outcomes.push((visit.id, BatchOutcome::Unchanged));
                continue;
            }
            Some(_) => id_taken(),
            None => ApiError::invalid_field(
                "household_id",
                "not_found",
                "No such household in your scope.",
            ),
        };
        return Err((visit.id, refused));
    }
    let created: Vec<&visit::Model> = rows
        .iter()
        .filter(|row| inserted.contains(&row.id))
        .collect();
    move_households_forward(db, &created, stamp, Restamp::Visited)
        .await
        .map_err(db_error(first))?;
    let entries = created
        .iter()
        .map(|row| {
            AuditEntry::new("visit.create", "visit", row.id).with_changes(json!({
                "household_id": row.household_id, "village_id": row.village_id, "channel": row.channel,
                "visited_at": row.visited_at, "issues": [], "via": "sync",
            }))
        })
        .collect();
    audit::record_many(db, &user.audit_actor(), entries)
        .await
        .map_err(db_error(first))?;
    Ok(outcomes)
}

/// The places of those of `households` in `scope`, in one query per 500 (the place's columns
/// only: nothing else of the household is needed).
async fn household_places(
    db: &impl ConnectionTrait,
    scope: &Scope,
    households: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, VillagePlace>, DbErr> {
    let mut places = std::collections::HashMap::new();
    for chunk in households.chunks(500) {
        for (id, county_id, town_id, village_id) in household::Entity::find()
            .select_only()
            .columns([
                household::Column::Id,
                household::Column::CountyId,
                household::Column::TownId,
                household::Column::VillageId,
            ])
            .filter(household::Column::Id.is_in(chunk.iter().copied()))
            .filter(households::scope_condition(scope))
            .into_tuple::<(Uuid, Uuid, Uuid, Uuid)>()
            .all(db)
            .await?
        {
            places.insert(
                id,
                VillagePlace {
                    county_id,
                    town_id,
                    village_id,
                },
            );
        }
    }
    Ok(places)
}

/// Inserts the rows whose ids are not stored yet, 200 a statement, and returns the ids it
/// inserted (`RETURNING`). A row already stored is not read first: its insert does nothing.
/// In id order: concurrent batches inserting the same ids wait for each other in one order,
/// never in a circle.
async fn insert_new(
    db: &impl ConnectionTrait,
    rows: &[visit::Model],
) -> Result<std::collections::HashSet<Uuid>, DbErr> {
    let mut ordered: Vec<&visit::Model> = rows.iter().collect();
    ordered.sort_by_key(|row| row.id);
    let mut inserted = std::collections::HashSet::new();
    for chunk in ordered.chunks(200) {
        let result = visit::Entity::insert_many(
            chunk
                .iter()
                .map(|row| visit::ActiveModel::from((*row).clone())),
        )
        .on_conflict_do_nothing()
        .exec_with_returning_keys(db)
        .await?;
        if let sea_orm::TryInsertResult::Inserted(keys) = result {
            inserted.extend(keys);
        }
    }
    Ok(inserted)
}

/// Which visited households a batch marks changed (restamps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Restamp {
    /// Every one (a sync push: the phone pulls back each household it visited).
    Visited,
    /// Only those whose `last_visited_at` moved (single visits, as one at a time always
    /// did: a late-synced old visit changes nothing a phone holds).
    Moved,
}

/// Moves each visited household's `last_visited_at` to its latest visit of `created` if that
/// is later than the stored one (it only ever moves forward), and restamps it (`restamp`). The
/// households are locked in id order first and held to the commit, so concurrent batches
/// never wait on each other in a circle.
async fn move_households_forward(
    db: &impl ConnectionTrait,
    created: &[&visit::Model],
    stamp: i64,
    restamp: Restamp,
) -> Result<(), DbErr> {
    let mut latest: std::collections::BTreeMap<Uuid, DateTime<Utc>> = Default::default();
    for row in created {
        if let Some(household) = row.household_id {
            let at = latest.entry(household).or_insert(row.visited_at);
            *at = std::cmp::max(*at, row.visited_at);
        }
    }
    let latest: Vec<(Uuid, DateTime<Utc>)> = latest.into_iter().collect();
    let ids: Vec<Uuid> = latest.iter().map(|(id, _)| *id).collect();
    households::lock_in_order(db, &ids).await?;
    move_last_visited(db, &latest, stamp, restamp).await
}

/// Moves each household's `last_visited_at` forward to its latest visit in a batch (never
/// back) and marks it changed with `stamp` (a household created earlier in the same push gets
/// its `created_seq` too); with [`Restamp::Moved`], only the households whose date moves are
/// written. On PostgreSQL one `UPDATE … FROM jsonb_to_recordset($1)`, the same statement text
/// for every batch, with `GREATEST` (its trigger stamps the rows); on SQLite a `CASE` per
/// column, 100 households a statement.
async fn move_last_visited(
    db: &impl ConnectionTrait,
    latest: &[(Uuid, DateTime<Utc>)],
    stamp: i64,
    restamp: Restamp,
) -> Result<(), DbErr> {
    if latest.is_empty() {
        return Ok(());
    }
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        let latest: Vec<Value> = latest
            .iter()
            .map(|(id, at)| json!({"id": id, "at": at}))
            .collect();
        let only_moved = match restamp {
            Restamp::Visited => "",
            Restamp::Moved => {
                " AND (households.last_visited_at IS NULL OR households.last_visited_at < latest.at)"
            }
        };
        db.execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            format!(
                "UPDATE households SET last_visited_at = GREATEST(households.last_visited_at, latest.at), \
                 change_seq = 0 \
                 FROM jsonb_to_recordset($1::jsonb) AS latest(id uuid, at timestamptz) \
                 WHERE households.id = latest.id{only_moved}"
            ),
            [Value::Array(latest).into()],
        ))
        .await?;
        return Ok(());
    }
    for chunk in latest.chunks(100) {
        let visited_at = chunk.iter().fold(CaseStatement::new(), |case, (id, at)| {
            case.case(household::Column::Id.eq(*id), *at)
        });
        let visited_at: Expr = visited_at.into();
        let stored = || Expr::col((household::Entity, household::Column::LastVisitedAt));
        let moves = Condition::any()
            .add(stored().is_null())
            .add(stored().lt(visited_at.clone()));
        let moved = CaseStatement::new()
            .case(moves.clone(), visited_at)
            .finally(stored());
        let written = match restamp {
            Restamp::Visited => Condition::all(),
            Restamp::Moved => moves,
        };
        household::Entity::update_many()
            .col_expr(household::Column::LastVisitedAt, moved.into())
            .col_expr(household::Column::ChangeSeq, Expr::value(stamp))
            // A household created earlier in this push is created by this stamp too.
            .col_expr(
                household::Column::CreatedSeq,
                CaseStatement::new()
                    .case(household::Column::CreatedSeq.eq(0), stamp)
                    .finally(Expr::col(household::Column::CreatedSeq))
                    .into(),
            )
            .filter(household::Column::Id.is_in(chunk.iter().map(|(id, _)| *id)))
            .filter(written)
            .exec(db)
            .await?;
    }
    Ok(())
}
