//! `/api/v1/campaigns`: the campaign as data — phases, quotas, deed targets, score weights.
//! Admins write them; everyone reads the campaigns that concern their places.

use actix_web::{HttpRequest, HttpResponse, get, http::header, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use entity::campaign::{self, Phase, Quota, Weights};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;
use validator::Validate;

use crate::{
    audit::{self, AuditEntry},
    auth::AuthUser,
    campaigns::{self, CampaignSpec},
    concurrency,
    db::begin_write,
    error::{ApiError, ApiResult, Problem},
    org,
    startup::AppState,
};

/// Registers the campaign routes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_campaigns)
        .service(get_current_campaign)
        .service(create_campaign)
        .service(get_campaign)
        .service(update_campaign);
}

/// A campaign.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignResponse {
    /// Id.
    pub id: Uuid,
    /// The county or town it runs in.
    pub org_unit_id: Uuid,
    /// Name.
    #[schema(example = "2026年“访民情·听民意·解民忧”活动")]
    pub name: String,
    /// Year.
    #[schema(example = 2026)]
    pub year: i32,
    /// First day of the first phase.
    pub starts_on: NaiveDate,
    /// Last day of the last phase.
    pub ends_on: NaiveDate,
    /// Phases (宣传发动, 扎实开展, 总结推广), in order.
    pub phases: Vec<Phase>,
    /// Visit quotas per position.
    pub quotas: Vec<Quota>,
    /// Deeds (实事) each cadre must complete.
    pub deeds_per_cadre: i32,
    /// Deeds in each town's first batch.
    pub first_batch_deeds: i32,
    /// When the first batch is due.
    pub first_batch_due: NaiveDate,
    /// Weights of the annual score (percent).
    pub weights: Weights,
    /// Version (also the `ETag`).
    pub version: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<campaign::Model> for CampaignResponse {
    fn from(row: campaign::Model) -> Self {
        Self {
            id: row.id,
            org_unit_id: row.org_unit_id,
            name: row.name,
            year: row.year,
            starts_on: row.starts_on,
            ends_on: row.ends_on,
            phases: row.phases.0,
            quotas: row.quotas.0,
            deeds_per_cadre: row.deeds_per_cadre,
            first_batch_deeds: row.first_batch_deeds,
            first_batch_due: row.first_batch_due,
            weights: row.weights,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A new campaign. Leave out `phases`, `quotas`, the deed targets or `weights` to take the
/// campaign of the source documents (publicity 1–13 April, implementation 13 April –
/// 31 December, summary in December; 60 / 120 households, 200 visits; 2 deeds per cadre, 12
/// per town by 30 April).
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateCampaignRequest {
    /// The county or town it runs in.
    pub org_unit_id: Uuid,
    /// Name (default: `<year>年“访民情·听民意·解民忧”活动`).
    #[validate(
        length(min = 1, max = 100),
        custom(function = "crate::validation::not_blank")
    )]
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: Option<String>,
    /// The campaign year.
    #[validate(range(min = 2000, max = 2100))]
    #[schema(minimum = 2000, maximum = 2100)]
    pub year: i32,
    /// Phases, in the order they start; each inside the year.
    #[validate(length(min = 1, max = 10))]
    #[schema(min_items = 1, max_items = 10)]
    pub phases: Option<Vec<Phase>>,
    /// One quota per position.
    #[validate(length(max = 10))]
    #[schema(max_items = 10)]
    pub quotas: Option<Vec<Quota>>,
    /// Deeds each cadre must complete.
    #[validate(range(min = 0, max = 100))]
    #[schema(minimum = 0, maximum = 100)]
    pub deeds_per_cadre: Option<i32>,
    /// Deeds in each town's first batch.
    #[validate(range(min = 0, max = 1000))]
    #[schema(minimum = 0, maximum = 1000)]
    pub first_batch_deeds: Option<i32>,
    /// When the first batch is due (inside the campaign).
    pub first_batch_due: Option<NaiveDate>,
    /// Weights of the annual score, percentages adding up to 100.
    pub weights: Option<Weights>,
}

/// Changes to a campaign: the fields sent replace the stored ones.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct UpdateCampaignRequest {
    /// Name.
    #[validate(
        length(min = 1, max = 100),
        custom(function = "crate::validation::not_blank")
    )]
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: Option<String>,
    /// Phases, in the order they start.
    #[validate(length(min = 1, max = 10))]
    #[schema(min_items = 1, max_items = 10)]
    pub phases: Option<Vec<Phase>>,
    /// Quotas per position.
    #[validate(length(max = 10))]
    #[schema(max_items = 10)]
    pub quotas: Option<Vec<Quota>>,
    /// Deeds each cadre must complete.
    #[validate(range(min = 0, max = 100))]
    #[schema(minimum = 0, maximum = 100)]
    pub deeds_per_cadre: Option<i32>,
    /// Deeds in each town's first batch.
    #[validate(range(min = 0, max = 1000))]
    #[schema(minimum = 0, maximum = 1000)]
    pub first_batch_deeds: Option<i32>,
    /// When the first batch is due.
    pub first_batch_due: Option<NaiveDate>,
    /// Weights of the annual score.
    pub weights: Option<Weights>,
    /// The version you read (or send `If-Match`); a stale one is refused with 412.
    pub version: Option<i32>,
}

