//! Households (户): the tags that decide visit priority, and the scoped queries.

use chrono::{DateTime, Utc};
use entity::{
    household,
    org_unit::{self, OrgKind},
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait, LikeExpr, OnConflict},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    access::Scope,
    error::{ApiError, ApiResult},
};

/// A visit-priority tag (走访重点).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HouseholdTag {
    /// 致富能手: a wealth-creation leader.
    WealthLeader,
    /// 离任村干部: a former village cadre.
    FormerCadre,
    /// 党员: a party member.
    PartyMember,
    /// 有不同意见: holds dissenting views.
    Dissenting,
    /// 困难: in hardship (生活困难).
    Hardship,
}

impl HouseholdTag {
    /// Every tag, in display order.
    pub const ALL: [Self; 5] = [
        Self::WealthLeader,
        Self::FormerCadre,
        Self::PartyMember,
        Self::Dissenting,
        Self::Hardship,
    ];

    /// The tag's bit in `households.tags`.
    pub fn bit(self) -> i32 {
        match self {
            Self::WealthLeader => 1,
            Self::FormerCadre => 2,
            Self::PartyMember => 4,
            Self::Dissenting => 8,
            Self::Hardship => 16,
        }
    }

    /// The label users read.
    pub fn label(self) -> &'static str {
        match self {
            Self::WealthLeader => "致富能手",
            Self::FormerCadre => "离任村干部",
            Self::PartyMember => "党员",
            Self::Dissenting => "有不同意见",
            Self::Hardship => "困难",
        }
    }

    /// Reads a tag from its code or its Chinese label (as office spreadsheets write it).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        Self::ALL
            .into_iter()
            .find(|tag| {
                tag.label() == text
                    || serde_json::to_value(tag)
                        .ok()
                        .and_then(|value| value.as_str().map(str::to_owned))
                        .as_deref()
                        == Some(text)
            })
            .or(match text {
                "生活困难" | "困难户" | "困难群众" => Some(Self::Hardship),
                "中共党员" => Some(Self::PartyMember),
                _ => None,
            })
    }

    /// The bit set of several tags.
    pub fn bits(tags: &[Self]) -> i32 {
        tags.iter().fold(0, |bits, tag| bits | tag.bit())
    }

    /// The tags of a bit set.
    pub fn from_bits(bits: i32) -> Vec<Self> {
        Self::ALL
            .into_iter()
            .filter(|tag| bits & tag.bit() != 0)
            .collect()
    }
}

/// A village with the ids a household copies from it.
#[derive(Debug, Clone, Copy)]
pub struct VillagePlace {
    /// County.
    pub county_id: Uuid,
    /// Town.
    pub town_id: Uuid,
    /// Village.
    pub village_id: Uuid,
}

/// The village, if it is one and is in scope; else a 422 naming `field`.
pub async fn village_in_scope(
    db: &impl ConnectionTrait,
    scope: &Scope,
    village_id: Uuid,
    field: &str,
) -> ApiResult<VillagePlace> {
    let village = org_unit::Entity::find_by_id(village_id)
        .filter(scope.org_unit_condition(org_unit::Column::Id))
        .one(db)
        .await?
        .filter(|unit| unit.kind == OrgKind::Village)
        .ok_or_else(|| {
            ApiError::invalid_field(field, "not_found", "No such village in your scope.")
        })?;
    Ok(VillagePlace {
        county_id: village.county_id,
        town_id: village.town_id.unwrap_or(village.county_id),
        village_id: village.id,
    })
}

/// Locks these households for update, all at once and in id order (PostgreSQL `FOR NO KEY
/// UPDATE`; SQLite writers hold the whole database already): writers that take the
/// households they will update this way cannot deadlock each other. `ids`: sorted, distinct.
pub async fn lock_in_order(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<(), DbErr> {
    if db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        return Ok(());
    }
    for chunk in ids.chunks(500) {
        household::Entity::find()
            .select_only()
            .column(household::Column::Id)
            .filter(household::Column::Id.is_in(chunk.iter().copied()))
            .order_by_asc(household::Column::Id)
            .lock(sea_orm::sea_query::LockType::NoKeyUpdate)
            .into_tuple::<Uuid>()
            .all(db)
            .await?;
    }
    Ok(())
}

/// The condition "household in scope".
pub fn scope_condition(scope: &Scope) -> sea_orm::Condition {
    scope.village_condition(
        household::Column::CountyId,
        household::Column::TownId,
        household::Column::VillageId,
    )
}

/// One household, if in scope.
pub async fn find_household(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: Uuid,
) -> Result<Option<household::Model>, DbErr> {
    household::Entity::find_by_id(id)
        .filter(scope_condition(scope))
        .one(db)
        .await
}

