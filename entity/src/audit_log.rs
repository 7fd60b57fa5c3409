//! The append-only audit trail: one row per successful mutation, written in the same
//! transaction as the change, and one per read of unmasked personal data. Rows are chained:
//! each gets the next `seq`, the previous row's hash and its own hash (on SQLite as it is
//! written, on PostgreSQL from the server's sealer just after its commit), so an altered or
//! removed row is detected (`minqing audit verify`). The database refuses updates and
//! deletes (triggers), except sealing a new row and pruning rows a checkpoint covers.

use sea_orm::entity::prelude::*;

/// A row of `audit_log`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    /// Primary key (UUIDv7: time-ordered).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// When.
    pub occurred_at: DateTimeUtc,
    /// `user`, `api_token` or `system` (command line).
    pub actor_type: String,
    /// The user or token.
    pub actor_id: Option<Uuid>,
    /// The actor's role at the time.
    pub actor_role: Option<String>,
    /// What was done, e.g. `user.create`.
    pub action: String,
    /// The kind of record changed, e.g. `user`.
    pub entity_type: String,
    /// The record changed.
    pub entity_id: Option<Uuid>,
    /// What changed (JSON; secrets never included).
    pub changes: Option<Json>,
    /// The request that did it.
    pub request_id: Option<String>,
    /// The client's address.
    pub client_addr: Option<String>,
    /// Position in the hash chain (1, 2, …); `None` until the row is sealed (on PostgreSQL,
    /// from its write until the sealer links it, just after its commit).
    pub seq: Option<i64>,
    /// `row_hash` of the entry before (`seq - 1`); 64 zeros for the first.
    pub prev_hash: Option<String>,
    /// SHA-256 (hex) of this entry's fields and `prev_hash`.
    pub row_hash: Option<String>,
}

/// Relations of `audit_log`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
