//! 一测一考, the cadres' assessment. *一测*: residents' satisfaction surveys — a leader opens
//! a round in a village; residents rate each of the village's cadres (满意 / 基本满意 / 不满意),
//! recorded by a cadre or through the public link with a one-time code. *一考*: the daily
//! work — duty days kept, visits against the quota, paired contacts kept, issues resolved in
//! time. The score combines the five parts with the campaign's weights.

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use entity::{
    campaign::{self, Weights},
    duty, household, issue, org_unit, pairing,
    survey::{self, RatedCadres, Rating},
    user::{self, Position},
    village_assignment, visit,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait, Func, Query, SimpleExpr},
};
use uuid::Uuid;

use crate::{
    access::Scope,
    auth::token::secret_hash,
    campaigns,
    clock::LocalClock,
    dashboard::{self, Period},
    error::{ApiError, ApiResult},
    households,
};

/// The letters of a one-time code: no 0/O, 1/I/L, so that a code read off paper is typed right.
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// Most codes made at once.
pub const MAX_CODES: u32 = 500;

/// A round's rated cadres: those assigned to the village on `day`, and its village officials.
pub async fn village_cadres(
    db: &impl ConnectionTrait,
    village_id: Uuid,
    day: NaiveDate,
) -> Result<Vec<Uuid>, DbErr> {
    let assigned: Vec<Uuid> = village_assignment::Entity::find()
        .filter(village_assignment::Column::VillageId.eq(village_id))
        .filter(village_assignment::Column::StartsOn.lte(day))
        .filter(
            Condition::any()
                .add(village_assignment::Column::EndsOn.is_null())
                .add(village_assignment::Column::EndsOn.gte(day)),
        )
        .select_only()
        .column(village_assignment::Column::UserId)
        .into_tuple()
        .all(db)
        .await?;
    let mut cadres: Vec<Uuid> = user::Entity::find()
        .filter(user::Column::Active.eq(true))
        .filter(
            Condition::any().add(user::Column::Id.is_in(assigned)).add(
                Condition::all()
                    .add(user::Column::ScopeOrgUnitId.eq(village_id))
                    .add(user::Column::Position.eq(Position::VillageOfficial)),
            ),
        )
        .select_only()
        .column(user::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    cadres.sort_unstable();
    Ok(cadres)
}

/// What a new round needs.
#[derive(Debug, Clone)]
pub struct NewRound {
    /// The village.
    pub village_id: Uuid,
    /// Title.
    pub title: String,
    /// First day.
    pub opens_on: NaiveDate,
    /// Last day.
    pub closes_on: NaiveDate,
}

/// Opens a round in a village in scope, rating the village's cadres of today.
pub async fn create_round(
    db: &impl ConnectionTrait,
    scope: &Scope,
    created_by: Uuid,
    today: NaiveDate,
    new: NewRound,
) -> ApiResult<survey::round::Model> {
    let place = households::village_in_scope(db, scope, new.village_id, "village_id").await?;
    if new.closes_on < new.opens_on {
        return Err(ApiError::invalid_field(
            "closes_on",
            "before_opens_on",
            "A round closes on or after the day it opens.",
        ));
    }
    // One round at a time per village: the 一测 counts every answer of the period, so two
    // rounds over the same days (a retried request, two leaders) would count it twice. The
    // village is locked until the commit (PostgreSQL; SQLite's writers take turns), so two
    // concurrent openings cannot both find the days free.
    // `FOR NO KEY UPDATE`: it serialises openings of the village's rounds without waiting
    // for the key-share locks every insert referencing the village takes (a push, a visit).
    org_unit::Entity::find_by_id(place.village_id)
        .lock(sea_orm::sea_query::LockType::NoKeyUpdate)
        .one(db)
        .await?;
    if let Some(existing) = survey::round::Entity::find()
        .filter(survey::round::Column::VillageId.eq(place.village_id))
        .filter(survey::round::Column::OpensOn.lte(new.closes_on))
        .filter(survey::round::Column::ClosesOn.gte(new.opens_on))
        .one(db)
        .await?
    {
        return Err(ApiError::Conflict {
            code: "overlapping_round",
            detail: format!(
                "The village's round {} `{}` ({} to {}) covers some of these days already.",
                existing.id, existing.title, existing.opens_on, existing.closes_on
            ),
        });
    }
    let cadres = village_cadres(db, new.village_id, today).await?;
    if cadres.is_empty() {
        return Err(ApiError::invalid_field(
            "village_id",
            "no_cadres",
            "Nobody is assigned to this village: there is no one to rate.",
        ));
    }
    let row = survey::round::Model {
        id: Uuid::now_v7(),
        county_id: place.county_id,
        town_id: place.town_id,
        village_id: place.village_id,
        title: new.title,
        opens_on: new.opens_on,
        closes_on: new.closes_on,
        cadres: RatedCadres(cadres),
        created_by,
        created_at: Utc::now(),
    };
    survey::round::Entity::insert(survey::round::ActiveModel::from(row.clone()))
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

/// Rounds of villages in scope.
pub fn round_condition(scope: &Scope) -> Condition {
    scope.village_condition(
        survey::round::Column::CountyId,
        survey::round::Column::TownId,
        survey::round::Column::VillageId,
    )
}

/// One round the caller may see.
pub async fn find_round(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: Uuid,
) -> Result<Option<survey::round::Model>, DbErr> {
    survey::round::Entity::find_by_id(id)
        .filter(round_condition(scope))
        .one(db)
        .await
}

/// The rounds the caller may see, newest first (at most 500).
pub async fn list_rounds(
    db: &impl ConnectionTrait,
    scope: &Scope,
    village_id: Option<Uuid>,
) -> Result<Vec<survey::round::Model>, DbErr> {
    let mut query = survey::round::Entity::find().filter(round_condition(scope));
    if let Some(village_id) = village_id {
        query = query.filter(survey::round::Column::VillageId.eq(village_id));
    }
    query
        .order_by_desc(survey::round::Column::OpensOn)
        .order_by_desc(survey::round::Column::Id)
        .limit(500)
        .all(db)
        .await
}

/// Who gave a response.
#[derive(Debug, Clone)]
pub enum Respondent {
    /// A cadre recorded a resident's answers, for the resident's household.
    Recorded {
        /// The cadre.
        by: Uuid,
        /// The household (each answers a round once).
        household_id: Uuid,
    },
    /// A resident answered through the public link with a one-time code.
    Code {
        /// The code's hash.
        code_hash: String,
    },
}

/// Stores a response: the round must be open today, each rated cadre one of the round's,
/// each once. A response id seen before is `Ok(false)` (a retry), nothing stored again.
pub async fn record_response(
    db: &impl ConnectionTrait,
    round: &survey::round::Model,
    today: NaiveDate,
    id: Uuid,
    respondent: Respondent,
    answers: &[(Uuid, Rating)],
) -> ApiResult<bool> {
    if let Some(existing) = survey::response::Entity::find_by_id(id).one(db).await? {
        if existing.round_id != round.id {
            return Err(ApiError::Conflict {
                code: "id_taken",
                detail: format!("Response {id} belongs to another round."),
            });
        }
        if !same_response(db, &existing, &respondent, answers).await? {
            return Err(ApiError::Conflict {
                code: "id_taken",
                detail: format!(
                    "Response {id} was recorded for another household or with other answers."
                ),
            });
        }
        return Ok(false);
    }
    if today < round.opens_on || today > round.closes_on {
        return Err(ApiError::Conflict {
            code: "survey_closed",
            detail: format!(
                "The round takes answers from {} to {}.",
                round.opens_on, round.closes_on
            ),
        });
    }
    if answers.is_empty() {
        return Err(ApiError::invalid_field(
            "answers",
            "required",
            "Rate at least one cadre.",
        ));
    }
    for (index, (cadre, _)) in answers.iter().enumerate() {
        if !round.cadres.0.contains(cadre) {
            return Err(ApiError::invalid_field(
                &format!("answers[{index}].cadre_id"),
                "not_rated",
                "This round does not rate that cadre.",
            ));
        }
        if answers[..index].iter().any(|(earlier, _)| earlier == cadre) {
            return Err(ApiError::invalid_field(
                &format!("answers[{index}].cadre_id"),
                "duplicate",
                "Each cadre is rated once per response.",
            ));
        }
    }
    let (household_id, recorded_by, code_hash) = match respondent {
        Respondent::Recorded { by, household_id } => {
            // The people rated are usually the ones with the questionnaire: a recorder never
            // rates themself, and each household answers once, so a round cannot be stuffed.
            if let Some(index) = answers.iter().position(|(cadre, _)| *cadre == by) {
                return Err(ApiError::invalid_field(
                    &format!("answers[{index}].cadre_id"),
                    "self_rating",
                    "A cadre does not record a rating of themself; the resident can answer with a code.",
                ));
            }
            let in_village = household::Entity::find_by_id(household_id)
                .filter(household::Column::VillageId.eq(round.village_id))
                .one(db)
                .await?
                .is_some();
            if !in_village {
                return Err(ApiError::invalid_field(
                    "household_id",
                    "not_found",
                    "No such household in the round's village.",
                ));
            }
            let answered = survey::response::Entity::find()
                .filter(survey::response::Column::RoundId.eq(round.id))
                .filter(survey::response::Column::HouseholdId.eq(household_id))
                .one(db)
                .await?
                .is_some();
            if answered {
                return Err(ApiError::Conflict {
                    code: "household_answered",
                    detail: "This household has answered this round already.".to_owned(),
                });
            }
            (Some(household_id), Some(by), None)
        }
        Respondent::Code { code_hash } => (None, None, Some(code_hash)),
    };
    survey::response::Entity::insert(survey::response::ActiveModel::from(
        survey::response::Model {
            id,
            round_id: round.id,
            household_id,
            recorded_by,
            code_hash,
            created_at: Utc::now(),
        },
    ))
    .exec_without_returning(db)
    .await?;
    survey::answer::Entity::insert_many(answers.iter().map(|(cadre, rating)| {
        survey::answer::ActiveModel::from(survey::answer::Model {
            response_id: id,
            cadre_id: *cadre,
            round_id: round.id,
            rating: *rating,
        })
    }))
    .exec_without_returning(db)
    .await?;
    Ok(true)
}

/// Whether a stored response is the one sent again (a retry): the same respondent, the same
/// ratings. Anything else under its id is another response, refused rather than lost.
async fn same_response(
    db: &impl ConnectionTrait,
    stored: &survey::response::Model,
    respondent: &Respondent,
    answers: &[(Uuid, Rating)],
) -> Result<bool, DbErr> {
    let same_respondent = match respondent {
        Respondent::Recorded { by, household_id } => {
            stored.household_id == Some(*household_id) && stored.recorded_by == Some(*by)
        }
        Respondent::Code { code_hash } => stored.code_hash.as_ref() == Some(code_hash),
    };
    if !same_respondent {
        return Ok(false);
    }
    let mut stored_answers: Vec<(Uuid, Rating)> = survey::answer::Entity::find()
        .filter(survey::answer::Column::ResponseId.eq(stored.id))
        .all(db)
        .await?
        .into_iter()
        .map(|answer| (answer.cadre_id, answer.rating))
        .collect();
    let mut sent = answers.to_vec();
    stored_answers.sort_by_key(|(cadre, _)| *cadre);
    sent.sort_by_key(|(cadre, _)| *cadre);
    Ok(stored_answers == sent)
}

/// Makes `count` one-time codes for a round; returns them (shown once, stored hashed).
pub async fn create_codes(
    db: &impl ConnectionTrait,
    round: &survey::round::Model,
    count: u32,
) -> ApiResult<Vec<String>> {
    let mut codes = Vec::with_capacity(count as usize);
    let now = Utc::now();
    let mut rows = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let code = new_code()?;
        rows.push(survey::code::ActiveModel::from(survey::code::Model {
            code_hash: secret_hash(&normalise_code(&code)),
            round_id: round.id,
            created_at: now,
            used_at: None,
        }));
        codes.push(code);
    }
    survey::code::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(codes)
}

/// A fresh code: 12 letters (~59 bits) in groups of four, `7KQ4-MZ2P-W8HD`.
fn new_code() -> ApiResult<String> {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).map_err(|error| ApiError::Internal(error.to_string().into()))?;
    let letters: Vec<char> = bytes
        .iter()
        .map(|byte| char::from(CODE_ALPHABET[usize::from(*byte) % CODE_ALPHABET.len()]))
        .collect();
    Ok(letters
        .chunks(4)
        .map(|chunk| chunk.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-"))
}

/// A code as typed: upper case, without spaces or dashes.
pub fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|letter| letter.is_ascii_alphanumeric())
        .map(|letter| letter.to_ascii_uppercase())
        .collect()
}

