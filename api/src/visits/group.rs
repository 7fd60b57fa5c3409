//! Group commit of single visits (`POST /visits`). Each visit on its own takes about seven
//! statements and a commit; most time goes to the round trips between them, and on SQLite
//! writers take turns. Household visits without issues — the usual visit — posted at the same
//! time are therefore stored together: one transaction, one statement per step for all of
//! them (the places, the insert, the households, the audit rows), one commit.
//!
//! Nothing waits to gather a group: a worker takes what has queued while the previous group
//! was committing, so a lone visit is stored at once. A group stores only what is plainly
//! new: a visit whose id is stored already (a retry, or a clash), whose household is not in
//! its caller's scope, or whose id comes twice in the group, is left out and recorded on its
//! own after the group commits, by [`record_visit`] with its usual answers (200, 409, 422).
//! A group that fails for any other reason is rolled back whole, and each of its visits is
//! recorded on its own: one visit's fault never costs another its write.

use std::{collections::HashSet, sync::Arc, time::Instant};

use chrono::{SubsecRound, Utc};
use entity::visit;
use sea_orm::{DatabaseConnection, DbBackend, DbErr};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::{
    NewVisit, Recorded, Restamp, check_visited_at, created_entry, duty_of_sit_in, household_places,
    insert_new, move_households_forward, new_row, record_visit,
};
use crate::{
    auth::{Actor, AuthUser},
    clock::LocalClock,
    db::{WRITE_TURN_WAIT, WriteTxn, begin_write, begin_write_within, commit},
    error::{ApiError, ApiResult},
};

/// The most visits stored in one group.
const GROUP_MAX: usize = 64;

/// Visits waiting for a worker; a caller beyond this waits to queue.
const QUEUE_DEPTH: usize = 1024;

/// The queue of visits to store in groups, and its workers.
#[derive(Debug)]
pub struct VisitQueue {
    jobs: mpsc::Sender<Job>,
}

/// One visit waiting, with its caller and where its answer goes.
#[derive(Debug)]
struct Job {
    user: AuthUser,
    visit: NewVisit,
    reply: oneshot::Sender<Reply>,
}

/// What became of a visit sent to a group.
#[derive(Debug)]
enum Reply {
    /// Stored with the group.
    Created(visit::Model),
    /// Not stored by the group: record it on its own.
    Alone(NewVisit),
    /// The database could not be reached.
    Failed(ApiError),
}

impl VisitQueue {
    /// Starts the workers that store the queued visits in `db`: two on PostgreSQL (one
    /// group gathers while another commits), one on SQLite, whose writers take turns.
    pub fn start(db: DatabaseConnection, clock: LocalClock) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE_DEPTH);
        let queue = Arc::new(Mutex::new(queue));
        let workers = match db.get_database_backend() {
            DbBackend::Sqlite => 1,
            _ => 2,
        };
        for _ in 0..workers {
            tokio::spawn(work(db.clone(), clock, queue.clone()));
        }
        Self { jobs }
    }
}

/// Records one visit posted by `user`, exactly once per id (the rules of [`record_visit`]):
/// with a group when it is a household visit without issues by a person, else in a
/// transaction of its own.
pub async fn record(
    db: &DatabaseConnection,
    queue: &VisitQueue,
    clock: LocalClock,
    user: &AuthUser,
    mut visit: NewVisit,
) -> ApiResult<Recorded> {
    let arrived = Instant::now();
    // Both engines keep microseconds: compare and store what they can hold.
    visit.visited_at = visit.visited_at.trunc_subsecs(6);
    if joins_group(user, &visit) {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            user: user.clone(),
            visit,
            reply,
        };
        visit = match queue.jobs.send(job).await {
            Ok(()) => match answer.await {
                Ok(Reply::Created(row)) => return Ok(Recorded::Created(row, Vec::new())),
                Ok(Reply::Alone(visit)) => visit,
                Ok(Reply::Failed(error)) => return Err(error),
                Err(_) => {
                    return Err(ApiError::Internal(
                        "the visit's group was dropped unanswered".into(),
                    ));
                }
            },
            // No worker left (the runtime is stopping): on its own.
            Err(mpsc::error::SendError(job)) => job.visit,
        };
    }
    // A visit its group left out has waited for a turn already: it waits out what is left of
    // the one wait a request gets, not a second one.
    let txn = begin_write_within(db, WRITE_TURN_WAIT.saturating_sub(arrived.elapsed())).await?;
    let recorded = record_visit(&txn, user, clock, visit).await?;
    commit(txn).await?;
    Ok(recorded)
}

/// A visit a group can store: a person's visit to a household, raising no issue, at a time
/// that is accepted (else it is refused on its own, with the reason).
fn joins_group(user: &AuthUser, visit: &NewVisit) -> bool {
    matches!(user.principal.actor, Actor::User { .. })
        && visit.household().is_some()
        && visit.issues.is_empty()
        && check_visited_at(visit.visited_at).is_ok()
}

