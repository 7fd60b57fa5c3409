//! User accounts and village assignments (包村): the rules that tie a role to a scope, and
//! the scoped queries.

use chrono::{NaiveDate, Utc};
use entity::{
    department, duty,
    org_unit::{self, OrgKind},
    user::{self, Position, Role},
    village_assignment, visit,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::{
    access::Scope,
    error::{ApiError, ApiResult, FieldError},
};

/// Where an account is anchored: an org unit and, for department staff, a department.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    /// The org unit the scope reaches.
    pub org_unit_id: Option<Uuid>,
    /// The department of department staff.
    pub department_id: Option<Uuid>,
}

fn field(field: &str, code: &str, message: &str) -> FieldError {
    FieldError {
        field: field.to_owned(),
        code: code.to_owned(),
        message: message.to_owned(),
    }
}

/// Checks that a role's anchor is of the right kind, and fills in what follows from it
/// (department staff are anchored at their department's town or county). The units must be
/// inside the caller's scope.
pub async fn resolve_anchor(
    db: &impl ConnectionTrait,
    caller: &Scope,
    role: Role,
    anchor: Anchor,
) -> ApiResult<Anchor> {
    let unit = match anchor.org_unit_id {
        Some(id) => Some(
            org_unit::Entity::find_by_id(id)
                .filter(caller.org_unit_condition(org_unit::Column::Id))
                .one(db)
                .await?
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        "scope_org_unit_id",
                        "not_found",
                        "No such org unit in your scope.",
                    )
                })?,
        ),
        None => None,
    };
    if unit.is_none() && *caller != Scope::All && role != Role::Department {
        // Without an anchor an account reaches the whole deployment: only an admin whose
        // own scope is the whole deployment may create such an account.
        return Err(ApiError::invalid_field(
            "scope_org_unit_id",
            "required",
            "Your own scope is limited: anchor the account at an org unit inside it.",
        ));
    }
    let kind = unit.as_ref().map(|unit| unit.kind);
    let problem = match (role, kind) {
        (Role::Admin, _) => None,
        (Role::Leader, Some(OrgKind::County | OrgKind::Town)) => None,
        (Role::Viewer, Some(_)) => None,
        (Role::Cadre, Some(OrgKind::Town)) => None,
        (Role::VillageOfficial, Some(OrgKind::Village)) => None,
        (Role::Department, _) => None,
        (Role::Leader, _) => Some("A leader is anchored at a county or a town."),
        (Role::Viewer, None) => Some("A viewer needs an org unit to read."),
        (Role::Cadre, _) => {
            Some("A cadre is anchored at their town; villages come from assignments.")
        }
        (Role::VillageOfficial, _) => Some("A village official is anchored at their village."),
    };
    if let Some(message) = problem {
        return Err(ApiError::Validation(vec![field(
            "scope_org_unit_id",
            "wrong_level",
            message,
        )]));
    }
    if role != Role::Department {
        if anchor.department_id.is_some() {
            return Err(ApiError::Validation(vec![field(
                "department_id",
                "not_allowed",
                "Only department staff belong to a department.",
            )]));
        }
        return Ok(anchor);
    }
    let department_id = anchor.department_id.ok_or_else(|| {
        ApiError::invalid_field(
            "department_id",
            "required",
            "Department staff need a department.",
        )
    })?;
    let department = department::Entity::find_by_id(department_id)
        .filter(caller.org_unit_condition(department::Column::OrgUnitId))
        .one(db)
        .await?
        .ok_or_else(|| {
            ApiError::invalid_field(
                "department_id",
                "not_found",
                "No such department in your scope.",
            )
        })?;
    Ok(Anchor {
        org_unit_id: Some(department.org_unit_id),
        department_id: Some(department.id),
    })
}

/// A new account.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name (lower case).
    pub username: String,
    /// Chinese name.
    pub display_name: String,
    /// Mobile number.
    pub phone: Option<String>,
    /// Campaign position.
    pub position: Position,
    /// Role.
    pub role: Role,
    /// Where the scope reaches (already resolved).
    pub anchor: Anchor,
    /// Argon2id hash of the password.
    pub password_hash: String,
}

