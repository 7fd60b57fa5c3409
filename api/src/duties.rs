//! The duty roster (一线工作日): every Tuesday and Thursday that is a working day, someone of
//! the town sits in at each village office. On the Thursdays of odd ISO weeks it is the
//! village's village-contact leader (包村领导); on the other Tuesdays and Thursdays the
//! village-contact cadres (包村干部) take turns.
//!
//! - Holidays are skipped (the working-day calendar, [`crate::calendar`]). A make-up working
//!   day (调休) falls on a Saturday or Sunday, so it is never a Tuesday or Thursday and adds no
//!   duty.
//! - The rotation is deterministic: the cadres assigned to the village on the day, ordered by
//!   user id, and the turn is the number of cadre duties the village had before that day. So
//!   generating the same range again gives the same people, and generating only fills gaps —
//!   duties that exist (and their swaps) are kept.
//! - With no leader assigned, a leader's Thursday goes to the rotation and is marked
//!   `leader_fallback`. A day with nobody to roster is reported, not invented.
//! - A duty is `kept` once its person recorded a sit-in visit (值班坐访) linked to it, `missed`
//!   when its day passed without one, `upcoming` otherwise.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Datelike, Days, NaiveDate, Utc, Weekday};
use entity::{
    calendar_day::DayKind,
    duty::{self, DutyKind},
    org_unit::{self, OrgKind},
    user::{self, Position},
    village_assignment, visit,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    access::Scope,
    calendar,
    clock::LocalClock,
    error::{ApiError, ApiResult},
};

/// The longest range generated at once (a year, leap day included).
pub const MAX_RANGE_DAYS: i64 = 366;

/// A duty is kept when the person on duty recorded a sit-in visit linked to it. Written
/// literally so that a status filter is one `EXISTS` in the SQL on both engines.
pub const KEPT_SQL: &str = "EXISTS (SELECT 1 FROM visits WHERE visits.duty_id = duties.id AND visits.cadre_id = duties.user_id)";

/// What kind of duty day a date is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// A Thursday of an odd ISO week: the village-contact leader's.
    LeaderThursday,
    /// Any other Tuesday or Thursday: a cadre's turn.
    Rotation,
}

/// The duty slot of a day, if it is one: a Tuesday or Thursday that is a working day. (A
/// make-up working day is a Saturday or Sunday, so it is never one.)
pub fn slot(date: NaiveDate, working: bool) -> Option<Slot> {
    if !working {
        return None;
    }
    match date.weekday() {
        Weekday::Tue => Some(Slot::Rotation),
        Weekday::Thu if date.iso_week().week() % 2 == 1 => Some(Slot::LeaderThursday),
        Weekday::Thu => Some(Slot::Rotation),
        _ => None,
    }
}

/// A village-contact leader or cadre assigned to the village, with the assignment's dates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    /// The person.
    pub user_id: Uuid,
    /// Leader or cadre.
    pub kind: DutyKind,
    /// First day of the assignment.
    pub starts_on: NaiveDate,
    /// Last day, if any.
    pub ends_on: Option<NaiveDate>,
}

/// Who may be rostered on a day: leaders and cadres assigned then, each ordered by id.
pub fn staff_on(date: NaiveDate, posted: &[Posted]) -> (Vec<Uuid>, Vec<Uuid>) {
    let on = |kind: DutyKind| {
        let mut ids: Vec<Uuid> = posted
            .iter()
            .filter(|post| post.kind == kind)
            .filter(|post| post.starts_on <= date && post.ends_on.is_none_or(|end| end >= date))
            .map(|post| post.user_id)
            .collect();
        ids.sort();
        ids.dedup();
        ids
    };
    (on(DutyKind::Leader), on(DutyKind::Cadre))
}

