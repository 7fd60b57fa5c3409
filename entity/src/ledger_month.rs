//! A signed-off month of the ledger (月度台账): who signed it, when, and the frozen copy of
//! what the month's ledger said at that moment.

use sea_orm::entity::prelude::*;

/// A row of `ledger_months`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ledger_months")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The town or county whose ledger it is.
    pub org_unit_id: Uuid,
    /// `YYYY-MM`.
    pub month: String,
    /// The leader who signed it off.
    pub signed_by: Uuid,
    /// When.
    pub signed_at: DateTimeUtc,
    /// The leader's remark.
    pub note: Option<String>,
    /// The month's ledger as it was when signed (unmasked; masked when read).
    pub snapshot: Json,
}

/// Relations of `ledger_months`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
