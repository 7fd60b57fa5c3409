//! `/api/v1/me`: who the caller is, their role, scope and villages.

use actix_web::{get, web};
use entity::{
    department, org_unit,
    user::{self, Position, Role},
};
use sea_orm::{ConnectionTrait, DbErr, EntityTrait};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::{
    accounts,
    auth::{Actor, AuthUser},
    error::{ApiError, ApiResult},
    routes::{
        org::{DepartmentResponse, OrgUnitResponse},
        users::AssignmentResponse,
    },
    startup::AppState,
};

/// Registers `/me`.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(get_me);
}

/// The signed-in user.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    /// Id.
    pub id: Uuid,
    /// Login name.
    pub username: String,
    /// Name shown to people.
    pub display_name: String,
    /// Own mobile number.
    pub phone: Option<String>,
    /// Campaign position.
    pub position: Position,
    /// Role.
    pub role: Role,
    /// The org unit the scope is anchored at (none: the whole deployment).
    pub org_unit: Option<OrgUnitResponse>,
    /// The department (department staff).
    pub department: Option<DepartmentResponse>,
    /// Village assignments (包村), newest first; a cadre sees the villages of those in force.
    pub assignments: Vec<AssignmentResponse>,
}

/// Builds the profile of a user.
pub async fn load_me(db: &impl ConnectionTrait, user: user::Model) -> Result<MeResponse, DbErr> {
    let org_unit = match user.scope_org_unit_id {
        Some(id) => org_unit::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(OrgUnitResponse::from),
        None => None,
    };
    let department = match user.department_id {
        Some(id) => department::Entity::find_by_id(id)
            .one(db)
            .await?
            .map(DepartmentResponse::from),
        None => None,
    };
    let assignments = accounts::list_assignments(db, user.id).await?;
    Ok(MeResponse {
        id: user.id,
        username: user.username,
        display_name: user.display_name,
        phone: user.phone,
        position: user.position,
        role: user.role,
        org_unit,
        department,
        assignments: assignments
            .into_iter()
            .map(AssignmentResponse::from)
            .collect(),
    })
}

/// The caller's profile, role, scope and village assignments. API tokens have no profile: 403.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "The signed-in user.", body = MeResponse)),
)]
#[get("/me")]
async fn get_me(user: AuthUser, state: web::Data<AppState>) -> ApiResult<web::Json<MeResponse>> {
    let Actor::User { id } = user.principal.actor else {
        return Err(ApiError::Forbidden(
            "API tokens have no profile.".to_owned(),
        ));
    };
    let me = user::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such user.".to_owned()))?;
    Ok(web::Json(load_me(&state.db, me).await?))
}