/// Inserts an account; a taken username is 409.
pub async fn create_user(db: &impl ConnectionTrait, new: NewUser) -> ApiResult<user::Model> {
    let now = Utc::now();
    let model = user::Model {
        id: Uuid::now_v7(),
        username: new.username,
        display_name: new.display_name,
        phone: new.phone,
        position: new.position,
        role: new.role,
        scope_org_unit_id: new.anchor.org_unit_id,
        department_id: new.anchor.department_id,
        password_hash: new.password_hash,
        active: true,
        created_at: now,
        updated_at: now,
    };
    user::Entity::insert(user::ActiveModel::from(model.clone()))
        .exec_without_returning(db)
        .await
        .map_err(|error| match ApiError::from(error) {
            ApiError::Conflict { .. } => ApiError::Conflict {
                code: "username_taken",
                detail: "That username is taken.".to_owned(),
            },
            other => other,
        })?;
    Ok(model)
}

/// Users in scope: those anchored at a unit the scope reaches. An admin of the whole
/// deployment also sees accounts with no anchor.
fn user_condition(scope: &Scope) -> sea_orm::Condition {
    scope.org_unit_condition(user::Column::ScopeOrgUnitId)
}

/// One user, if in scope.
pub async fn find_user(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: Uuid,
) -> Result<Option<user::Model>, DbErr> {
    user_in_scope(scope, id).one(db).await
}

fn user_in_scope(scope: &Scope, id: Uuid) -> sea_orm::Select<user::Entity> {
    user::Entity::find_by_id(id).filter(user_condition(scope))
}

/// [`find_user`], the row locked until the transaction ends (PostgreSQL `FOR UPDATE`; SQLite's
/// write transactions are serial already): a change is made to the account as it is, never to a
/// copy that another admin's change has made stale (a deactivation or password reset written
/// back over), and sign-ins and refreshes, which read it `FOR SHARE`
/// (`session::lock_account`), are wholly before or wholly after it.
pub async fn lock_user(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: Uuid,
) -> Result<Option<user::Model>, DbErr> {
    user_in_scope(scope, id).lock_exclusive().one(db).await
}

/// Filters of the user list.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Only this role.
    pub role: Option<Role>,
    /// Only active (or inactive) accounts.
    pub active: Option<bool>,
}

/// Users in scope in creation order; `after` is the last id of the previous page.
pub async fn list_users(
    db: &impl ConnectionTrait,
    scope: &Scope,
    filter: &UserFilter,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<user::Model>, DbErr> {
    let mut query = user::Entity::find().filter(user_condition(scope));
    if let Some(role) = filter.role {
        query = query.filter(user::Column::Role.eq(role));
    }
    if let Some(active) = filter.active {
        query = query.filter(user::Column::Active.eq(active));
    }
    if let Some(after) = after {
        query = query.filter(user::Column::Id.gt(after));
    }
    query
        .order_by_asc(user::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Saves a changed account (the caller has checked the change).
pub async fn save_user(
    db: &impl ConnectionTrait,
    mut changed: user::Model,
) -> Result<user::Model, DbErr> {
    changed.updated_at = Utc::now();
    let mut active: user::ActiveModel = changed.clone().into();
    for column in [
        user::Column::DisplayName,
        user::Column::Phone,
        user::Column::Position,
        user::Column::Role,
        user::Column::ScopeOrgUnitId,
        user::Column::DepartmentId,
        user::Column::PasswordHash,
        user::Column::Active,
        user::Column::UpdatedAt,
    ] {
        active.reset(column);
    }
    user::Entity::update(active).exec(db).await
}

/// A village assignment with the village's name.
#[derive(Debug, Clone)]
pub struct Assignment {
    /// The row.
    pub row: village_assignment::Model,
    /// The village's name.
    pub village_name: String,
}

/// The assignments of a user, newest first, with village names (one query).
pub async fn list_assignments(
    db: &impl ConnectionTrait,
    user_id: Uuid,
) -> Result<Vec<Assignment>, DbErr> {
    let rows = village_assignment::Entity::find()
        .filter(village_assignment::Column::UserId.eq(user_id))
        .order_by_desc(village_assignment::Column::StartsOn)
        .all(db)
        .await?;
    let villages = org_unit::Entity::find()
        .filter(org_unit::Column::Id.is_in(rows.iter().map(|row| row.village_id)))
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let village_name = villages
                .iter()
                .find(|village| village.id == row.village_id)
                .map(|village| village.name.clone())
                .unwrap_or_default();
            Assignment { row, village_name }
        })
        .collect())
}

