//! The engine: an [`Instance`] decides what a [`Command`] does and records
//! it as [`Event`]s; [`Instance::apply`] folds events into state.
//!
//! `decide` is a pure function of the state, the command and the
//! organisation as the [`Org`] port answers it at that moment. It runs the
//! command on a copy of the state, applying each event as it emits it, so
//! `decide` and `apply` can never disagree; it returns the events, which
//! the app layer stores (with the instance's version, under a per-instance
//! lock) and then applies. `apply` never consults the organisation: who was
//! chosen and why is in the events, so replaying them rebuilds the same
//! state.
//!
//! Invariants:
//! - a command's idempotency key is remembered with its events; the same
//!   key again decides nothing (`Ok(vec![])`), and [`Instance::events_of`]
//!   gives the original events to answer with;
//! - every action names a record; only that record's member may act on it,
//!   only while it is pending and its stage is current;
//! - a node has at most one active activation; once a node is decided its
//!   other records are superseded, so a second approval of an or-sign node
//!   is refused as already decided;
//! - a timer names its activation; firing one whose activation ended, or
//!   that fired already, does nothing;
//! - automatic passes (empty approver, applicant skip, dedup, timeout) are
//!   decided in the same command as the activation, each with its reason;
//!   dedup never applies to an activation reached by a return.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::check::{BranchPath, branch_order};
use super::flow::{
    ApproverRule, ChainSource, CondInput, Dedup, EmptyPolicy, FlowNode, NodeKind, SelfPolicy,
    SignMode, TaskNode, TimeoutAction,
};
use super::form::{ControlValue, FieldError, FormData, FormInput};
use super::model::{
    ActivationId, ControlId, IdempotencyKey, NodeKey, RecordId, SpNo, TemplateId, TemplateVersion,
};
use super::org::Org;
use super::template::{Template, WithdrawRule};
use crate::directory::TagId;
use crate::ids::{DeptId, UserId};

/// Least time between two urges of one instance, in seconds.
pub const URGE_INTERVAL_SECS: i64 = 30 * 60;
/// Longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 2000;
/// Longest approval speech, in characters.
pub const MAX_SPEECH_CHARS: usize = 2000;
/// Most signers one add-sign may add.
pub const MAX_ADDED_SIGNERS: usize = 20;

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    /// A form value was refused.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// The instance was submitted already.
    #[error("the instance was submitted already")]
    AlreadySubmitted,
    /// The instance is not running (approved, rejected, withdrawn, or not
    /// submitted).
    #[error("the instance is not running")]
    NotRunning,
    /// The applicant is no active member, or the department is not theirs.
    #[error("invalid applicant or department")]
    InvalidApplicant,
    /// No such record in this instance.
    #[error("no such record")]
    UnknownRecord,
    /// The actor is not the record's member, or it is not their turn.
    #[error("not a pending approver of this record")]
    NotPendingApprover,
    /// The record was decided already (by this member, or the node was
    /// decided by others).
    #[error("already decided")]
    AlreadyDecided,
    /// Handler nodes cannot reject.
    #[error("a handler node cannot be rejected")]
    NotAllowedOnHandler,
    /// A member to transfer to or add is not an active member, is the
    /// actor, or already has a pending record in the node.
    #[error("invalid member {0}")]
    InvalidMember(String),
    /// Add-sign without members, or too many.
    #[error("add 1 to {MAX_ADDED_SIGNERS} signers")]
    AddSignCount,
    /// Add-sign on a record that is itself an added signer.
    #[error("an added signer cannot add signers")]
    NestedAddSign,
    /// A return to a node that was not passed on this path.
    #[error("cannot return to node {0}")]
    BadReturnTarget(String),
    /// Only the applicant may do this.
    #[error("only the applicant may do this")]
    NotApplicant,
    /// The template does not allow withdrawing now.
    #[error("the template does not allow withdrawing now")]
    WithdrawNotAllowed,
    /// Only the applicant, approvers and CC'd members may comment.
    #[error("not a participant of this instance")]
    NotParticipant,
    /// Empty or too long text.
    #[error("text must be 1 to {0} characters")]
    TextLength(usize),
    /// Urged less than [`URGE_INTERVAL_SECS`] ago.
    #[error("urged recently; try again in {0} s")]
    UrgeTooSoon(i64),
    /// A node would find nobody and its policy refuses the submission.
    #[error("node {0} finds no approver")]
    EmptyApprovers(String),
    /// The applicant must choose the approvers of a node.
    #[error("choose the approvers of node {0}")]
    ChoiceMissing(String),
    /// A choice for a node that takes none, or with wrong members.
    #[error("invalid choice for node {0}")]
    BadChoice(String),
    /// A timer fired before it was due.
    #[error("the timer is not due")]
    TimerNotDue,
    /// Only the system fires timers; only members act on records.
    #[error("this actor cannot do this")]
    WrongActor,
    /// No branch matched (publishing prevents this).
    #[error("no branch of {0} matches")]
    NoBranch(String),
    /// Replayed events do not fit the instance.
    #[error("event {0} does not fit the instance")]
    EventOutOfOrder(u64),
}

/// Who acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A member.
    Member(UserId),
    /// The server itself: timers, and submissions through `oa/applyevent`
    /// on a member's behalf.
    System,
}

/// Before or after the current approver (加签).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddSignPosition {
    /// 前加签: the added members act first, then the current one again.
    Before,
    /// 后加签: the current one approves now (13); the node counts it once
    /// the added members approved.
    After,
}

/// Which timer of an activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimerKind {
    /// The reminder.
    Remind,
    /// The deadline.
    Deadline,
}

/// A timer the app layer must schedule (durably) for an activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timer {
    /// Which.
    pub kind: TimerKind,
    /// Due at, Unix seconds.
    pub due_at: i64,
}

/// A submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    /// The applicant.
    pub applicant: UserId,
    /// The submit-as department (`choose_department`); their main one if
    /// `None`.
    pub dept: Option<DeptId>,
    /// The form as submitted.
    pub form: FormInput,
    /// Approvers the applicant chose, per `ChosenByApplicant` node.
    pub chosen: BTreeMap<NodeKey, Vec<UserId>>,
}

/// What an actor asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Start the instance.
    Submit(Submission),
    /// Approve (or, on a handler node, handle) a record.
    Approve {
        /// The record.
        record: RecordId,
        /// Opinion.
        speech: String,
    },
    /// Reject a record.
    Reject {
        /// The record.
        record: RecordId,
        /// Opinion.
        speech: String,
    },
    /// Hand a record to another member (转审, or 转交 on a handler node).
    Transfer {
        /// The record.
        record: RecordId,
        /// The new approver.
        to: UserId,
        /// Opinion.
        speech: String,
    },
    /// Add signers before or after the current approver.
    AddSign {
        /// The record.
        record: RecordId,
        /// Who.
        users: Vec<UserId>,
        /// Before or after.
        position: AddSignPosition,
        /// Opinion.
        speech: String,
    },
    /// Send the instance back to a node it passed (退回).
    Return {
        /// The record.
        record: RecordId,
        /// The node.
        to: NodeKey,
        /// Opinion.
        speech: String,
    },
    /// The applicant withdraws (撤销).
    Withdraw,
    /// A comment (备注), in any state.
    Comment {
        /// The text.
        text: String,
    },
    /// The applicant urges the pending approvers (催办).
    Urge,
    /// A timer is due.
    TimerFired {
        /// Its activation.
        activation: ActivationId,
        /// Which.
        kind: TimerKind,
    },
}

/// A command with who sends it, when, and its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The idempotency key.
    pub key: IdempotencyKey,
    /// Who.
    pub actor: Actor,
    /// When, Unix seconds (the injected clock).
    pub at: i64,
    /// What.
    pub command: Command,
}

