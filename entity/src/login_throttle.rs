//! Failed-login counters per account and per client address, kept in the database so that
//! several API processes agree.

use sea_orm::entity::prelude::*;

/// A row of `login_throttles`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_throttles")]
pub struct Model {
    /// `account:<username>` or `address:<ip>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Attempts (account keys) or failures (address keys) in the current window.
    pub attempts: i32,
    /// When the current window began.
    pub window_started_at: DateTimeUtc,
}

/// Relations of `login_throttles`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