/// A worker: takes every visit queued (up to [`GROUP_MAX`]) and stores them as a group,
/// until the queue closes. Each group is stored in a task of its own: were it to panic, its
/// callers would be answered 500 and the worker would go on with the next group. A panic
/// before the commit rolls their visits back; after it, a retry finds its visit stored and
/// gets the usual answer for a retry.
async fn work(db: DatabaseConnection, clock: LocalClock, queue: Arc<Mutex<mpsc::Receiver<Job>>>) {
    let mut jobs = Vec::with_capacity(GROUP_MAX);
    loop {
        if queue.lock().await.recv_many(&mut jobs, GROUP_MAX).await == 0 {
            return;
        }
        let group = tokio::spawn(store(db.clone(), clock, std::mem::take(&mut jobs)));
        if let Err(error) = group.await
            && error.is_panic()
        {
            tracing::error!(%error, "storing a group of visits panicked; its callers were answered 500");
        }
    }
}

/// Stores a group and answers each of its visits.
async fn store(db: DatabaseConnection, clock: LocalClock, jobs: Vec<Job>) {
    let txn = match begin_write(&db).await {
        Ok(txn) => txn,
        Err(error) => {
            // Unreachable database: each visit gets the 503 it would have got alone.
            // Anything else: each tries alone.
            let unavailable = match ApiError::from(error) {
                ApiError::Unavailable(detail) => Some(detail),
                _ => None,
            };
            for job in jobs {
                let reply = match &unavailable {
                    Some(detail) => Reply::Failed(ApiError::Unavailable(detail.clone())),
                    None => Reply::Alone(job.visit),
                };
                let _ = job.reply.send(reply);
            }
            return;
        }
    };
    let stored = match store_in(&txn, clock, &jobs).await {
        Ok(stored) => commit(txn).await.map(|()| stored),
        Err(error) => Err(error),
    };
    let mut stored = stored.unwrap_or_else(|error| {
        tracing::warn!(%error, visits = jobs.len(), "a group of visits failed; each is recorded on its own");
        Vec::new()
    });
    stored.resize_with(jobs.len(), || None);
    for (job, row) in jobs.into_iter().zip(stored) {
        // A caller that went away (its connection closed) takes no answer.
        let _ = job.reply.send(match row {
            Some(row) => Reply::Created(row),
            None => Reply::Alone(job.visit),
        });
    }
}

/// Writes the group's plainly new visits in `db`: for each job, in order, the row stored, or
/// `None` for a visit to be recorded on its own.
async fn store_in(
    db: &WriteTxn,
    clock: LocalClock,
    jobs: &[Job],
) -> Result<Vec<Option<visit::Model>>, DbErr> {
    // The households' places, one query per caller's scope (callers of the same scope share).
    let mut places = vec![None; jobs.len()];
    let mut scopes_done = Vec::new();
    for job in jobs {
        let scope = job.user.scope();
        if scopes_done.contains(&scope) {
            continue;
        }
        scopes_done.push(scope);
        let members: Vec<usize> = (0..jobs.len())
            .filter(|&index| jobs[index].user.scope() == scope)
            .collect();
        let households: Vec<_> = members
            .iter()
            .filter_map(|&index| jobs[index].visit.household())
            .collect();
        let found = household_places(db, scope, &households).await?;
        for index in members {
            places[index] = jobs[index]
                .visit
                .household()
                .and_then(|household| found.get(&household).copied());
        }
    }
    // Microseconds, as both engines store them.
    let now = Utc::now().trunc_subsecs(6);
    let stamp = db.stamp().await?;
    let mut ids = HashSet::new();
    let mut rows = Vec::with_capacity(jobs.len());
    for (index, (job, place)) in jobs.iter().zip(&places).enumerate() {
        let (Some(place), Actor::User { id: cadre_id }) = (place, &job.user.principal.actor) else {
            continue;
        };
        // A second copy of an id in the group is judged on its own, after the first.
        if !ids.insert(job.visit.id) {
            continue;
        }
        let visit = &job.visit;
        let duty_id =
            duty_of_sit_in(db, clock, visit.channel, place.village_id, visit.visited_at).await?;
        rows.push((
            index,
            new_row(visit, *cadre_id, *place, duty_id, now, stamp),
        ));
    }
    let (members, rows): (Vec<usize>, Vec<visit::Model>) = rows.into_iter().unzip();
    let inserted = insert_new(db, &rows).await?;
    let mut stored = vec![None; jobs.len()];
    for (index, row) in members.into_iter().zip(rows) {
        if inserted.contains(&row.id) {
            stored[index] = Some(row);
        }
    }
    let created: Vec<&visit::Model> = stored.iter().flatten().collect();
    move_households_forward(db, &created, stamp, Restamp::Moved).await?;
    let entries = jobs
        .iter()
        .zip(&stored)
        .filter_map(|(job, row)| {
            let row = row.as_ref()?;
            Some((job.user.audit_actor(), created_entry(row, Vec::new())))
        })
        .collect();
    crate::audit::record_each(db, entries).await?;
    Ok(stored)
}
