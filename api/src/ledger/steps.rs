//! Taking a lifecycle step: check visibility (404), permission (403), version (412) and the
//! state machine (409), change the issue, append the timeline event and the audit row — all
//! in the caller's transaction.

use chrono::{DateTime, Duration, NaiveDate, SubsecRound, Utc};
use entity::{
    escalation,
    issue::{self, Status},
    issue_event::EventKind,
    user::Role,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    EventOrigin, check_department, find_issue,
    lifecycle::{Step, level_above, may_take, next_status, status_name},
    record_event, record_event_with, save_issue,
};
use crate::{
    access::Scope,
    audit::{self, AuditActor, AuditEntry},
    auth::{Actor, Principal},
    error::{ApiError, ApiResult},
};

/// What a step carries.
#[derive(Debug, Clone, Default)]
pub struct StepInput {
    /// The note: progress, what was done, a reason.
    pub note: Option<String>,
    /// Feedback: was the applicant satisfied?
    pub satisfied: Option<bool>,
    /// Extension: the new deadline.
    pub new_deadline: Option<NaiveDate>,
    /// Extension: the new deadline in working days instead (not with `new_deadline`).
    pub extend_by_working_days: Option<WorkingDaysExtension>,
    /// Resolution: mark the issue a practical deed (实事).
    pub is_deed: Option<bool>,
    /// The event's id when a phone chose it (sync); generated otherwise.
    pub event_id: Option<Uuid>,
    /// The device that sent the step (sync).
    pub origin_device: Option<String>,
    /// When a phone took the step, offline perhaps (sync): the step is dated by it, within
    /// bounds ([`dated_by_device`]), and its event keeps the server's receipt beside it.
    pub taken_at: Option<DateTime<Utc>>,
}

/// How far back a phone's time can date a step: a week of working without signal. A step
/// pushed later than that is dated a week before it arrived (the phone's own time is kept
/// in its event's `data.device_time`).
pub(crate) const MAX_OFFLINE_DAYS: i64 = 7;

