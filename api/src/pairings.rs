//! 123 pairing (结对): each participating cadre pairs with 2 party members and 3 residents
//! (群众), among them at least one party member and one resident in hardship.

use std::collections::HashMap;

use chrono::Utc;
use entity::{
    household, pairing,
    user::{self, Role},
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    access::Scope,
    error::{ApiError, ApiResult},
    households::{self, HouseholdTag},
};

/// Party members each cadre pairs with.
pub const PARTY_MEMBERS: usize = 2;
/// Residents each cadre pairs with.
pub const RESIDENTS: usize = 3;

/// Why a cadre's pairing does not meet the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PairingProblem {
    /// Fewer than 2 party members.
    PartyMembersMissing,
    /// Fewer than 3 residents.
    ResidentsMissing,
    /// No paired party member is in hardship.
    NoPartyMemberInHardship,
    /// No paired resident is in hardship.
    NoResidentInHardship,
}

/// Checks the rule against the tags of the paired households.
pub fn check_pairing(paired_tags: &[i32]) -> Vec<PairingProblem> {
    let is_party = |tags: i32| tags & HouseholdTag::PartyMember.bit() != 0;
    let in_hardship = |tags: i32| tags & HouseholdTag::Hardship.bit() != 0;
    let party: Vec<i32> = paired_tags
        .iter()
        .copied()
        .filter(|tags| is_party(*tags))
        .collect();
    let residents: Vec<i32> = paired_tags
        .iter()
        .copied()
        .filter(|tags| !is_party(*tags))
        .collect();
    let mut problems = Vec::new();
    if party.len() < PARTY_MEMBERS {
        problems.push(PairingProblem::PartyMembersMissing);
    }
    if residents.len() < RESIDENTS {
        problems.push(PairingProblem::ResidentsMissing);
    }
    if !party.iter().any(|tags| in_hardship(*tags)) {
        problems.push(PairingProblem::NoPartyMemberInHardship);
    }
    if !residents.iter().any(|tags| in_hardship(*tags)) {
        problems.push(PairingProblem::NoResidentInHardship);
    }
    problems
}

/// Pairings whose household is in scope.
fn scope_condition(scope: &Scope) -> sea_orm::Condition {
    scope.village_condition(
        pairing::Column::CountyId,
        pairing::Column::TownId,
        pairing::Column::VillageId,
    )
}

/// Pairs a cadre with a household in scope; refuses a third party member or a fourth
/// resident (409), and a pairing that exists already (409).
pub async fn create_pairing(
    db: &impl ConnectionTrait,
    scope: &Scope,
    cadre: &user::Model,
    household_id: Uuid,
) -> ApiResult<pairing::Model> {
    if !matches!(cadre.role, Role::Cadre | Role::Leader) {
        return Err(ApiError::invalid_field(
            "cadre_id",
            "not_a_cadre",
            "Only cadres and leaders pair with households.",
        ));
    }
    // The household's village is copied into the pairing: the household is held (PostgreSQL
    // `FOR SHARE`) so that a move is wholly before this (the new village is read) or after it
    // (and moves this pairing along, `follow_household`).
    household::Entity::find_by_id(household_id)
        .select_only()
        .column(household::Column::Id)
        .lock_shared()
        .into_tuple::<Uuid>()
        .one(db)
        .await?;
    let household = households::find_household(db, scope, household_id)
        .await?
        .ok_or_else(|| {
            ApiError::invalid_field(
                "household_id",
                "not_found",
                "No such household in your scope.",
            )
        })?;
    // Concurrent pairings of one cadre are serialised on the cadre's row (PostgreSQL
    // `FOR NO KEY UPDATE`; SQLite's write transactions are serial already), so the 2 + 3 limit
    // holds. Not `FOR UPDATE`: that waits for the key-share lock a visit's insert takes on its
    // cadre, while the visit then waits for this pairing's share lock on the household — a
    // deadlock, one of the two aborted, whenever a cadre's phone pushes a visit to a household
    // a leader is pairing them with.
    user::Entity::find_by_id(cadre.id)
        .lock(sea_orm::sea_query::LockType::NoKeyUpdate)
        .one(db)
        .await?;
    let existing = pairing::Entity::find()
        .filter(pairing::Column::CadreId.eq(cadre.id))
        .all(db)
        .await?;
    if existing
        .iter()
        .any(|pairing| pairing.household_id == household.id)
    {
        return Err(ApiError::Conflict {
            code: "already_paired",
            detail: "This cadre already pairs with this household.".to_owned(),
        });
    }
    let tags = tags_of(
        db,
        existing
            .iter()
            .map(|pairing| pairing.household_id)
            .collect(),
    )
    .await?;
    let party_bit = HouseholdTag::PartyMember.bit();
    let joining_party = household.tags & party_bit != 0;
    let same_kind = tags
        .values()
        .filter(|tags| (**tags & party_bit != 0) == joining_party)
        .count();
    let limit = if joining_party {
        PARTY_MEMBERS
    } else {
        RESIDENTS
    };
    if same_kind >= limit {
        return Err(ApiError::Conflict {
            code: "pairing_full",
            detail: format!(
                "This cadre already pairs with {limit} {}.",
                if joining_party {
                    "party members"
                } else {
                    "residents"
                }
            ),
        });
    }
    let row = pairing::Model {
        id: Uuid::now_v7(),
        cadre_id: cadre.id,
        household_id: household.id,
        county_id: household.county_id,
        town_id: household.town_id,
        village_id: household.village_id,
        created_at: Utc::now(),
        change_seq: 0,
        created_seq: 0,
        origin_device: None,
    };
    pairing::Entity::insert(pairing::ActiveModel::from(row.clone()))
        .exec_without_returning(db)
        .await
        .map_err(|error| match ApiError::from(error) {
            ApiError::Conflict { .. } => ApiError::Conflict {
                code: "already_paired",
                detail: "This cadre already pairs with this household.".to_owned(),
            },
            other => other,
        })?;
    Ok(row)
}