/// Looks a code up without writing: 404 for an unknown code, 409 for a used one. The public
/// endpoint asks this before it takes a write turn, so guessing codes never holds up writers.
pub async fn check_code(db: &impl ConnectionTrait, code: &str) -> ApiResult<()> {
    let row = survey::code::Entity::find_by_id(secret_hash(&normalise_code(code)))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such survey code.".to_owned()))?;
    if row.used_at.is_some() {
        return Err(code_used());
    }
    Ok(())
}

fn code_used() -> ApiError {
    ApiError::Conflict {
        code: "code_used",
        detail: "This code has been used already; each code answers once. If you have just \
                 sent your answers with it, they were recorded."
            .to_owned(),
    }
}

/// Takes a one-time code: its round if the code exists and is unused (then marked used).
pub async fn take_code(
    db: &impl ConnectionTrait,
    code: &str,
) -> ApiResult<(survey::round::Model, String)> {
    let code_hash = secret_hash(&normalise_code(code));
    let unknown = || ApiError::NotFound("No such survey code.".to_owned());
    let row = survey::code::Entity::find_by_id(code_hash.clone())
        .one(db)
        .await?
        .ok_or_else(unknown)?;
    // Marked used in the same statement that checks it, so that two answers racing on one
    // code cannot both count.
    let taken = survey::code::Entity::update_many()
        .col_expr(survey::code::Column::UsedAt, Expr::value(Utc::now()))
        .filter(survey::code::Column::CodeHash.eq(code_hash.clone()))
        .filter(survey::code::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    if taken.rows_affected == 0 {
        return Err(code_used());
    }
    let round = survey::round::Entity::find_by_id(row.round_id)
        .one(db)
        .await?
        .ok_or_else(unknown)?;
    Ok((round, code_hash))
}

/// Counts of each rating.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// 满意.
    pub satisfied: i64,
    /// 基本满意.
    pub basically_satisfied: i64,
    /// 不满意.
    pub unsatisfied: i64,
}

