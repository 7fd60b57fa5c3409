//! The end of the audit hash chain: one row, locked by each transaction that seals audit
//! entries, so the chain stays one line however many writers there are.

use sea_orm::entity::prelude::*;

/// The row of `audit_chain_head` (its id is always 1).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_chain_head")]
pub struct Model {
    /// Always 1.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    /// `seq` of the newest sealed entry (0: none yet).
    pub last_seq: i64,
    /// `row_hash` of the newest sealed entry (64 zeros: none yet).
    pub last_hash: String,
}

/// Relations of `audit_chain_head`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