/// The instance's state, internal; mapped to WeCom's `sp_status` in
/// [`super::status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceStatus {
    /// Not submitted.
    NotStarted,
    /// 审批中.
    Running,
    /// 已通过.
    Approved,
    /// 已驳回.
    Rejected,
    /// 已撤销.
    Withdrawn,
}

impl InstanceStatus {
    /// Whether nothing more will happen (comments aside).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            InstanceStatus::Approved | InstanceStatus::Rejected | InstanceStatus::Withdrawn
        )
    }
}

/// Why a record was passed or rejected without its member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoReason {
    /// The node found nobody and its policy approves.
    EmptyApprover,
    /// The applicant is the approver and the policy skips them.
    ApplicantSkipped,
    /// Dedup: they approved `node` already (keep first) or will be asked
    /// again at `node` (keep last).
    Dedup {
        /// The other node.
        node: NodeKey,
    },
    /// The node's deadline passed.
    Timeout,
}

/// Why a member was asked: the provenance of every record (S6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Named in the node.
    Named,
    /// Holds the role.
    Role(TagId),
    /// The leader `level` levels above the applicant, as `via`'s leader.
    Leader {
        /// Level, from 1.
        level: u8,
        /// Whose direct leader they are.
        via: UserId,
    },
    /// A head of `dept`, `level` levels up from the submit-as department.
    DeptHead {
        /// Level, from 1.
        level: u8,
        /// The department.
        dept: DeptId,
    },
    /// Chosen by the applicant.
    ChosenByApplicant,
    /// Named in a `Contact` control.
    FromControl(ControlId),
    /// A head of a department named in a `Contact` control.
    FromControlDeptHead {
        /// The control.
        control: ControlId,
        /// The department.
        dept: DeptId,
    },
    /// The applicant themself.
    Applicant,
    /// A template administrator, because the node found nobody.
    Admin,
    /// The applicant's leader, asked instead of the applicant.
    InsteadOfApplicant,
    /// Transferred to them by a member.
    TransferredBy(UserId),
    /// Added by a member.
    AddedBy {
        /// Who added them.
        by: UserId,
        /// Before or after.
        position: AddSignPosition,
    },
    /// Escalated to them at a deadline.
    Escalated {
        /// Whose record it was.
        from: UserId,
    },
}

/// A record's state (WeCom's codes are in [`super::status`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordStatus {
    /// Can act (if its stage is current).
    Pending,
    /// Waiting for the signers added before them.
    Waiting,
    /// Approved; waiting for the signers added after them (同意并加签).
    Approving,
    /// Approved.
    Approved,
    /// Rejected.
    Rejected,
    /// Handled (办理).
    Handled,
    /// Transferred to another record (转审).
    Transferred(RecordId),
    /// Handed over to another record (转交, handler nodes).
    HandedOver(RecordId),
    /// Returned the instance to an earlier node.
    Returned(NodeKey),
    /// Decided without its member, counting as a vote.
    Auto {
        /// Approve or reject.
        approved: bool,
        /// Why.
        why: AutoReason,
    },
    /// Left out of the node without a vote (dedup, applicant skipped).
    Skipped(AutoReason),
    /// Ended without acting: the node was decided by others, or the
    /// instance was returned, withdrawn or rejected elsewhere.
    Superseded,
}

impl RecordStatus {
    fn is_open(&self) -> bool {
        matches!(
            self,
            RecordStatus::Pending | RecordStatus::Waiting | RecordStatus::Approving
        )
    }
}

/// One participant's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its id.
    pub id: RecordId,
    /// Its activation.
    pub activation: ActivationId,
    /// The member.
    pub user: UserId,
    /// Why they were asked.
    pub reason: Reason,
    /// Sequential stage (0 for parallel modes).
    pub stage: u32,
    /// For an added signer: the record that added them.
    pub parent: Option<RecordId>,
    /// State.
    pub status: RecordStatus,
    /// The member's opinion.
    pub speech: String,
    /// When they acted (or it was decided for them).
    pub acted_at: Option<i64>,
}

/// Why an activation ended without being decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    /// The instance was returned past it.
    Returned,
    /// The applicant withdrew.
    Withdrawn,
    /// Another node rejected the instance.
    Rejected,
}

/// An activation's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivationStatus {
    /// Waiting for its records.
    Active,
    /// Passed.
    Passed,
    /// Rejected.
    Rejected,
    /// Ended undecided.
    Cancelled(CancelReason),
}

/// A node reached once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activation {
    /// Its id.
    pub id: ActivationId,
    /// The node.
    pub node: NodeKey,
    /// 1 the first time the node is reached, 2 after a return, ...
    pub attempt: u32,
    /// Whether a return reached it.
    pub by_return: bool,
    /// Its branch path.
    pub path: BranchPath,
    /// State.
    pub status: ActivationStatus,
    /// Passed without anyone (empty approver).
    pub auto: Option<AutoReason>,
    /// When reached.
    pub activated_at: i64,
    /// When it ended.
    pub ended_at: Option<i64>,
    /// Its timers.
    pub timers: Vec<Timer>,
}

/// A comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// Its number in the instance, from 1.
    pub id: u32,
    /// Author.
    pub by: UserId,
    /// Text.
    pub text: String,
    /// When.
    pub at: i64,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventBody {
    /// The instance started.
    Submitted {
        /// Template.
        template: TemplateId,
        /// Its version.
        version: TemplateVersion,
        /// Applicant.
        applicant: UserId,
        /// Submit-as department.
        dept: DeptId,
        /// The validated form.
        form: FormData,
        /// Applicant's choices.
        chosen: BTreeMap<NodeKey, Vec<UserId>>,
    },
    /// A gateway chose a branch.
    BranchTaken {
        /// The gateway.
        gateway: NodeKey,
        /// The branch's index.
        branch: usize,
    },
    /// A node was reached.
    Activated {
        /// The new activation.
        activation: ActivationId,
        /// The node.
        node: NodeKey,
        /// Attempt.
        attempt: u32,
        /// Reached by a return.
        by_return: bool,
        /// Branch path.
        path: BranchPath,
        /// Timers to schedule.
        timers: Vec<Timer>,
    },
    /// A record was created.
    RecordOpened {
        /// Its id.
        record: RecordId,
        /// Its activation.
        activation: ActivationId,
        /// The member.
        user: UserId,
        /// Why.
        reason: Reason,
        /// Stage.
        stage: u32,
        /// The adding record, for added signers.
        parent: Option<RecordId>,
    },
    /// A record changed state.
    RecordChanged {
        /// The record.
        record: RecordId,
        /// New state.
        status: RecordStatus,
        /// Opinion.
        speech: String,
    },
    /// An activation ended.
    ActivationEnded {
        /// The activation.
        activation: ActivationId,
        /// How.
        status: ActivationStatus,
        /// Passed without anyone, and why.
        auto: Option<AutoReason>,
    },
    /// A parallel branch reached its join.
    JoinArrived {
        /// The join.
        join: NodeKey,
        /// The branch.
        branch: usize,
    },
    /// Every branch arrived; the join passed.
    JoinPassed {
        /// The join.
        join: NodeKey,
    },
    /// Joins forgotten by a return that went back before their split.
    JoinsReset {
        /// The joins.
        joins: Vec<NodeKey>,
    },
    /// Members were CC'd (each at most once per instance).
    CcSent {
        /// The CC node.
        node: NodeKey,
        /// Who, and why.
        users: Vec<(UserId, Reason)>,
    },
    /// A record returned the instance to an earlier node.
    Returned {
        /// The returning record.
        record: RecordId,
        /// The node.
        to: NodeKey,
    },
    /// A comment.
    Commented {
        /// Number.
        id: u32,
        /// Author.
        by: UserId,
        /// Text.
        text: String,
    },
    /// The applicant urged these members.
    Urged {
        /// Who.
        users: Vec<UserId>,
    },
    /// A reminder went to these members.
    Reminded {
        /// The activation.
        activation: ActivationId,
        /// Who.
        users: Vec<UserId>,
    },
    /// A timer fired (and is used up).
    TimerFired {
        /// Its activation.
        activation: ActivationId,
        /// Which.
        kind: TimerKind,
    },
    /// The instance ended.
    Finished {
        /// How.
        status: InstanceStatus,
    },
}

