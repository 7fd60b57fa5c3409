//! `/api/v1/pairings`: 123 pairing (结对) of cadres with households.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use entity::{pairing, user::Role};
use sea_orm::{EntityTrait, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::{
    accounts,
    audit::{self, AuditEntry},
    auth::{Actor, AuthUser},
    db::begin_write,
    error::{ApiError, ApiResult, Problem},
    pagination::{self, Page},
    pairings::{self, PairingStatus},
    startup::AppState,
};

/// Registers the pairing routes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_pairings)
        .service(create_pairing)
        .service(get_pairing_status)
        .service(delete_pairing);
}

/// A cadre paired with a household.
#[derive(Debug, Serialize, ToSchema)]
pub struct PairingResponse {
    /// Id.
    pub id: Uuid,
    /// The cadre.
    pub cadre_id: Uuid,
    /// The household.
    pub household_id: Uuid,
    /// The household's village.
    pub village_id: Uuid,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl From<pairing::Model> for PairingResponse {
    fn from(row: pairing::Model) -> Self {
        Self {
            id: row.id,
            cadre_id: row.cadre_id,
            household_id: row.household_id,
            village_id: row.village_id,
            created_at: row.created_at,
        }
    }
}

/// A new pairing. Whether the household counts as a party member or a resident follows
/// from its `party_member` tag.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePairingRequest {
    /// The cadre (a cadre may only pair themself).
    pub cadre_id: Uuid,
    /// The household, in the caller's scope.
    pub household_id: Uuid,
}

/// Filters of the pairing list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PairingQuery {
    /// Only this cadre's pairings.
    pub cadre_id: Option<Uuid>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Filters of the pairing status.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PairingStatusQuery {
    /// Only cadres whose pairing is incomplete or invalid.
    #[serde(default)]
    pub only_problems: bool,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Pairings whose household is in the caller's scope.
#[utoipa::path(
    tag = "roster",
    params(PairingQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of pairings.", body = Page<PairingResponse>)),
)]
#[get("/pairings")]
async fn list_pairings(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<PairingQuery>,
) -> ApiResult<web::Json<Page<PairingResponse>>> {
    let limit = pagination::limit(query.limit)?;
    let after = pagination::uuid_cursor(query.cursor.as_deref())?;
    let rows =
        pairings::list_pairings(&state.db, user.scope(), query.cadre_id, after, limit + 1).await?;
    Ok(web::Json(Page::from_rows(
        rows,
        limit,
        |row| row.id.to_string(),
        PairingResponse::from,
    )))
}

/// Pairs a cadre with a household (admins and leaders for cadres in scope; a cadre for
/// themself). A third party member or a fourth resident is refused with 409.
#[utoipa::path(
    tag = "roster",
    request_body = CreatePairingRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Paired.", body = PairingResponse),
        (status = 409, description = "Already paired, or the cadre's party-member or resident places are full.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/pairings")]
async fn create_pairing(
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<CreatePairingRequest>,
) -> ApiResult<HttpResponse> {
    let txn = begin_write(&state.db).await?;
    let cadre = match (user.principal.role, &user.principal.actor) {
        (Role::Cadre, Actor::User { id }) if *id == body.cadre_id => {
            entity::user::Entity::find_by_id(*id).one(&txn).await?
        }
        (Role::Cadre, _) => {
            return Err(ApiError::Forbidden(
                "A cadre pairs only themself.".to_owned(),
            ));
        }
        _ => accounts::find_user(&txn, user.scope(), body.cadre_id).await?,
    }
    .ok_or_else(|| {
        ApiError::invalid_field("cadre_id", "not_found", "No such cadre in your scope.")
    })?;
    let row = pairings::create_pairing(&txn, user.scope(), &cadre, body.household_id).await?;
    let response = PairingResponse::from(row);
    audit::record(
        &txn,
        &user.audit_actor(),
        AuditEntry::new("pairing.create", "pairing", response.id)
            .with_changes(serde_json::to_value(&response).unwrap_or_default()),
    )
    .await?;
    crate::db::commit(txn).await?;
    Ok(HttpResponse::Created().json(response))
}

/// Ends a pairing whose household is in scope (a cadre: only their own).
#[utoipa::path(
    tag = "roster",
    params(("id" = Uuid, Path, description = "Pairing id.")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed."),
        (status = 404, description = "No such pairing in your scope.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/pairings/{id}")]
async fn delete_pairing(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let txn = begin_write(&state.db).await?;
    // Held until the commit (PostgreSQL `FOR UPDATE`): a household move that carries the
    // pairing to another village is wholly before this (its tombstone goes to the new village)
    // or after it.
    pairing::Entity::find_by_id(*id)
        .lock_exclusive()
        .one(&txn)
        .await?;
    let row = pairings::find_pairing(&txn, user.scope(), *id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such pairing.".to_owned()))?;
    if user.principal.role == Role::Cadre
        && user.principal.actor != (Actor::User { id: row.cadre_id })
    {
        return Err(ApiError::Forbidden(
            "A cadre removes only their own pairings.".to_owned(),
        ));
    }
    let deleted = pairing::Entity::delete_by_id(row.id).exec(&txn).await?;
    if deleted.rows_affected == 0 {
        // A concurrent delete of the same pairing won: it wrote the tombstone and the audit row.
        return Err(ApiError::NotFound("No such pairing.".to_owned()));
    }
    crate::sync::record_deletion(
        &txn,
        "pairings",
        row.id,
        Some((row.county_id, row.town_id, row.village_id)),
    )
    .await?;
    audit::record(
        &txn,
        &user.audit_actor(),
        AuditEntry::new("pairing.delete", "pairing", row.id),
    )
    .await?;
    crate::db::commit(txn).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Each active cadre and leader anchored in scope, against the 123 rule: 2 party members and
/// 3 residents, at least one of each in hardship — with what is missing.
#[utoipa::path(
    tag = "roster",
    params(PairingStatusQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of cadres with their pairing.", body = Page<PairingStatus>)),
)]
#[get("/pairings/status")]
async fn get_pairing_status(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<PairingStatusQuery>,
) -> ApiResult<web::Json<Page<PairingStatus>>> {
    let limit = pagination::limit(query.limit)?;
    let after = pagination::uuid_cursor(query.cursor.as_deref())?;
    let statuses: Vec<PairingStatus> = pairings::pairing_status(&state.db, user.scope())
        .await?
        .into_iter()
        .filter(|status| !query.only_problems || !status.complete)
        .filter(|status| after.is_none_or(|after| status.cadre_id > after))
        .take(usize::try_from(limit + 1).unwrap_or(usize::MAX))
        .collect();
    Ok(web::Json(Page::from_rows(
        statuses,
        limit,
        |status| status.cadre_id.to_string(),
        |status| status,
    )))
}
