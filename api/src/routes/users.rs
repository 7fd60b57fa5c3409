//! `/api/v1/users` and village assignments (包村).

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    user::{self, Position, Role},
    village_assignment,
};
use sea_orm::{EntityTrait, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;
use validator::Validate;

use crate::{
    accounts::{self, Anchor},
    audit::{self, AuditEntry},
    auth::{AuthUser, password, session},
    db::begin_write,
    error::{ApiError, ApiResult, Problem},
    pagination::{self, Page},
    privacy,
    startup::AppState,
};

/// Registers the user and assignment routes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_users)
        .service(create_user)
        .service(get_user)
        .service(update_user)
        .service(list_assignments)
        .service(create_assignment)
        .service(update_assignment);
}

/// A user account (never its password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    /// Id.
    pub id: Uuid,
    /// Login name.
    #[schema(example = "cadre1")]
    pub username: String,
    /// Name shown to people.
    #[schema(example = "李明")]
    pub display_name: String,
    /// Mobile number (work contact).
    pub phone: Option<String>,
    /// Campaign position.
    pub position: Position,
    /// Role.
    pub role: Role,
    /// The org unit the account's scope reaches.
    pub scope_org_unit_id: Option<Uuid>,
    /// The department of department staff.
    pub department_id: Option<Uuid>,
    /// Inactive accounts cannot sign in.
    pub active: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<user::Model> for UserResponse {
    fn from(user: user::Model) -> Self {
        Self {
            id: user.id,
            username: user.username,
            display_name: user.display_name,
            phone: user.phone,
            position: user.position,
            role: user.role,
            scope_org_unit_id: user.scope_org_unit_id,
            department_id: user.department_id,
            active: user.active,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// A new account. The anchor depends on the role: leaders at a county, town or district;
/// cadres at their town (their villages come from assignments); village officials at their
/// village; viewers anywhere; department staff in a department; admins anywhere or nowhere
/// (the whole deployment).
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// Login name: 3–64 lower-case letters, digits, `_`, `.`, `-`.
    #[validate(custom(function = "accounts::valid_username"))]
    #[schema(example = "cadre3")]
    pub username: String,
    /// Name shown to people.
    #[validate(
        length(min = 1, max = 64),
        custom(function = "crate::validation::not_blank")
    )]
    #[schema(min_length = 1, max_length = 64, pattern = "\\S")]
    #[schema(example = "王芳")]
    pub display_name: String,
    /// Mobile number, 11 digits.
    #[validate(custom(function = "accounts::valid_mobile"))]
    pub phone: Option<String>,
    /// Campaign position.
    pub position: Position,
    /// Role.
    pub role: Role,
    /// The org unit the scope reaches.
    pub scope_org_unit_id: Option<Uuid>,
    /// The department (department staff only).
    pub department_id: Option<Uuid>,
    /// Initial password, 8–128 characters.
    #[validate(length(min = 8, max = 128))]
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
}

/// Changes to an account; omitted fields stay as they are.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// Name shown to people.
    #[validate(
        length(min = 1, max = 64),
        custom(function = "crate::validation::not_blank")
    )]
    #[schema(min_length = 1, max_length = 64, pattern = "\\S")]
    pub display_name: Option<String>,
    /// Mobile number, 11 digits.
    #[validate(custom(function = "accounts::valid_mobile"))]
    pub phone: Option<String>,
    /// Campaign position.
    pub position: Option<Position>,
    /// Role (the anchor must suit it).
    pub role: Option<Role>,
    /// The org unit the scope reaches.
    pub scope_org_unit_id: Option<Uuid>,
    /// The department (department staff only).
    pub department_id: Option<Uuid>,
    /// `false` stops sign-in and every token of the account at once.
    pub active: Option<bool>,
    /// A new password, 8–128 characters.
    #[validate(length(min = 8, max = 128))]
    #[schema(min_length = 8, max_length = 128)]
    pub password: Option<String>,
}