/// A duty the roster rule chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedDuty {
    /// The day.
    pub date: NaiveDate,
    /// Who.
    pub user_id: Uuid,
    /// Leader's day or a cadre's turn.
    pub kind: DutyKind,
    /// A leader's Thursday given to the rotation because no leader was assigned.
    pub leader_fallback: bool,
}

/// The duties to add to a range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// New duties, by date.
    pub duties: Vec<PlannedDuty>,
    /// Duty days with nobody assigned to roster.
    pub unstaffed: Vec<NaiveDate>,
}

/// The roster rule over `from..=to`: `exceptions` from the calendar, `existing` duties of the
/// range (kept as they are), `turns_before` the village's cadre duties before `from`.
pub fn plan(
    from: NaiveDate,
    to: NaiveDate,
    exceptions: &BTreeMap<NaiveDate, DayKind>,
    existing: &BTreeMap<NaiveDate, DutyKind>,
    turns_before: u64,
    posted: &[Posted],
) -> Plan {
    let mut result = Plan::default();
    let mut turn = turns_before;
    for date in from.iter_days().take_while(|date| *date <= to) {
        let working = calendar::is_working(date, exceptions.get(&date).copied());
        let Some(slot) = slot(date, working) else {
            continue;
        };
        if let Some(kind) = existing.get(&date) {
            if *kind == DutyKind::Cadre {
                turn += 1;
            }
            continue;
        }
        let (leaders, cadres) = staff_on(date, posted);
        let chosen = match (slot, leaders.first(), cadres.is_empty()) {
            (Slot::LeaderThursday, Some(leader), _) => Some((*leader, DutyKind::Leader, false)),
            (_, _, true) => None,
            (slot, _, false) => {
                let index = usize::try_from(turn % cadres.len() as u64).unwrap_or_default();
                turn += 1;
                Some((cadres[index], DutyKind::Cadre, slot == Slot::LeaderThursday))
            }
        };
        match chosen {
            Some((user_id, kind, leader_fallback)) => result.duties.push(PlannedDuty {
                date,
                user_id,
                kind,
                leader_fallback,
            }),
            None => result.unstaffed.push(date),
        }
    }
    result
}

/// Where a duty stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DutyStatus {
    /// Today or later, no sit-in recorded yet.
    Upcoming,
    /// The person on duty recorded a sit-in visit (值班坐访) on it.
    Kept,
    /// Its day passed without one.
    Missed,
}

/// The status of a duty on `today`.
pub fn status(duty_date: NaiveDate, kept: bool, today: NaiveDate) -> DutyStatus {
    match (kept, duty_date < today) {
        (true, _) => DutyStatus::Kept,
        (false, true) => DutyStatus::Missed,
        (false, false) => DutyStatus::Upcoming,
    }
}

/// The village, if it is one and is in scope (404 otherwise).
pub async fn village_in_scope(
    db: &impl ConnectionTrait,
    scope: &Scope,
    village_id: Uuid,
) -> ApiResult<org_unit::Model> {
    org_unit::Entity::find_by_id(village_id)
        .filter(scope.org_unit_condition(org_unit::Column::Id))
        .one(db)
        .await?
        .filter(|unit| unit.kind == OrgKind::Village)
        .ok_or_else(|| ApiError::NotFound("No such village in your scope.".to_owned()))
}

