//! The leadership dashboards: deadlines (what is open, overdue, due soon, awaiting the
//! applicant's answer, struck off this month), visit quotas and village coverage,
//! satisfaction, and deeds (实事). The deadline counts come from the live ledger kept in memory
//! ([`live`]); the others are a handful of grouped SQL queries each — never a loop over
//! rows — restricted to the place asked about (always inside the caller's scope, so the
//! caller sees all of it) less the complaints naming the caller ([`ledger::conflict_condition`]):
//! no `OR` of "led by me", which would keep the engines off the place's indexes.

pub mod live;
pub mod names;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    campaign, department, household,
    issue::{self, Category, Level},
    org_unit::{self, OrgKind},
    user::{self, Position},
    visit,
};
use sea_orm::{
    ActiveEnum, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, Query},
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    access::Scope,
    auth::{Actor, Principal},
    error::{ApiError, ApiResult},
    households::HouseholdTag,
    ledger::{self, labels::Label},
};

pub use live::LiveLedger;
use live::{Counted, Within};
pub use names::NameCache;

/// The place a dashboard is about: the unit asked for (404 unless in scope), else the
/// caller's own place (their scope's unit; the one county for a deployment-wide admin).
pub async fn place_of(
    db: &impl ConnectionTrait,
    scope: &Scope,
    org_unit_id: Option<Uuid>,
) -> ApiResult<org_unit::Model> {
    let not_found = || ApiError::NotFound("No such org unit in your scope.".to_owned());
    if let Some(id) = org_unit_id {
        return crate::org::find_org_unit(db, scope, id)
            .await?
            .ok_or_else(not_found);
    }
    let anchor = match scope {
        Scope::Subtree { id, .. } => Some(*id),
        Scope::Villages(villages) => villages.first().copied(),
        Scope::Department(id) => department::Entity::find_by_id(*id)
            .one(db)
            .await?
            .map(|department| department.org_unit_id),
        Scope::All => {
            let counties = org_unit::Entity::find()
                .filter(org_unit::Column::Kind.eq(OrgKind::County))
                .limit(2)
                .all(db)
                .await?;
            match counties.as_slice() {
                [county] => Some(county.id),
                _ => {
                    return Err(ApiError::invalid_field(
                        "org_unit_id",
                        "required",
                        "This deployment has several counties (or none): name the place.",
                    ));
                }
            }
        }
    };
    let anchor = anchor.ok_or_else(not_found)?;
    org_unit::Entity::find_by_id(anchor)
        .one(db)
        .await?
        .ok_or_else(not_found)
}

/// Records of villages inside `place` (records that carry county, town and village ids).
pub fn within<C: ColumnTrait>(
    place: &org_unit::Model,
    county: C,
    town: C,
    village: C,
) -> Condition {
    Scope::Subtree {
        kind: place.kind,
        id: place.id,
    }
    .village_condition(county, town, village)
}

/// How the deadline counts are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// By town.
    Town,
    /// By village.
    Village,
    /// By level (村/镇/县).
    Level,
    /// By category.
    Category,
    /// By the department handling it.
    Department,
    /// By the lead responsible person.
    Responsible,
}

impl GroupBy {
    /// The ledger filter (`GET /api/v1/issues`) that selects one group.
    pub fn ledger_parameter(self) -> &'static str {
        match self {
            Self::Town => "town_id",
            Self::Village => "village_id",
            Self::Level => "level",
            Self::Category => "category",
            Self::Department => "department_id",
            Self::Responsible => "responsible_id",
        }
    }
}

/// The five deadline numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeadlineCounts {
    /// Open or in progress (in the ledger).
    pub open: i64,
    /// Of those, past their deadline.
    pub overdue: i64,
    /// Of those, due within the due-soon window (not overdue).
    pub due_soon: i64,
    /// Resolved, but the applicant has not been told the result (事事有回音).
    pub awaiting_feedback: i64,
    /// Struck off (销号) since the first of this month.
    pub closed_this_month: i64,
}

