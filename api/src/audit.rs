//! The audit trail: who changed what, when, from where. A row is written with
//! [`record`] inside the transaction of the change it describes, so a change and its record
//! commit or vanish together. Nothing in the application updates or deletes audit rows.

use chrono::{DateTime, Utc};
use entity::{audit_log, user::Role};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::auth::RequestMeta;

/// The actor of an audited change.
#[derive(Debug, Clone)]
pub struct AuditActor {
    /// `user`, `api_token` or `system`.
    pub actor_type: &'static str,
    /// The user or token id.
    pub actor_id: Option<Uuid>,
    /// The role in force.
    pub role: Option<Role>,
    /// The request id.
    pub request_id: Option<String>,
    /// The client address.
    pub client_addr: Option<String>,
}

impl AuditActor {
    /// The command line (`minqing admin create`, `seed-demo`).
    pub fn system() -> Self {
        Self {
            actor_type: "system",
            actor_id: None,
            role: None,
            request_id: None,
            client_addr: None,
        }
    }

    /// A user acting before they hold a token (login).
    pub fn user(id: Uuid, role: impl Into<Option<Role>>, meta: &RequestMeta) -> Self {
        Self {
            actor_type: "user",
            actor_id: Some(id),
            role: role.into(),
            request_id: meta.request_id.clone(),
            client_addr: meta.client_addr.clone(),
        }
    }
}

/// What happened to which record.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// `<entity>.<verb>`, e.g. `user.create`.
    pub action: &'static str,
    /// The kind of record.
    pub entity_type: &'static str,
    /// The record.
    pub entity_id: Option<Uuid>,
    /// What changed; never secrets.
    pub changes: Option<Value>,
}

impl AuditEntry {
    /// An entry without a change description.
    pub fn new(action: &'static str, entity_type: &'static str, entity_id: Uuid) -> Self {
        Self {
            action,
            entity_type,
            entity_id: Some(entity_id),
            changes: None,
        }
    }

    /// Adds the change description.
    pub fn with_changes(mut self, changes: Value) -> Self {
        self.changes = Some(changes);
        self
    }
}

/// Writes one audit row on `db` (pass the transaction of the change).
pub async fn record(
    db: &impl ConnectionTrait,
    actor: &AuditActor,
    entry: AuditEntry,
) -> Result<(), DbErr> {
    record_many(db, actor, vec![entry]).await
}

/// Writes one audit row per entry in one statement per 500 (a batch of changes, each its
/// own mutation).
pub async fn record_many(
    db: &impl ConnectionTrait,
    actor: &AuditActor,
    entries: Vec<AuditEntry>,
) -> Result<(), DbErr> {
    let now = Utc::now();
    let role = actor.role.map(crate::auth::role_name);
    let rows: Vec<audit_log::ActiveModel> = entries
        .into_iter()
        .map(|entry| audit_log::ActiveModel {
            id: Set(Uuid::now_v7()),
            occurred_at: Set(now),
            actor_type: Set(actor.actor_type.to_owned()),
            actor_id: Set(actor.actor_id),
            actor_role: Set(role.clone()),
            action: Set(entry.action.to_owned()),
            entity_type: Set(entry.entity_type.to_owned()),
            entity_id: Set(entry.entity_id),
            changes: Set(entry.changes),
            request_id: Set(actor.request_id.clone()),
            client_addr: Set(actor.client_addr.clone()),
        })
        .collect();
    for chunk in rows.chunks(500) {
        audit_log::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

/// `{field: {"from": old, "to": new}}` for every top-level field that differs.
pub fn diff(before: &Value, after: &Value) -> Value {
    let empty = Map::new();
    let before = before.as_object().unwrap_or(&empty);
    let after = after.as_object().unwrap_or(&empty);
    let mut changes = Map::new();
    for (field, new) in after {
        let old = before.get(field).unwrap_or(&Value::Null);
        if old != new {
            changes.insert(field.clone(), serde_json::json!({"from": old, "to": new}));
        }
    }
    Value::Object(changes)
}

/// Filters for reading the trail.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Kind of record.
    pub entity_type: Option<String>,
    /// The record.
    pub entity_id: Option<Uuid>,
    /// The actor.
    pub actor_id: Option<Uuid>,
    /// From (inclusive).
    pub since: Option<DateTime<Utc>>,
    /// Until (exclusive).
    pub until: Option<DateTime<Utc>>,
}

/// Newest first; `before` is the id of the last row of the previous page.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &AuditFilter,
    before: Option<Uuid>,
    limit: u64,
) -> Result<Vec<audit_log::Model>, DbErr> {
    let mut query = audit_log::Entity::find();
    if let Some(entity_type) = &filter.entity_type {
        query = query.filter(audit_log::Column::EntityType.eq(entity_type.clone()));
    }
    if let Some(entity_id) = filter.entity_id {
        query = query.filter(audit_log::Column::EntityId.eq(entity_id));
    }
    if let Some(actor_id) = filter.actor_id {
        query = query.filter(audit_log::Column::ActorId.eq(actor_id));
    }
    if let Some(since) = filter.since {
        query = query.filter(audit_log::Column::OccurredAt.gte(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(audit_log::Column::OccurredAt.lt(until));
    }
    if let Some(before) = before {
        query = query.filter(audit_log::Column::Id.lt(before));
    }
    query
        .order_by_desc(audit_log::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_lists_only_changed_fields() {
        let before = serde_json::json!({"name": "张三", "active": true});
        let after = serde_json::json!({"name": "张三", "active": false});
        assert_eq!(
            diff(&before, &after),
            serde_json::json!({"active": {"from": true, "to": false}})
        );
    }
}