impl Tally {
    /// Answers in all.
    pub fn answers(&self) -> i64 {
        self.satisfied + self.basically_satisfied + self.unsatisfied
    }

    /// The satisfaction rate: 满意 counts 1, 基本满意 ½, 不满意 0; none without answers.
    pub fn rate(&self) -> Option<f64> {
        let answers = self.answers();
        (answers > 0).then(|| {
            (self.satisfied as f64 + 0.5 * self.basically_satisfied as f64) / answers as f64
        })
    }
}

fn count_rating(rating: &str) -> SimpleExpr {
    Func::sum(Expr::case(Expr::col(survey::answer::Column::Rating).eq(rating), 1).finally(0)).into()
}

/// Tallies per cadre over the answers matching `condition`.
async fn tallies(
    db: &impl ConnectionTrait,
    condition: Condition,
) -> Result<HashMap<Uuid, Tally>, DbErr> {
    Ok(survey::answer::Entity::find()
        .select_only()
        .column(survey::answer::Column::CadreId)
        .expr_as(count_rating("satisfied"), "satisfied")
        .expr_as(count_rating("basically_satisfied"), "basically")
        .expr_as(count_rating("unsatisfied"), "unsatisfied")
        .filter(condition)
        .group_by(survey::answer::Column::CadreId)
        .into_tuple::<(Uuid, i64, i64, i64)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(cadre, satisfied, basically_satisfied, unsatisfied)| {
            (
                cadre,
                Tally {
                    satisfied,
                    basically_satisfied,
                    unsatisfied,
                },
            )
        })
        .collect())
}