/// Filters of the user list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Only this role.
    pub role: Option<Role>,
    /// Only active (`true`) or inactive (`false`) accounts.
    pub active: Option<bool>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The audit view of an account: everything but secrets, the phone masked (the trail never
/// holds a full phone number).
fn audit_view(user: &user::Model) -> serde_json::Value {
    let mut view = UserResponse::from(user.clone());
    view.phone = view.phone.as_deref().map(privacy::mask_phone);
    serde_json::to_value(view).unwrap_or_default()
}

/// Lists accounts anchored in the caller's scope (admins, leaders).
#[utoipa::path(
    tag = "users",
    params(UserQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of users.", body = Page<UserResponse>)),
)]
#[get("/users")]
async fn list_users(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<UserQuery>,
) -> ApiResult<web::Json<Page<UserResponse>>> {
    let limit = pagination::limit(query.limit)?;
    let after = pagination::uuid_cursor(query.cursor.as_deref())?;
    let filter = accounts::UserFilter {
        role: query.role,
        active: query.active,
    };
    let rows = accounts::list_users(&state.db, user.scope(), &filter, after, limit + 1).await?;
    Ok(web::Json(Page::from_rows(
        rows,
        limit,
        |row| row.id.to_string(),
        UserResponse::from,
    )))
}

/// Creates an account (admins).
#[utoipa::path(
    tag = "users",
    request_body = CreateUserRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created.", body = UserResponse),
        (status = 409, description = "The username is taken.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/users")]
async fn create_user(
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<CreateUserRequest>,
) -> ApiResult<HttpResponse> {
    body.validate()?;
    let body = body.into_inner();
    let password_hash = password::hash_async(body.password).await?;
    let txn = begin_write(&state.db).await?;
    let anchor = accounts::resolve_anchor(
        &txn,
        user.scope(),
        body.role,
        Anchor {
            org_unit_id: body.scope_org_unit_id,
            department_id: body.department_id,
        },
    )
    .await?;
    let created = accounts::create_user(
        &txn,
        accounts::NewUser {
            username: body.username,
            display_name: body.display_name,
            phone: body.phone,
            position: body.position,
            role: body.role,
            anchor,
            password_hash,
        },
    )
    .await?;
    audit::record(
        &txn,
        &user.audit_actor(),
        AuditEntry::new("user.create", "user", created.id).with_changes(audit_view(&created)),
    )
    .await?;
    crate::db::commit(txn).await?;
    Ok(HttpResponse::Created().json(UserResponse::from(created)))
}

/// One account in the caller's scope.
#[utoipa::path(
    tag = "users",
    params(("id" = Uuid, Path, description = "User id.")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user.", body = UserResponse),
        (status = 404, description = "No such user in your scope.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/users/{id}")]
