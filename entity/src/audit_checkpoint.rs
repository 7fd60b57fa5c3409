//! What a retention prune removed from the audit trail: the last removed entry's `seq` and
//! hash, so the chain of the entries kept can still be checked from its first link.
//! Append-only, like the trail itself.

use sea_orm::entity::prelude::*;

/// A row of `audit_checkpoints`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_checkpoints")]
pub struct Model {
    /// `seq` of the last entry removed; entries up to it are gone.
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    /// `row_hash` of that entry: the `prev_hash` the first kept entry must carry.
    pub row_hash: String,
    /// Entries older than this were due for removal.
    pub cutoff: DateTimeUtc,
    /// How many entries this prune removed.
    pub pruned_count: i64,
    /// When the prune ran.
    pub pruned_at: DateTimeUtc,
}

/// Relations of `audit_checkpoints`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