/// A round's results per cadre.
pub async fn round_results(
    db: &impl ConnectionTrait,
    round: &survey::round::Model,
) -> Result<HashMap<Uuid, Tally>, DbErr> {
    tallies(
        db,
        Condition::all().add(survey::answer::Column::RoundId.eq(round.id)),
    )
    .await
}

/// A part of the score: how much was due, how much was done, and the rate (none when nothing
/// was due — the part then drops out of the score and the other weights carry it).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Part {
    /// Due (duties, quota, paired households, issues due, answers).
    pub due: i64,
    /// Done.
    pub done: i64,
    /// 0–1.
    pub rate: Option<f64>,
}

impl Part {
    fn of(done: i64, due: i64) -> Self {
        Self {
            due,
            done,
            rate: (due > 0).then(|| (done as f64 / due as f64).min(1.0)),
        }
    }
}

/// One cadre's assessment.
#[derive(Debug, Clone)]
pub struct Assessment {
    /// The cadre.
    pub cadre: user::Model,
    /// The town the cadre works in.
    pub town_id: Option<Uuid>,
    /// Duty days kept of those past.
    pub duties: Part,
    /// Quota done (visits or households) of the target.
    pub visits: Part,
    /// Paired households visited by the cadre, of those paired.
    pub contacts: Part,
    /// Issues resolved by their deadline, of those due.
    pub issues_in_time: Part,
    /// The residents' ratings.
    pub satisfaction: Tally,
    /// 0–100, two decimals; none when no part has data.
    pub score: Option<f64>,
}

