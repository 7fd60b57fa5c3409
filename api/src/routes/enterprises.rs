//! `/api/v1/enterprises`: enterprises as visit targets (走访企业).

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use entity::{
    enterprise,
    org_unit::{self, OrgKind},
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;
use validator::Validate;

use crate::{
    audit::{self, AuditEntry},
    auth::AuthUser,
    db::begin_write,
    error::{ApiError, ApiResult, Problem},
    pagination::{self, Page},
    privacy,
    startup::AppState,
};

/// Registers the enterprise routes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_enterprises)
        .service(create_enterprise)
        .service(get_enterprise);
}

/// An enterprise. The contact phone is masked like a household's.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnterpriseResponse {
    /// Id.
    pub id: Uuid,
    /// Town.
    pub town_id: Uuid,
    /// Village, if the enterprise sits in one.
    pub village_id: Option<Uuid>,
    /// Name.
    #[schema(example = "东岭镇宏达物流有限公司")]
    pub name: String,
    /// Contact person (masked for viewers, `张**`).
    pub contact_name: Option<String>,
    /// Contact phone, masked per role.
    pub contact_phone: Option<String>,
    /// Address (absent for viewers).
    pub address: Option<String>,
    /// Notes (absent for viewers: free text carries personal data).
    pub notes: Option<String>,
    /// Version.
    pub version: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
}

impl EnterpriseResponse {
    fn for_caller(row: enterprise::Model, user: &AuthUser) -> Self {
        let unmasked = privacy::sees_contact_details(user.principal.role);
        let names = privacy::sees_names(user.principal.role);
        Self {
            id: row.id,
            town_id: row.town_id,
            village_id: row.village_id,
            name: row.name,
            contact_name: row.contact_name.map(|name| {
                if names {
                    name
                } else {
                    privacy::mask_name(&name)
                }
            }),
            contact_phone: row.contact_phone.map(|phone| {
                if unmasked {
                    phone
                } else {
                    privacy::mask_phone(&phone)
                }
            }),
            // Viewers (dashboards, auditors) get no address or notes, as for households: free
            // text carries personal data ("法人张三 138…").
            address: row.address.filter(|_| names),
            notes: row.notes.filter(|_| names),
            version: row.version,
            created_at: row.created_at,
        }
    }
}

/// A new enterprise, in a village or (with `town_id` only) at town level.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateEnterpriseRequest {
    /// Client-chosen id; generated when omitted.
    pub id: Option<Uuid>,
    /// The village it sits in; or give `town_id`.
    pub village_id: Option<Uuid>,
    /// The town, for an enterprise outside any village.
    pub town_id: Option<Uuid>,
    /// Name.
    #[validate(
        length(min = 1, max = 100),
        custom(function = "crate::validation::not_blank")
    )]
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    /// Contact person.
    #[validate(length(max = 50))]
    #[schema(max_length = 50)]
    pub contact_name: Option<String>,
    /// Contact phone.
    #[validate(custom(function = "crate::validation::phone"))]
    pub contact_phone: Option<String>,
    /// Address.
    #[validate(length(max = 200))]
    #[schema(max_length = 200)]
    pub address: Option<String>,
    /// Notes.
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
}

/// Filters of the enterprise list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EnterpriseQuery {
    /// Only this village.
    pub village_id: Option<Uuid>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Lists enterprises in scope.
#[utoipa::path(
    tag = "roster",
    params(EnterpriseQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of enterprises.", body = Page<EnterpriseResponse>)),
)]
#[get("/enterprises")]
async fn list_enterprises(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<EnterpriseQuery>,
) -> ApiResult<web::Json<Page<EnterpriseResponse>>> {
    let limit = pagination::limit(query.limit)?;
    let mut select =
        enterprise::Entity::find().filter(crate::enterprises::scope_condition(user.scope()));
    if let Some(village_id) = query.village_id {
        select = select.filter(enterprise::Column::VillageId.eq(village_id));
    }
    if let Some(after) = pagination::uuid_cursor(query.cursor.as_deref())? {
        select = select.filter(enterprise::Column::Id.gt(after));
    }
    let rows = select
        .order_by_asc(enterprise::Column::Id)
        .limit(limit + 1)
        .all(&state.db)
        .await?;
    let shown = rows.len().min(usize::try_from(limit).unwrap_or(usize::MAX));
    record_contact_read(&state, &user, &rows[..shown], false).await?;
    Ok(web::Json(Page::from_rows(
        rows,
        limit,
        |row| row.id.to_string(),
        |row| EnterpriseResponse::for_caller(row, &user),
    )))
}

/// One enterprise in scope.
#[utoipa::path(
    tag = "roster",
    params(("id" = Uuid, Path, description = "Enterprise id.")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The enterprise.", body = EnterpriseResponse),
        (status = 404, description = "No such enterprise in your scope.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/enterprises/{id}")]
