//! `/api/v1/surveys` and `/public/surveys/answers`: the residents' satisfaction survey (一测).
//! A leader opens a round in a village and prints one-time codes; residents answer through the
//! public link, or a cadre records their answers; results per cadre.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use entity::survey::{self, Rating};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;
use validator::Validate;

use crate::{
    assessment::{self, MAX_CODES, NewRound, Respondent},
    audit::{self, AuditActor, AuditEntry},
    auth::AuthUser,
    dashboard,
    db::begin_write,
    error::{ApiError, ApiResult, Problem},
    startup::AppState,
};

/// Registers the survey routes under `/api/v1`.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_surveys)
        .service(create_survey)
        .service(get_survey)
        .service(record_survey_response)
        .service(create_survey_codes)
        .service(get_survey_results);
}

/// Registers the public answer route under `/public`.
pub fn configure_public(cfg: &mut ServiceConfig) {
    cfg.service(answer_survey);
}

/// A cadre a round rates.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatedCadre {
    /// The cadre.
    pub cadre_id: Uuid,
    /// Name.
    #[schema(example = "李明")]
    pub name: String,
}

/// A survey round.
#[derive(Debug, Serialize, ToSchema)]
pub struct SurveyResponse {
    /// Id.
    pub id: Uuid,
    /// The village.
    pub village_id: Uuid,
    /// Title.
    #[schema(example = "2026年第二季度群众满意度测评")]
    pub title: String,
    /// First day answers are taken.
    pub opens_on: NaiveDate,
    /// Last day.
    pub closes_on: NaiveDate,
    /// The cadres rated: those of the village when the round was opened.
    pub cadres: Vec<RatedCadre>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

async fn describe(state: &AppState, round: survey::round::Model) -> ApiResult<SurveyResponse> {
    let names = dashboard::user_names(&state.db, round.cadres.0.clone()).await?;
    Ok(describe_with(round, &names))
}

fn describe_with(
    round: survey::round::Model,
    names: &std::collections::HashMap<Uuid, String>,
) -> SurveyResponse {
    SurveyResponse {
        id: round.id,
        village_id: round.village_id,
        title: round.title,
        opens_on: round.opens_on,
        closes_on: round.closes_on,
        cadres: round
            .cadres
            .0
            .iter()
            .map(|cadre| RatedCadre {
                cadre_id: *cadre,
                name: names.get(cadre).cloned().unwrap_or_default(),
            })
            .collect(),
        created_at: round.created_at,
    }
}

/// A new round.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateSurveyRequest {
    /// The village.
    pub village_id: Uuid,
    /// Title.
    #[validate(
        length(min = 1, max = 100),
        custom(function = "crate::validation::not_blank")
    )]
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub title: String,
    /// First day answers are taken.
    pub opens_on: NaiveDate,
    /// Last day.
    pub closes_on: NaiveDate,
}

/// Filters of the round list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SurveyQuery {
    /// Only this village.
    pub village_id: Option<Uuid>,
}

/// A resident's rating of one cadre.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerInput {
    /// The cadre.
    pub cadre_id: Uuid,
    /// 满意, 基本满意 or 不满意.
    pub rating: Rating,
}

/// A response a cadre records for a resident.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct RecordResponseRequest {
    /// The client's UUID: sending it again records nothing more.
    pub id: Uuid,
    /// The resident's household (of the round's village); each household answers a round once.
    pub household_id: Uuid,
    /// One rating per cadre (any subset of the round's cadres).
    #[validate(length(min = 1, max = 50))]
    #[schema(min_items = 1, max_items = 50)]
    pub answers: Vec<AnswerInput>,
}

/// A resident's answer through the public link.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct PublicAnswerRequest {
    /// The one-time code from the slip, e.g. `7KQ4-MZ2P-W8HD` (case and dashes don't matter).
    #[validate(length(min = 12, max = 32))]
    #[schema(min_length = 12, max_length = 32, example = "7KQ4-MZ2P-W8HD")]
    pub code: String,
    /// One rating per cadre.
    #[validate(length(min = 1, max = 50))]
    #[schema(min_items = 1, max_items = 50)]
    pub answers: Vec<AnswerInput>,
}

/// How many codes to make.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateCodesRequest {
    /// 1–500.
    #[validate(range(min = 1, max = 500))]
    #[schema(minimum = 1, maximum = 500)]
    pub count: u32,
}

/// Fresh one-time codes: print them on slips; they are not shown again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CodesResponse {
    /// The round.
    pub survey_id: Uuid,
    /// The codes.
    pub codes: Vec<String>,
    /// Where residents answer: `POST /public/surveys/answers` with the code.
    pub answer_path: String,
}