/// Assigns a user in scope to a village in scope.
pub async fn create_assignment(
    db: &impl ConnectionTrait,
    scope: &Scope,
    user: &user::Model,
    village_id: Uuid,
    starts_on: NaiveDate,
    ends_on: Option<NaiveDate>,
) -> ApiResult<village_assignment::Model> {
    if !matches!(user.role, Role::Cadre | Role::Leader) {
        return Err(ApiError::Conflict {
            code: "not_assignable",
            detail: "Only cadres and leaders are assigned to villages.".to_owned(),
        });
    }
    check_dates(starts_on, ends_on)?;
    let village = org_unit::Entity::find_by_id(village_id)
        .filter(scope.org_unit_condition(org_unit::Column::Id))
        .one(db)
        .await?
        .filter(|unit| unit.kind == OrgKind::Village)
        .ok_or_else(|| {
            ApiError::invalid_field("village_id", "not_found", "No such village in your scope.")
        })?;
    let model = village_assignment::Model {
        id: Uuid::now_v7(),
        user_id: user.id,
        village_id: village.id,
        starts_on,
        ends_on,
        created_at: Utc::now(),
    };
    village_assignment::Entity::insert(village_assignment::ActiveModel::from(model.clone()))
        .exec_without_returning(db)
        .await?;
    Ok(model)
}

/// An assignment whose village is in scope.
pub async fn find_assignment(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: Uuid,
) -> Result<Option<village_assignment::Model>, DbErr> {
    village_assignment::Entity::find_by_id(id)
        .filter(scope.org_unit_condition(village_assignment::Column::VillageId))
        .one(db)
        .await
}

/// Sets (or clears) the last day of an assignment, and takes the person's duties in the village
/// after that day off the roster: from tomorrow on (today's and past duties are the record),
/// and none a sit-in visit is linked to. Left on it, they would show the person on the public
/// board and count as missed on their 一考; generating the roster again fills those days by
/// the rule. Returns the assignment and how many duties were taken off.
pub async fn end_assignment(
    db: &impl ConnectionTrait,
    assignment: village_assignment::Model,
    ends_on: Option<NaiveDate>,
    today: NaiveDate,
) -> ApiResult<(village_assignment::Model, u64)> {
    check_dates(assignment.starts_on, ends_on)?;
    let (id, user_id, village_id) = (assignment.id, assignment.user_id, assignment.village_id);
    let mut active: village_assignment::ActiveModel = assignment.into();
    active.ends_on = Set(ends_on);
    let row = village_assignment::Entity::update(active).exec(db).await?;
    let Some(last_day) = ends_on else {
        return Ok((row, 0));
    };
    // Days another assignment of the same person to the village still covers keep their duty.
    let others = village_assignment::Entity::find()
        .filter(village_assignment::Column::UserId.eq(user_id))
        .filter(village_assignment::Column::VillageId.eq(village_id))
        .filter(village_assignment::Column::Id.ne(id))
        .all(db)
        .await?;
    let covered = |date: NaiveDate| {
        others.iter().any(|other| {
            other.starts_on <= date && other.ends_on.is_none_or(|ends_on| date <= ends_on)
        })
    };
    let kept_by_a_visit = sea_orm::sea_query::Query::select()
        .column(visit::Column::DutyId)
        .from(visit::Entity)
        .and_where(visit::Column::DutyId.is_not_null())
        .to_owned();
    let leaving: Vec<Uuid> = duty::Entity::find()
        .filter(duty::Column::UserId.eq(user_id))
        .filter(duty::Column::VillageId.eq(village_id))
        .filter(duty::Column::DutyDate.gt(last_day.max(today)))
        .filter(duty::Column::Id.not_in_subquery(kept_by_a_visit))
        .all(db)
        .await?
        .into_iter()
        .filter(|duty| !covered(duty.duty_date))
        .map(|duty| duty.id)
        .collect();
    let mut removed = 0;
    for ids in leaving.chunks(500) {
        removed += duty::Entity::delete_many()
            .filter(duty::Column::Id.is_in(ids.iter().copied()))
            .exec(db)
            .await?
            .rows_affected;
    }
    Ok((row, removed))
}