async fn get_enterprise(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<EnterpriseResponse>> {
    let row = crate::enterprises::find_enterprise(&state.db, user.scope(), *id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such enterprise.".to_owned()))?;
    record_contact_read(&state, &user, std::slice::from_ref(&row), true).await?;
    Ok(web::Json(EnterpriseResponse::for_caller(row, &user)))
}

/// PIPL read audit, as for households: when the caller is shown contacts' phones unmasked (a
/// contact is a person), one entry (`enterprise.read_personal_data`) names the enterprises,
/// written before the answer leaves. `one`: a single enterprise (the entry's `entity_id`);
/// otherwise a list page (the ids are listed). Masked answers and enterprises without a phone
/// record nothing.
async fn record_contact_read(
    state: &AppState,
    user: &AuthUser,
    rows: &[enterprise::Model],
    one: bool,
) -> ApiResult<()> {
    if !privacy::sees_contact_details(user.principal.role) {
        return Ok(());
    }
    let shown: Vec<Uuid> = rows
        .iter()
        .filter(|row| row.contact_phone.is_some())
        .map(|row| row.id)
        .collect();
    let Some(first) = shown.first() else {
        return Ok(());
    };
    let entry = if one {
        AuditEntry::new("enterprise.read_personal_data", "enterprise", *first)
            .with_changes(serde_json::json!({"fields": ["contact_phone"]}))
    } else {
        AuditEntry {
            action: "enterprise.read_personal_data",
            entity_type: "enterprise",
            entity_id: None,
            changes: Some(serde_json::json!({
                "enterprise_ids": shown,
                "fields": ["contact_phone"],
            })),
        }
    };
    audit::record_read(&state.db, &user.audit_actor(), entry).await?;
    Ok(())
}

/// Whether a stored enterprise is the one sent again: everything recorded (a correction sent
/// under the same id is refused, not silently dropped; there is no PATCH to make it later).
fn same_enterprise(stored: &enterprise::Model, sent: &enterprise::Model) -> bool {
    stored.name == sent.name
        && stored.town_id == sent.town_id
        && stored.village_id == sent.village_id
        && stored.contact_name == sent.contact_name
        && stored.contact_phone == sent.contact_phone
        && stored.address == sent.address
        && stored.notes == sent.notes
}

/// Registers an enterprise in a village or town in scope.
#[utoipa::path(
    tag = "roster",
    request_body = CreateEnterpriseRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created.", body = EnterpriseResponse),
        (status = 200, description = "The same enterprise was registered already (a retry).", body = EnterpriseResponse),
        (status = 409, description = "A different enterprise has this id.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/enterprises")]
async fn create_enterprise(
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<CreateEnterpriseRequest>,
) -> ApiResult<HttpResponse> {
    body.validate()?;
    let body = body.into_inner();
    let (unit_id, field, wanted) = match (body.village_id, body.town_id) {
        (Some(village), _) => (village, "village_id", OrgKind::Village),
        (None, Some(town)) => (town, "town_id", OrgKind::Town),
        (None, None) => {
            return Err(ApiError::invalid_field(
                "village_id",
                "required",
                "Give village_id or town_id.",
            ));
        }
    };
    let txn = begin_write(&state.db).await?;
    let unit = org_unit::Entity::find_by_id(unit_id)
        .filter(user.scope().org_unit_condition(org_unit::Column::Id))
        .one(&txn)
        .await?
        .filter(|unit| unit.kind == wanted)
        .ok_or_else(|| {
            ApiError::invalid_field(field, "not_found", "No such place in your scope.")
        })?;
    let now = Utc::now();
    let row = enterprise::Model {
        id: body.id.unwrap_or_else(Uuid::now_v7),
        county_id: unit.county_id,
        town_id: unit.town_id.unwrap_or(unit.id),
        village_id: (wanted == OrgKind::Village).then_some(unit.id),
        name: body.name,
        contact_name: body.contact_name,
        contact_phone: body.contact_phone,
        address: body.address,
        notes: body.notes,
        version: 1,
        created_at: now,
        updated_at: now,
        change_seq: 0,
        created_seq: 0,
        origin_device: None,
    };
    let inserted = enterprise::Entity::insert(enterprise::ActiveModel::from(row.clone()))
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(enterprise::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    if inserted == 0 {
        // The id is taken: a retry of the same enterprise is answered with it.
        let stored = crate::enterprises::find_enterprise(&txn, user.scope(), row.id)
            .await?
            .filter(|stored| same_enterprise(stored, &row))
            .ok_or_else(|| ApiError::Conflict {
                code: "id_taken",
                detail: "A different enterprise already has this id.".to_owned(),
            })?;
        crate::db::commit(txn).await?;
        return Ok(HttpResponse::Ok().json(EnterpriseResponse::for_caller(stored, &user)));
    }
    audit::record(
        &txn,
        &user.audit_actor(),
        AuditEntry::new("enterprise.create", "enterprise", row.id)
            .with_changes(serde_json::json!({"name": row.name, "town_id": row.town_id, "village_id": row.village_id})),
    )
    .await?;
    crate::db::commit(txn).await?;
    Ok(HttpResponse::Created().json(EnterpriseResponse::for_caller(row, &user)))
}