/// The tags of households by id (one query per 500 ids).
async fn tags_of(db: &impl ConnectionTrait, ids: Vec<Uuid>) -> Result<HashMap<Uuid, i32>, DbErr> {
    let mut tags = HashMap::new();
    for chunk in ids.chunks(500) {
        for row in household::Entity::find()
            .filter(household::Column::Id.is_in(chunk.iter().copied()))
            .all(db)
            .await?
        {
            tags.insert(row.id, row.tags);
        }
    }
    Ok(tags)
}

/// Moves a household's pairings with it when it moves to another village, so that pairing
/// scope keeps following the household; the phones of the old village are told to delete the
/// household and its pairings (tombstones at the old place).
pub async fn follow_household(
    db: &impl ConnectionTrait,
    before: &household::Model,
    household: &household::Model,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::Expr;
    let old_place = Some((before.county_id, before.town_id, before.village_id));
    crate::sync::record_deletion(db, "households", household.id, old_place).await?;
    for pairing in pairing::Entity::find()
        .filter(pairing::Column::HouseholdId.eq(household.id))
        .all(db)
        .await?
    {
        crate::sync::record_deletion(db, "pairings", pairing.id, old_place).await?;
    }
    pairing::Entity::update_many()
        .col_expr(pairing::Column::CountyId, Expr::value(household.county_id))
        .col_expr(pairing::Column::TownId, Expr::value(household.town_id))
        .col_expr(
            pairing::Column::VillageId,
            Expr::value(household.village_id),
        )
        .col_expr(pairing::Column::ChangeSeq, Expr::value(0))
        .filter(pairing::Column::HouseholdId.eq(household.id))
        .exec(db)
        .await?;
    Ok(())
}

/// One pairing, if its household is in scope.
pub async fn find_pairing(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: Uuid,
) -> Result<Option<pairing::Model>, DbErr> {
    pairing::Entity::find_by_id(id)
        .filter(scope_condition(scope))
        .one(db)
        .await
}

