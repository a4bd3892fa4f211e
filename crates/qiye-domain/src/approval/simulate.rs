//! Simulation (§6 S1): run a template on sample form data and an
//! organisation, and report the path and who each node would ask, without
//! an instance. It runs the engine itself on a scratch instance (submit,
//! then approve every record in turn), so a simulation cannot drift from
//! what a real instance does. Submitting a real instance runs the same
//! simulation first, which is how a node that would find nobody under the
//! `Refuse` policy, or a missing applicant choice, refuses the submission.

use std::sync::Arc;

use super::instance::{
    Actor, ApprovalError, AutoReason, Command, Envelope, EventBody, Instance, InstanceStatus,
    Reason, RecordStatus, Submission,
};
use super::model::{IdempotencyKey, NodeKey, SpNo};
use super::org::Org;
use super::template::Template;
use crate::ids::UserId;

/// One member a simulated node asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceSeat {
    /// The member.
    pub user: UserId,
    /// Why.
    pub reason: Reason,
    /// Sequential stage.
    pub stage: u32,
    /// Left out without a vote (dedup, applicant skipped), and why.
    pub skipped: Option<AutoReason>,
}

/// One step of a simulated path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceStep {
    /// A gateway took a branch.
    Branch {
        /// The gateway.
        gateway: NodeKey,
        /// The branch's index.
        branch: usize,
        /// Its name.
        name: String,
    },
    /// A node was reached.
    Node {
        /// The node.
        node: NodeKey,
        /// Its name.
        name: String,
        /// Who it asks.
        seats: Vec<TraceSeat>,
        /// Passed without anyone, and why.
        auto: Option<AutoReason>,
    },
    /// Members were CC'd.
    Cc {
        /// The node.
        node: NodeKey,
        /// Who, and why.
        users: Vec<(UserId, Reason)>,
    },
}

/// A simulated run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// The path, in order.
    pub steps: Vec<TraceStep>,
    /// How it ends when everyone approves.
    pub outcome: InstanceStatus,
}

impl Trace {
    /// The keys of the approval and handler nodes reached, in order.
    pub fn nodes(&self) -> Vec<&NodeKey> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                TraceStep::Node { node, .. } => Some(node),
                _ => None,
            })
            .collect()
    }
}

/// Simulates `submission` on `template` at time `at`: everyone approves.
/// Errors are the ones a real submission would get.
pub fn simulate(
    template: Arc<Template>,
    submission: Submission,
    org: &dyn Org,
    at: i64,
) -> Result<Trace, ApprovalError> {
    let scratch = Instance::new(SpNo::parse("0").expect("a valid sp_no"), template);
    let env = Envelope {
        key: sim_key(0),
        actor: Actor::System,
        at,
        command: Command::Submit(submission.clone()),
    };
    simulate_submission(&scratch, &env, &submission, org)
}

fn sim_key(n: usize) -> IdempotencyKey {
    IdempotencyKey::parse(&format!("simulation-{n}")).expect("a valid key")
}

/// Runs a submission on a scratch copy of `inst` to the end.
pub(crate) fn simulate_submission(
    inst: &Instance,
    env: &Envelope,
    submission: &Submission,
    org: &dyn Org,
) -> Result<Trace, ApprovalError> {
    let mut scratch = Instance::new(inst.sp_no().clone(), Arc::clone(inst.template())).predicting();
    let submit = Envelope {
        key: sim_key(0),
        actor: env.actor.clone(),
        at: env.at,
        command: Command::Submit(submission.clone()),
    };
    for e in scratch.decide(&submit, org)? {
        scratch.apply(&e)?;
    }
    let mut n = 1;
    while scratch.status() == InstanceStatus::Running {
        let Some(r) = scratch.actionable().first().map(|r| (r.id, r.user.clone())) else {
            break;
        };
        let approve = Envelope {
            key: sim_key(n),
            actor: Actor::Member(r.1),
            at: env.at,
            command: Command::Approve {
                record: r.0,
                speech: String::new(),
            },
        };
        for e in scratch.decide(&approve, org)? {
            scratch.apply(&e)?;
        }
        n += 1;
    }
    Ok(trace_of(&scratch))
}

fn trace_of(inst: &Instance) -> Trace {
    let flow = inst.template().flow();
    let mut steps: Vec<TraceStep> = Vec::new();
    let mut node_step = std::collections::BTreeMap::new();
    for e in inst.events() {
        match &e.body {
            EventBody::BranchTaken { gateway, branch } => {
                let name = match flow.node(gateway).map(|n| &n.kind) {
                    Some(super::flow::NodeKind::Exclusive { branches }) => branches
                        .get(*branch)
                        .map(|b| b.name.clone())
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                steps.push(TraceStep::Branch {
                    gateway: gateway.clone(),
                    branch: *branch,
                    name,
                });
            }
            EventBody::Activated {
                activation, node, ..
            } => {
                node_step.insert(*activation, steps.len());
                steps.push(TraceStep::Node {
                    node: node.clone(),
                    name: flow.node(node).map(|n| n.name.clone()).unwrap_or_default(),
                    seats: Vec::new(),
                    auto: None,
                });
            }
            EventBody::RecordOpened {
                activation,
                user,
                reason,
                stage,
                ..
            } => {
                if let Some(TraceStep::Node { seats, .. }) =
                    node_step.get(activation).and_then(|i| steps.get_mut(*i))
                {
                    seats.push(TraceSeat {
                        user: user.clone(),
                        reason: reason.clone(),
                        stage: *stage,
                        skipped: None,
                    });
                }
            }
            EventBody::RecordChanged {
                record,
                status: RecordStatus::Skipped(why),
                ..
            } => {
                let rec = &inst.records()[(record.0 - 1) as usize];
                if let Some(TraceStep::Node { seats, .. }) = node_step
                    .get(&rec.activation)
                    .and_then(|i| steps.get_mut(*i))
                {
                    if let Some(s) = seats.iter_mut().find(|s| s.user == rec.user) {
                        s.skipped = Some(why.clone());
                    }
                }
            }
            EventBody::ActivationEnded {
                activation,
                auto: Some(why),
                ..
            } => {
                if let Some(TraceStep::Node { auto, .. }) =
                    node_step.get(activation).and_then(|i| steps.get_mut(*i))
                {
                    *auto = Some(why.clone());
                }
            }
            EventBody::CcSent { node, users } => steps.push(TraceStep::Cc {
                node: node.clone(),
                users: users.clone(),
            }),
            _ => {}
        }
    }
    Trace {
        steps,
        outcome: inst.status(),
    }
}
