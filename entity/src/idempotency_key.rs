//! A kept answer to an `Idempotency-Key`.

use sea_orm::entity::prelude::*;

/// A row of `idempotency_keys`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    /// The user or API token that sent the key (keys are per caller).
    #[sea_orm(primary_key, auto_increment = false)]
    pub actor_id: Uuid,
    /// The key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// SHA-256 of method, path and body.
    pub request_hash: String,
    /// `running`, `committed` (its change committed, its answer on its way), `done` (the answer
    /// kept), `withheld` (carried out; the answer held a one-time secret) or `lost` (carried out;
    /// the server failed before answering).
    pub state: String,
    /// The kept response's status.
    pub status_code: Option<i32>,
    /// Its content type.
    pub content_type: Option<String>,
    /// Its `ETag`.
    pub etag: Option<String>,
    /// Its body.
    pub response_body: Option<String>,
    /// When the key was first used.
    pub created_at: DateTimeUtc,
}

/// Relations of `idempotency_keys`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
