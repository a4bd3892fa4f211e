//! The flow: a graph of nodes, each naming the node that follows it.
//!
//! - [`NodeKind::Approval`] and [`NodeKind::Handler`] ask people to act;
//!   [`SignMode`] says how their records combine (sequential 依次, all
//!   会签, any 或签, a pass ratio, a vote count). The leader chain is an
//!   approval node whose [`ApproverRule::LeaderChain`] makes one sequential
//!   stage per level.
//! - [`NodeKind::Cc`] notifies and never waits.
//! - [`NodeKind::Exclusive`] takes the first branch, by priority, whose
//!   [`Condition`] holds; the branch without a condition is the default
//!   and is taken last.
//! - [`NodeKind::Parallel`] starts every branch; each branch runs to the
//!   split's [`NodeKind::Join`], which continues once all have arrived.
//!
//! Everything here is data: policies (empty approver, applicant is the
//! approver, dedup) and timeouts are interpreted by the engine
//! ([`super::instance`]); publishing ([`super::check`]) proves the graph is
//! well formed.

use super::decimal::Decimal;
use super::form::{ControlValue, FormData};
use super::model::{ControlId, NodeKey};
use super::org::Org;
use crate::directory::TagId;
use crate::ids::{DeptId, UserId};

/// How the records of an approval node combine (§2.1 L1–L4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignMode {
    /// 依次: one stage after the other; the first reject fails.
    Sequential,
    /// 会签: every participant must approve; the first reject fails.
    All,
    /// 或签: the first approve passes, the first reject fails.
    Any,
    /// 按比例会签: passes when ⌈percent·N/100⌉ approved; fails as soon as
    /// that is out of reach. A reject is a no-vote, not a veto.
    Ratio {
        /// 1..=100.
        percent: u8,
    },
    /// 票签: passes when `pass` participants approved (at most N); fails as
    /// soon as that is out of reach.
    Vote {
        /// Approvals needed, at least 1.
        pass: u32,
    },
}

/// Whose chain of leaders a leader rule follows (§2.1 L7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainSource {
    /// 直属上级: the applicant's direct leader, then theirs, and so on.
    Superior,
    /// 部门负责人: the heads of the submit-as department, then of its
    /// parent, and so on.
    DeptHead,
}

/// Who is asked (§2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApproverRule {
    /// 指定成员: these members, in this order.
    Members(Vec<UserId>),
    /// A role: the members holding a tag.
    Role(TagId),
    /// The leader (or department heads) exactly `level` levels up.
    Leader {
        /// Whose chain.
        source: ChainSource,
        /// 1 is the direct leader or the own department's heads.
        level: u8,
    },
    /// 连续多级主管: every level from 1 to `stop_level` (or the top, if the
    /// chain is shorter), one sequential stage per level; several heads at
    /// one level decide as or-sign.
    LeaderChain {
        /// Whose chain.
        source: ChainSource,
        /// Last level asked, at least 1.
        stop_level: u8,
    },
    /// 发起人自选: chosen by the applicant at submit.
    ChosenByApplicant {
        /// Whether several may be chosen.
        multi: bool,
    },
    /// The members of a `Contact` control (or the heads of its
    /// departments).
    FromContact(ControlId),
    /// The applicant themself (a "confirm" step).
    Applicant,
}

/// What happens when a node resolves to nobody (§2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyPolicy {
    /// Pass the node automatically, recorded with the reason.
    AutoApprove,
    /// Ask the template's administrators.
    ToAdmins,
    /// Refuse the submission (predicted at submit). Should the organisation
    /// change so that a later activation still finds nobody, the template's
    /// administrators are asked, and without any the instance is rejected.
    Refuse,
}

/// What happens when the applicant is among a node's approvers (§2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelfPolicy {
    /// They approve their own request.
    SelfApprove,
    /// Their record passes automatically; the others decide (if nobody
    /// else is left, the node passes).
    Skip,
    /// Their direct leader is asked instead (skipped if they have none).
    ToLeader,
}