/// The score: the weighted mean of the parts that have data, as a percentage.
pub fn score(weights: &Weights, parts: [Option<f64>; 5]) -> Option<f64> {
    let weights = [
        weights.duties,
        weights.visits,
        weights.contacts,
        weights.issues_in_time,
        weights.satisfaction,
    ];
    let (sum, total) = parts
        .iter()
        .zip(weights)
        .filter_map(|(rate, weight)| rate.map(|rate| (rate * f64::from(weight), weight)))
        .fold((0.0, 0), |(sum, total), (value, weight)| {
            (sum + value, total + weight)
        });
    (total > 0).then(|| (sum / f64::from(total) * 100.0 * 100.0).round() / 100.0)
}

/// Assesses the campaign's cadres anchored in `place` over the period.
pub async fn assess(
    db: &impl ConnectionTrait,
    clock: &LocalClock,
    place: &org_unit::Model,
    campaign: &campaign::Model,
    period: &Period,
) -> Result<Vec<Assessment>, DbErr> {
    let cadres = dashboard::campaign_cadres(db, place, campaign).await?;
    let ids: Vec<Uuid> = cadres.iter().map(|cadre| cadre.id).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let today = clock.today();
    let duties: HashMap<Uuid, (i64, i64)> = duty::Entity::find()
        .select_only()
        .column(duty::Column::UserId)
        .expr_as(Expr::cust("COUNT(*)"), "due")
        .expr_as(
            Expr::cust(format!(
                "SUM(CASE WHEN {} THEN 1 ELSE 0 END)",
                crate::duties::KEPT_SQL
            )),
            "kept",
        )
        .filter(duty::Column::UserId.is_in(ids.clone()))
        .filter(duty::Column::DutyDate.gte(period.starts_on))
        .filter(duty::Column::DutyDate.lte(period.ends_on))
        .filter(duty::Column::DutyDate.lt(today))
        .group_by(duty::Column::UserId)
        .into_tuple::<(Uuid, i64, i64)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(user, due, kept)| (user, (due, kept)))
        .collect();
    let visits = dashboard::visits_by_cadre(db, ids.clone(), period).await?;
    let visited_by_pair = Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from(visit::Entity)
            .and_where(
                Expr::col((visit::Entity, visit::Column::HouseholdId))
                    .equals((pairing::Entity, pairing::Column::HouseholdId)),
            )
            .and_where(
                Expr::col((visit::Entity, visit::Column::CadreId))
                    .equals((pairing::Entity, pairing::Column::CadreId)),
            )
            .and_where(visit::Column::VisitedAt.gte(period.from))
            .and_where(visit::Column::VisitedAt.lt(period.until))
            .to_owned(),
    );
    let contacts: HashMap<Uuid, (i64, i64)> = pairing::Entity::find()
        .select_only()
        .column(pairing::Column::CadreId)
        .expr_as(Expr::cust("COUNT(*)"), "paired")
        .expr_as(
            SimpleExpr::from(Func::sum(Expr::case(visited_by_pair, 1).finally(0))),
            "visited",
        )
        .filter(pairing::Column::CadreId.is_in(ids.clone()))
        .group_by(pairing::Column::CadreId)
        .into_tuple::<(Uuid, i64, i64)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(cadre, paired, visited)| (cadre, (paired, visited)))
        .collect();
    // Resolved "by the deadline" is a local-date question; the rows are few per cadre, so
    // the comparison is made here rather than in engine-specific SQL.
    let due_issues: Vec<(Uuid, Option<NaiveDate>, Option<chrono::DateTime<Utc>>)> =
        issue::Entity::find()
            .select_only()
            .column(issue::Column::LeadResponsibleId)
            .column(issue::Column::Deadline)
            .column(issue::Column::ResolvedAt)
            .filter(issue::Column::LeadResponsibleId.is_in(ids.clone()))
            .filter(issue::Column::AnsweredOnSpot.eq(false))
            .filter(issue::Column::Deadline.gte(period.starts_on))
            .filter(issue::Column::Deadline.lte(period.ends_on))
            .filter(issue::Column::Deadline.lt(today))
            .into_tuple()
            .all(db)
            .await?;
    let mut in_time: HashMap<Uuid, (i64, i64)> = HashMap::new();
    for (lead, deadline, resolved_at) in due_issues {
        let entry = in_time.entry(lead).or_default();
        entry.0 += 1;
        if let (Some(deadline), Some(resolved_at)) = (deadline, resolved_at)
            && clock.date_of(resolved_at) <= deadline
        {
            entry.1 += 1;
        }
    }
    let rounds = Query::select()
        .column(survey::round::Column::Id)
        .from(survey::round::Entity)
        .and_where(survey::round::Column::OpensOn.lte(period.ends_on))
        .and_where(survey::round::Column::ClosesOn.gte(period.starts_on))
        .to_owned();
    let ratings = tallies(
        db,
        Condition::all()
            .add(survey::answer::Column::CadreId.is_in(ids))
            .add(survey::answer::Column::RoundId.in_subquery(rounds)),
    )
    .await?;
    let anchors: HashMap<Uuid, org_unit::Model> = org_unit::Entity::find()
        .filter(
            org_unit::Column::Id.is_in(cadres.iter().filter_map(|cadre| cadre.scope_org_unit_id)),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|unit| (unit.id, unit))
        .collect();
    Ok(cadres
        .into_iter()
        .map(|cadre| {
            let (duties_due, kept) = duties.get(&cadre.id).copied().unwrap_or_default();
            let (_, households) = visits.get(&cadre.id).copied().unwrap_or_default();
            let quota = campaigns::quota_of(campaign, cadre.position);
            let visits_part = match quota {
                Some(quota) => {
                    let (all_visits, households) =
                        visits.get(&cadre.id).copied().unwrap_or_default();
                    let done = match quota.measure {
                        campaign::QuotaMeasure::Households => households,
                        campaign::QuotaMeasure::Visits => all_visits,
                    };
                    Part::of(done, i64::from(quota.target))
                }
                None => Part::of(households, 0),
            };
            let (paired, visited) = contacts.get(&cadre.id).copied().unwrap_or_default();
            let (issues_due, resolved) = in_time.get(&cadre.id).copied().unwrap_or_default();
            let satisfaction = ratings.get(&cadre.id).copied().unwrap_or_default();
            let duties = Part::of(kept, duties_due);
            let contacts = Part::of(visited, paired);
            let issues_in_time = Part::of(resolved, issues_due);
            let score = score(
                &campaign.weights,
                [
                    duties.rate,
                    visits_part.rate,
                    contacts.rate,
                    issues_in_time.rate,
                    satisfaction.rate(),
                ],
            );
            let town_id = cadre
                .scope_org_unit_id
                .and_then(|anchor| anchors.get(&anchor))
                .and_then(|unit| match unit.kind {
                    org_unit::OrgKind::Town => Some(unit.id),
                    _ => unit.town_id,
                });
            Assessment {
                cadre,
                town_id,
                duties,
                visits: visits_part,
                contacts,
                issues_in_time,
                satisfaction,
                score,
            }
        })
        .collect())
}