/// The village-contact leaders and cadres assigned to a village at some time in `from..=to`.
async fn posted_to(
    db: &impl ConnectionTrait,
    village_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Posted>, DbErr> {
    let assignments = village_assignment::Entity::find()
        .filter(village_assignment::Column::VillageId.eq(village_id))
        .filter(village_assignment::Column::StartsOn.lte(to))
        .filter(
            Condition::any()
                .add(village_assignment::Column::EndsOn.is_null())
                .add(village_assignment::Column::EndsOn.gte(from)),
        )
        .all(db)
        .await?;
    let positions: HashMap<Uuid, Position> = user::Entity::find()
        .filter(user::Column::Id.is_in(assignments.iter().map(|row| row.user_id)))
        .filter(user::Column::Active.eq(true))
        .filter(user::Column::Position.is_in([
            Position::VillageContactLeader,
            Position::VillageContactCadre,
        ]))
        .all(db)
        .await?
        .into_iter()
        .map(|user| (user.id, user.position))
        .collect();
    Ok(assignments
        .into_iter()
        .filter_map(|row| {
            let kind = match positions.get(&row.user_id)? {
                Position::VillageContactLeader => DutyKind::Leader,
                _ => DutyKind::Cadre,
            };
            Some(Posted {
                user_id: row.user_id,
                kind,
                starts_on: row.starts_on,
                ends_on: row.ends_on,
            })
        })
        .collect())
}

/// What generating a range did.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Duties added now.
    pub created: usize,
    /// Duties of the range that existed already (kept, swaps included).
    pub existing: usize,
    /// Duty days nobody could be rostered on (no leader or cadre assigned).
    pub unstaffed: Vec<NaiveDate>,
    /// Whether every year of the range has a loaded calendar (otherwise holidays there are
    /// not skipped).
    pub calendar_loaded: bool,
    /// Every duty of the range, by date.
    pub duties: Vec<duty::Model>,
}

/// Checks a `from..=to` range: in order, at most [`MAX_RANGE_DAYS`] long.
pub fn check_range(from: NaiveDate, to: NaiveDate) -> ApiResult<()> {
    if to < from {
        return Err(ApiError::invalid_field(
            "to",
            "before_from",
            "The range ends before it starts.",
        ));
    }
    if (to - from).num_days() >= MAX_RANGE_DAYS {
        return Err(ApiError::invalid_field(
            "to",
            "too_long",
            format!("At most {MAX_RANGE_DAYS} days at a time."),
        ));
    }
    Ok(())
}

