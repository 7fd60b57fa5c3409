//! `GET /sync/pull`: everything in the caller's scope that changed after the phone's cursor,
//! from one consistent snapshot, with villages that left the scope coming down as deleted.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, Utc};
use entity::{
    enterprise, household, issue, issue_event,
    org_unit::{self, OrgKind},
    pairing, sync_device_scope, sync_tombstone, visit,
};
use futures_util::TryStreamExt;
use sea_orm::{
    AccessMode, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, IsolationLevel, QueryFilter, QuerySelect, TransactionOptions, TransactionTrait,
    sea_query::{Expr, Query},
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{current_cursor, records};
use crate::{
    auth::{Actor, AuthUser},
    db::{begin_write, commit},
    error::{ApiError, ApiResult},
    ledger, privacy,
};

/// What a pull returns: `{changes: {table: {created, updated, deleted}}, timestamp}`.
#[derive(Debug)]
pub struct Pulled {
    /// The JSON object of the changes per table (`{"villages": {"created": […], "updated":
    /// […], "deleted": […]}, …}`), written as the rows were read.
    pub changes: Vec<u8>,
    /// The households sent with a phone or ID number unmasked, and which of the two (for the
    /// PIPL read audit).
    pub personal_data: (Vec<Uuid>, BTreeSet<&'static str>),
    /// The new cursor.
    pub timestamp: i64,
}

/// One table's changes, each record serialized as soon as it is read: a cadre's first pull
/// carries tens of thousands of records, and a JSON tree of them (or their entity models, all
/// at once) would take several times their size.
#[derive(Debug, Default)]
struct TableChanges {
    created: Vec<u8>,
    updated: Vec<u8>,
    deleted: BTreeSet<Uuid>,
    /// The records sent as created or updated: never also sent as deleted (a household that
    /// moved between two of the phone's villages has a tombstone at the old one).
    sent: std::collections::HashSet<Uuid>,
}

impl TableChanges {
    /// Starts a table with the tombstones recorded for it.
    fn new(deleted: Option<BTreeSet<Uuid>>) -> Self {
        Self {
            deleted: deleted.unwrap_or_default(),
            ..Self::default()
        }
    }

    fn push(&mut self, id: Uuid, created: bool, record: &Value) -> ApiResult<()> {
        self.sent.insert(id);
        let list = if created {
            &mut self.created
        } else {
            &mut self.updated
        };
        if !list.is_empty() {
            list.push(b',');
        }
        serde_json::to_writer(list, record).map_err(|error| ApiError::Internal(Box::new(error)))
    }

    /// Appends `"name": {"created": […], "updated": […], "deleted": […]}` to `out`, after a
    /// comma unless it is the first table.
    fn write(mut self, out: &mut Vec<u8>, name: &str) -> ApiResult<()> {
        let sent = std::mem::take(&mut self.sent);
        self.deleted.retain(|id| !sent.contains(id));
        if out.len() > 1 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(br#"":{"created":["#);
        out.extend_from_slice(&self.created);
        out.extend_from_slice(br#"],"updated":["#);
        out.extend_from_slice(&self.updated);
        out.extend_from_slice(br#"],"deleted":"#);
        serde_json::to_writer(&mut *out, &self.deleted)
            .map_err(|error| ApiError::Internal(Box::new(error)))?;
        out.push(b'}');
        Ok(())
    }
}

/// Which rows a pull sends: the changes in `(since, until]`, or everything up to `until` on
/// a first pull.
#[derive(Debug, Clone, Copy)]
struct Window {
    since: Option<i64>,
    until: i64,
}

impl Window {
    fn condition<C: ColumnTrait>(&self, change_seq: C) -> Condition {
        let mut condition = Condition::all().add(change_seq.lte(self.until));
        if let Some(since) = self.since {
            condition = condition.add(change_seq.gt(since));
        }
        condition
    }

    /// `created` when the row was created after the phone's cursor by someone else; a
    /// device's own records come back as `updated`.
    fn is_created(&self, created_seq: i64, origin: Option<&str>, device: &str) -> bool {
        match self.since {
            None => true,
            Some(since) => created_seq > since && origin != Some(device),
        }
    }
}

async fn begin_snapshot(db: &DatabaseConnection) -> Result<sea_orm::DatabaseTransaction, DbErr> {
    match db.get_database_backend() {
        // One REPEATABLE READ snapshot: the counter and every table read as of one moment.
        DbBackend::Postgres => {
            db.begin_with_options(TransactionOptions {
                isolation_level: Some(IsolationLevel::RepeatableRead),
                access_mode: Some(AccessMode::ReadOnly),
                sqlite_transaction_mode: None,
            })
            .await
        }
        // SQLite in WAL mode: a read transaction sees one snapshot from its first read.
        _ => db.begin().await,
    }
}

/// Pulls the caller's changes since `last_pulled_at` for `device`.
pub async fn pull(
    db: &DatabaseConnection,
    user: &AuthUser,
    last_pulled_at: Option<i64>,
    device: &str,
) -> ApiResult<Pulled> {
    let Actor::User { id: user_id } = user.principal.actor else {
        return Err(ApiError::Forbidden(
            "Sync is for the field app's users, not API tokens.".to_owned(),
        ));
    };
    let txn = begin_snapshot(db).await?;
    let cursor = current_cursor(&txn).await?;
    let villages_now: BTreeSet<Uuid> = org_unit::Entity::find()
        .select_only()
        .column(org_unit::Column::Id)
        .filter(org_unit::Column::Kind.eq(OrgKind::Village))
        .filter(user.scope().org_unit_condition(org_unit::Column::Id))
        .into_tuple::<Uuid>()
        .all(&txn)
        .await?
        .into_iter()
        .collect();
    let previous = match last_pulled_at {
        Some(since) => sync_device_scope::Entity::find_by_id((user_id, device.to_owned(), since))
            .one(&txn)
            .await?
            .and_then(|snapshot| serde_json::from_value::<BTreeSet<Uuid>>(snapshot.villages).ok()),
        None => None,
    };
    let window = match (last_pulled_at, &previous) {
        // A cursor this device was given is never gone back on: every change stamped up to it
        // was sent. (On PostgreSQL a later snapshot can see a transaction of another database
        // as still running and come out a little lower.)
        (Some(since), Some(_)) => Window {
            since: Some(since),
            until: cursor.max(since),
        },
        // A cursor from the future that this device was not given (a restored server): a
        // first pull.
        (Some(since), None) if since > cursor => Window {
            since: None,
            until: cursor,
        },
        // Without the villages this device had, villages that left its scope could not be
        // sent as deleted: the app must start over with a first pull.
        (Some(_), None) => {
            return Err(ApiError::Conflict {
                code: "sync_reset_required",
                detail: "This device's last pull is not known here: pull again with \
                         last_pulled_at=null."
                    .to_owned(),
            });
        }
        (None, _) => Window {
            since: None,
            until: cursor,
        },
    };
    let timestamp = window.until;
    let (joined, left): (Vec<Uuid>, Vec<Uuid>) = match &previous {
        Some(previous) => (
            villages_now.difference(previous).copied().collect(),
            previous.difference(&villages_now).copied().collect(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    let unmasked = privacy::sees_contact_details(user.principal.role);
    let scope = user.scope();
    let year_ago = Utc::now() - Duration::days(365);
    let mut personal_data = (Vec::new(), BTreeSet::new());
    // Tombstones of deletions in scope, per table (a first pull sends no deletions).
    let mut tombstones: BTreeMap<String, BTreeSet<Uuid>> = BTreeMap::new();
    if window.since.is_some() {
        for tombstone in sync_tombstone::Entity::find()
            .filter(window.condition(sync_tombstone::Column::ChangeSeq))
            .filter(scope.village_condition(
                sync_tombstone::Column::CountyId,
                sync_tombstone::Column::TownId,
                sync_tombstone::Column::VillageId,
            ))
            .all(&txn)
            .await?
        {
            tombstones
                .entry(tombstone.table_name)
                .or_default()
                .insert(tombstone.record_id);
        }
    }
    let mut changes = b"{".to_vec();

    // villages
    let mut table = TableChanges::new(tombstones.remove("villages"));
    for row in org_unit::Entity::find()
        .filter(org_unit::Column::Kind.eq(OrgKind::Village))
        .filter(org_unit::Column::Id.is_in(villages_now.iter().copied()))
        .filter(
            Condition::any()
                .add(window.condition(org_unit::Column::ChangeSeq))
                .add(org_unit::Column::Id.is_in(joined.iter().copied())),
        )
        .all(&txn)
        .await?
    {
        let created = joined.contains(&row.id)
            || window.is_created(row.created_seq, row.origin_device.as_deref(), device);
        table.push(row.id, created, &records::village(&row))?;
    }
    table.deleted.extend(left.iter().copied());
    table.write(&mut changes, "villages")?;

    // households
    let mut table = TableChanges::new(tombstones.remove("households"));
    let in_scope = scope.village_condition(
        household::Column::CountyId,
        household::Column::TownId,
        household::Column::VillageId,
    );
    let mut rows = household::Entity::find()
        .filter(in_scope)
        .filter(changed_or_joined(
            window,
            household::Column::ChangeSeq,
            household::Column::VillageId,
            &joined,
        ))
        .stream(&txn)
        .await?;
    while let Some(row) = rows.try_next().await? {
        let created = joined.contains(&row.village_id)
            || window.is_created(row.created_seq, row.origin_device.as_deref(), device);
        if unmasked {
            let shown = [
                ("phone", &row.phone),
                ("id_card_number", &row.id_card_number),
            ]
            .into_iter()
            .filter(|(_, value)| value.as_deref().is_some_and(|value| !value.is_empty()))
            .map(|(field, _)| field)
            .collect::<Vec<_>>();
            if !shown.is_empty() {
                personal_data.0.push(row.id);
                personal_data.1.extend(shown);
            }
        }
        table.push(row.id, created, &records::household(&row, unmasked))?;
    }
    drop(rows);
    table.deleted.extend(
        ids_in_villages::<household::Entity, _>(
            &txn,
            household::Column::Id,
            household::Column::VillageId,
            &left,
        )
        .await?,
    );
    table.write(&mut changes, "households")?;

    // enterprises
    let mut table = TableChanges::new(tombstones.remove("enterprises"));
    let in_scope = scope.village_condition(
        enterprise::Column::CountyId,
        enterprise::Column::TownId,
        enterprise::Column::VillageId,
    );
    for row in enterprise::Entity::find()
        .filter(in_scope)
        .filter(changed_or_joined(
            window,
            enterprise::Column::ChangeSeq,
            enterprise::Column::VillageId,
            &joined,
        ))
        .all(&txn)
        .await?
    {
        let created = row
            .village_id
            .is_some_and(|village| joined.contains(&village))
            || window.is_created(row.created_seq, row.origin_device.as_deref(), device);
        table.push(row.id, created, &records::enterprise(&row, unmasked))?;
    }
    table.deleted.extend(
        ids_in_villages::<enterprise::Entity, _>(
            &txn,
            enterprise::Column::Id,
            enterprise::Column::VillageId,
            &left,
        )
        .await?,
    );
    table.write(&mut changes, "enterprises")?;

    // visits: a year of them on a first pull or for a village that joined
    let mut table = TableChanges::new(tombstones.remove("visits"));
    let in_scope = scope.village_condition(
        visit::Column::CountyId,
        visit::Column::TownId,
        visit::Column::VillageId,
    );
    let recent = visit::Column::VisitedAt.gte(year_ago);
    let selection = match window.since {
        None => Condition::all()
            .add(window.condition(visit::Column::ChangeSeq))
            .add(recent),
        Some(_) => Condition::any()
            .add(window.condition(visit::Column::ChangeSeq))
            .add(
                Condition::all()
                    .add(visit::Column::VillageId.is_in(joined.iter().copied()))
                    .add(recent),
            ),
    };
    let visits = visit::Entity::find().filter(in_scope).filter(selection);
    let visit_ids: Vec<Uuid> = visits
        .clone()
        .select_only()
        .column(visit::Column::Id)
        .into_tuple()
        .all(&txn)
        .await?;
    let naming = crate::visits::visits_naming(&txn, &user.principal, &visit_ids).await?;
    drop(visit_ids);
    let mut rows = visits.stream(&txn).await?;
    while let Some(row) = rows.try_next().await? {
        // Withheld from a cadre named by a complaint raised in the visit.
        let row = if naming.contains(&row.id) {
            visit::Model {
                answers: None,
                diary_note: None,
                ..row
            }
        } else {
            row
        };
        let created = joined.contains(&row.village_id)
            || window.is_created(row.created_seq, row.origin_device.as_deref(), device);
        table.push(row.id, created, &records::visit(&row))?;
    }
    drop(rows);
    table.deleted.extend(
        ids_in_villages::<visit::Entity, _>(
            &txn,
            visit::Column::Id,
            visit::Column::VillageId,
            &left,
        )
        .await?,
    );
    table.write(&mut changes, "visits")?;

    // issues: the open ones and a year of the rest, as the caller may see them
    let mut table = TableChanges::new(tombstones.remove("issues"));
    let visible = ledger::visible_condition(&user.principal);
    let current = Condition::any()
        .add(Expr::cust(ledger::OPEN_LEDGER_SQL))
        .add(issue::Column::CreatedAt.gte(year_ago));
    let selection = match window.since {
        None => Condition::all()
            .add(window.condition(issue::Column::ChangeSeq))
            .add(current.clone()),
        Some(_) => Condition::any()
            .add(window.condition(issue::Column::ChangeSeq))
            .add(
                Condition::all()
                    .add(issue::Column::VillageId.is_in(joined.iter().copied()))
                    .add(current.clone()),
            ),
    };
    let mut rows = issue::Entity::find()
        .filter(visible.clone())
        .filter(selection)
        .stream(&txn)
        .await?;
    while let Some(row) = rows.try_next().await? {
        let created = joined.contains(&row.village_id)
            || window.is_created(row.created_seq, row.origin_device.as_deref(), device);
        table.push(
            row.id,
            created,
            &records::issue(&row, privacy::sees_applicant_contact(user.principal.role)),
        )?;
    }
    drop(rows);
    // Issues of villages that left, unless still visible (the caller leads them).
    let left_issues: Vec<Uuid> = issue::Entity::find()
        .select_only()
        .column(issue::Column::Id)
        .filter(issue::Column::VillageId.is_in(left.iter().copied()))
        .filter(Condition::all().add(visible.clone()).not())
        .into_tuple()
        .all(&txn)
        .await?;
    table.deleted.extend(left_issues.iter().copied());
    table.write(&mut changes, "issues")?;

    // issue events of the visible issues
    let mut table = TableChanges::new(tombstones.remove("issue_events"));
    let visible_issue_ids = Query::select()
        .column(issue::Column::Id)
        .from(issue::Entity)
        .cond_where(visible)
        .to_owned();
    let selection = match window.since {
        None => window.condition(issue_event::Column::ChangeSeq),
        Some(_) => Condition::any()
            .add(window.condition(issue_event::Column::ChangeSeq))
            .add(
                issue_event::Column::IssueId.in_subquery(
                    Query::select()
                        .column(issue::Column::Id)
                        .from(issue::Entity)
                        .and_where(issue::Column::VillageId.is_in(joined.iter().copied()))
                        .to_owned(),
                ),
            ),
    };
    let mut rows = issue_event::Entity::find()
        .filter(issue_event::Column::IssueId.in_subquery(visible_issue_ids))
        .filter(selection)
        .stream(&txn)
        .await?;
    while let Some(row) = rows.try_next().await? {
        let created = window.is_created(row.created_seq, row.origin_device.as_deref(), device);
        table.push(row.id, created, &records::issue_event(&row))?;
    }
    drop(rows);
    if !left_issues.is_empty() {
        let left_events: Vec<Uuid> = issue_event::Entity::find()
            .select_only()
            .column(issue_event::Column::Id)
            .filter(issue_event::Column::IssueId.is_in(left_issues))
            .into_tuple()
            .all(&txn)
            .await?;
        table.deleted.extend(left_events);
    }
    table.write(&mut changes, "issue_events")?;

    // pairings
    let mut table = TableChanges::new(tombstones.remove("pairings"));
    let in_scope = scope.village_condition(
        pairing::Column::CountyId,
        pairing::Column::TownId,
        pairing::Column::VillageId,
    );
    for row in pairing::Entity::find()
        .filter(in_scope.clone())
        .filter(changed_or_joined(
            window,
            pairing::Column::ChangeSeq,
            pairing::Column::VillageId,
            &joined,
        ))
        .all(&txn)
        .await?
    {
        let created = joined.contains(&row.village_id)
            || window.is_created(row.created_seq, row.origin_device.as_deref(), device);
        table.push(row.id, created, &records::pairing(&row))?;
    }
    table.deleted.extend(
        ids_in_villages::<pairing::Entity, _>(
            &txn,
            pairing::Column::Id,
            pairing::Column::VillageId,
            &left,
        )
        .await?,
    );
    table.write(&mut changes, "pairings")?;

    changes.push(b'}');
    // A read-only snapshot: nothing to commit.
    txn.rollback().await?;
    remember_scope(db, user_id, device, timestamp, &villages_now, window.since).await?;
    Ok(Pulled {
        changes,
        personal_data,
        timestamp,
    })
}

/// Rows changed in the window, or (on a later pull) in a village that joined the scope.
fn changed_or_joined<C: ColumnTrait>(
    window: Window,
    change_seq: C,
    village: C,
    joined: &[Uuid],
) -> Condition {
    let changed = window.condition(change_seq);
    if window.since.is_none() || joined.is_empty() {
        return changed;
    }
    Condition::any()
        .add(changed)
        .add(village.is_in(joined.iter().copied()))
}

/// The ids of a table's rows in villages that left the scope.
async fn ids_in_villages<E: EntityTrait, C: ColumnTrait>(
    db: &impl ConnectionTrait,
    id: C,
    village: C,
    left: &[Uuid],
) -> Result<Vec<Uuid>, DbErr> {
    if left.is_empty() {
        return Ok(Vec::new());
    }
    E::find()
        .select_only()
        .column(id)
        .filter(village.is_in(left.iter().copied()))
        .into_tuple()
        .all(db)
        .await
}

/// Keeps the villages sent at this cursor, for the next pull's comparison, and forgets
/// snapshots older than the one the phone just came from.
async fn remember_scope(
    db: &DatabaseConnection,
    user_id: Uuid,
    device: &str,
    timestamp: i64,
    villages: &BTreeSet<Uuid>,
    previous: Option<i64>,
) -> ApiResult<()> {
    let txn = begin_write(db).await?;
    sync_device_scope::Entity::insert(sync_device_scope::ActiveModel::from(
        sync_device_scope::Model {
            user_id,
            device_id: device.to_owned(),
            seq: timestamp,
            villages: json!(villages),
            pulled_at: Utc::now(),
        },
    ))
    // A snapshot is never overwritten: a phone that pulls again at the same cursor (its
    // answer was lost) must be compared with what it had, not with what it was just sent.
    .on_conflict_do_nothing()
    .exec_without_returning(&txn)
    .await?;
    let keep_from = previous.unwrap_or(timestamp).min(timestamp);
    sync_device_scope::Entity::delete_many()
        .filter(sync_device_scope::Column::UserId.eq(user_id))
        .filter(sync_device_scope::Column::DeviceId.eq(device))
        .filter(sync_device_scope::Column::Seq.lt(keep_from))
        .exec(&txn)
        .await?;
    commit(txn).await?;
    Ok(())
}
