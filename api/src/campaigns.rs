//! The campaign (活动) as data: phases, visit quotas per position, deed targets and the
//! weights of the annual score. A town without its own campaign follows its county's; the
//! campaign that applies to a place on a day is [`current_for`], and the dashboards use it.

use chrono::{Datelike, NaiveDate, Utc};
use entity::{
    campaign::{self, Phase, Phases, Quota, QuotaMeasure, Quotas, Weights},
    org_unit::{self, OrgKind},
    user::Position,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, sea_query::Query,
};
use uuid::Uuid;

use crate::{
    access::Scope,
    error::{ApiError, ApiResult},
};

/// A campaign's content, as an admin writes it (create, or the result of an edit).
#[derive(Debug, Clone)]
pub struct CampaignSpec {
    /// Name.
    pub name: String,
    /// Year.
    pub year: i32,
    /// Phases, in order.
    pub phases: Vec<Phase>,
    /// Quotas per position.
    pub quotas: Vec<Quota>,
    /// Deeds each cadre must complete.
    pub deeds_per_cadre: i32,
    /// Deeds in each town's first batch.
    pub first_batch_deeds: i32,
    /// When the first batch is due.
    pub first_batch_due: NaiveDate,
    /// Weights of the annual score.
    pub weights: Weights,
}

impl CampaignSpec {
    /// The campaign the source documents describe, for a year: publicity 1–13 April,
    /// implementation 13 April – 31 December, summary in December; leaders ≥ 60 households,
    /// village-contact cadres ≥ 120 households, village officials ≥ 200 household visits;
    /// 2 deeds per cadre; a first batch of 12 per town by 30 April.
    pub fn standard(year: i32) -> Option<Self> {
        let day = |month, day| NaiveDate::from_ymd_opt(year, month, day);
        let phase = |key: &str, name: &str, starts_on, ends_on| Phase {
            key: key.to_owned(),
            name: name.to_owned(),
            starts_on,
            ends_on,
        };
        let quota = |position, measure, target| Quota {
            position,
            measure,
            target,
        };
        Some(Self {
            name: format!("{year}年“访民情·听民意·解民忧”活动"),
            year,
            phases: vec![
                phase("publicity", "宣传发动", day(4, 1)?, day(4, 13)?),
                phase("implementation", "扎实开展", day(4, 13)?, day(12, 31)?),
                phase("summary", "总结推广", day(12, 1)?, day(12, 31)?),
            ],
            quotas: vec![
                quota(Position::VillageContactLeader, QuotaMeasure::Households, 60),
                quota(Position::VillageContactCadre, QuotaMeasure::Households, 120),
                quota(Position::VillageOfficial, QuotaMeasure::Visits, 200),
            ],
            deeds_per_cadre: 2,
            first_batch_deeds: 12,
            first_batch_due: day(4, 30)?,
            weights: Weights::default(),
        })
    }

    /// The first and last day of the campaign: from its first phase's start to the latest end.
    pub fn span(&self) -> Option<(NaiveDate, NaiveDate)> {
        let starts_on = self.phases.iter().map(|phase| phase.starts_on).min()?;
        let ends_on = self.phases.iter().map(|phase| phase.ends_on).max()?;
        Some((starts_on, ends_on))
    }

    /// Checks the content: phases inside the year, in order, each with a start before its
    /// end; one quota per position; weights adding up to 100.
    pub fn check(&self) -> ApiResult<(NaiveDate, NaiveDate)> {
        let (starts_on, ends_on) = self.span().ok_or_else(|| {
            ApiError::invalid_field("phases", "required", "A campaign has at least one phase.")
        })?;
        for (index, phase) in self.phases.iter().enumerate() {
            let field = format!("phases[{index}]");
            for (name, text) in [("key", &phase.key), ("name", &phase.name)] {
                if !(1..=50).contains(&text.chars().count()) {
                    return Err(ApiError::invalid_field(
                        &format!("{field}.{name}"),
                        "length",
                        "1 to 50 characters.",
                    ));
                }
            }
            if phase.starts_on > phase.ends_on {
                return Err(ApiError::invalid_field(
                    &format!("{field}.ends_on"),
                    "before_start",
                    "A phase ends on or after the day it starts.",
                ));
            }
            if phase.starts_on.year() != self.year || phase.ends_on.year() != self.year {
                return Err(ApiError::invalid_field(
                    &field,
                    "outside_year",
                    format!("Every phase lies in the campaign year {}.", self.year),
                ));
            }
            if index > 0 && phase.starts_on < self.phases[index - 1].starts_on {
                return Err(ApiError::invalid_field(
                    &format!("{field}.starts_on"),
                    "out_of_order",
                    "Phases are listed in the order they start.",
                ));
            }
        }
        for (index, quota) in self.quotas.iter().enumerate() {
            if !(1..=100_000).contains(&quota.target) {
                return Err(ApiError::invalid_field(
                    &format!("quotas[{index}].target"),
                    "range",
                    "A quota is from 1 to 100,000.",
                ));
            }
            if self.quotas[..index]
                .iter()
                .any(|earlier| earlier.position == quota.position)
            {
                return Err(ApiError::invalid_field(
                    &format!("quotas[{index}].position"),
                    "duplicate",
                    "One quota per position.",
                ));
            }
        }
        let weights = self.weights;
        let parts = [
            weights.duties,
            weights.visits,
            weights.contacts,
            weights.issues_in_time,
            weights.satisfaction,
        ];
        if parts.iter().any(|part| !(0..=100).contains(part)) || parts.iter().sum::<i32>() != 100 {
            return Err(ApiError::invalid_field(
                "weights",
                "not_100",
                "The weights are percentages from 0 and add up to 100.",
            ));
        }
        if self.first_batch_due < starts_on || self.first_batch_due > ends_on {
            return Err(ApiError::invalid_field(
                "first_batch_due",
                "outside_campaign",
                "The first batch is due during the campaign.",
            ));
        }
        Ok((starts_on, ends_on))
    }