impl DeadlineCounts {
    fn add(&mut self, other: &Self) {
        self.open += other.open;
        self.overdue += other.overdue;
        self.due_soon += other.due_soon;
        self.awaiting_feedback += other.awaiting_feedback;
        self.closed_this_month += other.closed_this_month;
    }
}

/// The instants and days the deadline counts are taken against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeadlineWindow {
    /// Today (local).
    pub today: NaiveDate,
    /// The last day that is "due soon".
    pub soon_limit: NaiveDate,
    /// The start of this month (local midnight, as UTC).
    pub month_start: DateTime<Utc>,
    /// Only issues raised at or after this instant.
    pub raised_from: Option<DateTime<Utc>>,
    /// Only issues raised before this instant.
    pub raised_before: Option<DateTime<Utc>>,
}

/// One group's key (an id or an enum value) and counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineGroup {
    /// The key; none for issues with no department (village level, not escalated).
    pub key: Option<String>,
    /// The counts.
    pub counts: DeadlineCounts,
}

/// The deadline counts of the ledger issues in `place`, grouped — less the complaints naming
/// the caller ([`ledger::conflict_condition`]) — from the live ledger kept in memory
/// ([`LiveLedger`]), brought up to date first.
pub async fn deadline_counts(
    db: &DatabaseConnection,
    live: &LiveLedger,
    caller: &Principal,
    place: &org_unit::Model,
    group_by: GroupBy,
    window: &DeadlineWindow,
) -> Result<std::sync::Arc<live::Answer>, DbErr> {
    let counted = Counted {
        place: place.id,
        within: Within::of(db, place).await?,
        naming: match caller.actor {
            Actor::User { id } => Some(id),
            Actor::ApiToken { .. } => None,
        },
    };
    live.deadline_counts(db, &counted, group_by, window).await
}

/// The sum of the groups.
pub fn totals(groups: &[DeadlineGroup]) -> DeadlineCounts {
    let mut totals = DeadlineCounts::default();
    for group in groups {
        totals.add(&group.counts);
    }
    totals
}

/// What people read for each group key (places and departments from `kept`).
pub async fn group_names(
    db: &impl ConnectionTrait,
    kept: &NameCache,
    group_by: GroupBy,
    keys: &[Option<String>],
) -> Result<HashMap<Option<String>, String>, DbErr> {
    let ids: Vec<Uuid> = keys
        .iter()
        .flatten()
        .filter_map(|key| key.parse().ok())
        .collect();
    let by_id: HashMap<Uuid, String> = match group_by {
        GroupBy::Town | GroupBy::Village => kept.units(db, ids).await?,
        GroupBy::Department => kept.departments(db, ids).await?,
        GroupBy::Responsible => user_names(db, ids).await?,
        GroupBy::Level | GroupBy::Category => HashMap::new(),
    };
    Ok(keys
        .iter()
        .map(|key| {
            let name = match (group_by, key.as_deref()) {
                (GroupBy::Department, None) => "（未转办部门）".to_owned(),
                (_, None) => String::new(),
                (GroupBy::Level, Some(key)) => Level::try_from_value(&key.to_owned())
                    .map(|level| level.label().to_owned())
                    .unwrap_or_default(),
                (GroupBy::Category, Some(key)) => Category::try_from_value(&key.to_owned())
                    .map(|category| category.label().to_owned())
                    .unwrap_or_default(),
                (_, Some(key)) => key
                    .parse::<Uuid>()
                    .ok()
                    .and_then(|id| by_id.get(&id).cloned())
                    .unwrap_or_default(),
            };
            (key.clone(), name)
        })
        .collect())
}