/// Filters of the campaign list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CampaignQuery {
    /// Only this year.
    pub year: Option<i32>,
}

/// Which place's campaign.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CurrentCampaignQuery {
    /// A county, town, district or village in your scope (default: your own place).
    pub org_unit_id: Option<Uuid>,
    /// The year (default: this year).
    pub year: Option<i32>,
}

fn with_etag(response: CampaignResponse, status: actix_web::http::StatusCode) -> HttpResponse {
    let etag = concurrency::etag(response.version);
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag))
        .json(response)
}

/// The campaigns that concern you: those of places in your scope and of the town and county
/// above them, newest year first.
#[utoipa::path(
    tag = "campaigns",
    params(CampaignQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The campaigns.", body = Vec<CampaignResponse>)),
)]
#[get("/campaigns")]
async fn list_campaigns(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<CampaignQuery>,
) -> ApiResult<web::Json<Vec<CampaignResponse>>> {
    let rows = campaigns::list_campaigns(&state.db, user.scope(), query.year).await?;
    Ok(web::Json(rows.into_iter().map(Into::into).collect()))
}

/// The campaign that applies to a place this year (the town's own, else its county's) — the
/// one the dashboards use.
#[utoipa::path(
    tag = "campaigns",
    params(CurrentCampaignQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The campaign.", body = CampaignResponse),
        (status = 404, description = "No such place in your scope, or no campaign for it.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/campaigns/current")]
async fn get_current_campaign(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<CurrentCampaignQuery>,
) -> ApiResult<HttpResponse> {
    let place = crate::dashboard::place_of(&state.db, user.scope(), query.org_unit_id).await?;
    let year = query
        .year
        .unwrap_or_else(|| chrono::Datelike::year(&state.clock.today()));
    let row = campaigns::current_for(&state.db, &place, year)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("No campaign for {} in {year}.", place.name)))?;
    Ok(with_etag(row.into(), actix_web::http::StatusCode::OK))
}

/// One campaign.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = Uuid, Path, description = "Campaign id.")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The campaign.", body = CampaignResponse, headers(("ETag" = String, description = "The version, quoted."))),
        (status = 404, description = "No such campaign visible to you.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/campaigns/{id}")]
async fn get_campaign(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let row = campaigns::find_campaign(&state.db, user.scope(), *id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such campaign.".to_owned()))?;
    Ok(with_etag(row.into(), actix_web::http::StatusCode::OK))
}

/// Creates a campaign for a county or town (admins); one per place and year.
#[utoipa::path(
    tag = "campaigns",
    request_body = CreateCampaignRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created.", body = CampaignResponse),
        (status = 409, description = "The place has a campaign for that year.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/campaigns")]