/// A household by id whatever the scope — only to tell a retried create from a clash of
/// ids; never returned to a caller.
pub async fn find_any(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<household::Model>, DbErr> {
    household::Entity::find_by_id(id).one(db).await
}

/// Inserts a household with its client-chosen id; the same household again is `Existing`, a
/// different one with that id is 409 `id_taken`, and an ID number another household has is
/// 409 `id_card_taken`.
pub async fn insert_household(
    db: &impl ConnectionTrait,
    row: &household::Model,
) -> ApiResult<Inserted> {
    let result = household::Entity::insert(household::ActiveModel::from(row.clone()))
        .on_conflict(
            OnConflict::column(household::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .map_err(id_card_conflict)?;
    if result == 1 {
        return Ok(Inserted::New);
    }
    // The id is taken: by this very household (a retry, perhaps a concurrent one, whose
    // insert we waited for) or by another one.
    match find_any(db, row.id).await? {
        Some(stored) if same_content(&stored, row) => Ok(Inserted::Existing(Box::new(stored))),
        _ => Err(ApiError::Conflict {
            code: "id_taken",
            detail: "A different household already has this id.".to_owned(),
        }),
    }
}

/// What inserting a household with a client-chosen id did.
#[derive(Debug)]
pub enum Inserted {
    /// It is new.
    New,
    /// The same household was stored already (a retry).
    Existing(Box<household::Model>),
}

/// Whether two households say the same thing (ignoring versions, times and visits).
pub fn same_content(a: &household::Model, b: &household::Model) -> bool {
    a.village_id == b.village_id
        && a.head_name == b.head_name
        && a.phone == b.phone
        && a.address == b.address
        && a.members_count == b.members_count
        && a.id_card_number == b.id_card_number
        && a.latitude == b.latitude
        && a.longitude == b.longitude
        && a.tags == b.tags
        && a.notes == b.notes
}

/// Writes a change only if the stored version is still `expected` (another writer may
/// have committed since it was read); otherwise 412 with the current version.
pub async fn save_household(
    db: &impl ConnectionTrait,
    expected: i32,
    changed: household::Model,
) -> ApiResult<household::Model> {
    // Every column is written (`reset_all` marks them all as set); the version check in the
    // WHERE clause is what makes the write safe. `change_seq = 0` marks it for sync.
    let mut changed = changed;
    changed.change_seq = 0;
    let updated = household::Entity::update_many()
        .set({
            // A visit may have moved `last_visited_at` since this row was read: never write
            // it back from the read copy (nor the creation columns).
            let mut active = household::ActiveModel::from(changed.clone()).reset_all();
            active.last_visited_at = sea_orm::ActiveValue::NotSet;
            active.created_at = sea_orm::ActiveValue::NotSet;
            active.created_by = sea_orm::ActiveValue::NotSet;
            active.created_seq = sea_orm::ActiveValue::NotSet;
            active.origin_device = sea_orm::ActiveValue::NotSet;
            active
        })
        .filter(household::Column::Id.eq(changed.id))
        .filter(household::Column::Version.eq(expected))
        .exec(db)
        .await
        .map_err(id_card_conflict)?;
    if updated.rows_affected == 0 {
        let current = find_any(db, changed.id)
            .await?
            .map_or(expected, |row| row.version);
        return Err(ApiError::PreconditionFailed {
            current_version: i64::from(current),
        });
    }
    Ok(changed)
}

fn id_card_conflict(error: DbErr) -> ApiError {
    match ApiError::from(error) {
        ApiError::Conflict { .. } => ApiError::Conflict {
            code: "id_card_taken",
            detail: "Another household already has this ID number.".to_owned(),
        },
        other => other,
    }
}

/// Filters of the household list.
#[derive(Debug, Clone, Default)]
pub struct HouseholdFilter {
    /// Only this village.
    pub village_id: Option<Uuid>,
    /// Only this town.
    pub town_id: Option<Uuid>,
    /// Only households with this tag.
    pub tag: Option<HouseholdTag>,
    /// Only households not visited since this instant (the local midnight a day begins), or
    /// never.
    pub not_visited_since: Option<DateTime<Utc>>,
    /// Only households whose head's name contains this text.
    pub name_contains: Option<String>,
}

/// Households in scope, by id; `after` is the last id of the previous page.
pub async fn list_households(
    db: &impl ConnectionTrait,
    scope: &Scope,
    filter: &HouseholdFilter,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<household::Model>, DbErr> {
    let mut query = household::Entity::find().filter(scope_condition(scope));
    if let Some(village_id) = filter.village_id {
        query = query.filter(household::Column::VillageId.eq(village_id));
    }
    if let Some(town_id) = filter.town_id {
        query = query.filter(household::Column::TownId.eq(town_id));
    }
    if let Some(tag) = filter.tag {
        query = query.filter(Expr::col(household::Column::Tags).bit_and(tag.bit()).ne(0));
    }
    if let Some(since) = filter.not_visited_since {
        query = query.filter(
            sea_orm::Condition::any()
                .add(household::Column::LastVisitedAt.is_null())
                .add(household::Column::LastVisitedAt.lt(since)),
        );
    }
    if let Some(text) = &filter.name_contains {
        query = query.filter(Expr::col(household::Column::HeadName).like(contains_pattern(text)));
    }
    if let Some(after) = after {
        query = query.filter(household::Column::Id.gt(after));
    }
    query
        .order_by_asc(household::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// `%text%` with the text's own `%`, `_` and backslash taken literally.
fn contains_pattern(text: &str) -> LikeExpr {
    let mut escaped = String::with_capacity(text.len() + 2);
    escaped.push('%');
    for character in text.chars() {
        if matches!(character, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped.push('%');
    LikeExpr::new(escaped).escape('\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_through_bits_and_labels() {
        let tags = [HouseholdTag::PartyMember, HouseholdTag::Hardship];
        assert_eq!(HouseholdTag::from_bits(HouseholdTag::bits(&tags)), tags);
        assert_eq!(HouseholdTag::parse("党员"), Some(HouseholdTag::PartyMember));
        assert_eq!(
            HouseholdTag::parse("hardship"),
            Some(HouseholdTag::Hardship)
        );
        assert_eq!(
            HouseholdTag::parse("生活困难"),
            Some(HouseholdTag::Hardship)
        );
        assert_eq!(HouseholdTag::parse("村长"), None);
    }
}
