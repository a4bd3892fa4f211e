//! What a decision writes besides its events: the task rows of the
//! members' lists, the timers its activations schedule and the timers of
//! activations that ended.

use std::collections::BTreeMap;

use qiye_domain::approval::{ActivationId, Event, EventBody, Instance, Record, RecordStatus};
use qiye_domain::ports::{TaskRow, TaskState, TimerRow};

/// The list a record belongs in now.
fn state_of(inst: &Instance, r: &Record, actionable: &[u32]) -> TaskState {
    if actionable.contains(&r.id.0) {
        return TaskState::Todo;
    }
    match r.status {
        RecordStatus::Pending | RecordStatus::Waiting | RecordStatus::Approving
            if !inst.status().is_final() =>
        {
            TaskState::Closed
        }
        // Acted by the member: their "done" list.
        RecordStatus::Approved
        | RecordStatus::Approving
        | RecordStatus::Rejected
        | RecordStatus::Handled
        | RecordStatus::Transferred(_)
        | RecordStatus::HandedOver(_)
        | RecordStatus::Returned(_) => TaskState::Done,
        // Decided without them, or left before their turn.
        _ => TaskState::Closed,
    }
}

/// Every record's (and CC's) list in `inst`, keyed by (record, member).
fn lists(inst: &Instance) -> BTreeMap<(u32, String), TaskState> {
    let actionable: Vec<u32> = inst.actionable().iter().map(|r| r.id.0).collect();
    let mut out: BTreeMap<(u32, String), TaskState> = inst
        .records()
        .iter()
        .map(|r| {
            (
                (r.id.0, r.user.as_str().to_owned()),
                state_of(inst, r, &actionable),
            )
        })
        .collect();
    for (user, _, _) in inst.cc() {
        out.insert((0, user.as_str().to_owned()), TaskState::Cc);
    }
    out
}

/// The task rows that differ between `before` and `after` (new rows and
/// rows that changed list), stamped `at_ms`.
pub(crate) fn changed_tasks(before: &Instance, after: &Instance, at_ms: i64) -> Vec<TaskRow> {
    let old = lists(before);
    let users: BTreeMap<(u32, String), qiye_domain::ids::UserId> = after
        .records()
        .iter()
        .map(|r| ((r.id.0, r.user.as_str().to_owned()), r.user.clone()))
        .chain(
            after
                .cc()
                .iter()
                .map(|(u, _, _)| ((0, u.as_str().to_owned()), u.clone())),
        )
        .collect();
    lists(after)
        .into_iter()
        .filter(|(k, state)| old.get(k) != Some(state))
        .filter_map(|(k, state)| {
            users.get(&k).map(|user| TaskRow {
                record: k.0,
                user: user.clone(),
                state,
                at: at_ms,
            })
        })
        .collect()
}

/// Timers the events schedule.
pub(crate) fn scheduled(events: &[Event]) -> Vec<TimerRow> {
    events
        .iter()
        .flat_map(|e| match &e.body {
            EventBody::Activated {
                activation, timers, ..
            } => timers
                .iter()
                .map(|t| TimerRow {
                    activation: *activation,
                    kind: t.kind,
                    due_at: t.due_at,
                })
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// Activations the events end (their timers are cancelled).
pub(crate) fn ended(events: &[Event]) -> Vec<ActivationId> {
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::ActivationEnded { activation, .. } => Some(*activation),
            _ => None,
        })
        .collect()
}
