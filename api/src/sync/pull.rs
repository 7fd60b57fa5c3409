//! `GET /sync/pull`: everything in the caller's scope that changed after the phone's cursor,
//! from one consistent snapshot, with villages that left the scope coming down as deleted.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::web::Bytes;
use chrono::DateTime;
use chrono::{Duration, Utc};
use entity::{
    enterprise, household, issue, issue_event,
    org_unit::{self, OrgKind},
    pairing, sync_device_scope, sync_tombstone, visit,
};
use futures_util::{Stream, TryStreamExt};
use sea_orm::{
    AccessMode, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, DbErr, EntityTrait, IsolationLevel, QueryFilter, QuerySelect, TransactionOptions,
    TransactionTrait,
    sea_query::{Expr, Query},
};
use serde_json::json;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{current_cursor, records};
use crate::{
    auth::{Actor, AuthUser},
    db::{begin_write, commit},
    error::{ApiError, ApiResult},
    ledger, privacy,
};

/// How many bytes of JSON the pull gathers before it hands them to the answer.
const CHUNK: usize = 64 * 1024;

/// What the pull task hands the answer.
enum Message {
    Chunk(Bytes),
    /// The last chunk was sent: the JSON is whole.
    End,
    Failed(ApiError),
}

/// The answer's JSON, `{"changes": {table: {created, updated, deleted}, …}, "timestamp": …}`,
/// as it is written: kept until the answer begins, then sent on in chunks of [`CHUNK`] bytes
/// as the rows are read — a cadre's first pull carries tens of thousands of records, and the
/// whole of it held at once would take several times its ~20 MB.
struct Out {
    buf: Vec<u8>,
    tables: usize,
    sender: Option<mpsc::UnboundedSender<Message>>,
}

impl Out {
    fn new() -> Self {
        Self {
            buf: br#"{"changes":{"#.to_vec(),
            tables: 0,
            sender: None,
        }
    }

    /// Hands what was written to the answer once a chunk is full.
    fn send_full(&mut self) -> ApiResult<()> {
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(())
    }

    /// Hands what was written to the answer (if it has begun).
    fn send(&mut self) -> ApiResult<()> {
        let Some(sender) = &self.sender else {
            return Ok(());
        };
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK + CHUNK / 4));
        sender
            .send(Message::Chunk(Bytes::from(chunk)))
            .map_err(|_| ApiError::Internal("the client went away during a pull".into()))
    }
}

/// One table's changes: `created` records go straight to the answer, `updated` ones (a later
/// pull's, few) are kept until the table ends.
struct Table {
    created: usize,
    updated: Vec<u8>,
    deleted: BTreeSet<Uuid>,
    /// The records sent as created or updated: never also sent as deleted (a household that
    /// moved between two of the phone's villages has a tombstone at the old one).
    sent: std::collections::HashSet<Uuid>,
}