/// A cadre's result in a round.
#[derive(Debug, Serialize, ToSchema)]
pub struct CadreResult {
    /// The cadre.
    pub cadre_id: Uuid,
    /// Name.
    pub name: String,
    /// 满意.
    pub satisfied: i64,
    /// 基本满意.
    pub basically_satisfied: i64,
    /// 不满意.
    pub unsatisfied: i64,
    /// (满意 + ½ 基本满意) / answers, 0–1 (four decimals); null without answers.
    pub rate: Option<f64>,
}

/// A round's results.
#[derive(Debug, Serialize, ToSchema)]
pub struct SurveyResultsResponse {
    /// The round.
    pub survey: SurveyResponse,
    /// Per cadre, in the round's order.
    pub cadres: Vec<CadreResult>,
}

fn answers_of(answers: &[AnswerInput]) -> Vec<(Uuid, Rating)> {
    answers
        .iter()
        .map(|answer| (answer.cadre_id, answer.rating))
        .collect()
}

/// The rounds of villages in scope, newest first.
#[utoipa::path(
    tag = "assessment",
    params(SurveyQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The rounds.", body = Vec<SurveyResponse>)),
)]
#[get("/surveys")]
async fn list_surveys(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<SurveyQuery>,
) -> ApiResult<web::Json<Vec<SurveyResponse>>> {
    let rounds = assessment::list_rounds(&state.db, user.scope(), query.village_id).await?;
    let everyone: Vec<Uuid> = rounds
        .iter()
        .flat_map(|round| round.cadres.0.iter().copied())
        .collect();
    let names = dashboard::user_names(&state.db, everyone).await?;
    Ok(web::Json(
        rounds
            .into_iter()
            .map(|round| describe_with(round, &names))
            .collect(),
    ))
}