async fn get_user(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<UserResponse>> {
    let found = accounts::find_user(&state.db, user.scope(), *id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such user.".to_owned()))?;
    Ok(web::Json(found.into()))
}

/// Changes an account (admins). Deactivating it or changing its role ends its access at once;
/// a new password or a deactivation also revokes every refresh token of the account.
#[utoipa::path(
    tag = "users",
    params(("id" = Uuid, Path, description = "User id.")),
    request_body = UpdateUserRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed user.", body = UserResponse),
        (status = 404, description = "No such user in your scope.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/users/{id}")]
async fn update_user(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<UpdateUserRequest>,
) -> ApiResult<web::Json<UserResponse>> {
    body.validate()?;
    let body = body.into_inner();
    let password_hash = match body.password {
        Some(password) => Some(password::hash_async(password).await?),
        None => None,
    };
    let txn = begin_write(&state.db).await?;
    let before = accounts::lock_user(&txn, user.scope(), *id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such user.".to_owned()))?;
    let mut changed = before.clone();
    if let Some(display_name) = body.display_name {
        changed.display_name = display_name;
    }
    if let Some(phone) = body.phone {
        changed.phone = Some(phone);
    }
    if let Some(position) = body.position {
        changed.position = position;
    }
    if let Some(active) = body.active {
        changed.active = active;
    }
    changed.role = body.role.unwrap_or(before.role);
    let anchor = accounts::resolve_anchor(
        &txn,
        user.scope(),
        changed.role,
        Anchor {
            org_unit_id: body.scope_org_unit_id.or(before.scope_org_unit_id),
            // A department is kept only while the account stays department staff.
            department_id: match changed.role {
                Role::Department => body.department_id.or(before.department_id),
                _ => body.department_id,
            },
        },
    )
    .await?;
    changed.scope_org_unit_id = anchor.org_unit_id;
    changed.department_id = anchor.department_id;
    let password_changed = password_hash.is_some();
    if let Some(hash) = password_hash {
        changed.password_hash = hash;
    }
    if changed == before {
        // Nothing changed (a retry, say): nothing written, no audit row.
        crate::db::commit(txn).await?;
        return Ok(web::Json(before.into()));
    }
    let saved = accounts::save_user(&txn, changed).await?;
    let mut changes = audit::diff(&audit_view(&before), &audit_view(&saved));
    audit::note_masked_change(
        &mut changes,
        "phone",
        before.phone.as_deref(),
        saved.phone.as_deref(),
        privacy::mask_phone,
    );
    // A new password or a deactivation ends every sign-in of the account, in the same
    // transaction: a stolen refresh token must not outlive the reset.
    let sessions_revoked = if password_changed || (before.active && !saved.active) {
        session::revoke_all_for_user(&txn, saved.id).await?
    } else {
        0
    };
    if let Some(object) = changes.as_object_mut() {
        if password_changed {
            object.insert("password".to_owned(), serde_json::json!("changed"));
        }
        if sessions_revoked > 0 {
            object.insert(
                "sessions_revoked".to_owned(),
                serde_json::json!(sessions_revoked),
            );
        }
    }
    audit::record(
        &txn,
        &user.audit_actor(),
        AuditEntry::new("user.update", "user", saved.id).with_changes(changes),
    )
    .await?;
    state.commit_access_change(txn).await?;
    Ok(web::Json(saved.into()))
}

/// An assignment of a cadre to a village (包村).
#[derive(Debug, Serialize, ToSchema)]
pub struct AssignmentResponse {
    /// Id.
    pub id: Uuid,
    /// The cadre.
    pub user_id: Uuid,
    /// The village.
    pub village_id: Uuid,
    /// The village's name.
    #[schema(example = "东关村")]
    pub village_name: String,
    /// First day.
    pub starts_on: NaiveDate,
    /// Last day, if set.
    pub ends_on: Option<NaiveDate>,
}

impl AssignmentResponse {
    fn new(row: village_assignment::Model, village_name: String) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            village_id: row.village_id,
            village_name,
            starts_on: row.starts_on,
            ends_on: row.ends_on,
        }
    }
}

impl From<accounts::Assignment> for AssignmentResponse {
    fn from(assignment: accounts::Assignment) -> Self {
        Self::new(assignment.row, assignment.village_name)
    }
}

/// A new assignment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAssignmentRequest {
    /// The village.
    pub village_id: Uuid,
    /// First day.
    pub starts_on: NaiveDate,
    /// Last day, if known.
    pub ends_on: Option<NaiveDate>,
}

/// A change to an assignment: its last day (null: open-ended again).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAssignmentRequest {
    /// Last day; a day in the past ends the cadre's access to the village at once.
    pub ends_on: Option<NaiveDate>,
}

/// The village assignments of a user in scope, newest first.
#[utoipa::path(
    tag = "users",
    params(("id" = Uuid, Path, description = "User id.")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user's assignments.", body = Vec<AssignmentResponse>),
        (status = 404, description = "No such user in your scope.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/users/{id}/assignments")]