/// Repeated approvers across nodes (§2.4 dedup).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dedup {
    /// Everyone is asked every time.
    None,
    /// Someone who already approved by hand earlier in the instance is
    /// passed automatically. Never on an activation reached by a return.
    KeepFirst,
    /// Someone asked again later on the predicted path is passed
    /// automatically now and decides at their last occurrence.
    KeepLast,
}

/// What a node's deadline does (§2.4 timeouts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutAction {
    /// Approve every pending record.
    AutoApprove,
    /// Reject the node (and so the instance).
    AutoReject,
    /// Hand every pending record to its approver's direct leader (or the
    /// template's administrators); without either, nothing changes.
    EscalateToLeader,
}

/// A node's timers, as data; the app layer schedules them from the
/// events, the engine decides what a firing does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout {
    /// Remind the pending approvers this long after activation.
    pub remind_after_secs: Option<u32>,
    /// At this long after activation, act.
    pub deadline: Option<(u32, TimeoutAction)>,
}

/// An approval or handler node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskNode {
    /// Who.
    pub rule: ApproverRule,
    /// How their records combine.
    pub mode: SignMode,
    /// When nobody is found; `None` only for rules that always find someone.
    pub on_empty: Option<EmptyPolicy>,
    /// When the applicant is among them.
    pub applicant_is_approver: SelfPolicy,
    /// Reminder and deadline.
    pub timeout: Option<Timeout>,
    /// The node after this one; `None` ends the flow (approved).
    pub next: Option<NodeKey>,
}

/// A branch of an exclusive gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branch {
    /// Shown name.
    pub name: String,
    /// Lower is tried first.
    pub priority: u32,
    /// `None` for the default branch.
    pub condition: Option<Condition>,
    /// First node of the branch; `None` ends the flow.
    pub target: Option<NodeKey>,
}

/// What a node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    /// 审批人.
    Approval(TaskNode),
    /// 办理人: handled (14) or handed over (15); no reject.
    Handler(TaskNode),
    /// 抄送人: notified, at most once per person and instance.
    Cc {
        /// Who.
        rule: ApproverRule,
        /// The node after this one.
        next: Option<NodeKey>,
    },
    /// 条件分支.
    Exclusive {
        /// The branches.
        branches: Vec<Branch>,
    },
    /// 并行分支: every branch starts; a branch whose first node is `join`
    /// is empty.
    Parallel {
        /// First node of each branch.
        branches: Vec<NodeKey>,
        /// Where the branches meet.
        join: NodeKey,
    },
    /// Where a parallel split's branches meet.
    Join {
        /// The node after the join.
        next: Option<NodeKey>,
    },
}

/// A node of the flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowNode {
    /// Stable key.
    pub key: NodeKey,
    /// Shown name.
    pub name: String,
    /// What it does.
    pub kind: NodeKind,
}

impl FlowNode {
    /// The nodes this one can lead to (`None` = the end).
    pub fn successors(&self) -> Vec<Option<&NodeKey>> {
        match &self.kind {
            NodeKind::Approval(t) | NodeKind::Handler(t) => vec![t.next.as_ref()],
            NodeKind::Cc { next, .. } | NodeKind::Join { next } => vec![next.as_ref()],
            NodeKind::Exclusive { branches } => {
                branches.iter().map(|b| b.target.as_ref()).collect()
            }
            NodeKind::Parallel { branches, .. } => branches.iter().map(Some).collect(),
        }
    }

    /// The task, for approval and handler nodes.
    pub fn task(&self) -> Option<&TaskNode> {
        match &self.kind {
            NodeKind::Approval(t) | NodeKind::Handler(t) => Some(t),
            _ => None,
        }
    }
}

/// A template's flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// First node; `None` approves at once.
    pub start: Option<NodeKey>,
    /// The nodes.
    pub nodes: Vec<FlowNode>,
    /// Repeated-approver policy.
    pub dedup: Dedup,
}

impl Flow {
    /// A node by key.
    pub fn node(&self, key: &NodeKey) -> Option<&FlowNode> {
        self.nodes.iter().find(|n| &n.key == key)
    }
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `=`
    Eq,
    /// `≠`
    Ne,
    /// `<`
    Lt,
    /// `≤`
    Le,
    /// `>`
    Gt,
    /// `≥`
    Ge,
}

