//! `/api/v1/org-units` and `/api/v1/departments`: the organisation.

use actix_web::{HttpResponse, get, post, web};
use entity::{
    department,
    org_unit::{self, OrgKind},
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;
use validator::Validate;

use crate::{
    audit::{self, AuditEntry},
    auth::AuthUser,
    db::begin_write,
    error::{ApiError, ApiResult},
    org,
    pagination::{self, Page},
    startup::AppState,
};

/// Registers the organisation routes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_org_units)
        .service(create_org_unit)
        .service(get_org_unit)
        .service(list_departments)
        .service(create_department);
}

/// An organisation unit.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrgUnitResponse {
    /// Id.
    pub id: Uuid,
    /// The unit above (none for a county).
    pub parent_id: Option<Uuid>,
    /// Level.
    pub kind: OrgKind,
    /// Chinese name.
    #[schema(example = "东关村")]
    pub name: String,
    /// Administrative code.
    #[schema(example = "371526100201")]
    pub code: String,
    /// The county it is in.
    pub county_id: Uuid,
    /// The town it is in (none for a county).
    pub town_id: Option<Uuid>,
    /// The management district it is in, if any.
    pub district_id: Option<Uuid>,
    /// The office's phone (a village office's number, shown on the public duty roster).
    #[schema(example = "0635-1234567")]
    pub office_phone: Option<String>,
}

impl From<org_unit::Model> for OrgUnitResponse {
    fn from(unit: org_unit::Model) -> Self {
        Self {
            id: unit.id,
            parent_id: unit.parent_id,
            kind: unit.kind,
            name: unit.name,
            code: unit.code,
            county_id: unit.county_id,
            town_id: unit.town_id,
            district_id: unit.district_id,
            office_phone: unit.office_phone,
        }
    }
}

/// A new organisation unit.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgUnitRequest {
    /// The unit above: a county for a town, a town for a district, a district or town for a
    /// village. Omitted only for a county.
    pub parent_id: Option<Uuid>,
    /// Level.
    pub kind: OrgKind,
    /// Chinese name.
    #[validate(
        length(min = 1, max = 100),
        custom(function = "crate::validation::not_blank")
    )]
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    /// Administrative code, unique across the deployment.
    #[validate(length(min = 1, max = 32))]
    #[schema(min_length = 1, max_length = 32)]
    pub code: String,
    /// The office's phone, a landline (`0635-1234567`) or a mobile: for a village, the number
    /// the public duty roster shows.
    #[validate(custom(function = "crate::validation::phone"))]
    #[schema(max_length = 20, example = "0635-1234567")]
    pub office_phone: Option<String>,
}

/// Filters of the org unit list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrgUnitQuery {
    /// Only units of this level.
    pub kind: Option<OrgKind>,
    /// Only direct children of this unit.
    pub parent_id: Option<Uuid>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Lists the org units in the caller's scope, ordered by code.
#[utoipa::path(
    tag = "organisation",
    params(OrgUnitQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of org units.", body = Page<OrgUnitResponse>)),
)]
#[get("/org-units")]
async fn list_org_units(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<OrgUnitQuery>,
) -> ApiResult<web::Json<Page<OrgUnitResponse>>> {
    let limit = pagination::limit(query.limit)?;
    let filter = org::OrgUnitFilter {
        kind: query.kind,
        parent_id: query.parent_id,
    };
    let rows = org::list_org_units(
        &state.db,
        user.scope(),
        &filter,
        query.cursor.as_deref(),
        limit + 1,
    )
    .await?;
    Ok(web::Json(Page::from_rows(
        rows,
        limit,
        |unit| unit.code.clone(),
        OrgUnitResponse::from,
    )))
}