/// One event of an instance's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// 1, 2, 3, ... per instance.
    pub seq: u64,
    /// When, Unix seconds.
    pub at: i64,
    /// The command's idempotency key.
    pub key: IdempotencyKey,
    /// Who sent the command.
    pub actor: Actor,
    /// What happened.
    pub body: EventBody,
}

/// An approval instance (审批单).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    template: Arc<Template>,
    sp_no: SpNo,
    status: InstanceStatus,
    applicant: Option<UserId>,
    dept: Option<DeptId>,
    form: FormData,
    chosen: BTreeMap<NodeKey, Vec<UserId>>,
    submitted_at: Option<i64>,
    finished_at: Option<i64>,
    activations: Vec<Activation>,
    records: Vec<Record>,
    joins: BTreeMap<NodeKey, BTreeSet<usize>>,
    cc: Vec<(UserId, NodeKey, Reason)>,
    comments: Vec<Comment>,
    last_urge: Option<i64>,
    fired: BTreeSet<(ActivationId, TimerKind)>,
    keys: BTreeMap<IdempotencyKey, (u64, u64)>,
    log: Vec<Event>,
    /// Set on the scratch instance of a simulation: situations a real
    /// instance recovers from (nobody found under `Refuse`, a missing
    /// choice) are errors there, which is how submit refuses them.
    predicting: bool,
}

impl Instance {
    /// A new, unsubmitted instance of a template version.
    pub fn new(sp_no: SpNo, template: Arc<Template>) -> Self {
        Self {
            template,
            sp_no,
            status: InstanceStatus::NotStarted,
            applicant: None,
            dept: None,
            form: FormData::default(),
            chosen: BTreeMap::new(),
            submitted_at: None,
            finished_at: None,
            activations: Vec::new(),
            records: Vec::new(),
            joins: BTreeMap::new(),
            cc: Vec::new(),
            comments: Vec::new(),
            last_urge: None,
            fired: BTreeSet::new(),
            keys: BTreeMap::new(),
            log: Vec::new(),
            predicting: false,
        }
    }

    /// Rebuilds an instance from its history.
    pub fn replay(
        sp_no: SpNo,
        template: Arc<Template>,
        events: &[Event],
    ) -> Result<Self, ApprovalError> {
        let mut inst = Self::new(sp_no, template);
        for e in events {
            inst.apply(e)?;
        }
        Ok(inst)
    }

    pub(crate) fn predicting(mut self) -> Self {
        self.predicting = true;
        self
    }

    /// The instance's number.
    pub fn sp_no(&self) -> &SpNo {
        &self.sp_no
    }

    /// Its template version.
    pub fn template(&self) -> &Arc<Template> {
        &self.template
    }

    /// Its state.
    pub fn status(&self) -> InstanceStatus {
        self.status
    }

    /// The applicant, once submitted.
    pub fn applicant(&self) -> Option<&UserId> {
        self.applicant.as_ref()
    }

    /// The submit-as department, once submitted.
    pub fn dept(&self) -> Option<DeptId> {
        self.dept
    }

    /// The validated form.
    pub fn form(&self) -> &FormData {
        &self.form
    }

    /// When submitted and finished.
    pub fn times(&self) -> (Option<i64>, Option<i64>) {
        (self.submitted_at, self.finished_at)
    }

    /// Every activation, in order.
    pub fn activations(&self) -> &[Activation] {
        &self.activations
    }

    /// Every record, in order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// CC'd members, with the node and reason.
    pub fn cc(&self) -> &[(UserId, NodeKey, Reason)] {
        &self.cc
    }

    /// Comments.
    pub fn comments(&self) -> &[Comment] {
        &self.comments
    }

    /// The whole history.
    pub fn events(&self) -> &[Event] {
        &self.log
    }

    /// The events a command with this key produced, if it was decided.
    pub fn events_of(&self, key: &IdempotencyKey) -> Option<&[Event]> {
        self.keys
            .get(key)
            .map(|&(first, last)| &self.log[(first - 1) as usize..last as usize])
    }

    /// Activations not yet ended.
    pub fn active(&self) -> impl Iterator<Item = &Activation> {
        self.activations
            .iter()
            .filter(|a| a.status == ActivationStatus::Active)
    }

    /// Records whose member can act now: open, in an active activation,
    /// in its current stage, and not waiting for added signers.
    pub fn actionable(&self) -> Vec<&Record> {
        self.records
            .iter()
            .filter(|r| r.status == RecordStatus::Pending && self.is_current(r))
            .collect()
    }

    fn is_current(&self, r: &Record) -> bool {
        let Some(act) = self.activation(r.activation) else {
            return false;
        };
        if act.status != ActivationStatus::Active {
            return false;
        }
        let sequential = self
            .task_of(act)
            .is_some_and(|(_, t)| t.mode == SignMode::Sequential);
        !sequential || self.current_stage(act.id) == Some(r.stage)
    }

    fn activation(&self, id: ActivationId) -> Option<&Activation> {
        self.activations.get((id.0 as usize).checked_sub(1)?)
    }

    fn record(&self, id: RecordId) -> Option<&Record> {
        self.records.get((id.0 as usize).checked_sub(1)?)
    }

    fn task_of(&self, act: &Activation) -> Option<(&FlowNode, &TaskNode)> {
        let node = self.template.flow().node(&act.node)?;
        Some((node, node.task()?))
    }

    /// The records of an activation that vote: top-level ones that were
    /// neither handed on nor left out.
    fn voters(&self, act: ActivationId) -> impl Iterator<Item = &Record> {
        self.records.iter().filter(move |r| {
            r.activation == act
                && r.parent.is_none()
                && !matches!(
                    r.status,
                    RecordStatus::Transferred(_)
                        | RecordStatus::HandedOver(_)
                        | RecordStatus::Skipped(_)
                        | RecordStatus::Superseded
                        | RecordStatus::Returned(_)
                )
        })
    }

    /// The first stage not passed yet.
    fn current_stage(&self, act: ActivationId) -> Option<u32> {
        let mut stages: BTreeMap<u32, bool> = BTreeMap::new();
        for r in self.voters(act) {
            let passed = stages.entry(r.stage).or_insert(false);
            *passed |= vote(&r.status) == Vote::Approve;
        }
        stages
            .into_iter()
            .find(|(_, passed)| !passed)
            .map(|(s, _)| s)
    }