async fn list_assignments(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<Vec<AssignmentResponse>>> {
    let target = accounts::find_user(&state.db, user.scope(), *id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such user.".to_owned()))?;
    let assignments = accounts::list_assignments(&state.db, target.id).await?;
    Ok(web::Json(
        assignments
            .into_iter()
            .map(AssignmentResponse::from)
            .collect(),
    ))
}

/// Assigns a cadre or leader to a village (admins, leaders; both in the caller's scope).
#[utoipa::path(
    tag = "users",
    params(("id" = Uuid, Path, description = "User id.")),
    request_body = CreateAssignmentRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Assigned.", body = AssignmentResponse),
        (status = 404, description = "No such user in your scope.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The user's role is not assigned to villages.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/users/{id}/assignments")]
async fn create_assignment(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<CreateAssignmentRequest>,
) -> ApiResult<HttpResponse> {
    let txn = begin_write(&state.db).await?;
    let target = accounts::find_user(&txn, user.scope(), *id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such user.".to_owned()))?;
    let row = accounts::create_assignment(
        &txn,
        user.scope(),
        &target,
        body.village_id,
        body.starts_on,
        body.ends_on,
    )
    .await?;
    let village_name = crate::org::find_org_unit(&txn, user.scope(), row.village_id)
        .await?
        .map(|village| village.name)
        .unwrap_or_default();
    let response = AssignmentResponse::new(row, village_name);
    audit::record(
        &txn,
        &user.audit_actor(),
        AuditEntry::new("assignment.create", "village_assignment", response.id)
            .with_changes(serde_json::to_value(&response).unwrap_or_default()),
    )
    .await?;
    state.commit_access_change(txn).await?;
    Ok(HttpResponse::Created().json(response))
}

/// Sets the last day of an assignment whose village is in the caller's scope (admins,
/// leaders). A cadre's access to the village ends with it — at once, not when tokens expire —
/// and their duties in the village after that day, from tomorrow on, leave the roster
/// (generate it again to fill those days).
#[utoipa::path(
    tag = "users",
    params(("id" = Uuid, Path, description = "Assignment id.")),
    request_body = UpdateAssignmentRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed assignment.", body = AssignmentResponse),
        (status = 404, description = "No such assignment in your scope.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/assignments/{id}")]
async fn update_assignment(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    body: web::Json<UpdateAssignmentRequest>,
) -> ApiResult<web::Json<AssignmentResponse>> {
    let txn = begin_write(&state.db).await?;
    // Held until the commit (PostgreSQL `FOR UPDATE`): a concurrent change of the same
    // assignment is wholly before this one, so a retry racing its original finds the day set.
    village_assignment::Entity::find_by_id(*id)
        .lock_exclusive()
        .one(&txn)
        .await?;
    let before = accounts::find_assignment(&txn, user.scope(), *id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such assignment.".to_owned()))?;
    let old_end = before.ends_on;
    let unchanged = old_end == body.ends_on;
    let (row, duties_removed) = if unchanged {
        (before, 0)
    } else {
        accounts::end_assignment(&txn, before, body.ends_on, state.clock.today()).await?
    };
    let village_name = crate::org::find_org_unit(&txn, user.scope(), row.village_id)
        .await?
        .map(|village| village.name)
        .unwrap_or_default();
    if unchanged {
        // The same last day again (a retry, say): nothing written, no audit row.
        crate::db::commit(txn).await?;
        return Ok(web::Json(AssignmentResponse::new(row, village_name)));
    }
    audit::record(
        &txn,
        &user.audit_actor(),
        AuditEntry::new("assignment.update", "village_assignment", row.id).with_changes(
            serde_json::json!({
                "ends_on": {"from": old_end, "to": row.ends_on},
                "duties_removed": duties_removed,
            }),
        ),
    )
    .await?;
    state.commit_access_change(txn).await?;
    Ok(web::Json(AssignmentResponse::new(row, village_name)))
}