impl Table {
    /// Begins `"name": {"created": [` with the tombstones recorded for the table.
    fn start(out: &mut Out, name: &str, deleted: Option<BTreeSet<Uuid>>) -> Self {
        if out.tables > 0 {
            out.buf.push(b',');
        }
        out.tables += 1;
        out.buf.push(b'"');
        out.buf.extend_from_slice(name.as_bytes());
        out.buf.extend_from_slice(br#"":{"created":["#);
        Self {
            created: 0,
            updated: Vec::new(),
            deleted: deleted.unwrap_or_default(),
            sent: std::collections::HashSet::new(),
        }
    }

    fn push(
        &mut self,
        out: &mut Out,
        id: Uuid,
        created: bool,
        record: &impl serde::Serialize,
    ) -> ApiResult<()> {
        self.sent.insert(id);
        let list = if created {
            if self.created > 0 {
                out.buf.push(b',');
            }
            self.created += 1;
            &mut out.buf
        } else {
            if !self.updated.is_empty() {
                self.updated.push(b',');
            }
            &mut self.updated
        };
        serde_json::to_writer(list, record).map_err(|error| ApiError::Internal(Box::new(error)))?;
        out.send_full()
    }

    /// Ends the table: `], "updated": […], "deleted": […]}`.
    fn finish(mut self, out: &mut Out) -> ApiResult<()> {
        self.deleted.retain(|id| !self.sent.contains(id));
        out.buf.extend_from_slice(br#"],"updated":["#);
        out.buf.extend_from_slice(&self.updated);
        out.buf.extend_from_slice(br#"],"deleted":"#);
        serde_json::to_writer(&mut out.buf, &self.deleted)
            .map_err(|error| ApiError::Internal(Box::new(error)))?;
        out.buf.push(b'}');
        out.send_full()
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

/// A pull whose villages and households are read and kept (their personal data must be in the
/// read audit before the answer begins); the rest is read as it is sent ([`Pull::into_body`]).
pub struct Pull {
    /// The households sent with a phone or ID number unmasked, and which of the two (for the
    /// PIPL read audit).
    pub personal_data: (Vec<Uuid>, BTreeSet<&'static str>),
    txn: DatabaseTransaction,
    out: Out,
    user: AuthUser,
    user_id: Uuid,
    device: String,
    window: Window,
    villages_now: BTreeSet<Uuid>,
    joined: Vec<Uuid>,
    left: Vec<Uuid>,
    tombstones: BTreeMap<String, BTreeSet<Uuid>>,
    year_ago: DateTime<Utc>,
    unmasked: bool,
}

/// Begins a pull of the caller's changes since `last_pulled_at` for `device`: takes the
/// snapshot and reads the villages and households. Whatever is refused is refused here,
/// before the answer begins.
pub async fn pull(
    db: &DatabaseConnection,
    user: &AuthUser,
    last_pulled_at: Option<i64>,
    device: &str,
) -> ApiResult<Pull> {
    let Actor::User { id: user_id } = user.principal.actor else {
        return Err(ApiError::Forbidden(
            "Sync is for the field app's users, not API tokens.".to_owned(),
        ));
    };
    // A later pull whose villages changed must hand out a cursor of its own: the villages a
    // phone has are kept by cursor (`remember_scope`), and one kept under the cursor it came
    // with is never replaced (a lost answer is compared with what the phone had). So when the
    // cursor has not moved since (no synced write anywhere), it is moved on once and the
    // snapshot taken again; should it still not move (PostgreSQL: an older transaction is
    // running), the change of villages waits for a pull that finds it moved.
    let mut moved_on = false;
    let (txn, villages_now, previous, window) = loop {
        let (txn, villages_now, previous, window) =
            snapshot(db, user, user_id, device, last_pulled_at).await?;
        let villages_changed = previous
            .as_ref()
            .is_some_and(|previous| *previous != villages_now);
        if villages_changed && window.since == Some(window.until) {
            if !moved_on {
                txn.rollback().await?;
                move_cursor_on(db).await?;
                moved_on = true;
                continue;
            }
            let villages_then = previous.clone().unwrap_or_default();
            break (txn, villages_then, previous, window);
        }
        break (txn, villages_now, previous, window);
    };
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
    let mut out = Out::new();

    // villages
    let mut table = Table::start(&mut out, "villages", tombstones.remove("villages"));
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
        table.push(&mut out, row.id, created, &records::village(&row))?;
    }
    table.deleted.extend(left.iter().copied());
    table.finish(&mut out)?;

    // households
    let mut table = Table::start(&mut out, "households", tombstones.remove("households"));
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
        table.push(
            &mut out,
            row.id,
            created,
            &records::household(&row, unmasked),
        )?;
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
    table.finish(&mut out)?;
    Ok(Pull {
        personal_data,
        txn,
        out,
        user: user.clone(),
        user_id,
        device: device.to_owned(),
        window,
        villages_now,
        joined,
        left,
        tombstones,
        year_ago,
        unmasked,
    })
}

impl Pull {
    /// The answer's body: what is read so far, then the rest, read and sent by a task of its
    /// own that holds the snapshot. The task never waits for the client: a slow phone keeps
    /// its answer in memory, not a database connection. An error once the answer has begun
    /// cuts it short (its JSON is never whole; the app pulls again).
    pub fn into_body(
        mut self,
        db: DatabaseConnection,
    ) -> impl Stream<Item = Result<Bytes, ApiError>> + 'static {
        let (sender, receiver) = mpsc::unbounded_channel();
        self.out.sender = Some(sender.clone());
        actix_web::rt::spawn(async move {
            let last = match self.send_rest(&db).await {
                Ok(()) => Message::End,
                // A phone that lost its signal: nothing went wrong here.
                Err(error) if sender.is_closed() => {
                    tracing::debug!(%error, "a pull's client went away");
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, "a pull was cut short");
                    Message::Failed(error)
                }
            };
            // The client may be gone.
            let _ = sender.send(last);
        });
        futures_util::stream::unfold(Some(receiver), |receiver| async move {
            let mut receiver = receiver?;
            match receiver.recv().await {
                Some(Message::Chunk(chunk)) => Some((Ok(chunk), Some(receiver))),
                Some(Message::End) => None,
                Some(Message::Failed(error)) => Some((Err(error), None)),
                // The task stopped without a word (it panicked).
                None => Some((
                    Err(ApiError::Internal("a pull stopped before its end".into())),
                    None,
                )),
            }
        })
    }

    async fn send_rest(self, db: &DatabaseConnection) -> ApiResult<()> {
        let Pull {
            txn,
            mut out,
            user,
            user_id,
            device,
            window,
            villages_now,
            joined,
            left,
            mut tombstones,
            year_ago,
            unmasked,
            ..
        } = self;
        let (scope, device, timestamp) = (user.scope(), device.as_str(), window.until);
        out.send()?;

        // enterprises
        let mut table = Table::start(&mut out, "enterprises", tombstones.remove("enterprises"));
        let in_scope = crate::enterprises::scope_condition(scope);
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
            table.push(
                &mut out,
                row.id,
                created,
                &records::enterprise(&row, unmasked),
            )?;
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
        table.finish(&mut out)?;

        // visits: a year of them on a first pull or for a village that joined
        let mut table = Table::start(&mut out, "visits", tombstones.remove("visits"));
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
                crate::visits::withheld(row)
            } else {
                row
            };
            let created = joined.contains(&row.village_id)
                || window.is_created(row.created_seq, row.origin_device.as_deref(), device);
            table.push(&mut out, row.id, created, &records::visit(&row))?;
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
        table.finish(&mut out)?;

        // issues: the open ones and a year of the rest, as the caller may see them
        let mut table = Table::start(&mut out, "issues", tombstones.remove("issues"));
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
                &mut out,
                row.id,
                created,
                &records::issue(&row, privacy::sees_applicant_contact(user.principal.role)),
            )?;
        }
        drop(rows);
        // Issues of villages that left, unless still visible (the caller leads them) — and
        // never a complaint naming the caller, which the phone never had: its id here would
        // tell the cadre it exists.
        let left_issue_condition = Condition::all()
            .add(issue::Column::VillageId.is_in(left.iter().copied()))
            .add(Condition::all().add(visible.clone()).not())
            .add(ledger::conflict_condition(&user.principal));
        let left_issues: Vec<Uuid> = issue::Entity::find()
            .select_only()
            .column(issue::Column::Id)
            .filter(left_issue_condition.clone())
            .into_tuple()
            .all(&txn)
            .await?;
        table.deleted.extend(left_issues.iter().copied());
        table.finish(&mut out)?;

        // issue events of the visible issues
        let mut table = Table::start(&mut out, "issue_events", tombstones.remove("issue_events"));
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
            table.push(&mut out, row.id, created, &records::issue_event(&row))?;
        }
        drop(rows);
        if !left_issues.is_empty() {
            // By a subquery, not a list of the ids: a village's issues over the years can
            // outnumber the parameters a statement may bind.
            let left_events: Vec<Uuid> = issue_event::Entity::find()
                .select_only()
                .column(issue_event::Column::Id)
                .filter(
                    issue_event::Column::IssueId.in_subquery(
                        Query::select()
                            .column(issue::Column::Id)
                            .from(issue::Entity)
                            .cond_where(left_issue_condition)
                            .to_owned(),
                    ),
                )
                .into_tuple()
                .all(&txn)
                .await?;
            table.deleted.extend(left_events);
        }
        table.finish(&mut out)?;

