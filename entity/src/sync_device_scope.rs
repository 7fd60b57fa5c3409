//! The villages a device received at a pull, so that the next pull can tell which villages
//! left its scope (their records come down as deleted) and which joined (they come down whole).

use sea_orm::entity::prelude::*;

/// A row of `sync_device_scopes`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sync_device_scopes")]
pub struct Model {
    /// The user.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// The device (`X-Device-Id`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub device_id: String,
    /// The pull's `timestamp`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    /// The village ids sent (JSON array).
    pub villages: Json,
    /// When.
    pub pulled_at: DateTimeUtc,
}

/// Relations of `sync_device_scopes`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