    /// Folds one event into the state.
    pub fn apply(&mut self, e: &Event) -> Result<(), ApprovalError> {
        if e.seq != self.log.len() as u64 + 1 {
            return Err(ApprovalError::EventOutOfOrder(e.seq));
        }
        let bad = || ApprovalError::EventOutOfOrder(e.seq);
        match &e.body {
            EventBody::Submitted {
                template,
                version,
                applicant,
                dept,
                form,
                chosen,
            } => {
                if template != self.template.id() || *version != self.template.version() {
                    return Err(bad());
                }
                self.status = InstanceStatus::Running;
                self.applicant = Some(applicant.clone());
                self.dept = Some(*dept);
                self.form = form.clone();
                self.chosen = chosen.clone();
                self.submitted_at = Some(e.at);
            }
            EventBody::BranchTaken { .. }
            | EventBody::Returned { .. }
            | EventBody::Reminded { .. } => {}
            EventBody::Activated {
                activation,
                node,
                attempt,
                by_return,
                path,
                timers,
            } => {
                if activation.0 as usize != self.activations.len() + 1 {
                    return Err(bad());
                }
                self.activations.push(Activation {
                    id: *activation,
                    node: node.clone(),
                    attempt: *attempt,
                    by_return: *by_return,
                    path: path.clone(),
                    status: ActivationStatus::Active,
                    auto: None,
                    activated_at: e.at,
                    ended_at: None,
                    timers: timers.clone(),
                });
            }
            EventBody::RecordOpened {
                record,
                activation,
                user,
                reason,
                stage,
                parent,
            } => {
                if record.0 as usize != self.records.len() + 1 {
                    return Err(bad());
                }
                self.records.push(Record {
                    id: *record,
                    activation: *activation,
                    user: user.clone(),
                    reason: reason.clone(),
                    stage: *stage,
                    parent: *parent,
                    status: RecordStatus::Pending,
                    speech: String::new(),
                    acted_at: None,
                });
            }
            EventBody::RecordChanged {
                record,
                status,
                speech,
            } => {
                let r = self
                    .records
                    .get_mut((record.0 as usize).wrapping_sub(1))
                    .ok_or_else(bad)?;
                r.status = status.clone();
                if !speech.is_empty() || !status.is_open() {
                    r.speech = speech.clone();
                }
                if !status.is_open() || *status == RecordStatus::Approving {
                    r.acted_at = Some(e.at);
                }
            }
            EventBody::ActivationEnded {
                activation,
                status,
                auto,
            } => {
                let a = self
                    .activations
                    .get_mut((activation.0 as usize).wrapping_sub(1))
                    .ok_or_else(bad)?;
                a.status = *status;
                a.auto = auto.clone();
                a.ended_at = Some(e.at);
            }
            EventBody::JoinArrived { join, branch } => {
                self.joins.entry(join.clone()).or_default().insert(*branch);
            }
            EventBody::JoinPassed { join } => {
                self.joins.remove(join);
            }
            EventBody::JoinsReset { joins } => {
                for j in joins {
                    self.joins.remove(j);
                }
            }
            EventBody::CcSent { node, users } => {
                for (u, why) in users {
                    self.cc.push((u.clone(), node.clone(), why.clone()));
                }
            }
            EventBody::Commented { id, by, text } => self.comments.push(Comment {
                id: *id,
                by: by.clone(),
                text: text.clone(),
                at: e.at,
            }),
            EventBody::Urged { .. } => self.last_urge = Some(e.at),
            EventBody::TimerFired { activation, kind } => {
                self.fired.insert((*activation, *kind));
            }
            EventBody::Finished { status } => {
                self.status = *status;
                self.finished_at = Some(e.at);
            }
        }
        let range = self.keys.entry(e.key.clone()).or_insert((e.seq, e.seq));
        range.1 = e.seq;
        self.log.push(e.clone());
        Ok(())
    }

    /// Decides what a command does; see the module docs.
    pub fn decide(&self, env: &Envelope, org: &dyn Org) -> Result<Vec<Event>, ApprovalError> {
        if self.keys.contains_key(&env.key) {
            return Ok(Vec::new());
        }
        if let Command::Submit(s) = &env.command {
            if !self.predicting && self.status == InstanceStatus::NotStarted {
                // Refuse now what a later node would refuse: run the whole
                // predicted path on a scratch copy.
                super::simulate::simulate_submission(self, env, s, org)?;
            }
        }
        let mut ctx = Ctx {
            inst: self.clone(),
            env,
            org,
            events: Vec::new(),
        };
        ctx.run()?;
        Ok(ctx.events)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vote {
    Approve,
    Reject,
    Pending,
}

fn vote(s: &RecordStatus) -> Vote {
    match s {
        RecordStatus::Approved
        | RecordStatus::Handled
        | RecordStatus::Auto { approved: true, .. } => Vote::Approve,
        RecordStatus::Rejected
        | RecordStatus::Auto {
            approved: false, ..
        } => Vote::Reject,
        _ => Vote::Pending,
    }
}

/// A node's decision from its votes, by stage (§2.1 L1–L4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeDecision {
    /// Passed.
    Passed,
    /// Rejected.
    Rejected,
    /// Not yet.
    Open,
}

/// Decides a node from `(stage, approved?)` votes, `None` for pending.
/// Pure, and independent of the order the votes arrived in.
pub fn decide_node(mode: SignMode, votes: &[(u32, Option<bool>)]) -> NodeDecision {
    let n = votes.len() as u64;
    let approvals = votes.iter().filter(|v| v.1 == Some(true)).count() as u64;
    let rejections = votes.iter().filter(|v| v.1 == Some(false)).count() as u64;
    let threshold = |need: u64| {
        if approvals >= need {
            NodeDecision::Passed
        } else if rejections > n - need {
            NodeDecision::Rejected
        } else {
            NodeDecision::Open
        }
    };
    match mode {
        _ if n == 0 => NodeDecision::Passed,
        SignMode::Sequential => {
            let stages: BTreeSet<u32> = votes.iter().map(|v| v.0).collect();
            for s in stages {
                let in_stage = votes.iter().filter(|v| v.0 == s);
                if in_stage.clone().any(|v| v.1 == Some(false)) {
                    return NodeDecision::Rejected;
                }
                if !in_stage.clone().any(|v| v.1 == Some(true)) {
                    return NodeDecision::Open;
                }
            }
            NodeDecision::Passed
        }
        SignMode::All => threshold(n),
        SignMode::Any => {
            if rejections > 0 {
                NodeDecision::Rejected
            } else {
                threshold(1)
            }
        }
        SignMode::Ratio { percent } => threshold((u64::from(percent) * n).div_ceil(100).max(1)),
        SignMode::Vote { pass } => threshold(u64::from(pass).clamp(1, n)),
    }
}

struct Ctx<'a> {
    inst: Instance,
    env: &'a Envelope,
    org: &'a dyn Org,
    events: Vec<Event>,
}

struct Seat {
    user: UserId,
    reason: Reason,
    stage: u32,
    skip: Option<AutoReason>,
}