/// Pairings in scope, optionally of one cadre, oldest first.
pub async fn list_pairings(
    db: &impl ConnectionTrait,
    scope: &Scope,
    cadre_id: Option<Uuid>,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<pairing::Model>, DbErr> {
    let mut query = pairing::Entity::find().filter(scope_condition(scope));
    if let Some(cadre_id) = cadre_id {
        query = query.filter(pairing::Column::CadreId.eq(cadre_id));
    }
    if let Some(after) = after {
        query = query.filter(pairing::Column::Id.gt(after));
    }
    query
        .order_by_asc(pairing::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// A cadre's pairing measured against the rule.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PairingStatus {
    /// The cadre.
    pub cadre_id: Uuid,
    /// The cadre's name.
    pub display_name: String,
    /// Party members paired (of 2).
    pub party_members: usize,
    /// Residents paired (of 3).
    pub residents: usize,
    /// Party members paired who are in hardship.
    pub party_members_in_hardship: usize,
    /// Residents paired who are in hardship.
    pub residents_in_hardship: usize,
    /// True when the rule is met.
    pub complete: bool,
    /// What is missing; empty when complete.
    pub problems: Vec<PairingProblem>,
}

/// The pairing of every active cadre and leader anchored in scope, by id.
pub async fn pairing_status(
    db: &impl ConnectionTrait,
    scope: &Scope,
) -> Result<Vec<PairingStatus>, DbErr> {
    let cadres = user::Entity::find()
        .filter(scope.org_unit_condition(user::Column::ScopeOrgUnitId))
        .filter(user::Column::Role.is_in([Role::Cadre, Role::Leader]))
        .filter(user::Column::Active.eq(true))
        .order_by_asc(user::Column::Id)
        .all(db)
        .await?;
    let mut pairings: Vec<pairing::Model> = Vec::new();
    for chunk in cadres.chunks(500) {
        pairings.extend(
            pairing::Entity::find()
                .filter(pairing::Column::CadreId.is_in(chunk.iter().map(|cadre| cadre.id)))
                .all(db)
                .await?,
        );
    }
    let tags = tags_of(
        db,
        pairings
            .iter()
            .map(|pairing| pairing.household_id)
            .collect(),
    )
    .await?;
    let party_bit = HouseholdTag::PartyMember.bit();
    let hardship_bit = HouseholdTag::Hardship.bit();
    Ok(cadres
        .into_iter()
        .map(|cadre| {
            let paired: Vec<i32> = pairings
                .iter()
                .filter(|pairing| pairing.cadre_id == cadre.id)
                .filter_map(|pairing| tags.get(&pairing.household_id).copied())
                .collect();
            let count = |party: bool, hardship: bool| {
                paired
                    .iter()
                    .filter(|tags| {
                        (**tags & party_bit != 0) == party
                            && (!hardship || **tags & hardship_bit != 0)
                    })
                    .count()
            };
            let problems = check_pairing(&paired);
            PairingStatus {
                cadre_id: cadre.id,
                display_name: cadre.display_name,
                party_members: count(true, false),
                residents: count(false, false),
                party_members_in_hardship: count(true, true),
                residents_in_hardship: count(false, true),
                complete: problems.is_empty(),
                problems,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use PairingProblem::*;

    const PARTY: i32 = 4;
    const HARDSHIP: i32 = 16;
    const RESIDENT: i32 = 0;

    #[test]
    fn two_party_members_and_three_residents_with_hardship_on_each_side_is_complete() {
        assert!(
            check_pairing(&[
                PARTY | HARDSHIP,
                PARTY,
                RESIDENT | HARDSHIP,
                RESIDENT,
                RESIDENT
            ])
            .is_empty()
        );
    }

    #[test]
    fn each_way_a_pairing_can_fall_short_is_named() {
        let cases: [(&str, &[i32], &[PairingProblem]); 6] = [
            (
                "nobody paired",
                &[],
                &[
                    PartyMembersMissing,
                    ResidentsMissing,
                    NoPartyMemberInHardship,
                    NoResidentInHardship,
                ],
            ),
            (
                "one party member",
                &[PARTY | HARDSHIP, RESIDENT | HARDSHIP, RESIDENT, RESIDENT],
                &[PartyMembersMissing],
            ),
            (
                "two residents",
                &[PARTY | HARDSHIP, PARTY, RESIDENT | HARDSHIP, RESIDENT],
                &[ResidentsMissing],
            ),
            (
                "no party member in hardship",
                &[PARTY, PARTY, RESIDENT | HARDSHIP, RESIDENT, RESIDENT],
                &[NoPartyMemberInHardship],
            ),
            (
                "no resident in hardship",
                &[PARTY | HARDSHIP, PARTY, RESIDENT, RESIDENT, RESIDENT],
                &[NoResidentInHardship],
            ),
            (
                "hardship only among party members",
                &[
                    PARTY | HARDSHIP,
                    PARTY | HARDSHIP,
                    RESIDENT,
                    RESIDENT,
                    RESIDENT,
                ],
                &[NoResidentInHardship],
            ),
        ];
        for (case, tags, expected) in cases {
            assert_eq!(check_pairing(tags), expected, "{case}");
        }
    }
}