    /// Writes the content into a row.
    pub fn apply(self, row: &mut campaign::Model) -> ApiResult<()> {
        let (starts_on, ends_on) = self.check()?;
        row.name = self.name;
        row.year = self.year;
        row.starts_on = starts_on;
        row.ends_on = ends_on;
        row.phases = Phases(self.phases);
        row.quotas = Quotas(self.quotas);
        row.deeds_per_cadre = self.deeds_per_cadre;
        row.first_batch_deeds = self.first_batch_deeds;
        row.first_batch_due = self.first_batch_due;
        row.weights = self.weights;
        Ok(())
    }

    /// The content of a stored campaign (to edit it).
    pub fn of(row: &campaign::Model) -> Self {
        Self {
            name: row.name.clone(),
            year: row.year,
            phases: row.phases.0.clone(),
            quotas: row.quotas.0.clone(),
            deeds_per_cadre: row.deeds_per_cadre,
            first_batch_deeds: row.first_batch_deeds,
            first_batch_due: row.first_batch_due,
            weights: row.weights,
        }
    }
}

/// The quota of a position in a campaign, if it has one.
pub fn quota_of(campaign: &campaign::Model, position: Position) -> Option<&Quota> {
    campaign
        .quotas
        .0
        .iter()
        .find(|quota| quota.position == position)
}