/// Ranks scores, best first: equal scores share a rank (1, 1, 3); no score ranks last.
pub fn ranks(scores: &[Option<f64>]) -> Vec<usize> {
    scores
        .iter()
        .map(|score| {
            1 + scores
                .iter()
                .filter(|other| match (other, score) {
                    (Some(other), Some(score)) => other > score,
                    (Some(_), None) => true,
                    _ => false,
                })
                .count()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_score_is_the_weighted_mean_of_the_parts_with_data() {
        let weights = Weights {
            duties: 20,
            visits: 25,
            contacts: 15,
            issues_in_time: 20,
            satisfaction: 20,
        };
        // 20×1 + 25×0.5 + 15×0 + 20×1 + 20×0.75 = 67.5 of 100.
        assert_eq!(
            score(
                &weights,
                [Some(1.0), Some(0.5), Some(0.0), Some(1.0), Some(0.75)]
            ),
            Some(67.5)
        );
        // Without duties or surveys: (25×0.5 + 15×0 + 20×1) / 60 = 54.17.
        assert_eq!(
            score(&weights, [None, Some(0.5), Some(0.0), Some(1.0), None]),
            Some(54.17)
        );
        assert_eq!(score(&weights, [None; 5]), None);
    }

    #[test]
    fn equal_scores_share_a_rank_and_no_score_comes_last() {
        assert_eq!(
            ranks(&[Some(80.0), Some(90.0), Some(80.0), None]),
            vec![2, 1, 2, 4]
        );
    }

    #[test]
    fn codes_read_off_paper_are_forgiving() {
        assert_eq!(normalise_code("7kq4-mz2p w8hd"), "7KQ4MZ2PW8HD");
        let code = new_code().expect("random");
        assert_eq!(code.len(), 14);
        assert!(
            normalise_code(&code)
                .bytes()
                .all(|letter| CODE_ALPHABET.contains(&letter))
        );
    }

    #[test]
    fn basically_satisfied_counts_half() {
        let tally = Tally {
            satisfied: 2,
            basically_satisfied: 1,
            unsatisfied: 1,
        };
        assert_eq!(tally.rate(), Some(0.625));
    }
}