/// Names of org units, by id (each id read once).
pub async fn unit_names(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, String>, DbErr> {
    let ids: std::collections::HashSet<Uuid> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(org_unit::Entity::find()
        .filter(org_unit::Column::Id.is_in(ids))
        .select_only()
        .column(org_unit::Column::Id)
        .column(org_unit::Column::Name)
        .into_tuple::<(Uuid, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// Display names of users, by id.
pub async fn user_names(
    db: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = Uuid>,
) -> Result<HashMap<Uuid, String>, DbErr> {
    let ids: std::collections::HashSet<Uuid> = ids.into_iter().collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::DisplayName)
        .into_tuple::<(Uuid, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// The campaign's span as UTC instants: from the first day's local midnight to the day after
/// the last (or after today, if the campaign is still running).
#[derive(Debug, Clone, Copy)]
pub struct Period {
    /// First local day.
    pub starts_on: NaiveDate,
    /// Last local day counted.
    pub ends_on: NaiveDate,
    /// `starts_on`'s local midnight.
    pub from: DateTime<Utc>,
    /// The local midnight after `ends_on`.
    pub until: DateTime<Utc>,
}

impl Period {
    /// The local days `starts_on` to `ends_on`, both included.
    pub fn days(
        clock: &crate::clock::LocalClock,
        starts_on: NaiveDate,
        ends_on: NaiveDate,
    ) -> Self {
        Self {
            starts_on,
            ends_on,
            from: clock.start_of(starts_on),
            until: clock.start_of(ends_on.succ_opt().unwrap_or(ends_on)),
        }
    }

    /// A campaign's days so far: from its first day to today (or its last day).
    pub fn campaign_so_far(
        clock: &crate::clock::LocalClock,
        campaign: &campaign::Model,
        today: NaiveDate,
    ) -> Self {
        let ends_on = Ord::max(Ord::min(today, campaign.ends_on), campaign.starts_on);
        Self::days(clock, campaign.starts_on, ends_on)
    }
}

/// The cadres a campaign's quotas and deed targets apply to: active users anchored in
/// `place` (or below it) whose position has a quota.
pub async fn campaign_cadres(
    db: &impl ConnectionTrait,
    place: &org_unit::Model,
    campaign: &campaign::Model,
) -> Result<Vec<user::Model>, DbErr> {
    let positions: Vec<Position> = campaign
        .quotas
        .0
        .iter()
        .map(|quota| quota.position)
        .collect();
    user::Entity::find()
        .filter(user::Column::Active.eq(true))
        .filter(user::Column::Position.is_in(positions))
        .filter(
            Condition::any()
                .add(user::Column::ScopeOrgUnitId.eq(place.id))
                .add(
                    Scope::Subtree {
                        kind: place.kind,
                        id: place.id,
                    }
                    .org_unit_condition(user::Column::ScopeOrgUnitId),
                ),
        )
        .order_by_asc(user::Column::DisplayName)
        .order_by_asc(user::Column::Id)
        .all(db)
        .await
}

/// Per cadre: household visits (repeats counted) and distinct households, in the period.
pub async fn visits_by_cadre(
    db: &impl ConnectionTrait,
    cadres: Vec<Uuid>,
    period: &Period,
) -> Result<HashMap<Uuid, (i64, i64)>, DbErr> {
    if cadres.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(visit::Entity::find()
        .select_only()
        .column(visit::Column::CadreId)
        .expr_as(Expr::cust("COUNT(visits.household_id)"), "visits")
        .expr_as(
            Expr::cust("COUNT(DISTINCT visits.household_id)"),
            "households",
        )
        .filter(visit::Column::CadreId.is_in(cadres))
        .filter(visit::Column::VisitedAt.gte(period.from))
        .filter(visit::Column::VisitedAt.lt(period.until))
        .group_by(visit::Column::CadreId)
        .into_tuple::<(Uuid, i64, i64)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(cadre, visits, households)| (cadre, (visits, households)))
        .collect())
}

/// The tags that make a household a visit priority (走访重点) for coverage.
pub const PRIORITY_TAGS: [HouseholdTag; 4] = [
    HouseholdTag::Hardship,
    HouseholdTag::Dissenting,
    HouseholdTag::FormerCadre,
    HouseholdTag::WealthLeader,
];

/// One village's coverage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Households on the roster.
    pub households: i64,
    /// Households visited at least once in the period.
    pub visited: i64,
    /// Priority households not visited in the period, per tag (in [`PRIORITY_TAGS`] order).
    pub priority_not_visited: [i64; 4],
    /// Priority households (any priority tag) not visited.
    pub priority_not_visited_total: i64,
}

/// Coverage of every village in `place` in the period, by village id.
pub async fn coverage_by_village(
    db: &impl ConnectionTrait,
    place: &org_unit::Model,
    period: &Period,
) -> Result<HashMap<Uuid, Coverage>, DbErr> {
    let mut coverage: HashMap<Uuid, Coverage> = HashMap::new();
    let in_place = within(
        place,
        household::Column::CountyId,
        household::Column::TownId,
        household::Column::VillageId,
    );
    let counts: Vec<(Uuid, i64)> = household::Entity::find()
        .select_only()
        .column(household::Column::VillageId)
        .expr_as(Expr::cust("COUNT(*)"), "households")
        .filter(in_place.clone())
        .group_by(household::Column::VillageId)
        .into_tuple()
        .all(db)
        .await?;
    for (village, households) in counts {
        coverage.entry(village).or_default().households = households;
    }
    let visited: Vec<(Uuid, i64)> = visit::Entity::find()
        .select_only()
        .column(visit::Column::VillageId)
        .expr_as(Expr::cust("COUNT(DISTINCT visits.household_id)"), "visited")
        .filter(within(
            place,
            visit::Column::CountyId,
            visit::Column::TownId,
            visit::Column::VillageId,
        ))
        .filter(visit::Column::HouseholdId.is_not_null())
        .filter(visit::Column::VisitedAt.gte(period.from))
        .filter(visit::Column::VisitedAt.lt(period.until))
        .group_by(visit::Column::VillageId)
        .into_tuple()
        .all(db)
        .await?;
    for (village, count) in visited {
        coverage.entry(village).or_default().visited = count;
    }
    let priority_bits = HouseholdTag::bits(&PRIORITY_TAGS);
    let per_tag = |tag: HouseholdTag| {
        Expr::cust(format!(
            "SUM(CASE WHEN (households.tags & {}) <> 0 THEN 1 ELSE 0 END)",
            tag.bit()
        ))
    };
    let unvisited: Vec<(Uuid, i64, i64, i64, i64, i64)> = household::Entity::find()
        .select_only()
        .column(household::Column::VillageId)
        .expr_as(Expr::cust("COUNT(*)"), "total")
        .expr_as(per_tag(PRIORITY_TAGS[0]), "tag0")
        .expr_as(per_tag(PRIORITY_TAGS[1]), "tag1")
        .expr_as(per_tag(PRIORITY_TAGS[2]), "tag2")
        .expr_as(per_tag(PRIORITY_TAGS[3]), "tag3")
        .filter(in_place)
        .filter(Expr::cust(format!(
            "(households.tags & {priority_bits}) <> 0"
        )))
        .filter(
            Expr::exists(
                Query::select()
                    .expr(Expr::val(1))
                    .from(visit::Entity)
                    .and_where(
                        Expr::col((visit::Entity, visit::Column::HouseholdId))
                            .equals((household::Entity, household::Column::Id)),
                    )
                    .and_where(visit::Column::VisitedAt.gte(period.from))
                    .and_where(visit::Column::VisitedAt.lt(period.until))
                    .to_owned(),
            )
            .not(),
        )
        .group_by(household::Column::VillageId)
        .into_tuple()
        .all(db)
        .await?;
    for (village, total, tag0, tag1, tag2, tag3) in unvisited {
        let entry = coverage.entry(village).or_default();
        entry.priority_not_visited_total = total;
        entry.priority_not_visited = [tag0, tag1, tag2, tag3];
    }
    Ok(coverage)
}

/// The villages (or towns) of a place, by name.
pub async fn units_in(
    db: &impl ConnectionTrait,
    place: &org_unit::Model,
    kind: OrgKind,
) -> Result<Vec<org_unit::Model>, DbErr> {
    org_unit::Entity::find()
        .filter(org_unit::Column::Kind.eq(kind))
        .filter(
            Scope::Subtree {
                kind: place.kind,
                id: place.id,
            }
            .org_unit_condition(org_unit::Column::Id),
        )
        .order_by_asc(org_unit::Column::Code)
        .all(db)
        .await
}

/// How satisfaction is grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SatisfactionBy {
    /// By cadre: issues they lead, visits they made.
    Cadre,
    /// By village.
    Village,
}

/// One group's satisfaction numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Satisfaction {
    /// Issues struck off (销号).
    pub closed: i64,
    /// Issues whose applicant answered (反馈) — their latest answer counts.
    pub answered: i64,
    /// Of those, satisfied.
    pub satisfied: i64,
    /// Visits whose 干部评价 has a rating.
    pub rated_visits: i64,
    /// The sum of those ratings (1–5 each).
    pub rating_sum: i64,
    /// How many ratings of 1, 2, 3, 4, 5.
    pub ratings: [i64; 5],
}

/// Satisfaction with the issues the caller may see, and the cadre ratings of visits, in
/// `place` during the period, grouped.
pub async fn satisfaction(
    db: &impl ConnectionTrait,
    caller: &Principal,
    place: &org_unit::Model,
    by: SatisfactionBy,
    period: &Period,
) -> Result<HashMap<Uuid, Satisfaction>, DbErr> {
    let issue_key = match by {
        SatisfactionBy::Cadre => issue::Column::LeadResponsibleId,
        SatisfactionBy::Village => issue::Column::VillageId,
    };
    let issues: Vec<(Uuid, i64, i64, i64)> = issue::Entity::find()
        .select_only()
        .column(issue_key)
        .expr_as(
            Expr::cust("SUM(CASE WHEN issues.status = 'closed' THEN 1 ELSE 0 END)"),
            "closed",
        )
        .expr_as(
            Expr::cust("SUM(CASE WHEN issues.applicant_satisfied IS NOT NULL THEN 1 ELSE 0 END)"),
            "answered",
        )
        .expr_as(
            Expr::cust("SUM(CASE WHEN issues.applicant_satisfied = TRUE THEN 1 ELSE 0 END)"),
            "satisfied",
        )
        .filter(ledger::conflict_condition(caller))
        .filter(within(
            place,
            issue::Column::CountyId,
            issue::Column::TownId,
            issue::Column::VillageId,
        ))
        .filter(Expr::cust(ledger::LEDGER_SQL))
        .filter(issue::Column::CreatedAt.gte(period.from))
        .filter(issue::Column::CreatedAt.lt(period.until))
        .group_by(issue_key)
        .into_tuple()
        .all(db)
        .await?;
    let visit_key = match by {
        SatisfactionBy::Cadre => visit::Column::CadreId,
        SatisfactionBy::Village => visit::Column::VillageId,
    };
    let rating = |value: i16| {
        Expr::cust(format!(
            "SUM(CASE WHEN visits.cadre_rating = {value} THEN 1 ELSE 0 END)"
        ))
    };
    let visits: Vec<(Uuid, i64, i64, i64, i64, i64)> = visit::Entity::find()
        .select_only()
        .column(visit_key)
        .expr_as(rating(1), "r1")
        .expr_as(rating(2), "r2")
        .expr_as(rating(3), "r3")
        .expr_as(rating(4), "r4")
        .expr_as(rating(5), "r5")
        .filter(within(
            place,
            visit::Column::CountyId,
            visit::Column::TownId,
            visit::Column::VillageId,
        ))
        .filter(visit::Column::CadreRating.is_not_null())
        .filter(visit::Column::VisitedAt.gte(period.from))
        .filter(visit::Column::VisitedAt.lt(period.until))
        .group_by(visit_key)
        .into_tuple()
        .all(db)
        .await?;
    let mut groups: HashMap<Uuid, Satisfaction> = HashMap::new();
    for (key, closed, answered, satisfied) in issues {
        let entry = groups.entry(key).or_default();
        entry.closed = closed;
        entry.answered = answered;
        entry.satisfied = satisfied;
    }
    for (key, r1, r2, r3, r4, r5) in visits {
        let entry = groups.entry(key).or_default();
        entry.ratings = [r1, r2, r3, r4, r5];
        entry.rated_visits = r1 + r2 + r3 + r4 + r5;
        entry.rating_sum = r1 + 2 * r2 + 3 * r3 + 4 * r4 + 5 * r5;
    }
    Ok(groups)
}

/// Per lead responsible person: deeds marked during the period, and of those the ones done
/// (resolved or struck off).
pub async fn deeds_by_cadre(
    db: &impl ConnectionTrait,
    caller: &Principal,
    place: &org_unit::Model,
    cadres: Vec<Uuid>,
    period: &Period,
) -> Result<HashMap<Uuid, (i64, i64)>, DbErr> {
    if cadres.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(deeds_grouped(
        db,
        caller,
        place,
        issue::Column::LeadResponsibleId,
        period,
        None,
    )
    .await?
    .into_iter()
    .filter(|(cadre, _)| cadres.contains(cadre))
    .collect())
}

/// Per town: deeds marked during the period, and those done; with `first_batch_due`, only the
/// deeds marked by the end of that day.
pub async fn deeds_by_town(
    db: &impl ConnectionTrait,
    caller: &Principal,
    place: &org_unit::Model,
    period: &Period,
    marked_before: Option<DateTime<Utc>>,
) -> Result<HashMap<Uuid, (i64, i64)>, DbErr> {
    deeds_grouped(
        db,
        caller,
        place,
        issue::Column::TownId,
        period,
        marked_before,
    )
    .await
}

async fn deeds_grouped(
    db: &impl ConnectionTrait,
    caller: &Principal,
    place: &org_unit::Model,
    key: issue::Column,
    period: &Period,
    marked_before: Option<DateTime<Utc>>,
) -> Result<HashMap<Uuid, (i64, i64)>, DbErr> {
    let mut query = issue::Entity::find()
        .select_only()
        .column(key)
        .expr_as(Expr::cust("COUNT(*)"), "marked")
        .expr_as(
            Expr::cust("SUM(CASE WHEN issues.status IN ('resolved', 'closed') THEN 1 ELSE 0 END)"),
            "done",
        )
        .filter(within(
            place,
            issue::Column::CountyId,
            issue::Column::TownId,
            issue::Column::VillageId,
        ))
        .filter(ledger::conflict_condition(caller))
        .filter(issue::Column::IsDeed.eq(true))
        .filter(issue::Column::CreatedAt.gte(period.from))
        .filter(issue::Column::CreatedAt.lt(period.until));
    if let Some(before) = marked_before {
        query = query.filter(issue::Column::CreatedAt.lt(before));
    }
    Ok(query
        .group_by(key)
        .into_tuple::<(Uuid, i64, i64)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(key, marked, done)| (key, (marked, done)))
        .collect())
}