/// Creates a campaign for a county or town in the caller's scope; one per unit and year.
pub async fn create_campaign(
    db: &impl ConnectionTrait,
    scope: &Scope,
    org_unit_id: Uuid,
    spec: CampaignSpec,
) -> ApiResult<campaign::Model> {
    let unit = crate::org::find_org_unit(db, scope, org_unit_id)
        .await?
        .ok_or_else(|| {
            ApiError::invalid_field(
                "org_unit_id",
                "not_found",
                "No such org unit in your scope.",
            )
        })?;
    if !matches!(unit.kind, OrgKind::County | OrgKind::Town) {
        return Err(ApiError::invalid_field(
            "org_unit_id",
            "wrong_level",
            "A campaign runs in a county or a town.",
        ));
    }
    let taken = campaign::Entity::find()
        .filter(campaign::Column::OrgUnitId.eq(unit.id))
        .filter(campaign::Column::Year.eq(spec.year))
        .one(db)
        .await?;
    if let Some(taken) = taken {
        return Err(ApiError::Conflict {
            code: "campaign_exists",
            detail: format!(
                "{} already has the campaign {} for {}; edit that one.",
                unit.name, taken.id, spec.year
            ),
        });
    }
    let now = Utc::now();
    let mut row = campaign::Model {
        id: Uuid::now_v7(),
        org_unit_id: unit.id,
        name: String::new(),
        year: spec.year,
        starts_on: NaiveDate::default(),
        ends_on: NaiveDate::default(),
        phases: Phases(Vec::new()),
        quotas: Quotas(Vec::new()),
        deeds_per_cadre: 0,
        first_batch_deeds: 0,
        first_batch_due: NaiveDate::default(),
        weights: Weights::default(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    spec.apply(&mut row)?;
    campaign::Entity::insert(campaign::ActiveModel::from(row.clone()))
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

/// Saves an edited campaign if nobody changed it since it was read; 412 otherwise.
pub async fn save_campaign(
    db: &impl ConnectionTrait,
    mut row: campaign::Model,
) -> ApiResult<campaign::Model> {
    let expected = row.version;
    row.version += 1;
    row.updated_at = Utc::now();
    let updated = campaign::Entity::update_many()
        .set(campaign::ActiveModel::from(row.clone()).reset_all())
        .filter(campaign::Column::Id.eq(row.id))
        .filter(campaign::Column::Version.eq(expected))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        let current = campaign::Entity::find_by_id(row.id)
            .one(db)
            .await?
            .map_or(expected, |stored| stored.version);
        return Err(ApiError::PreconditionFailed {
            current_version: i64::from(current),
        });
    }
    Ok(row)
}

/// Campaigns the caller may read: those of units in scope, and those of the town and
/// county above the caller's places (a cadre reads the campaign they work in).
pub async fn visible_condition(
    db: &impl ConnectionTrait,
    scope: &Scope,
) -> Result<Condition, DbErr> {
    if *scope == Scope::All {
        return Ok(Condition::all());
    }
    let places: Vec<(Uuid, Option<Uuid>)> = match scope {
        Scope::Department(department) => {
            let owner = Query::select()
                .column(entity::department::Column::OrgUnitId)
                .from(entity::department::Entity)
                .and_where(entity::department::Column::Id.eq(*department))
                .to_owned();
            org_unit::Entity::find()
                .filter(org_unit::Column::Id.in_subquery(owner))
                .select_only()
                .column(org_unit::Column::CountyId)
                .column(org_unit::Column::TownId)
                .into_tuple()
                .all(db)
                .await?
        }
        scope => {
            org_unit::Entity::find()
                .filter(scope.org_unit_condition(org_unit::Column::Id))
                .select_only()
                .column(org_unit::Column::CountyId)
                .column(org_unit::Column::TownId)
                .distinct()
                .into_tuple()
                .all(db)
                .await?
        }
    };
    let mut above: Vec<Uuid> = places
        .iter()
        .flat_map(|(county, town)| std::iter::once(*county).chain(*town))
        .collect();
    above.sort_unstable();
    above.dedup();
    Ok(Condition::any()
        .add(scope.org_unit_condition(campaign::Column::OrgUnitId))
        .add(campaign::Column::OrgUnitId.is_in(above)))
}

/// One campaign the caller may read.
pub async fn find_campaign(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: Uuid,
) -> Result<Option<campaign::Model>, DbErr> {
    campaign::Entity::find_by_id(id)
        .filter(visible_condition(db, scope).await?)
        .one(db)
        .await
}

/// The campaigns the caller may read, newest year first.
pub async fn list_campaigns(
    db: &impl ConnectionTrait,
    scope: &Scope,
    year: Option<i32>,
) -> Result<Vec<campaign::Model>, DbErr> {
    let mut query = campaign::Entity::find().filter(visible_condition(db, scope).await?);
    if let Some(year) = year {
        query = query.filter(campaign::Column::Year.eq(year));
    }
    query
        .order_by_desc(campaign::Column::Year)
        .order_by_asc(campaign::Column::Id)
        .limit(500)
        .all(db)
        .await
}

/// The campaign that applies to a place in a year: the place's town's own campaign if it
/// has one, else its county's.
pub async fn current_for(
    db: &impl ConnectionTrait,
    place: &org_unit::Model,
    year: i32,
) -> Result<Option<campaign::Model>, DbErr> {
    let candidates: Vec<Uuid> = std::iter::once(place.county_id)
        .chain(place.town_id)
        .chain(std::iter::once(place.id))
        .collect();
    let rows = campaign::Entity::find()
        .filter(campaign::Column::OrgUnitId.is_in(candidates))
        .filter(campaign::Column::Year.eq(year))
        .all(db)
        .await?;
    // The most local wins: the town's campaign over the county's.
    Ok(rows
        .into_iter()
        .max_by_key(|row| row.org_unit_id != place.county_id))
}

/// The campaign for a dashboard: the one asked for, or the current one of the place.
pub async fn for_dashboard(
    db: &impl ConnectionTrait,
    scope: &Scope,
    place: &org_unit::Model,
    campaign_id: Option<Uuid>,
    today: NaiveDate,
) -> ApiResult<campaign::Model> {
    match campaign_id {
        Some(id) => {
            let campaign = find_campaign(db, scope, id)
                .await?
                .ok_or_else(|| ApiError::NotFound("No such campaign.".to_owned()))?;
            // A place is measured against its own county's or town's campaign only.
            let applies = campaign.org_unit_id == place.county_id
                || Some(campaign.org_unit_id) == place.town_id
                || campaign.org_unit_id == place.id;
            if !applies {
                return Err(ApiError::invalid_field(
                    "campaign_id",
                    "not_for_place",
                    format!("That campaign does not run in {}.", place.name),
                ));
            }
            Ok(campaign)
        }
        None => current_for(db, place, today.year()).await?.ok_or_else(|| {
            ApiError::Conflict {
                code: "no_campaign",
                detail: format!(
                    "No campaign is set up for {} in {}; an admin creates one with POST /api/v1/campaigns.",
                    place.name,
                    today.year()
                ),
            }
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_campaign_follows_the_source_documents() {
        let spec = CampaignSpec::standard(2026).expect("2026 has these days");
        assert_eq!(
            spec.check().expect("valid"),
            (
                NaiveDate::from_ymd_opt(2026, 4, 1).expect("date"),
                NaiveDate::from_ymd_opt(2026, 12, 31).expect("date")
            )
        );
        assert_eq!(spec.quotas.len(), 3);
    }

    #[test]
    fn weights_must_add_up_to_a_hundred() {
        let mut spec = CampaignSpec::standard(2026).expect("valid");
        spec.weights.duties += 1;
        assert!(spec.check().is_err());
    }

    #[test]
    fn a_phase_outside_the_year_is_refused() {
        let mut spec = CampaignSpec::standard(2026).expect("valid");
        spec.phases[2].ends_on = NaiveDate::from_ymd_opt(2027, 1, 5).expect("date");
        assert!(spec.check().is_err());
    }
}