/// One org unit in the caller's scope.
#[utoipa::path(
    tag = "organisation",
    params(("id" = Uuid, Path, description = "Org unit id.")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The org unit.", body = OrgUnitResponse),
        (status = 404, description = "No such unit in your scope.", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/org-units/{id}")]
async fn get_org_unit(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<OrgUnitResponse>> {
    let unit = org::find_org_unit(&state.db, user.scope(), *id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such org unit.".to_owned()))?;
    Ok(web::Json(unit.into()))
}

/// Creates an org unit (admins). Its county, town and district ids come from the parent.
#[utoipa::path(
    tag = "organisation",
    request_body = CreateOrgUnitRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created.", body = OrgUnitResponse),
        (status = 409, description = "The code is taken.", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/org-units")]
async fn create_org_unit(
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<CreateOrgUnitRequest>,
) -> ApiResult<HttpResponse> {
    body.validate()?;
    let body = body.into_inner();
    let txn = begin_write(&state.db).await?;
    let unit = org::create_org_unit(
        &txn,
        user.scope(),
        org::NewOrgUnit {
            parent_id: body.parent_id,
            kind: body.kind,
            name: body.name,
            code: body.code,
            office_phone: body.office_phone,
        },
    )
    .await?;
    let response = OrgUnitResponse::from(unit);
    audit::record(
        &txn,
        &user.audit_actor(),
        AuditEntry::new("org_unit.create", "org_unit", response.id)
            .with_changes(serde_json::to_value(&response).unwrap_or_default()),
    )
    .await?;
    crate::db::commit(txn).await?;
    Ok(HttpResponse::Created().json(response))
}

/// A department: a town office or a county bureau.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentResponse {
    /// Id.
    pub id: Uuid,
    /// The town or county it belongs to.
    pub org_unit_id: Uuid,
    /// Chinese name.
    #[schema(example = "县交通运输局")]
    pub name: String,
    /// Stable code.
    pub code: String,
}

impl From<department::Model> for DepartmentResponse {
    fn from(department: department::Model) -> Self {
        Self {
            id: department.id,
            org_unit_id: department.org_unit_id,
            name: department.name,
            code: department.code,
        }
    }
}

/// A new department.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateDepartmentRequest {
    /// The town or county it belongs to.
    pub org_unit_id: Uuid,
    /// Chinese name.
    #[validate(
        length(min = 1, max = 100),
        custom(function = "crate::validation::not_blank")
    )]
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    /// Stable code, unique.
    #[validate(length(min = 1, max = 32))]
    #[schema(min_length = 1, max_length = 32)]
    pub code: String,
}

/// Filters of the department list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DepartmentQuery {
    /// Only departments of this town or county.
    pub org_unit_id: Option<Uuid>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Lists departments in the caller's scope (department staff: their own), by code.
#[utoipa::path(
    tag = "organisation",
    params(DepartmentQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of departments.", body = Page<DepartmentResponse>)),
)]
#[get("/departments")]
async fn list_departments(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<DepartmentQuery>,
) -> ApiResult<web::Json<Page<DepartmentResponse>>> {
    let limit = pagination::limit(query.limit)?;
    let rows = org::list_departments(
        &state.db,
        user.scope(),
        query.org_unit_id,
        query.cursor.as_deref(),
        limit + 1,
    )
    .await?;
    Ok(web::Json(Page::from_rows(
        rows,
        limit,
        |row| row.code.clone(),
        DepartmentResponse::from,
    )))
}

/// Creates a department of a town or county (admins).
#[utoipa::path(
    tag = "organisation",
    request_body = CreateDepartmentRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created.", body = DepartmentResponse),
        (status = 409, description = "The code is taken.", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/departments")]
async fn create_department(
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<CreateDepartmentRequest>,
) -> ApiResult<HttpResponse> {
    body.validate()?;
    let body = body.into_inner();
    let txn = begin_write(&state.db).await?;
    let department = org::create_department(
        &txn,
        user.scope(),
        org::NewDepartment {
            org_unit_id: body.org_unit_id,
            name: body.name,
            code: body.code,
        },
    )
    .await?;
    let response = DepartmentResponse::from(department);
    audit::record(
        &txn,
        &user.audit_actor(),
        AuditEntry::new("department.create", "department", response.id)
            .with_changes(serde_json::to_value(&response).unwrap_or_default()),
    )
    .await?;
    crate::db::commit(txn).await?;
    Ok(HttpResponse::Created().json(response))
}