/// Opens a satisfaction survey round (一测) in a village (leaders); it rates the village's
/// cadres and officials of today.
#[utoipa::path(
    tag = "assessment",
    request_body = CreateSurveyRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Opened.", body = SurveyResponse),
        (status = 409, description = "`overlapping_round`: a round of the village covers some of these days already (one round at a time, so no answer counts twice).", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/surveys")]
async fn create_survey(
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<CreateSurveyRequest>,
) -> ApiResult<HttpResponse> {
    body.validate()?;
    let body = body.into_inner();
    let creator = user.user_id()?;
    let txn = begin_write(&state.db).await?;
    let round = assessment::create_round(
        &txn,
        user.scope(),
        creator,
        state.clock.today(),
        NewRound {
            village_id: body.village_id,
            title: body.title,
            opens_on: body.opens_on,
            closes_on: body.closes_on,
        },
    )
    .await?;
    audit::record(
        &txn,
        &user.audit_actor(),
        AuditEntry::new("survey.create", "survey", round.id).with_changes(serde_json::json!({
            "village_id": round.village_id, "title": round.title,
            "opens_on": round.opens_on, "closes_on": round.closes_on,
        })),
    )
    .await?;
    crate::db::commit(txn).await?;
    Ok(HttpResponse::Created().json(describe(&state, round).await?))
}

/// One round.
#[utoipa::path(
    tag = "assessment",
    params(("id" = Uuid, Path, description = "Round id.")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The round.", body = SurveyResponse),
        (status = 404, description = "No such round in your scope.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/surveys/{id}")]
async fn get_survey(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<SurveyResponse>> {
    let round = assessment::find_round(&state.db, user.scope(), *id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such survey.".to_owned()))?;
    Ok(web::Json(describe(&state, round).await?))
}

/// Records a resident's answers (a cadre visiting with the questionnaire). Idempotent by `id`.
#[utoipa::path(
    tag = "assessment",
    params(("id" = Uuid, Path, description = "Round id.")),
    request_body = RecordResponseRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Recorded."),
        (status = 200, description = "Recorded already (a retry)."),
        (status = 404, description = "No such round in your scope.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`survey_closed`: the round is not taking answers today; `household_answered`: the household has answered it; `id_taken`: the id was recorded for another household or with other ratings.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/surveys/{id}/responses")]
async fn record_survey_response(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<RecordResponseRequest>,
) -> ApiResult<HttpResponse> {
    body.validate()?;
    let recorder = user.user_id()?;
    let txn = begin_write(&state.db).await?;
    let round = assessment::find_round(&txn, user.scope(), *id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such survey.".to_owned()))?;
    let created = assessment::record_response(
        &txn,
        &round,
        state.clock.today(),
        body.id,
        Respondent::Recorded {
            by: recorder,
            household_id: body.household_id,
        },
        &answers_of(&body.answers),
    )
    .await?;
    if created {
        audit::record(
            &txn,
            &user.audit_actor(),
            AuditEntry::new("survey.response", "survey_response", body.id)
                .with_changes(serde_json::json!({"survey_id": round.id})),
        )
        .await?;
    }
    crate::db::commit(txn).await?;
    Ok(if created {
        HttpResponse::Created().finish()
    } else {
        HttpResponse::Ok().finish()
    })
}

/// Makes one-time codes for residents to answer through the public link (leaders). The codes
/// are shown once and stored hashed.
#[utoipa::path(
    tag = "assessment",
    params(("id" = Uuid, Path, description = "Round id.")),
    request_body = CreateCodesRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The codes.", body = CodesResponse),
        (status = 404, description = "No such round in your scope.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/surveys/{id}/codes")]
async fn create_survey_codes(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<CreateCodesRequest>,
) -> ApiResult<HttpResponse> {
    body.validate()?;
    let count = body.count.min(MAX_CODES);
    let txn = begin_write(&state.db).await?;
    let round = assessment::find_round(&txn, user.scope(), *id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such survey.".to_owned()))?;
    let codes = assessment::create_codes(&txn, &round, count).await?;
    audit::record(
        &txn,
        &user.audit_actor(),
        AuditEntry::new("survey.codes", "survey", round.id)
            .with_changes(serde_json::json!({"count": count})),
    )
    .await?;
    crate::db::commit(txn).await?;
    let mut answer = HttpResponse::Created().json(CodesResponse {
        survey_id: round.id,
        codes,
        answer_path: "/public/surveys/answers".to_owned(),
    });
    answer
        .extensions_mut()
        .insert(crate::idempotency::OneTimeSecret);
    Ok(answer)
}

/// A round's results per cadre.
#[utoipa::path(
    tag = "assessment",
    params(("id" = Uuid, Path, description = "Round id.")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The results.", body = SurveyResultsResponse),
        (status = 404, description = "No such round in your scope.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/surveys/{id}/results")]
async fn get_survey_results(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<SurveyResultsResponse>> {
    let round = assessment::find_round(&state.db, user.scope(), *id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such survey.".to_owned()))?;
    let tallies = assessment::round_results(&state.db, &round).await?;
    let survey = describe(&state, round).await?;
    let cadres = survey
        .cadres
        .iter()
        .map(|cadre| {
            let tally = tallies.get(&cadre.cadre_id).copied().unwrap_or_default();
            CadreResult {
                cadre_id: cadre.cadre_id,
                name: cadre.name.clone(),
                satisfied: tally.satisfied,
                basically_satisfied: tally.basically_satisfied,
                unsatisfied: tally.unsatisfied,
                rate: tally
                    .rate()
                    .map(|rate| (rate * 10_000.0).round() / 10_000.0),
            }
        })
        .collect();
    Ok(web::Json(SurveyResultsResponse { survey, cadres }))
}

/// A resident answers a survey with a one-time code from a printed slip (no account). Each
/// code answers once.
#[utoipa::path(
    tag = "assessment",
    request_body = PublicAnswerRequest,
    responses(
        (status = 201, description = "Thank you: recorded."),
        (status = 404, description = "No such code.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The code was used, or the round is not taking answers today.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/surveys/answers")]
async fn answer_survey(
    state: web::Data<AppState>,
    body: web::Json<PublicAnswerRequest>,
) -> ApiResult<HttpResponse> {
    body.validate()?;
    // Unknown and used codes are answered from a read: only a live code takes a write turn.
    assessment::check_code(&state.db, &body.code).await?;
    let txn = begin_write(&state.db).await?;
    let (round, code_hash) = assessment::take_code(&txn, &body.code).await?;
    let response_id = Uuid::now_v7();
    assessment::record_response(
        &txn,
        &round,
        state.clock.today(),
        response_id,
        Respondent::Code { code_hash },
        &answers_of(&body.answers),
    )
    .await?;
    // The answer is anonymous: its audit entry names neither the address it came from nor the
    // request (whose log line does), so that no one reading the trail can tie a resident's
    // rating of a cadre to where it was sent from.
    audit::record(
        &txn,
        &AuditActor {
            actor_type: "public",
            actor_id: None,
            role: None,
            request_id: None,
            client_addr: None,
        },
        AuditEntry::new("survey.response", "survey_response", response_id)
            .with_changes(serde_json::json!({"survey_id": round.id, "via": "code"})),
    )
    .await?;
    crate::db::commit(txn).await?;
    Ok(HttpResponse::Created().finish())
}
