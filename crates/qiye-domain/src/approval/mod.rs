//! Approvals (审批): the pure core of the approval engine. No I/O, no
//! async, no database: the store, the use cases, the HTTP API, timers and
//! web pages sit on top of it.
//!
//! The model (following §1–§3 and §6 of `research/approval-anchors.md`):
//!
//! - A [`TemplateDraft`] has a [`FormSpec`] (WeCom's 19 controls, [`form`])
//!   and a [`Flow`] (a graph of approval, handler, CC, exclusive-branch,
//!   parallel-split and join nodes, [`flow`]). [`TemplateDraft::publish`]
//!   runs the static checks of [`check`] and freezes it as an immutable
//!   [`Template`] version, or refuses it with every reason.
//! - An [`Instance`] pins one template version. Its history is a list of
//!   [`Event`]s; [`Instance::decide`] turns an [`Envelope`] (a [`Command`]
//!   with actor, time and idempotency key) into new events, and
//!   [`Instance::apply`] folds them into state ([`instance`]).
//! - When the flow reaches an approval or handler node it creates an
//!   [`Activation`]; every member asked gets a [`Record`] carrying the
//!   [`Reason`] they were chosen (resolved through the [`Org`] port). A
//!   node's decision is [`decide_node`] over its records' votes.
//! - [`simulate()`] runs a template on sample data without an instance, with
//!   the same engine.
//! - WeCom's numbers (instance `sp_status`, record `sp_yj`, `apv_rel`
//!   against `approverattr`, callback `StatuChangeEvent`) live only in
//!   [`status`].
//!
//! Invariants the engine keeps (and the property tests check):
//! - a published template's flow has no cycle, every node is reachable,
//!   parallel branches meet at their own join, and every exclusive gateway
//!   covers every input (or has a default);
//! - an instance never has two active activations of one node;
//! - replaying an instance's events from scratch rebuilds the same state;
//! - a running instance always has a member who can act, so approving
//!   every actionable record ends it (approved or rejected);
//! - a repeated idempotency key decides nothing new; actions name a record,
//!   and only its member may act on it, only while it is pending.

pub mod check;
pub mod decimal;
pub mod flow;
pub mod form;
pub mod formula;
pub mod instance;
pub mod model;
pub mod org;
pub mod simulate;
pub mod status;
pub mod template;

#[cfg(test)]
mod tests;

pub use check::{TemplateIssue, rule_may_be_empty};
pub use decimal::{Decimal, DecimalError};
pub use flow::{
    ApproverRule, Atom, Branch, ChainSource, Cmp, Condition, Dedup, EmptyPolicy, Flow, FlowNode,
    NodeKind, SelfPolicy, SignMode, TaskNode, Timeout, TimeoutAction,
};
pub use form::{
    ControlConfig, ControlKind, ControlSpec, ControlValue, FieldError, FormData, FormInput,
    FormSpec, ValueProblem,
};
pub use instance::{
    Activation, ActivationStatus, Actor, AddSignPosition, ApprovalError, AutoReason, Command,
    Envelope, Event, EventBody, Instance, InstanceStatus, NodeDecision, Reason, Record,
    RecordStatus, Submission, TimerKind, decide_node,
};
pub use model::{
    ActivationId, ControlId, IdempotencyKey, LangText, NodeKey, RecordId, SpNo, TemplateId,
    TemplateVersion,
};
pub use org::{Org, OrgMember};
pub use simulate::{Trace, TraceStep, simulate};
pub use template::{PublishError, Template, TemplateDraft, WithdrawRule};
