//! Enterprises (企业) the campaign visits: the one scope rule every reader of them applies.

use entity::enterprise;
use sea_orm::{Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::access::Scope;

/// The enterprises in `scope`: by the county, town and village they are registered in.
pub fn scope_condition(scope: &Scope) -> Condition {
    scope.village_condition(
        enterprise::Column::CountyId,
        enterprise::Column::TownId,
        enterprise::Column::VillageId,
    )
}

/// One enterprise, if in scope.
pub async fn find_enterprise(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: Uuid,
) -> Result<Option<enterprise::Model>, DbErr> {
    enterprise::Entity::find_by_id(id)
        .filter(scope_condition(scope))
        .one(db)
        .await
}
