//! The issue lifecycle as one state machine: which step leads from which status to which,
//! and who may take it. Everything that changes an issue's status goes through [`next_status`]
//! and [`may_take`].
//!
//! ```text
//!  open ──progress──▶ in_progress ──resolve──▶ resolved ──close (销号, after satisfied 反馈)──▶ closed
//!    └─────────────resolve─────────────────────▲    │                                          │
//!                      ▲                             │ feedback: unsatisfied                    │
//!                      └─────────────────────────────┴──────────── reopen (a leader) ◀─────────┘
//! ```

use entity::{
    issue::{self, Level, Status},
    user::Role,
};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    access::Scope,
    auth::{Actor, Principal},
};

/// A step in an issue's life; each is its own endpoint and timeline event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// 办理情况: a progress note.
    Progress,
    /// 办结: resolved, with what was done.
    Resolve,
    /// 反馈: the applicant has been told, and said whether satisfied.
    Feedback,
    /// 销号: struck off by a leader.
    Close,
    /// Reopened because the applicant was not satisfied.
    Reopen,
    /// 督办: urged by a leader.
    Urge,
    /// The deadline extended by a leader.
    ExtendDeadline,
    /// Escalated to the next level.
    Escalate,
    /// The department accepts an escalation.
    AcceptEscalation,
}

/// The status a step leads to from `current`, or `None` when the step is not allowed there.
pub fn next_status(step: Step, current: Status) -> Option<Status> {
    use Status::*;
    match (step, current) {
        (Step::Progress | Step::AcceptEscalation, Open | InProgress) => Some(InProgress),
        (Step::Resolve, Open | InProgress) => Some(Resolved),
        (Step::Feedback, Resolved) => Some(Resolved),
        (Step::Close, Resolved) => Some(Closed),
        (Step::Reopen, Resolved | Closed) => Some(InProgress),
        (Step::Urge | Step::ExtendDeadline | Step::Escalate, Open | InProgress) => Some(current),
        _ => None,
    }
}

/// The level above, for an escalation (none above the county).
pub fn level_above(level: Level) -> Option<Level> {
    match level {
        Level::Village => Some(Level::Town),
        Level::Town => Some(Level::County),
        Level::County => None,
    }
}

/// Whether the caller is the issue's lead responsible person (首访负责制).
pub fn is_lead(caller: &Principal, issue: &issue::Model) -> bool {
    caller.actor
        == (Actor::User {
            id: issue.lead_responsible_id,
        })
}

/// Whether the caller is the issue's current handler: staff of the department it was sent
/// to, or an official of its village while it is handled at village level.
pub fn is_handler(caller: &Principal, issue: &issue::Model) -> bool {
    match (&caller.scope, caller.role) {
        (Scope::Department(department), Role::Department) => {
            issue.handler_department_id == Some(*department)
        }
        (Scope::Villages(villages), Role::VillageOfficial) => {
            issue.level == Level::Village && villages.contains(&issue.village_id)
        }
        _ => false,
    }
}

/// May the caller take this step on this (visible) issue?
pub fn may_take(step: Step, caller: &Principal, issue: &issue::Model) -> bool {
    if caller.role == Role::Admin {
        return true;
    }
    match step {
        Step::Progress | Step::Resolve | Step::Feedback => {
            is_lead(caller, issue) || is_handler(caller, issue)
        }
        Step::Escalate => is_lead(caller, issue),
        Step::AcceptEscalation => caller.role == Role::Department && is_handler(caller, issue),
        Step::Close | Step::Urge | Step::ExtendDeadline => caller.role == Role::Leader,
        // Reopening overrides the applicant's answer or a strike-off: a leader's decision.
        Step::Reopen => caller.role == Role::Leader,
    }
}

/// The word for a status in messages.
pub fn status_name(status: Status) -> &'static str {
    match status {
        Status::Open => "open",
        Status::InProgress => "in_progress",
        Status::Resolved => "resolved",
        Status::Closed => "closed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    #[test]
    fn every_step_from_every_status_is_allowed_or_refused_as_the_campaign_says() {
        let table: [(Step, [Option<Status>; 4]); 9] = [
            (
                Step::Progress,
                [Some(InProgress), Some(InProgress), None, None],
            ),
            (Step::Resolve, [Some(Resolved), Some(Resolved), None, None]),
            (Step::Feedback, [None, None, Some(Resolved), None]),
            (Step::Close, [None, None, Some(Closed), None]),
            (
                Step::Reopen,
                [None, None, Some(InProgress), Some(InProgress)],
            ),
            (Step::Urge, [Some(Open), Some(InProgress), None, None]),
            (
                Step::ExtendDeadline,
                [Some(Open), Some(InProgress), None, None],
            ),
            (Step::Escalate, [Some(Open), Some(InProgress), None, None]),
            (
                Step::AcceptEscalation,
                [Some(InProgress), Some(InProgress), None, None],
            ),
        ];
        for (step, expected) in table {
            for (from, to) in [Open, InProgress, Resolved, Closed]
                .into_iter()
                .zip(expected)
            {
                assert_eq!(next_status(step, from), to, "{step:?} from {from:?}");
            }
        }
    }

    #[test]
    fn escalation_goes_up_one_level_and_stops_at_the_county() {
        assert_eq!(level_above(Level::Village), Some(Level::Town));
        assert_eq!(level_above(Level::Town), Some(Level::County));
        assert_eq!(level_above(Level::County), None);
    }
}