impl Ctx<'_> {
    fn emit(&mut self, body: EventBody) -> Result<(), ApprovalError> {
        let e = Event {
            seq: self.inst.log.len() as u64 + 1,
            at: self.env.at,
            key: self.env.key.clone(),
            actor: self.env.actor.clone(),
            body,
        };
        self.inst.apply(&e)?;
        self.events.push(e);
        Ok(())
    }

    fn member_actor(&self) -> Result<UserId, ApprovalError> {
        match &self.env.actor {
            Actor::Member(u) => Ok(u.clone()),
            Actor::System => Err(ApprovalError::WrongActor),
        }
    }

    fn running(&self) -> Result<(), ApprovalError> {
        if self.inst.status == InstanceStatus::Running {
            Ok(())
        } else {
            Err(ApprovalError::NotRunning)
        }
    }

    fn applicant(&self) -> UserId {
        self.inst
            .applicant
            .clone()
            .expect("a running instance has an applicant")
    }

    fn run(&mut self) -> Result<(), ApprovalError> {
        match self.env.command.clone() {
            Command::Submit(s) => self.submit(s),
            Command::Approve { record, speech } => {
                let (r, handler) = self.own_record(record, &speech)?;
                let status = if handler {
                    RecordStatus::Handled
                } else {
                    RecordStatus::Approved
                };
                self.change(record, status, speech)?;
                self.settle(r.activation)
            }
            Command::Reject { record, speech } => {
                let (r, handler) = self.own_record(record, &speech)?;
                if handler {
                    return Err(ApprovalError::NotAllowedOnHandler);
                }
                self.change(record, RecordStatus::Rejected, speech)?;
                self.settle(r.activation)
            }
            Command::Transfer { record, to, speech } => {
                let (r, handler) = self.own_record(record, &speech)?;
                self.check_newcomer(&r, &to)?;
                let new = RecordId(self.inst.records.len() as u32 + 1);
                let status = if handler {
                    RecordStatus::HandedOver(new)
                } else {
                    RecordStatus::Transferred(new)
                };
                self.change(record, status, speech)?;
                self.open(
                    r.activation,
                    to,
                    Reason::TransferredBy(r.user.clone()),
                    r.stage,
                    r.parent,
                )?;
                Ok(())
            }
            Command::AddSign {
                record,
                users,
                position,
                speech,
            } => self.add_sign(record, users, position, speech),
            Command::Return { record, to, speech } => self.return_to(record, to, speech),
            Command::Withdraw => {
                self.running()?;
                if self.member_actor()? != self.applicant() {
                    return Err(ApprovalError::NotApplicant);
                }
                let allowed = match self.inst.template.withdraw() {
                    WithdrawRule::Anytime => true,
                    WithdrawRule::Never => false,
                    WithdrawRule::BeforeFirstApproval => !self.inst.records.iter().any(|r| {
                        matches!(
                            r.status,
                            RecordStatus::Approved
                                | RecordStatus::Approving
                                | RecordStatus::Handled
                        )
                    }),
                };
                if !allowed {
                    return Err(ApprovalError::WithdrawNotAllowed);
                }
                self.cancel_where(|_| true, CancelReason::Withdrawn)?;
                self.emit(EventBody::Finished {
                    status: InstanceStatus::Withdrawn,
                })
            }
            Command::Comment { text } => {
                if self.inst.status == InstanceStatus::NotStarted {
                    return Err(ApprovalError::NotRunning);
                }
                let by = self.member_actor()?;
                let participant = Some(&by) == self.inst.applicant.as_ref()
                    || self.inst.records.iter().any(|r| r.user == by)
                    || self.inst.cc.iter().any(|(u, _, _)| *u == by);
                if !participant {
                    return Err(ApprovalError::NotParticipant);
                }
                check_text(&text, MAX_COMMENT_CHARS, false)?;
                let id = self.inst.comments.len() as u32 + 1;
                self.emit(EventBody::Commented { id, by, text })
            }
            Command::Urge => {
                self.running()?;
                if self.member_actor()? != self.applicant() {
                    return Err(ApprovalError::NotApplicant);
                }
                if let Some(last) = self.inst.last_urge {
                    let wait = last + URGE_INTERVAL_SECS - self.env.at;
                    if wait > 0 {
                        return Err(ApprovalError::UrgeTooSoon(wait));
                    }
                }
                let users = self.actionable_users(None);
                self.emit(EventBody::Urged { users })
            }
            Command::TimerFired { activation, kind } => self.timer(activation, kind),
        }
    }

    fn actionable_users(&self, act: Option<ActivationId>) -> Vec<UserId> {
        let mut users: Vec<UserId> = Vec::new();
        for r in self.inst.actionable() {
            if act.is_none_or(|a| a == r.activation) && !users.contains(&r.user) {
                users.push(r.user.clone());
            }
        }
        users
    }

    fn change(
        &mut self,
        record: RecordId,
        status: RecordStatus,
        speech: String,
    ) -> Result<(), ApprovalError> {
        self.emit(EventBody::RecordChanged {
            record,
            status,
            speech,
        })
    }

    fn open(
        &mut self,
        activation: ActivationId,
        user: UserId,
        reason: Reason,
        stage: u32,
        parent: Option<RecordId>,
    ) -> Result<RecordId, ApprovalError> {
        let record = RecordId(self.inst.records.len() as u32 + 1);
        self.emit(EventBody::RecordOpened {
            record,
            activation,
            user,
            reason,
            stage,
            parent,
        })?;
        Ok(record)
    }

    /// The actor's actionable record, and whether its node is a handler.
    fn own_record(&self, id: RecordId, speech: &str) -> Result<(Record, bool), ApprovalError> {
        self.running()?;
        let actor = self.member_actor()?;
        check_text(speech, MAX_SPEECH_CHARS, true)?;
        let r = self.inst.record(id).ok_or(ApprovalError::UnknownRecord)?;
        if r.user != actor {
            return Err(ApprovalError::NotPendingApprover);
        }
        if r.status != RecordStatus::Pending {
            return Err(ApprovalError::AlreadyDecided);
        }
        if !self.inst.is_current(r) {
            let act = self.inst.activation(r.activation);
            return Err(
                if act.is_some_and(|a| a.status == ActivationStatus::Active) {
                    ApprovalError::NotPendingApprover
                } else {
                    ApprovalError::AlreadyDecided
                },
            );
        }
        let handler = self
            .inst
            .activation(r.activation)
            .and_then(|a| self.inst.template.flow().node(&a.node))
            .is_some_and(|n| matches!(n.kind, NodeKind::Handler(_)));
        Ok((r.clone(), handler))
    }

    /// A member who may join an activation: active, not the actor, not
    /// already open there.
    fn check_newcomer(&self, r: &Record, user: &UserId) -> Result<(), ApprovalError> {
        let taken = self
            .inst
            .records
            .iter()
            .any(|o| o.activation == r.activation && o.user == *user && o.status.is_open());
        if !self.org.is_active(user) || *user == r.user || taken {
            return Err(ApprovalError::InvalidMember(user.to_string()));
        }
        Ok(())
    }

    fn submit(&mut self, s: Submission) -> Result<(), ApprovalError> {
        if self.inst.status != InstanceStatus::NotStarted {
            return Err(ApprovalError::AlreadySubmitted);
        }
        match &self.env.actor {
            Actor::Member(u) if *u != s.applicant => return Err(ApprovalError::NotApplicant),
            _ => {}
        }
        let member = self
            .org
            .member(&s.applicant)
            .filter(|m| m.active)
            .ok_or(ApprovalError::InvalidApplicant)?;
        let dept = s.dept.unwrap_or(member.main_department);
        if !member.departments.contains(&dept) {
            return Err(ApprovalError::InvalidApplicant);
        }
        let form = self.inst.template.form().validate(&s.form, self.org)?;
        let template = Arc::clone(&self.inst.template);
        let flow = template.flow();
        for (key, users) in &s.chosen {
            let multi = match flow.node(key).and_then(FlowNode::task).map(|t| &t.rule) {
                Some(ApproverRule::ChosenByApplicant { multi }) => *multi,
                _ => return Err(ApprovalError::BadChoice(key.to_string())),
            };
            let unique: BTreeSet<&UserId> = users.iter().collect();
            if users.is_empty()
                || (!multi && users.len() > 1)
                || unique.len() != users.len()
                || users.iter().any(|u| !self.org.is_active(u))
            {
                return Err(ApprovalError::BadChoice(key.to_string()));
            }
        }
        self.emit(EventBody::Submitted {
            template: self.inst.template.id().clone(),
            version: self.inst.template.version(),
            applicant: s.applicant,
            dept,
            form,
            chosen: s.chosen,
        })?;
        let start = flow.start.clone();
        self.enter(start, Vec::new())
    }

    /// Moves a token to `target` on `path`.
    fn enter(
        &mut self,
        target: Option<NodeKey>,
        mut path: BranchPath,
    ) -> Result<(), ApprovalError> {
        if self.inst.status != InstanceStatus::Running {
            return Ok(());
        }
        let template = Arc::clone(&self.inst.template);
        let Some(key) = target else {
            if self.inst.active().next().is_none() && self.inst.joins.is_empty() {
                self.emit(EventBody::Finished {
                    status: InstanceStatus::Approved,
                })?;
            }
            return Ok(());
        };
        let node = template
            .flow()
            .node(&key)
            .ok_or_else(|| ApprovalError::NoBranch(key.to_string()))?;
        match &node.kind {
            NodeKind::Approval(_) | NodeKind::Handler(_) => self.activate(node, path, false),
            NodeKind::Cc { rule, next } => {
                let seats = self.resolve(&key, rule)?;
                let mut users: Vec<(UserId, Reason)> = Vec::new();
                for s in seats {
                    let seen = self.inst.cc.iter().any(|(u, _, _)| *u == s.user)
                        || users.iter().any(|(u, _)| *u == s.user);
                    if !seen {
                        users.push((s.user, s.reason));
                    }
                }
                if !users.is_empty() {
                    self.emit(EventBody::CcSent {
                        node: key.clone(),
                        users,
                    })?;
                }
                self.enter(next.clone(), path)
            }
            NodeKind::Exclusive { branches } => {
                let input = CondInput {
                    form: &self.inst.form,
                    applicant: self.inst.applicant.as_ref().expect("submitted"),
                    dept: self.inst.dept.expect("submitted"),
                    org: self.org,
                };
                let taken = branch_order(branches).into_iter().find(|&i| {
                    branches[i]
                        .condition
                        .as_ref()
                        .is_none_or(|c| c.holds_with(&mut |a| input.eval(a)))
                });
                let Some(i) = taken else {
                    return Err(ApprovalError::NoBranch(key.to_string()));
                };
                self.emit(EventBody::BranchTaken {
                    gateway: key.clone(),
                    branch: i,
                })?;
                self.enter(branches[i].target.clone(), path)
            }
            NodeKind::Parallel { branches, .. } => {
                for (i, b) in branches.iter().enumerate() {
                    let mut p = path.clone();
                    p.push((key.clone(), i));
                    self.enter(Some(b.clone()), p)?;
                }
                Ok(())
            }
            NodeKind::Join { next } => {
                let Some((split, branch)) = path.pop() else {
                    return Err(ApprovalError::NoBranch(key.to_string()));
                };
                self.emit(EventBody::JoinArrived {
                    join: key.clone(),
                    branch,
                })?;
                let needed = match template.flow().node(&split).map(|n| &n.kind) {
                    Some(NodeKind::Parallel { branches, .. }) => branches.len(),
                    _ => 0,
                };
                if self.inst.joins.get(&key).map_or(0, BTreeSet::len) >= needed {
                    self.emit(EventBody::JoinPassed { join: key.clone() })?;
                    self.enter(next.clone(), path)?;
                }
                Ok(())
            }
        }
    }

    fn activate(
        &mut self,
        node: &FlowNode,
        path: BranchPath,
        by_return: bool,
    ) -> Result<(), ApprovalError> {
        let task = node.task().expect("task node");
        let mut seats = self.resolve(&node.key, &task.rule)?;
        let applicant = self.applicant();
        // Applicant-is-approver policy.
        if task.rule != ApproverRule::Applicant {
            let mut replaced = Vec::with_capacity(seats.len());
            for mut s in seats {
                if s.user == applicant {
                    match task.applicant_is_approver {
                        SelfPolicy::SelfApprove => {}
                        SelfPolicy::Skip => s.skip = Some(AutoReason::ApplicantSkipped),
                        SelfPolicy::ToLeader => match self.first_active_leader(&applicant) {
                            Some(l) => {
                                s.user = l;
                                s.reason = Reason::InsteadOfApplicant;
                            }
                            None => s.skip = Some(AutoReason::ApplicantSkipped),
                        },
                    }
                }
                replaced.push(s);
            }
            seats = replaced;
        }
        // One record per member and activation: keep the first.
        let mut seen = BTreeSet::new();
        seats.retain(|s| seen.insert(s.user.clone()));
        // Dedup across nodes.
        if !by_return {
            self.dedup(node, &path, &mut seats);
        }
        let mut auto = None;
        if seats.is_empty() {
            match task.on_empty {
                Some(EmptyPolicy::AutoApprove) => auto = Some(AutoReason::EmptyApprover),
                Some(EmptyPolicy::ToAdmins | EmptyPolicy::Refuse) | None => {
                    if self.inst.predicting && task.on_empty != Some(EmptyPolicy::ToAdmins) {
                        return Err(match task.rule {
                            ApproverRule::ChosenByApplicant { .. } => {
                                ApprovalError::ChoiceMissing(node.key.to_string())
                            }
                            _ => ApprovalError::EmptyApprovers(node.key.to_string()),
                        });
                    }
                    for a in self.inst.template.admins().to_vec() {
                        if self.org.is_active(&a) {
                            seats.push(Seat {
                                user: a,
                                reason: Reason::Admin,
                                stage: seats.len() as u32,
                                skip: None,
                            });
                        }
                    }
                    if task.mode != SignMode::Sequential {
                        seats.iter_mut().for_each(|s| s.stage = 0);
                    }
                }
            }
        }
        let activation = ActivationId(self.inst.activations.len() as u32 + 1);
        let attempt = self
            .inst
            .activations
            .iter()
            .filter(|a| a.node == node.key)
            .count() as u32
            + 1;
        let timers = task
            .timeout
            .map(|t| {
                let mut v = Vec::new();
                if let Some(r) = t.remind_after_secs {
                    v.push(Timer {
                        kind: TimerKind::Remind,
                        due_at: self.env.at + i64::from(r),
                    });
                }
                if let Some((d, _)) = t.deadline {
                    v.push(Timer {
                        kind: TimerKind::Deadline,
                        due_at: self.env.at + i64::from(d),
                    });
                }
                v
            })
            .unwrap_or_default();
        self.emit(EventBody::Activated {
            activation,
            node: node.key.clone(),
            attempt,
            by_return,
            path,
            timers,
        })?;
        if seats.is_empty() {
            if auto.is_some() {
                self.emit(EventBody::ActivationEnded {
                    activation,
                    status: ActivationStatus::Passed,
                    auto,
                })?;
                return self.after_pass(activation);
            }
            // Nobody at all, not even an administrator: the instance cannot
            // proceed, so it is rejected.
            self.emit(EventBody::ActivationEnded {
                activation,
                status: ActivationStatus::Rejected,
                auto: Some(AutoReason::EmptyApprover),
            })?;
            return self.reject_instance();
        }
        for s in seats {
            let id = self.open(activation, s.user, s.reason, s.stage, None)?;
            if let Some(why) = s.skip {
                self.change(id, RecordStatus::Skipped(why), String::new())?;
            }
        }
        self.settle(activation)
    }

    fn first_active_leader(&self, user: &UserId) -> Option<UserId> {
        self.org
            .member(user)?
            .leaders
            .into_iter()
            .find(|l| self.org.is_active(l))
    }

    fn dedup(&self, node: &FlowNode, path: &BranchPath, seats: &mut [Seat]) {
        match self.inst.template.flow().dedup {
            Dedup::None => {}
            Dedup::KeepFirst => {
                for s in seats.iter_mut().filter(|s| s.skip.is_none()) {
                    let earlier = self.inst.records.iter().find(|r| {
                        r.user == s.user
                            && matches!(r.status, RecordStatus::Approved | RecordStatus::Handled)
                    });
                    if let Some(r) = earlier {
                        let node = self.inst.activation(r.activation).map(|a| a.node.clone());
                        if let Some(node) = node {
                            s.skip = Some(AutoReason::Dedup { node });
                        }
                    }
                }
            }
            Dedup::KeepLast => {
                let later = self.predict_after(node, path);
                for s in seats.iter_mut().filter(|s| s.skip.is_none()) {
                    if let Some((k, _)) = later.iter().rev().find(|(_, u)| *u == s.user) {
                        s.skip = Some(AutoReason::Dedup { node: k.clone() });
                    }
                }
            }
        }
    }

    /// Members the predicted rest of the path (after `node`) asks, with
    /// their node: every approval and handler node reachable, conditions
    /// evaluated on the current form.
    fn predict_after(&self, node: &FlowNode, _path: &BranchPath) -> Vec<(NodeKey, UserId)> {
        let flow = self.inst.template.flow();
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        let mut todo: Vec<Option<NodeKey>> = match &node.kind {
            NodeKind::Approval(t) | NodeKind::Handler(t) => vec![t.next.clone()],
            _ => Vec::new(),
        };
        let input = CondInput {
            form: &self.inst.form,
            applicant: self.inst.applicant.as_ref().expect("submitted"),
            dept: self.inst.dept.expect("submitted"),
            org: self.org,
        };
        while let Some(Some(k)) = todo.pop() {
            if !seen.insert(k.clone()) {
                continue;
            }
            let Some(n) = flow.node(&k) else { continue };
            match &n.kind {
                NodeKind::Approval(t) | NodeKind::Handler(t) => {
                    if let Ok(seats) = self.resolve(&k, &t.rule) {
                        out.extend(seats.into_iter().map(|s| (k.clone(), s.user)));
                    }
                    todo.push(t.next.clone());
                }
                NodeKind::Exclusive { branches } => {
                    let taken = branch_order(branches).into_iter().find(|&i| {
                        branches[i]
                            .condition
                            .as_ref()
                            .is_none_or(|c| c.holds_with(&mut |a| input.eval(a)))
                    });
                    if let Some(i) = taken {
                        todo.push(branches[i].target.clone());
                    }
                }
                other => {
                    let succ: Vec<Option<NodeKey>> = match other {
                        NodeKind::Cc { next, .. } | NodeKind::Join { next } => vec![next.clone()],
                        NodeKind::Parallel { branches, .. } => {
                            branches.iter().cloned().map(Some).collect()
                        }
                        _ => Vec::new(),
                    };
                    todo.extend(succ);
                }
            }
        }
        out
    }

    /// Who a rule asks, in order, with why and their sequential stage.
    fn resolve(&self, node: &NodeKey, rule: &ApproverRule) -> Result<Vec<Seat>, ApprovalError> {
        let org = self.org;
        let applicant = self.applicant();
        let dept = self.inst.dept.expect("submitted");
        let seat = |user: UserId, reason: Reason, stage: u32| Seat {
            user,
            reason,
            stage,
            skip: None,
        };
        let mut seats: Vec<Seat> = Vec::new();
        let mut chain = false;
        match rule {
            ApproverRule::Members(ms) => {
                seats.extend(ms.iter().map(|m| seat(m.clone(), Reason::Named, 0)));
            }
            ApproverRule::Role(tag) => {
                seats.extend(
                    org.role_members(*tag)
                        .into_iter()
                        .map(|m| seat(m, Reason::Role(*tag), 0)),
                );
            }
            ApproverRule::Applicant => seats.push(seat(applicant.clone(), Reason::Applicant, 0)),
            ApproverRule::ChosenByApplicant { .. } => {
                if let Some(users) = self.inst.chosen.get(node) {
                    seats.extend(
                        users
                            .iter()
                            .map(|u| seat(u.clone(), Reason::ChosenByApplicant, 0)),
                    );
                }
            }
            ApproverRule::FromContact(control) => {
                match self.inst.form.get(control) {
                    Some(ControlValue::Members(ms)) => {
                        seats.extend(ms.iter().map(|m| {
                            seat(m.userid.clone(), Reason::FromControl(control.clone()), 0)
                        }));
                    }
                    Some(ControlValue::Departments(ds)) => {
                        for d in ds {
                            seats.extend(org.dept_heads(d.dept).into_iter().map(|h| {
                                seat(
                                    h,
                                    Reason::FromControlDeptHead {
                                        control: control.clone(),
                                        dept: d.dept,
                                    },
                                    0,
                                )
                            }));
                        }
                    }
                    _ => {}
                }
            }
            ApproverRule::Leader { source, level }
            | ApproverRule::LeaderChain {
                source,
                stop_level: level,
            } => {
                let only_last = matches!(rule, ApproverRule::Leader { .. });
                chain = !only_last;
                match source {
                    ChainSource::Superior => {
                        let mut via = applicant.clone();
                        let mut seen = BTreeSet::from([applicant.clone()]);
                        for l in 1..=*level {
                            let Some(next) =
                                org.member(&via).and_then(|m| m.leaders.into_iter().next())
                            else {
                                break;
                            };
                            if !seen.insert(next.clone()) {
                                break;
                            }
                            if !only_last || l == *level {
                                seats.push(seat(
                                    next.clone(),
                                    Reason::Leader {
                                        level: l,
                                        via: via.clone(),
                                    },
                                    u32::from(l - 1),
                                ));
                            }
                            via = next;
                        }
                    }
                    ChainSource::DeptHead => {
                        let mut cur = Some(dept);
                        for l in 1..=*level {
                            let Some(d) = cur else { break };
                            if !only_last || l == *level {
                                seats.extend(org.dept_heads(d).into_iter().map(|h| {
                                    seat(
                                        h,
                                        Reason::DeptHead { level: l, dept: d },
                                        u32::from(l - 1),
                                    )
                                }));
                            }
                            cur = org.dept_parent(d);
                        }
                    }
                }
            }
        }
        seats.retain(|s| org.is_active(&s.user));
        let sequential = self
            .inst
            .template
            .flow()
            .node(node)
            .and_then(FlowNode::task)
            .is_some_and(|t| t.mode == SignMode::Sequential);
        if sequential && !chain {
            for (i, s) in seats.iter_mut().enumerate() {
                s.stage = i as u32;
            }
        } else if !sequential {
            seats.iter_mut().for_each(|s| s.stage = 0);
        }
        Ok(seats)
    }

    /// Re-evaluates an activation after a change: finishes add-signs, then
    /// applies the node's mode; a decided node supersedes its open records
    /// and moves on.
    fn settle(&mut self, activation: ActivationId) -> Result<(), ApprovalError> {
        loop {
            let Some(act) = self.inst.activation(activation).cloned() else {
                return Ok(());
            };
            if act.status != ActivationStatus::Active {
                return Ok(());
            }
            // Added signers: a reject rejects the node; when all approved,
            // the adding record continues.
            let mut progressed = false;
            let parents: Vec<Record> = self
                .inst
                .records
                .iter()
                .filter(|r| {
                    r.activation == activation
                        && matches!(r.status, RecordStatus::Waiting | RecordStatus::Approving)
                })
                .cloned()
                .collect();
            let mut child_rejected = false;
            for p in parents {
                let kids: Vec<&Record> = self
                    .inst
                    .records
                    .iter()
                    .filter(|c| c.parent == Some(p.id))
                    .collect();
                if kids.iter().any(|c| vote(&c.status) == Vote::Reject) {
                    child_rejected = true;
                    continue;
                }
                let open = kids.iter().any(|c| c.status.is_open());
                if !open {
                    let next = if p.status == RecordStatus::Waiting {
                        RecordStatus::Pending
                    } else {
                        RecordStatus::Approved
                    };
                    self.change(p.id, next, p.speech.clone())?;
                    progressed = true;
                }
            }
            if progressed {
                continue;
            }
            let mode = self
                .inst
                .task_of(&act)
                .map(|(_, t)| t.mode)
                .unwrap_or(SignMode::All);
            let votes: Vec<(u32, Option<bool>)> = self
                .inst
                .voters(activation)
                .map(|r| {
                    (
                        r.stage,
                        match vote(&r.status) {
                            Vote::Approve => Some(true),
                            Vote::Reject => Some(false),
                            Vote::Pending => None,
                        },
                    )
                })
                .collect();
            let decision = if child_rejected {
                NodeDecision::Rejected
            } else {
                decide_node(mode, &votes)
            };
            return match decision {
                NodeDecision::Open => Ok(()),
                NodeDecision::Passed => {
                    self.supersede_open(activation)?;
                    self.emit(EventBody::ActivationEnded {
                        activation,
                        status: ActivationStatus::Passed,
                        auto: None,
                    })?;
                    self.after_pass(activation)
                }
                NodeDecision::Rejected => {
                    self.supersede_open(activation)?;
                    self.emit(EventBody::ActivationEnded {
                        activation,
                        status: ActivationStatus::Rejected,
                        auto: None,
                    })?;
                    self.reject_instance()
                }
            };
        }
    }

    fn supersede_open(&mut self, activation: ActivationId) -> Result<(), ApprovalError> {
        let open: Vec<RecordId> = self
            .inst
            .records
            .iter()
            .filter(|r| r.activation == activation && r.status.is_open())
            .map(|r| r.id)
            .collect();
        for id in open {
            self.change(id, RecordStatus::Superseded, String::new())?;
        }
        Ok(())
    }

    fn after_pass(&mut self, activation: ActivationId) -> Result<(), ApprovalError> {
        let act = self
            .inst
            .activation(activation)
            .cloned()
            .expect("activation");
        let next = self.inst.task_of(&act).and_then(|(_, t)| t.next.clone());
        self.enter(next, act.path)
    }

    fn reject_instance(&mut self) -> Result<(), ApprovalError> {
        self.cancel_where(|_| true, CancelReason::Rejected)?;
        self.emit(EventBody::Finished {
            status: InstanceStatus::Rejected,
        })
    }

    /// Cancels the active activations `which` selects and supersedes their
    /// open records.
    fn cancel_where(
        &mut self,
        which: impl Fn(&Activation) -> bool,
        why: CancelReason,
    ) -> Result<(), ApprovalError> {
        let ids: Vec<ActivationId> = self
            .inst
            .active()
            .filter(|a| which(a))
            .map(|a| a.id)
            .collect();
        for id in ids {
            self.supersede_open(id)?;
            self.emit(EventBody::ActivationEnded {
                activation: id,
                status: ActivationStatus::Cancelled(why),
                auto: None,
            })?;
        }
        Ok(())
    }

    fn add_sign(
        &mut self,
        record: RecordId,
        users: Vec<UserId>,
        position: AddSignPosition,
        speech: String,
    ) -> Result<(), ApprovalError> {
        let (r, _) = self.own_record(record, &speech)?;
        if r.parent.is_some() {
            return Err(ApprovalError::NestedAddSign);
        }
        if users.is_empty() || users.len() > MAX_ADDED_SIGNERS {
            return Err(ApprovalError::AddSignCount);
        }
        let unique: BTreeSet<&UserId> = users.iter().collect();
        if unique.len() != users.len() {
            return Err(ApprovalError::InvalidMember("repeated".into()));
        }
        for u in &users {
            self.check_newcomer(&r, u)?;
        }
        let status = match position {
            AddSignPosition::Before => RecordStatus::Waiting,
            AddSignPosition::After => RecordStatus::Approving,
        };
        self.change(record, status, speech)?;
        for u in users {
            self.open(
                r.activation,
                u,
                Reason::AddedBy {
                    by: r.user.clone(),
                    position,
                },
                r.stage,
                Some(r.id),
            )?;
        }
        Ok(())
    }

    fn return_to(
        &mut self,
        record: RecordId,
        to: NodeKey,
        speech: String,
    ) -> Result<(), ApprovalError> {
        let (r, _) = self.own_record(record, &speech)?;
        let bad = || ApprovalError::BadReturnTarget(to.to_string());
        let here = self
            .inst
            .activation(r.activation)
            .cloned()
            .ok_or_else(bad)?;
        let passed = self
            .inst
            .activations
            .iter()
            .any(|a| a.node == to && a.status == ActivationStatus::Passed && a.id < here.id);
        let target_path = self
            .inst
            .template
            .plan()
            .paths
            .get(&to)
            .cloned()
            .ok_or_else(bad)?;
        let same_line = here.path.starts_with(&target_path);
        if !passed || !same_line || to == here.node {
            return Err(bad());
        }
        self.change(record, RecordStatus::Returned(to.clone()), speech)?;
        self.cancel_where(|a| a.path.starts_with(&target_path), CancelReason::Returned)?;
        let plan_paths = &self.inst.template.plan().paths;
        let flow = self.inst.template.flow();
        let joins: Vec<NodeKey> = self
            .inst
            .joins
            .keys()
            .filter(|j| {
                flow.nodes.iter().any(|n| {
                    matches!(&n.kind, NodeKind::Parallel { join, .. } if join == *j)
                        && plan_paths
                            .get(&n.key)
                            .is_some_and(|p| p.starts_with(&target_path))
                })
            })
            .cloned()
            .collect();
        if !joins.is_empty() {
            self.emit(EventBody::JoinsReset { joins })?;
        }
        self.emit(EventBody::Returned {
            record,
            to: to.clone(),
        })?;
        let template = Arc::clone(&self.inst.template);
        let node = template.flow().node(&to).ok_or_else(bad)?;
        self.activate(node, target_path, true)
    }

    fn timer(&mut self, activation: ActivationId, kind: TimerKind) -> Result<(), ApprovalError> {
        if self.env.actor != Actor::System {
            return Err(ApprovalError::WrongActor);
        }
        let Some(act) = self.inst.activation(activation).cloned() else {
            return Ok(());
        };
        if act.status != ActivationStatus::Active || self.inst.fired.contains(&(activation, kind)) {
            return Ok(());
        }
        let Some(timer) = act.timers.iter().find(|t| t.kind == kind) else {
            return Ok(());
        };
        if self.env.at < timer.due_at {
            return Err(ApprovalError::TimerNotDue);
        }
        self.emit(EventBody::TimerFired { activation, kind })?;
        match kind {
            TimerKind::Remind => {
                let users = self.actionable_users(Some(activation));
                self.emit(EventBody::Reminded { activation, users })
            }
            TimerKind::Deadline => {
                let action = self
                    .inst
                    .task_of(&act)
                    .and_then(|(_, t)| t.timeout)
                    .and_then(|t| t.deadline)
                    .map(|(_, a)| a);
                match action {
                    Some(TimeoutAction::AutoApprove) => {
                        // Approve stage after stage until the node passes.
                        for _ in 0..=self.inst.records.len() {
                            let pending: Vec<RecordId> = self
                                .inst
                                .actionable()
                                .iter()
                                .filter(|r| r.activation == activation)
                                .map(|r| r.id)
                                .collect();
                            if pending.is_empty() {
                                break;
                            }
                            for id in pending {
                                self.change(
                                    id,
                                    RecordStatus::Auto {
                                        approved: true,
                                        why: AutoReason::Timeout,
                                    },
                                    String::new(),
                                )?;
                            }
                            self.settle(activation)?;
                        }
                        Ok(())
                    }
                    Some(TimeoutAction::AutoReject) => {
                        let first = self
                            .inst
                            .actionable()
                            .into_iter()
                            .find(|r| r.activation == activation)
                            .map(|r| r.id);
                        if let Some(id) = first {
                            self.change(
                                id,
                                RecordStatus::Auto {
                                    approved: false,
                                    why: AutoReason::Timeout,
                                },
                                String::new(),
                            )?;
                            self.settle(activation)?;
                        }
                        Ok(())
                    }
                    Some(TimeoutAction::EscalateToLeader) => {
                        let pending: Vec<Record> = self
                            .inst
                            .actionable()
                            .into_iter()
                            .filter(|r| r.activation == activation)
                            .cloned()
                            .collect();
                        for r in pending {
                            let admins = self.inst.template.admins().to_vec();
                            let target = self
                                .first_active_leader(&r.user)
                                .into_iter()
                                .chain(admins)
                                .find(|u| self.check_newcomer(&r, u).is_ok());
                            if let Some(to) = target {
                                let new = RecordId(self.inst.records.len() as u32 + 1);
                                self.change(r.id, RecordStatus::Transferred(new), String::new())?;
                                self.open(
                                    activation,
                                    to,
                                    Reason::Escalated {
                                        from: r.user.clone(),
                                    },
                                    r.stage,
                                    r.parent,
                                )?;
                            }
                        }
                        Ok(())
                    }
                    None => Ok(()),
                }
            }
        }
    }
}

fn check_text(text: &str, max: usize, may_be_empty: bool) -> Result<(), ApprovalError> {
    let n = text.chars().count();
    if n > max || (!may_be_empty && text.trim().is_empty()) {
        Err(ApprovalError::TextLength(max))
    } else {
        Ok(())
    }
}