        // pairings
        let mut table = Table::start(&mut out, "pairings", tombstones.remove("pairings"));
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
            table.push(&mut out, row.id, created, &records::pairing(&row))?;
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
        table.finish(&mut out)?;

        // A read-only snapshot: nothing to commit.
        txn.rollback().await?;
        remember_scope(db, user_id, device, timestamp, &villages_now, window.since).await?;
        out.buf
            .extend_from_slice(format!(r#"}},"timestamp":{timestamp}}}"#).as_bytes());
        out.send()
    }
}

/// The pull's snapshot: its read transaction, the caller's villages now, those this device
/// had at `last_pulled_at` (its last pull), and the window of changes to send.
async fn snapshot(
    db: &DatabaseConnection,
    user: &AuthUser,
    user_id: Uuid,
    device: &str,
    last_pulled_at: Option<i64>,
) -> ApiResult<(
    sea_orm::DatabaseTransaction,
    BTreeSet<Uuid>,
    Option<BTreeSet<Uuid>>,
    Window,
)> {
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
    Ok((txn, villages_now, previous, window))
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

/// Moves the cursor on: a writing transaction that takes a stamp (SQLite: the counter's next
/// value) or a transaction id (PostgreSQL: the settled id moves past it once every older
/// transaction has ended). It writes no row of a synced table.
async fn move_cursor_on(db: &DatabaseConnection) -> Result<(), DbErr> {
    let txn = begin_write(db).await?;
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        txn.execute_unprepared("SELECT pg_current_xact_id()")
            .await?;
    } else {
        txn.stamp().await?;
    }
    commit(txn).await
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