/// A quota's progress: `met` at or above the target, `on_track` at or above the share of the
/// target the days elapsed call for, `behind` otherwise.
pub fn quota_status(done: i64, target: i64, expected: i64) -> &'static str {
    if done >= target {
        "met"
    } else if done >= expected {
        "on_track"
    } else {
        "behind"
    }
}

/// The part of `target` due by `today` if the work were spread evenly over the campaign
/// (rounded down): none before it starts, all of it from its last day.
pub fn expected_by(target: i64, starts_on: NaiveDate, ends_on: NaiveDate, today: NaiveDate) -> i64 {
    if today < starts_on {
        return 0;
    }
    let total = (ends_on - starts_on).num_days() + 1;
    let elapsed = (Ord::min(today, ends_on) - starts_on).num_days() + 1;
    if total <= 0 {
        return target;
    }
    target * elapsed / total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, month, day).expect("valid date")
    }

    #[test]
    fn the_expected_share_grows_with_the_days_elapsed() {
        // 1 April – 30 April: 30 days; on 15 April, 15 of them have passed.
        assert_eq!(expected_by(120, day(4, 1), day(4, 30), day(4, 15)), 60);
        assert_eq!(expected_by(120, day(4, 1), day(4, 30), day(3, 31)), 0);
        assert_eq!(expected_by(120, day(4, 1), day(4, 30), day(5, 20)), 120);
    }

    #[test]
    fn a_quota_is_met_on_track_or_behind() {
        assert_eq!(quota_status(120, 120, 120), "met");
        assert_eq!(quota_status(61, 120, 60), "on_track");
        assert_eq!(quota_status(59, 120, 60), "behind");
    }
}
