//! `/api/v1/assessment`: 一测一考 — each cadre's score from duty days, visits, paired contacts,
//! issues resolved in time and residents' satisfaction, ranked within their town.

use actix_web::{get, web};
use chrono::NaiveDate;
use entity::{campaign::Weights, org_unit::OrgKind, user::Position};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::{
    assessment::{self, Part, Tally},
    auth::AuthUser,
    campaigns,
    dashboard::{self, Period},
    error::{ApiResult, Problem},
    routes::dashboard::{CampaignDashboardQuery, CampaignRef, PlaceRef},
    startup::AppState,
};

/// Registers the assessment route.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(get_assessment);
}

/// One part of a score.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartResponse {
    /// What was due: duty days past, the quota, paired households, issues due.
    pub due: i64,
    /// What was done.
    pub done: i64,
    /// `done / due`, capped at 1 (four decimals); null when nothing was due — the part then
    /// drops out and the other weights carry the score.
    pub rate: Option<f64>,
}

fn rounded(rate: Option<f64>) -> Option<f64> {
    rate.map(|rate| (rate * 10_000.0).round() / 10_000.0)
}

impl From<Part> for PartResponse {
    fn from(part: Part) -> Self {
        Self {
            due: part.due,
            done: part.done,
            rate: rounded(part.rate),
        }
    }
}

/// Residents' ratings (一测).
#[derive(Debug, Serialize, ToSchema)]
pub struct SatisfactionPart {
    /// 满意.
    pub satisfied: i64,
    /// 基本满意.
    pub basically_satisfied: i64,
    /// 不满意.
    pub unsatisfied: i64,
    /// (满意 + ½ 基本满意) / answers; null without answers.
    pub rate: Option<f64>,
}

impl From<Tally> for SatisfactionPart {
    fn from(tally: Tally) -> Self {
        Self {
            satisfied: tally.satisfied,
            basically_satisfied: tally.basically_satisfied,
            unsatisfied: tally.unsatisfied,
            rate: rounded(tally.rate()),
        }
    }
}

/// A cadre's assessment.
#[derive(Debug, Serialize, ToSchema)]
pub struct CadreScore {
    /// Rank within the town (equal scores share a rank).
    pub rank: usize,
    /// The cadre.
    pub user_id: Uuid,
    /// Name.
    pub name: String,
    /// Position.
    pub position: Position,
    /// 一线工作日: duty days kept of those past.
    pub duties: PartResponse,
    /// 走访: the quota's measure done of the target.
    pub visits: PartResponse,
    /// 结对联系: paired households the cadre visited, of those paired.
    pub contacts: PartResponse,
    /// 按时办结: issues resolved by their deadline, of those due.
    pub issues_in_time: PartResponse,
    /// 一测: residents' ratings.
    pub satisfaction: SatisfactionPart,
    /// 0–100 (two decimals); null when no part has data.
    pub score: Option<f64>,
}

/// A town's ranking.
#[derive(Debug, Serialize, ToSchema)]
pub struct TownRanking {
    /// The town.
    pub town_id: Option<Uuid>,
    /// Name.
    pub name: String,
    /// Its cadres, best first.
    pub cadres: Vec<CadreScore>,
}

/// The assessment of a place's cadres.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssessmentResponse {
    /// The place.
    pub org_unit: PlaceRef,
    /// The campaign (its weights and quotas apply).
    pub campaign: CampaignRef,
    /// First day counted.
    pub from: NaiveDate,
    /// Last day counted.
    pub to: NaiveDate,
    /// The weights (percent).
    pub weights: Weights,
    /// Per town, the ranking.
    pub towns: Vec<TownRanking>,
}

/// 一测一考: each cadre's score over the campaign so far — duty days kept, visits against the
/// quota, paired contacts visited, issues resolved in time, residents' satisfaction — weighted
/// by the campaign's weights and ranked within each town.
#[utoipa::path(
    tag = "assessment",
    params(CampaignDashboardQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The assessment.", body = AssessmentResponse),
        (status = 404, description = "No such org unit or campaign in your scope.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No campaign is set up for the place this year.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/assessment")]
async fn get_assessment(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<CampaignDashboardQuery>,
) -> ApiResult<web::Json<AssessmentResponse>> {
    let place = dashboard::place_of(&state.db, user.scope(), query.org_unit_id).await?;
    let today = state.clock.today();
    let campaign =
        campaigns::for_dashboard(&state.db, user.scope(), &place, query.campaign_id, today).await?;
    let period = Period::campaign_so_far(&state.clock, &campaign, today);
    let assessed = assessment::assess(&state.db, &state.clock, &place, &campaign, &period).await?;
    let towns = match place.kind {
        OrgKind::County => dashboard::units_in(&state.db, &place, OrgKind::Town).await?,
        OrgKind::Town => vec![place.clone()],
        _ => Vec::new(),
    };
    let mut rankings: Vec<TownRanking> = towns
        .into_iter()
        .map(|town| TownRanking {
            town_id: Some(town.id),
            name: town.name,
            cadres: Vec::new(),
        })
        .collect();
    for cadre in assessed {
        let index = match rankings
            .iter()
            .position(|ranking| ranking.town_id == cadre.town_id && ranking.town_id.is_some())
        {
            Some(index) => index,
            None => {
                rankings.push(TownRanking {
                    town_id: cadre.town_id,
                    name: String::new(),
                    cadres: Vec::new(),
                });
                rankings.len() - 1
            }
        };
        rankings[index].cadres.push(CadreScore {
            rank: 0,
            user_id: cadre.cadre.id,
            name: cadre.cadre.display_name,
            position: cadre.cadre.position,
            duties: cadre.duties.into(),
            visits: cadre.visits.into(),
            contacts: cadre.contacts.into(),
            issues_in_time: cadre.issues_in_time.into(),
            satisfaction: cadre.satisfaction.into(),
            score: cadre.score,
        });
    }
    for ranking in &mut rankings {
        let scores: Vec<Option<f64>> = ranking.cadres.iter().map(|cadre| cadre.score).collect();
        for (cadre, rank) in ranking.cadres.iter_mut().zip(assessment::ranks(&scores)) {
            cadre.rank = rank;
        }
        ranking
            .cadres
            .sort_by(|a, b| a.rank.cmp(&b.rank).then_with(|| a.name.cmp(&b.name)));
    }
    Ok(web::Json(AssessmentResponse {
        org_unit: PlaceRef::from(&place),
        campaign: CampaignRef::from(&campaign),
        from: period.starts_on,
        to: period.ends_on,
        weights: campaign.weights,
        towns: rankings,
    }))
}