impl Cmp {
    /// `a cmp b`.
    pub fn holds(self, a: Decimal, b: Decimal) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }
}

/// One test of a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Atom {
    /// A `Number`, `Money` or `Formula` control compared with a constant
    /// (false when empty).
    Compare {
        /// The control.
        control: ControlId,
        /// How.
        cmp: Cmp,
        /// With what.
        value: Decimal,
    },
    /// A `Selector` has one of these keys chosen.
    AnyOf {
        /// The control.
        control: ControlId,
        /// The keys.
        keys: Vec<String>,
    },
    /// A `Selector` has none of these keys chosen (true when empty).
    NoneOf {
        /// The control.
        control: ControlId,
        /// The keys.
        keys: Vec<String>,
    },
    /// A `Text` or `Textarea` contains a text.
    Contains {
        /// The control.
        control: ControlId,
        /// The text.
        text: String,
    },
    /// A control has no value.
    IsEmpty {
        /// The control.
        control: ControlId,
    },
    /// The submit-as department is this one or below it.
    ApplicantInDept {
        /// The department.
        dept: DeptId,
    },
    /// The applicant holds this role (tag).
    ApplicantHasRole {
        /// The tag.
        role: TagId,
    },
}

impl Atom {
    /// The control the atom reads, if any.
    pub fn control(&self) -> Option<&ControlId> {
        match self {
            Atom::Compare { control, .. }
            | Atom::AnyOf { control, .. }
            | Atom::NoneOf { control, .. }
            | Atom::Contains { control, .. }
            | Atom::IsEmpty { control } => Some(control),
            Atom::ApplicantInDept { .. } | Atom::ApplicantHasRole { .. } => None,
        }
    }
}

/// A branch condition: true when any group has all its atoms true.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// OR of AND-groups.
    pub any_of: Vec<Vec<Atom>>,
}

impl Condition {
    /// A single test.
    pub fn atom(atom: Atom) -> Self {
        Self {
            any_of: vec![vec![atom]],
        }
    }

    /// Every atom.
    pub fn atoms(&self) -> impl Iterator<Item = &Atom> {
        self.any_of.iter().flatten()
    }

    /// Evaluates with `truth` answering each atom.
    pub fn holds_with(&self, truth: &mut dyn FnMut(&Atom) -> bool) -> bool {
        self.any_of.iter().any(|g| g.iter().all(&mut *truth))
    }
}

/// What a condition reads at a gateway.
pub struct CondInput<'a> {
    /// The form.
    pub form: &'a FormData,
    /// The applicant.
    pub applicant: &'a UserId,
    /// The submit-as department.
    pub dept: DeptId,
    /// The organisation.
    pub org: &'a dyn Org,
}

impl CondInput<'_> {
    /// The atom's truth.
    pub fn eval(&self, atom: &Atom) -> bool {
        let value = |c: &ControlId| self.form.get(c).filter(|v| !v.is_empty());
        match atom {
            Atom::Compare {
                control,
                cmp,
                value: k,
            } => value(control)
                .and_then(ControlValue::as_decimal)
                .is_some_and(|v| cmp.holds(v, *k)),
            Atom::AnyOf { control, keys } => matches!(value(control),
                Some(ControlValue::Selector(chosen)) if chosen.iter().any(|c| keys.contains(c))),
            Atom::NoneOf { control, keys } => !matches!(value(control),
                Some(ControlValue::Selector(chosen)) if chosen.iter().any(|c| keys.contains(c))),
            Atom::Contains { control, text } => {
                matches!(value(control), Some(ControlValue::Text(t)) if t.contains(text.as_str()))
            }
            Atom::IsEmpty { control } => value(control).is_none(),
            Atom::ApplicantInDept { dept } => self.org.dept_within(self.dept, *dept),
            Atom::ApplicantHasRole { role } => {
                self.org.role_members(*role).contains(self.applicant)
            }
        }
    }
}