fn check_dates(starts_on: NaiveDate, ends_on: Option<NaiveDate>) -> ApiResult<()> {
    match ends_on {
        Some(ends_on) if ends_on < starts_on => Err(ApiError::invalid_field(
            "ends_on",
            "before_start",
            "An assignment cannot end before it starts.",
        )),
        _ => Ok(()),
    }
}

/// Creates an administrator of the whole deployment from the command line, with an audit
/// row whose actor is `system`.
pub async fn create_first_admin(
    db: &sea_orm::DatabaseConnection,
    username: &str,
    display_name: &str,
    password_given: &str,
) -> ApiResult<user::Model> {
    let mut problems = Vec::new();
    if let Err(error) = valid_username(username) {
        problems.push(field(
            "username",
            &error.code,
            "3–64 lower-case letters, digits, `_`, `.` or `-`.",
        ));
    }
    let length = password_given.chars().count();
    if !(crate::auth::password::MIN_LENGTH..=crate::auth::password::MAX_LENGTH).contains(&length) {
        problems.push(field(
            "password",
            "length",
            "The password must have 8 to 128 characters.",
        ));
    }
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    let password_hash = crate::auth::password::hash(password_given)
        .map_err(|error| ApiError::Internal(error.to_string().into()))?;
    let txn = crate::db::begin_write(db).await?;
    let created = create_user(
        &txn,
        NewUser {
            username: username.to_owned(),
            display_name: display_name.to_owned(),
            phone: None,
            position: Position::Other,
            role: Role::Admin,
            anchor: Anchor {
                org_unit_id: None,
                department_id: None,
            },
            password_hash,
        },
    )
    .await?;
    crate::audit::record(
        &txn,
        &crate::audit::AuditActor::system(),
        crate::audit::AuditEntry::new("user.create", "user", created.id)
            .with_changes(serde_json::json!({"username": created.username, "role": "admin"})),
    )
    .await?;
    crate::db::commit(txn).await?;
    Ok(created)
}

/// Lower-case letters, digits, `_`, `.` and `-`, 3 to 64 characters.
pub fn valid_username(username: &str) -> Result<(), validator::ValidationError> {
    let ok = (3..=64).contains(&username.len())
        && username.bytes().all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || matches!(byte, b'_' | b'.' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(validator::ValidationError::new("invalid_username")
            .with_message("3–64 lower-case letters, digits, `_`, `.` or `-`.".into()))
    }
}

/// A mainland mobile number: 11 digits starting with 1.
pub fn valid_mobile(phone: &str) -> Result<(), validator::ValidationError> {
    if phone.len() == 11
        && phone.starts_with('1')
        && phone.bytes().all(|byte| byte.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(validator::ValidationError::new("invalid_phone")
            .with_message("11 digits starting with 1.".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lower_case_and_plain() {
        assert!(valid_username("cadre_1").is_ok());
        assert!(valid_username("Cadre").is_err());
        assert!(valid_username("张三").is_err());
        assert!(valid_username("ab").is_err());
    }
}