/// Fills the gaps of a village's roster over `from..=to` by the roster rule, in the caller's
/// transaction, and links sit-in visits already recorded on those days to their duties.
pub async fn generate(
    db: &impl ConnectionTrait,
    clock: LocalClock,
    village: &org_unit::Model,
    from: NaiveDate,
    to: NaiveDate,
) -> ApiResult<Generated> {
    check_range(from, to)?;
    let town_id = village.town_id.unwrap_or(village.county_id);
    let exceptions = calendar::exceptions_between(db, from, to).await?;
    let calendar_loaded = calendar::calendar_loaded(db, from, to).await?;
    let in_range = || {
        duty::Entity::find()
            .filter(duty::Column::VillageId.eq(village.id))
            .filter(duty::Column::DutyDate.gte(from))
            .filter(duty::Column::DutyDate.lte(to))
    };
    let existing: BTreeMap<NaiveDate, DutyKind> = in_range()
        .all(db)
        .await?
        .into_iter()
        .map(|duty| (duty.duty_date, duty.kind))
        .collect();
    let turns_before = duty::Entity::find()
        .filter(duty::Column::VillageId.eq(village.id))
        .filter(duty::Column::Kind.eq(DutyKind::Cadre))
        .filter(duty::Column::DutyDate.lt(from))
        .count(db)
        .await?;
    let posted = posted_to(db, village.id, from, to).await?;
    let planned = plan(from, to, &exceptions, &existing, turns_before, &posted);
    let now = Utc::now();
    let rows: Vec<duty::ActiveModel> = planned
        .duties
        .iter()
        .map(|duty| {
            duty::ActiveModel::from(duty::Model {
                id: Uuid::now_v7(),
                county_id: village.county_id,
                town_id,
                village_id: village.id,
                duty_date: duty.date,
                user_id: duty.user_id,
                kind: duty.kind,
                leader_fallback: duty.leader_fallback,
                swapped_from_user_id: None,
                swap_reason: None,
                created_at: now,
                updated_at: now,
            })
        })
        .collect();
    for chunk in rows.chunks(200) {
        duty::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    let duties = in_range()
        .order_by_asc(duty::Column::DutyDate)
        .all(db)
        .await?;
    link_recorded_sit_ins(db, clock, village.id, &duties).await?;
    Ok(Generated {
        created: planned.duties.len(),
        existing: existing.len(),
        unstaffed: planned.unstaffed,
        calendar_loaded,
        duties,
    })
}

/// Links the sit-in visits recorded on these duties' days before the duties existed.
async fn link_recorded_sit_ins(
    db: &impl ConnectionTrait,
    clock: LocalClock,
    village_id: Uuid,
    duties: &[duty::Model],
) -> Result<(), DbErr> {
    let (Some(first), Some(last)) = (duties.first(), duties.last()) else {
        return Ok(());
    };
    let by_date: HashMap<NaiveDate, Uuid> = duties
        .iter()
        .map(|duty| (duty.duty_date, duty.id))
        .collect();
    let after_last = last.duty_date.succ_opt().unwrap_or(last.duty_date);
    let unlinked: Vec<(Uuid, chrono::DateTime<Utc>)> = visit::Entity::find()
        .select_only()
        .column(visit::Column::Id)
        .column(visit::Column::VisitedAt)
        .filter(visit::Column::VillageId.eq(village_id))
        .filter(visit::Column::Channel.eq(visit::Channel::DutySitIn))
        .filter(visit::Column::DutyId.is_null())
        .filter(visit::Column::VisitedAt.gte(clock.start_of(first.duty_date)))
        .filter(visit::Column::VisitedAt.lt(clock.start_of(after_last)))
        .into_tuple()
        .all(db)
        .await?;
    let mut links: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (visit_id, visited_at) in unlinked {
        if let Some(duty_id) = by_date.get(&clock.date_of(visited_at)) {
            links.entry(*duty_id).or_default().push(visit_id);
        }
    }
    // `duty_id` is not a column the field app keeps, so the visits are not marked for sync.
    for (duty_id, visit_ids) in links {
        visit::Entity::update_many()
            .col_expr(visit::Column::DutyId, Expr::value(duty_id))
            .filter(visit::Column::Id.is_in(visit_ids))
            .exec(db)
            .await?;
    }
    Ok(())
}

/// The duty of a village on a day, if rostered.
pub async fn duty_on(
    db: &impl ConnectionTrait,
    village_id: Uuid,
    date: NaiveDate,
) -> Result<Option<duty::Model>, DbErr> {
    duty::Entity::find()
        .filter(duty::Column::VillageId.eq(village_id))
        .filter(duty::Column::DutyDate.eq(date))
        .one(db)
        .await
}

fn scope_condition(scope: &Scope) -> Condition {
    scope.village_condition(
        duty::Column::CountyId,
        duty::Column::TownId,
        duty::Column::VillageId,
    )
}

/// One duty in scope.
pub async fn find_duty(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: Uuid,
) -> Result<Option<duty::Model>, DbErr> {
    duty::Entity::find_by_id(id)
        .filter(scope_condition(scope))
        .one(db)
        .await
}

/// Filters of the duty list.
#[derive(Debug, Clone, Default)]
pub struct DutyFilter {
    /// Only this village.
    pub village_id: Option<Uuid>,
    /// Only this person's duties.
    pub user_id: Option<Uuid>,
    /// From this day (inclusive).
    pub from: Option<NaiveDate>,
    /// To this day (inclusive).
    pub to: Option<NaiveDate>,
    /// Only duties in this status.
    pub status: Option<DutyStatus>,
}

/// Duties in scope by date then id; `after` is the (date, id) of the last duty of the previous
/// page.
pub async fn list_duties(
    db: &impl ConnectionTrait,
    scope: &Scope,
    filter: &DutyFilter,
    today: NaiveDate,
    after: Option<(NaiveDate, Uuid)>,
    limit: u64,
) -> Result<Vec<duty::Model>, DbErr> {
    let mut query = duty::Entity::find().filter(scope_condition(scope));
    if let Some(village_id) = filter.village_id {
        query = query.filter(duty::Column::VillageId.eq(village_id));
    }
    if let Some(user_id) = filter.user_id {
        query = query.filter(duty::Column::UserId.eq(user_id));
    }
    if let Some(from) = filter.from {
        query = query.filter(duty::Column::DutyDate.gte(from));
    }
    if let Some(to) = filter.to {
        query = query.filter(duty::Column::DutyDate.lte(to));
    }
    match filter.status {
        Some(DutyStatus::Kept) => query = query.filter(Expr::cust(KEPT_SQL)),
        Some(DutyStatus::Missed) => {
            query = query
                .filter(Expr::cust(format!("NOT {KEPT_SQL}")))
                .filter(duty::Column::DutyDate.lt(today));
        }
        Some(DutyStatus::Upcoming) => {
            query = query
                .filter(Expr::cust(format!("NOT {KEPT_SQL}")))
                .filter(duty::Column::DutyDate.gte(today));
        }
        None => {}
    }
    if let Some((date, id)) = after {
        query = query.filter(
            Condition::any().add(duty::Column::DutyDate.gt(date)).add(
                Condition::all()
                    .add(duty::Column::DutyDate.eq(date))
                    .add(duty::Column::Id.gt(id)),
            ),
        );
    }
    query
        .order_by_asc(duty::Column::DutyDate)
        .order_by_asc(duty::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// A duty with what a reader needs beside it.
#[derive(Debug, Clone)]
pub struct DescribedDuty {
    /// The row.
    pub duty: duty::Model,
    /// Where it stands.
    pub status: DutyStatus,
    /// The village's name.
    pub village_name: String,
    /// The name of the person on duty.
    pub user_name: String,
    /// The sit-in visits linked to it, by anyone.
    pub visit_ids: Vec<Uuid>,
}

/// Statuses, names and linked visits of some duties, in a few queries.
pub async fn describe(
    db: &impl ConnectionTrait,
    duties: Vec<duty::Model>,
    today: NaiveDate,
) -> Result<Vec<DescribedDuty>, DbErr> {
    if duties.is_empty() {
        return Ok(Vec::new());
    }
    let mut visits: HashMap<Uuid, Vec<(Uuid, Uuid)>> = HashMap::new();
    for chunk in duties.chunks(500) {
        let rows: Vec<(Uuid, Option<Uuid>, Uuid)> = visit::Entity::find()
            .select_only()
            .column(visit::Column::Id)
            .column(visit::Column::DutyId)
            .column(visit::Column::CadreId)
            .filter(visit::Column::DutyId.is_in(chunk.iter().map(|duty| duty.id)))
            .order_by_asc(visit::Column::VisitedAt)
            .into_tuple()
            .all(db)
            .await?;
        for (visit_id, duty_id, cadre_id) in rows {
            if let Some(duty_id) = duty_id {
                visits
                    .entry(duty_id)
                    .or_default()
                    .push((visit_id, cadre_id));
            }
        }
    }
    let people: HashSet<Uuid> = duties.iter().map(|duty| duty.user_id).collect();
    let names: HashMap<Uuid, String> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::DisplayName)
        .filter(user::Column::Id.is_in(people))
        .into_tuple::<(Uuid, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let places: HashSet<Uuid> = duties.iter().map(|duty| duty.village_id).collect();
    let villages: HashMap<Uuid, String> = org_unit::Entity::find()
        .select_only()
        .column(org_unit::Column::Id)
        .column(org_unit::Column::Name)
        .filter(org_unit::Column::Id.is_in(places))
        .into_tuple::<(Uuid, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    Ok(duties
        .into_iter()
        .map(|duty| {
            let linked = visits.remove(&duty.id).unwrap_or_default();
            let kept = linked.iter().any(|(_, cadre)| *cadre == duty.user_id);
            DescribedDuty {
                status: status(duty.duty_date, kept, today),
                village_name: villages.get(&duty.village_id).cloned().unwrap_or_default(),
                user_name: names.get(&duty.user_id).cloned().unwrap_or_default(),
                visit_ids: linked.into_iter().map(|(visit_id, _)| visit_id).collect(),
                duty,
            }
        })
        .collect())
}

/// Whether a person is assigned to the village on the day.
async fn assigned_on(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    village_id: Uuid,
    date: NaiveDate,
) -> Result<bool, DbErr> {
    let assignments = village_assignment::Entity::find()
        .filter(village_assignment::Column::UserId.eq(user_id))
        .filter(village_assignment::Column::VillageId.eq(village_id))
        .filter(village_assignment::Column::StartsOn.lte(date))
        .filter(
            Condition::any()
                .add(village_assignment::Column::EndsOn.is_null())
                .add(village_assignment::Column::EndsOn.gte(date)),
        )
        .count(db)
        .await?;
    let active = user::Entity::find_by_id(user_id)
        .filter(user::Column::Active.eq(true))
        .count(db)
        .await?;
    Ok(assignments > 0 && active > 0)
}

/// Puts another person on a duty in scope: someone assigned to the village on that day. The
/// person first rostered is kept in `swapped_from_user_id` over several swaps; swapping back
/// to them clears the swap. `None` when the person is on the duty already (nothing changed).
pub async fn swap(
    db: &impl ConnectionTrait,
    scope: &Scope,
    duty_id: Uuid,
    user_id: Uuid,
    reason: String,
) -> ApiResult<(duty::Model, Option<duty::Model>)> {
    // Held until the commit (PostgreSQL `FOR UPDATE`; SQLite's writers are serial): two swaps
    // of one duty take turns, each from what the other left.
    duty::Entity::find_by_id(duty_id)
        .lock_exclusive()
        .one(db)
        .await?;
    let duty = find_duty(db, scope, duty_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such duty in your scope.".to_owned()))?;
    if duty.user_id == user_id {
        return Ok((duty, None));
    }
    if !assigned_on(db, user_id, duty.village_id, duty.duty_date).await? {
        return Err(ApiError::invalid_field(
            "user_id",
            "not_assigned",
            "This person is not assigned to the village on that day.",
        ));
    }
    let original = duty.swapped_from_user_id.unwrap_or(duty.user_id);
    let back_to_original = original == user_id;
    let mut active: duty::ActiveModel = duty.clone().into();
    active.user_id = Set(user_id);
    active.swapped_from_user_id = Set((!back_to_original).then_some(original));
    active.swap_reason = Set((!back_to_original).then_some(reason.trim().to_owned()));
    active.updated_at = Set(Utc::now());
    let saved = active.update(db).await?;
    Ok((duty, Some(saved)))
}

/// One duty as the public roster shows it.
#[derive(Debug, Clone)]
pub struct PublicDuty {
    /// The day.
    pub date: NaiveDate,
    /// The name of the person on duty.
    pub name: String,
    /// Their position.
    pub position: Option<Position>,
}

/// A village's duties over `from..=to`, with names and positions only.
pub async fn public_roster(
    db: &impl ConnectionTrait,
    village_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<PublicDuty>, DbErr> {
    let duties = duty::Entity::find()
        .filter(duty::Column::VillageId.eq(village_id))
        .filter(duty::Column::DutyDate.gte(from))
        .filter(duty::Column::DutyDate.lte(to))
        .order_by_asc(duty::Column::DutyDate)
        .all(db)
        .await?;
    let people: HashMap<Uuid, (String, Position)> = user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::DisplayName)
        .column(user::Column::Position)
        .filter(user::Column::Id.is_in(duties.iter().map(|duty| duty.user_id)))
        .into_tuple::<(Uuid, String, Position)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(id, name, position)| (id, (name, position)))
        .collect();
    Ok(duties
        .into_iter()
        .map(|duty| {
            let person = people.get(&duty.user_id);
            PublicDuty {
                date: duty.duty_date,
                name: person.map(|(name, _)| name.clone()).unwrap_or_default(),
                position: person.map(|(_, position)| *position),
            }
        })
        .collect())
}

/// How far ahead the public roster looks: eight weeks.
pub fn public_window(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    (today, today + Days::new(55))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap_or_default()
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn post(n: u128, kind: DutyKind) -> Posted {
        Posted {
            user_id: id(n),
            kind,
            starts_on: date("2026-01-01"),
            ends_on: None,
        }
    }

    #[test]
    fn thursdays_of_odd_iso_weeks_are_the_leaders_also_across_the_new_year() {
        // 2026-12-31 is the Thursday of ISO week 53 of 2026; 2027-01-07 of week 1 of 2027;
        // 2026-12-24 of week 52.
        assert_eq!(date("2026-12-31").iso_week().week(), 53);
        assert_eq!(date("2027-01-07").iso_week().week(), 1);
        assert_eq!(slot(date("2026-12-31"), true), Some(Slot::LeaderThursday));
        assert_eq!(slot(date("2027-01-07"), true), Some(Slot::LeaderThursday));
        assert_eq!(slot(date("2026-12-24"), true), Some(Slot::Rotation));
        assert_eq!(slot(date("2026-12-29"), true), Some(Slot::Rotation));
        assert_eq!(slot(date("2026-12-30"), true), None);
        assert_eq!(slot(date("2026-12-31"), false), None);
    }

    #[test]
    fn the_rotation_continues_over_existing_duties_and_a_missing_leader_falls_back() {
        // 2026-11-03 (Tue, week 45), 11-05 (Thu, week 45: leader), 11-10 (Tue), 11-12 (Thu,
        // week 46), 11-17 (Tue), 11-19 (Thu, week 47: leader).
        let posted = [post(2, DutyKind::Cadre), post(1, DutyKind::Cadre)];
        let mut existing = BTreeMap::new();
        existing.insert(date("2026-11-10"), DutyKind::Cadre);
        let planned = plan(
            date("2026-11-01"),
            date("2026-11-19"),
            &BTreeMap::new(),
            &existing,
            3,
            &posted,
        );
        let got: Vec<(NaiveDate, Uuid, bool)> = planned
            .duties
            .iter()
            .map(|duty| (duty.date, duty.user_id, duty.leader_fallback))
            .collect();
        // Turns 3, 4, (5 exists), 6, 7, 8 over cadres [1, 2].
        assert_eq!(
            got,
            vec![
                (date("2026-11-03"), id(2), false),
                (date("2026-11-05"), id(1), true),
                (date("2026-11-12"), id(1), false),
                (date("2026-11-17"), id(2), false),
                (date("2026-11-19"), id(1), true),
            ]
        );
    }

    #[test]
    fn a_day_with_nobody_assigned_is_reported_not_invented() {
        let posted = [post(9, DutyKind::Leader)];
        let planned = plan(
            date("2026-11-03"),
            date("2026-11-05"),
            &BTreeMap::new(),
            &BTreeMap::new(),
            0,
            &posted,
        );
        assert_eq!(planned.unstaffed, vec![date("2026-11-03")]);
        assert_eq!(planned.duties.len(), 1);
        assert_eq!(planned.duties[0].kind, DutyKind::Leader);
    }

    #[test]
    fn a_duty_is_missed_only_once_its_day_has_passed() {
        let today = date("2026-11-28");
        assert_eq!(status(date("2026-11-26"), false, today), DutyStatus::Missed);
        assert_eq!(
            status(date("2026-11-28"), false, today),
            DutyStatus::Upcoming
        );
        assert_eq!(status(date("2026-11-26"), true, today), DutyStatus::Kept);
    }
}