/// The time a step a phone took is dated by: the phone's (`taken_at`), but never after the
/// server received it, never more than [`MAX_OFFLINE_DAYS`] before that, and after the
/// issue's latest step that moved where it stands (its `created` event at the least): the
/// monthly ledger replays those in time order, and the order must be the one the server took
/// them in. An urge, an extension or an escalation the phone did not know of does not move
/// it: a resolution made offline before the deadline stays in time though the leader urged
/// the issue meanwhile. A time more than a day ahead of the server's (clocks drift; visits
/// allow as much) is refused.
async fn dated_by_device(
    db: &impl ConnectionTrait,
    issue_id: Uuid,
    taken_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> ApiResult<DateTime<Utc>> {
    if taken_at > now + Duration::days(1) {
        return Err(ApiError::invalid_field(
            "occurred_at",
            "out_of_range",
            "The step is dated after tomorrow: check the phone's clock.",
        ));
    }
    let at = taken_at
        .min(now)
        .max(now - Duration::days(MAX_OFFLINE_DAYS));
    Ok(match super::last_standing_event_at(db, issue_id).await? {
        // Strictly after: at the same time, the order would fall to the ids, which phones choose.
        Some(last) if at <= last => last + Duration::microseconds(1),
        _ => at,
    })
}

/// A phone's step keeps, in its event's data, when the server received it and — when its
/// time was moved into bounds — the time the phone gave.
fn with_receipt(
    data: Option<Value>,
    received_at: DateTime<Utc>,
    taken_at: DateTime<Utc>,
    dated: DateTime<Utc>,
) -> Value {
    let mut data = match data {
        Some(Value::Object(fields)) => fields,
        _ => serde_json::Map::new(),
    };
    data.insert("received_at".to_owned(), json!(received_at));
    if dated != taken_at {
        data.insert("device_time".to_owned(), json!(taken_at));
    }
    Value::Object(data)
}

/// A deadline extension given in working days: counted from the current deadline, or from
/// `today` if the current deadline has passed (or there is none), so that the new deadline is
/// always that many working days ahead of whichever is later.
#[derive(Debug, Clone, Copy)]
pub struct WorkingDaysExtension {
    /// How many working days.
    pub days: u32,
    /// Today (local).
    pub today: NaiveDate,
}

fn required(value: Option<String>, field: &str, message: &str) -> ApiResult<String> {
    value
        .filter(|text| !text.trim().is_empty())
        .ok_or_else(|| ApiError::invalid_field(field, "required", message))
}

fn refused(step: Step, status: Status) -> ApiError {
    ApiError::Conflict {
        code: "invalid_transition",
        detail: format!(
            "The issue is `{}`: the step `{}` is not possible from there.",
            status_name(status),
            serde_json::to_value(step)
                .ok()
                .and_then(|value| value.as_str().map(str::to_owned))
                .unwrap_or_default()
        ),
    }
}

fn forbidden(step: Step) -> ApiError {
    let who = match step {
        Step::Close | Step::Urge | Step::ExtendDeadline | Step::Reopen => "a leader",
        Step::Escalate => "the lead responsible person (the first visitor)",
        Step::AcceptEscalation => "the department it was sent to",
        _ => "the lead responsible person or the current handler",
    };
    ApiError::Forbidden(format!("Only {who} may take this step."))
}

/// Loads the issue for a step: visible (404), allowed (403), at the expected version (412),
/// and in a status the step may leave (409).
async fn load_for(
    db: &impl ConnectionTrait,
    caller: &Principal,
    issue_id: Uuid,
    step: Step,
    precondition: &dyn Fn(i32) -> ApiResult<()>,
) -> ApiResult<(issue::Model, Status)> {
    let issue = find_issue(db, caller, issue_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such issue.".to_owned()))?;
    if issue.answered_on_spot {
        return Err(ApiError::Conflict {
            code: "answered_on_spot",
            detail: "This matter was answered on the spot; it is not in the ledger.".to_owned(),
        });
    }
    if !may_take(step, caller, &issue) {
        return Err(forbidden(step));
    }
    if !within_callers_place(db, caller, step, &issue).await? {
        return Err(ApiError::Forbidden(
            "You lead this issue, but its village is outside your place: only a leader of its \
             place may take this step."
                .to_owned(),
        ));
    }
    precondition(issue.version)?;
    let next = next_status(step, issue.status).ok_or_else(|| refused(step, issue.status))?;
    Ok((issue, next))
}

/// Whether the caller's authority over the place reaches this issue, for the steps that take
/// it (striking off, urging, extending, reopening, accepting an escalation). A visible issue
/// the caller does not lead is in their scope; one they lead may not be — a leader or admin
/// who recorded a matter elsewhere handles it as its lead, not as that place's leader.
async fn within_callers_place(
    db: &impl ConnectionTrait,
    caller: &Principal,
    step: Step,
    issue: &issue::Model,
) -> Result<bool, sea_orm::DbErr> {
    let by_authority = matches!(
        step,
        Step::Close | Step::Urge | Step::ExtendDeadline | Step::Reopen | Step::AcceptEscalation
    );
    if !by_authority || !super::lifecycle::is_lead(caller, issue) {
        return Ok(true);
    }
    let found = sea_orm::PaginatorTrait::count(
        issue::Entity::find_by_id(issue.id).filter(super::scope_condition(caller)),
        db,
    )
    .await?;
    Ok(found > 0)
}

fn audit_actor(caller: &Principal, meta: &crate::auth::RequestMeta) -> AuditActor {
    let (actor_type, id) = match caller.actor {
        Actor::User { id } => ("user", id),
        Actor::ApiToken { id } => ("api_token", id),
    };
    AuditActor {
        actor_type,
        actor_id: Some(id),
        role: Some(caller.role),
        request_id: meta.request_id.clone(),
        client_addr: meta.client_addr.clone(),
    }
}

/// Takes a step that changes only the issue itself (everything but escalation).
pub async fn take_step(
    db: &impl ConnectionTrait,
    caller: &Principal,
    meta: &crate::auth::RequestMeta,
    issue_id: Uuid,
    step: Step,
    input: StepInput,
    precondition: &dyn Fn(i32) -> ApiResult<()>,
) -> ApiResult<issue::Model> {
    let (issue, next) = load_for(db, caller, issue_id, step, precondition).await?;
    // To the microsecond, as the databases keep it: the receipt in a phone's event's data is
    // then the time its bounds were taken from.
    let now = Utc::now().trunc_subsecs(6);
    let at = match input.taken_at {
        Some(taken_at) => dated_by_device(db, issue.id, taken_at, now).await?,
        None => now,
    };
    let mut changed = issue.clone();
    let (kind, note, data) = match step {
        Step::Progress => {
            let note = required(input.note, "note", "Say what was done (办理情况).")?;
            changed.latest_progress = Some(note.clone());
            (EventKind::Progress, Some(note), None)
        }
        Step::Resolve => {
            let note = required(input.note, "note", "Say how it was resolved.")?;
            changed.resolution = Some(note.clone());
            changed.latest_progress = Some(note.clone());
            changed.resolved_at = Some(at);
            if let Some(is_deed) = input.is_deed {
                changed.is_deed = is_deed;
            }
            (
                EventKind::Resolved,
                Some(note),
                Some(json!({"is_deed": changed.is_deed})),
            )
        }
        Step::Feedback => {
            let satisfied = input.satisfied.ok_or_else(|| {
                ApiError::invalid_field("satisfied", "required", "Was the applicant satisfied?")
            })?;
            if issue.feedback_given {
                return Err(ApiError::Conflict {
                    code: "feedback_given",
                    detail: "The applicant's answer to this resolution is recorded already."
                        .to_owned(),
                });
            }
            changed.feedback_given = true;
            changed.applicant_satisfied = Some(satisfied);
            (
                EventKind::Feedback,
                input.note,
                Some(json!({"satisfied": satisfied})),
            )
        }
        Step::Close => {
            match issue.applicant_satisfied {
                _ if !issue.feedback_given => {
                    return Err(ApiError::Conflict {
                        code: "feedback_missing",
                        detail: "The applicant has not been told the result yet (反馈): record the feedback first.".to_owned(),
                    });
                }
                Some(false) => {
                    return Err(ApiError::Conflict {
                        code: "applicant_unsatisfied",
                        detail: "The applicant is not satisfied: reopen the issue instead of striking it off.".to_owned(),
                    });
                }
                _ => {}
            }
            changed.closed_at = Some(at);
            (EventKind::Closed, input.note, None)
        }
        Step::Reopen => {
            let reason = required(input.note, "note", "Say why it is reopened.")?;
            // 办理情况 of a reopened matter: why it was reopened, not the resolution it
            // overturned (as the monthly ledger folds its timeline).
            changed.latest_progress = Some(reason.clone());
            changed.resolved_at = None;
            changed.closed_at = None;
            changed.feedback_given = false;
            changed.applicant_satisfied = None;
            (
                EventKind::Reopened,
                Some(reason),
                Some(json!({"from": status_name(issue.status)})),
            )
        }
        Step::Urge => (EventKind::Urged, input.note, None),
        Step::ExtendDeadline => {
            let reason = required(input.note, "note", "Say why the deadline is extended.")?;
            let from = input
                .extend_by_working_days
                .map_or(Default::default(), |by| {
                    issue
                        .deadline
                        .map_or(by.today, |deadline| deadline.max(by.today))
                });
            let new_deadline = crate::calendar::resolve_deadline(
                db,
                input.new_deadline,
                input.extend_by_working_days.map(|by| by.days),
                from,
                "new_deadline",
                "new_deadline_working_days",
            )
            .await?
            .ok_or_else(|| {
                ApiError::invalid_field("new_deadline", "required", "Give the new deadline.")
            })?;
            if issue
                .deadline
                .is_some_and(|deadline| new_deadline <= deadline)
            {
                return Err(ApiError::invalid_field(
                    "new_deadline",
                    "not_later",
                    "The new deadline must be later than the current one.",
                ));
            }
            // At most five years past the current deadline (as a new issue's is at most five
            // years past the day it was raised).
            let base = issue
                .deadline
                .unwrap_or_else(|| issue.created_at.date_naive());
            if base
                .checked_add_days(chrono::Days::new(super::MAX_DEADLINE_DAYS))
                .is_none_or(|latest| new_deadline > latest)
            {
                return Err(ApiError::invalid_field(
                    "new_deadline",
                    "too_far",
                    "The new deadline is more than five years past the current one.",
                ));
            }
            changed.deadline = Some(new_deadline);
            (
                EventKind::DeadlineExtended,
                Some(reason),
                Some(json!({"from": issue.deadline, "to": new_deadline})),
            )
        }
        Step::Escalate | Step::AcceptEscalation => {
            return Err(ApiError::Internal(
                "escalation steps have their own functions".into(),
            ));
        }
    };
    // An unsatisfied applicant sends the issue back to work (DOMAIN.md: "a resolved issue
    // whose applicant is unsatisfied is reopened").
    let reopened_by_feedback = step == Step::Feedback && changed.applicant_satisfied == Some(false);
    changed.status = if reopened_by_feedback {
        Status::InProgress
    } else {
        next
    };
    if reopened_by_feedback {
        changed.resolved_at = None;
        changed.feedback_given = false;
    }
    let data = match input.taken_at {
        Some(taken_at) => Some(with_receipt(data, now, taken_at, at)),
        None => data,
    };
    let saved = save_issue(db, changed, now).await?;
    record_event_with(
        db,
        caller,
        saved.id,
        kind,
        note.clone(),
        data.clone(),
        EventOrigin {
            id: input.event_id,
            device: input.origin_device,
            occurred_at: Some(at),
        },
    )
    .await?;
    if reopened_by_feedback {
        record_event(
            db,
            caller,
            saved.id,
            EventKind::Reopened,
            Some("群众不满意，重新办理".to_owned()),
            Some(json!({"from": "resolved", "by": "feedback"})),
        )
        .await?;
    }
    audit::record(
        db,
        &audit_actor(caller, meta),
        AuditEntry::new(audit_action(step), "issue", saved.id).with_changes(json!({
            "status": {"from": status_name(issue.status), "to": status_name(saved.status)},
            "note": note,
            "data": data,
        })),
    )
    .await?;
    Ok(saved)
}

fn audit_action(step: Step) -> &'static str {
    match step {
        Step::Progress => "issue.progress",
        Step::Resolve => "issue.resolve",
        Step::Feedback => "issue.feedback",
        Step::Close => "issue.close",
        Step::Reopen => "issue.reopen",
        Step::Urge => "issue.urge",
        Step::ExtendDeadline => "issue.extend_deadline",
        Step::Escalate => "issue.escalate",
        Step::AcceptEscalation => "issue.accept_escalation",
    }
}

/// What an escalation carries.
#[derive(Debug, Clone)]
pub struct EscalationInput {
    /// The department of the next level up that takes it.
    pub department_id: Uuid,
    /// Why it cannot be solved at this level.
    pub reason: String,
    /// The new deadline.
    pub new_deadline: NaiveDate,
}

/// Escalates an issue one level up, to a department of that level, with a reason and a new
/// deadline. Only the lead responsible person may (首访负责制); the lead stays the same.
pub async fn escalate(
    db: &impl ConnectionTrait,
    caller: &Principal,
    meta: &crate::auth::RequestMeta,
    issue_id: Uuid,
    input: EscalationInput,
    today: NaiveDate,
    precondition: &dyn Fn(i32) -> ApiResult<()>,
) -> ApiResult<(issue::Model, escalation::Model)> {
    let (issue, next) = load_for(db, caller, issue_id, Step::Escalate, precondition).await?;
    let Some(to_level) = level_above(issue.level) else {
        return Err(ApiError::Conflict {
            code: "cannot_escalate",
            detail: "The issue is handled by the county already; there is no level above."
                .to_owned(),
        });
    };
    if input.reason.trim().is_empty() {
        return Err(ApiError::invalid_field(
            "reason",
            "required",
            "Say why it cannot be solved at this level.",
        ));
    }
    if input.new_deadline < today {
        return Err(ApiError::invalid_field(
            "new_deadline",
            "in_the_past",
            "The new deadline is in the past.",
        ));
    }
    // At most five years ahead, as a new issue's deadline and an extension.
    if today
        .checked_add_days(chrono::Days::new(super::MAX_DEADLINE_DAYS))
        .is_none_or(|latest| input.new_deadline > latest)
    {
        return Err(ApiError::invalid_field(
            "new_deadline",
            "too_far",
            "The new deadline is more than five years ahead.",
        ));
    }
    let to_org_unit_id = match to_level {
        entity::issue::Level::Town => issue.town_id,
        _ => issue.county_id,
    };
    // A department of the same level, or of another town, is "sideways": refused.
    check_department(
        db,
        input.department_id,
        to_level,
        to_org_unit_id,
        "department_id",
    )
    .await?;
    let now = Utc::now();
    let escalated_by = match caller.actor {
        Actor::User { id } | Actor::ApiToken { id } => id,
    };
    let record = escalation::Model {
        id: Uuid::now_v7(),
        issue_id: issue.id,
        from_level: issue.level,
        to_level,
        from_org_unit_id: issue.handler_org_unit_id,
        to_org_unit_id,
        department_id: input.department_id,
        reason: input.reason.clone(),
        new_deadline: input.new_deadline,
        escalated_by,
        escalated_at: now,
        accepted_by: None,
        accepted_at: None,
    };
    escalation::Entity::insert(escalation::ActiveModel::from(record.clone()))
        .exec_without_returning(db)
        .await?;
    let mut changed = issue.clone();
    changed.level = to_level;
    changed.handler_org_unit_id = to_org_unit_id;
    changed.handler_department_id = Some(input.department_id);
    changed.deadline = Some(input.new_deadline);
    changed.status = next;
    let saved = save_issue(db, changed, now).await?;
    let data = json!({
        "escalation_id": record.id,
        "from_level": issue.level,
        "to_level": to_level,
        "department_id": input.department_id,
        "new_deadline": input.new_deadline,
    });
    record_event(
        db,
        caller,
        saved.id,
        EventKind::Escalated,
        Some(input.reason),
        Some(data.clone()),
    )
    .await?;
    audit::record(
        db,
        &audit_actor(caller, meta),
        AuditEntry::new("issue.escalate", "issue", saved.id).with_changes(data),
    )
    .await?;
    Ok((saved, record))
}

/// The department accepts an escalation sent to it; the issue is then in progress.
pub async fn accept_escalation(
    db: &impl ConnectionTrait,
    caller: &Principal,
    meta: &crate::auth::RequestMeta,
    escalation_id: Uuid,
) -> ApiResult<(issue::Model, escalation::Model)> {
    let record = escalation::Entity::find_by_id(escalation_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such escalation.".to_owned()))?;
    let visible_to_department = match &caller.scope {
        Scope::Department(department) => *department == record.department_id,
        _ => caller.role == Role::Admin,
    };
    if !visible_to_department {
        return Err(ApiError::NotFound("No such escalation.".to_owned()));
    }
    // Whether it is the caller's to see comes first: an admin of another place, or staff named
    // in the complaint, learn nothing of it (not even that it was accepted).
    let current = find_issue(db, caller, record.issue_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such escalation.".to_owned()))?;
    if record.accepted_at.is_some() {
        return Err(ApiError::Conflict {
            code: "already_accepted",
            detail: "This escalation was accepted already.".to_owned(),
        });
    }
    if current.handler_department_id != Some(record.department_id) {
        return Err(ApiError::Conflict {
            code: "escalation_superseded",
            detail: "The issue has moved on to another department since.".to_owned(),
        });
    }
    let (issue, next) = load_for(db, caller, record.issue_id, Step::AcceptEscalation, &|_| {
        Ok(())
    })
    .await?;
    let now = Utc::now();
    let accepter = match caller.actor {
        Actor::User { id } | Actor::ApiToken { id } => id,
    };
    // Only one of two concurrent accepts claims it.
    let claimed = escalation::Entity::update_many()
        .col_expr(
            escalation::Column::AcceptedBy,
            sea_orm::sea_query::Expr::value(accepter),
        )
        .col_expr(
            escalation::Column::AcceptedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(escalation::Column::Id.eq(record.id))
        .filter(escalation::Column::AcceptedAt.is_null())
        .exec(db)
        .await?
        .rows_affected;
    if claimed == 0 {
        return Err(ApiError::Conflict {
            code: "already_accepted",
            detail: "This escalation was accepted already.".to_owned(),
        });
    }
    let record = escalation::Model {
        accepted_by: Some(accepter),
        accepted_at: Some(now),
        ..record
    };
    let mut changed = issue.clone();
    changed.status = next;
    let saved = save_issue(db, changed, now).await?;
    let data = json!({"escalation_id": record.id, "department_id": record.department_id});
    record_event(
        db,
        caller,
        saved.id,
        EventKind::EscalationAccepted,
        None,
        Some(data.clone()),
    )
    .await?;
    audit::record(
        db,
        &audit_actor(caller, meta),
        AuditEntry::new("issue.accept_escalation", "issue", saved.id).with_changes(data),
    )
    .await?;
    Ok((saved, record))
}