async fn create_campaign(
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<CreateCampaignRequest>,
) -> ApiResult<HttpResponse> {
    body.validate()?;
    let body = body.into_inner();
    let standard = CampaignSpec::standard(body.year)
        .ok_or_else(|| ApiError::invalid_field("year", "invalid", "Not a year."))?;
    let spec = CampaignSpec {
        name: body.name.unwrap_or(standard.name),
        year: body.year,
        phases: body.phases.unwrap_or(standard.phases),
        quotas: body.quotas.unwrap_or(standard.quotas),
        deeds_per_cadre: body.deeds_per_cadre.unwrap_or(standard.deeds_per_cadre),
        first_batch_deeds: body.first_batch_deeds.unwrap_or(standard.first_batch_deeds),
        first_batch_due: body.first_batch_due.unwrap_or(standard.first_batch_due),
        weights: body.weights.unwrap_or(standard.weights),
    };
    let txn = begin_write(&state.db).await?;
    let row = campaigns::create_campaign(&txn, user.scope(), body.org_unit_id, spec).await?;
    let response = CampaignResponse::from(row);
    audit::record(
        &txn,
        &user.audit_actor(),
        AuditEntry::new("campaign.create", "campaign", response.id)
            .with_changes(serde_json::to_value(&response).unwrap_or_default()),
    )
    .await?;
    crate::db::commit(txn).await?;
    Ok(with_etag(response, actix_web::http::StatusCode::CREATED))
}

/// Changes a campaign (admins). Send `If-Match` or `version`; a stale one is refused (412).
#[utoipa::path(
    tag = "campaigns",
    params(("id" = Uuid, Path, description = "Campaign id.")),
    request_body = UpdateCampaignRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Changed.", body = CampaignResponse),
        (status = 404, description = "No such campaign in your scope.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed by someone else since you read it.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/campaigns/{id}")]
async fn update_campaign(
    req: HttpRequest,
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<UpdateCampaignRequest>,
) -> ApiResult<HttpResponse> {
    body.validate()?;
    let body = body.into_inner();
    let txn = begin_write(&state.db).await?;
    let mut row = campaigns::find_campaign(&txn, user.scope(), *id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such campaign.".to_owned()))?;
    // Admins edit campaigns of places inside their scope, not the county's from a town token.
    if org::find_org_unit(&txn, user.scope(), row.org_unit_id)
        .await?
        .is_none()
    {
        return Err(ApiError::NotFound("No such campaign.".to_owned()));
    }
    concurrency::check_version(&req, body.version, row.version)?;
    let mut spec = CampaignSpec::of(&row);
    if let Some(name) = body.name {
        spec.name = name;
    }
    if let Some(phases) = body.phases {
        spec.phases = phases;
    }
    if let Some(quotas) = body.quotas {
        spec.quotas = quotas;
    }
    if let Some(deeds) = body.deeds_per_cadre {
        spec.deeds_per_cadre = deeds;
    }
    if let Some(deeds) = body.first_batch_deeds {
        spec.first_batch_deeds = deeds;
    }
    if let Some(due) = body.first_batch_due {
        spec.first_batch_due = due;
    }
    if let Some(weights) = body.weights {
        spec.weights = weights;
    }
    let before = row.clone();
    spec.apply(&mut row)?;
    if row == before {
        // Nothing changed (a retry, say): no new version, no audit row.
        crate::db::commit(txn).await?;
        return Ok(with_etag(
            CampaignResponse::from(row),
            actix_web::http::StatusCode::OK,
        ));
    }
    let row = campaigns::save_campaign(&txn, row).await?;
    let response = CampaignResponse::from(row);
    audit::record(
        &txn,
        &user.audit_actor(),
        AuditEntry::new("campaign.update", "campaign", response.id)
            .with_changes(serde_json::to_value(&response).unwrap_or_default()),
    )
    .await?;
    crate::db::commit(txn).await?;
    Ok(with_etag(response, actix_web::http::StatusCode::OK))
}
