//! The organisation: org units (county → town → district → village) and departments.
//! Every query takes the caller's [`Scope`].

use chrono::Utc;
use entity::{
    department,
    org_unit::{self, OrgKind},
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use crate::{
    access::Scope,
    error::{ApiError, ApiResult},
};

/// What a new org unit needs.
#[derive(Debug, Clone)]
pub struct NewOrgUnit {
    /// The unit above; none only for a county.
    pub parent_id: Option<Uuid>,
    /// Its level.
    pub kind: OrgKind,
    /// Chinese name.
    pub name: String,
    /// Administrative code, unique.
    pub code: String,
    /// The office's phone.
    pub office_phone: Option<String>,
}

/// Which parent kinds a kind may hang under: a village under a district or directly under
/// a town (not every town has management districts).
fn allowed_parents(kind: OrgKind) -> &'static [OrgKind] {
    match kind {
        OrgKind::County => &[],
        OrgKind::Town => &[OrgKind::County],
        OrgKind::District => &[OrgKind::Town],
        OrgKind::Village => &[OrgKind::District, OrgKind::Town],
    }
}

/// Creates a unit under a parent inside the caller's scope, deriving its county, town and
/// district ids from the parent.
pub async fn create_org_unit(
    db: &impl ConnectionTrait,
    scope: &Scope,
    new: NewOrgUnit,
) -> ApiResult<org_unit::Model> {
    let id = Uuid::now_v7();
    let parent = match new.parent_id {
        Some(parent_id) => Some(find_org_unit(db, scope, parent_id).await?.ok_or_else(|| {
            ApiError::invalid_field("parent_id", "not_found", "No such org unit in your scope.")
        })?),
        None => None,
    };
    let allowed = allowed_parents(new.kind);
    let (county_id, town_id, district_id) = match (&parent, new.kind) {
        (None, OrgKind::County) if *scope == Scope::All => (id, None, None),
        (None, _) => {
            return Err(ApiError::invalid_field(
                "parent_id",
                "required",
                "Only a county has no parent (and only an admin of the whole deployment creates one).",
            ));
        }
        (Some(parent), kind) if allowed.contains(&parent.kind) => match kind {
            OrgKind::Town => (parent.county_id, Some(id), None),
            OrgKind::District => (parent.county_id, parent.town_id, Some(id)),
            _ => (parent.county_id, parent.town_id, parent.district_id),
        },
        (Some(_), _) => {
            return Err(ApiError::invalid_field(
                "parent_id",
                "wrong_level",
                "county → town → district → village: this parent cannot hold this kind of unit.",
            ));
        }
    };
    let model = org_unit::ActiveModel {
        id: Set(id),
        parent_id: Set(new.parent_id),
        kind: Set(new.kind),
        name: Set(new.name),
        code: Set(new.code),
        county_id: Set(county_id),
        town_id: Set(town_id),
        district_id: Set(district_id),
        office_phone: Set(new.office_phone),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    org_unit::Entity::insert(model)
        .exec_without_returning(db)
        .await?;
    find_org_unit(db, &Scope::All, id)
        .await?
        .ok_or_else(|| ApiError::Internal("inserted org unit vanished".into()))
}

/// One unit, if it is in scope.
pub async fn find_org_unit(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: Uuid,
) -> Result<Option<org_unit::Model>, DbErr> {
    org_unit::Entity::find_by_id(id)
        .filter(scope.org_unit_condition(org_unit::Column::Id))
        .one(db)
        .await
}

/// Filters of the org unit list.
#[derive(Debug, Clone, Default)]
pub struct OrgUnitFilter {
    /// Only this level.
    pub kind: Option<OrgKind>,
    /// Only direct children of this unit.
    pub parent_id: Option<Uuid>,
}

/// Units in scope, ordered by code; `after` is the last code of the previous page.
pub async fn list_org_units(
    db: &impl ConnectionTrait,
    scope: &Scope,
    filter: &OrgUnitFilter,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<org_unit::Model>, DbErr> {
    let mut query = org_unit::Entity::find().filter(scope.org_unit_condition(org_unit::Column::Id));
    if let Some(kind) = filter.kind {
        query = query.filter(org_unit::Column::Kind.eq(kind));
    }
    if let Some(parent_id) = filter.parent_id {
        query = query.filter(org_unit::Column::ParentId.eq(parent_id));
    }
    if let Some(after) = after {
        query = query.filter(org_unit::Column::Code.gt(after));
    }
    query
        .order_by_asc(org_unit::Column::Code)
        .limit(limit)
        .all(db)
        .await
}

/// A condition on departments in scope: those owned by a unit in scope, or, for department
/// staff, their own department.
fn department_condition(scope: &Scope) -> Condition {
    match scope {
        Scope::Department(id) => Condition::all().add(department::Column::Id.eq(*id)),
        _ => scope.org_unit_condition(department::Column::OrgUnitId),
    }
}

/// What a new department needs.
#[derive(Debug, Clone)]
pub struct NewDepartment {
    /// The town or county it belongs to.
    pub org_unit_id: Uuid,
    /// Chinese name.
    pub name: String,
    /// Stable code, unique.
    pub code: String,
}

/// Creates a department of a town or county in scope.
pub async fn create_department(
    db: &impl ConnectionTrait,
    scope: &Scope,
    new: NewDepartment,
) -> ApiResult<department::Model> {
    let owner = find_org_unit(db, scope, new.org_unit_id)
        .await?
        .ok_or_else(|| {
            ApiError::invalid_field(
                "org_unit_id",
                "not_found",
                "No such org unit in your scope.",
            )
        })?;
    if !matches!(owner.kind, OrgKind::Town | OrgKind::County) {
        return Err(ApiError::invalid_field(
            "org_unit_id",
            "wrong_level",
            "Departments belong to a town or a county.",
        ));
    }
    let model = department::Model {
        id: Uuid::now_v7(),
        org_unit_id: owner.id,
        name: new.name,
        code: new.code,
        created_at: Utc::now(),
    };
    department::Entity::insert(department::ActiveModel::from(model.clone()))
        .exec_without_returning(db)
        .await?;
    Ok(model)
}

/// One department, if in scope.
pub async fn find_department(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: Uuid,
) -> Result<Option<department::Model>, DbErr> {
    department::Entity::find_by_id(id)
        .filter(department_condition(scope))
        .one(db)
        .await
}

/// Departments in scope, by code; `after` is the last code of the previous page.
pub async fn list_departments(
    db: &impl ConnectionTrait,
    scope: &Scope,
    org_unit_id: Option<Uuid>,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<department::Model>, DbErr> {
    let mut query = department::Entity::find().filter(department_condition(scope));
    if let Some(org_unit_id) = org_unit_id {
        query = query.filter(department::Column::OrgUnitId.eq(org_unit_id));
    }
    if let Some(after) = after {
        query = query.filter(department::Column::Code.gt(after));
    }
    query
        .order_by_asc(department::Column::Code)
        .limit(limit)
        .all(db)
        .await
}
