//! The stored form of templates and instance events: JSON written from
//! private mirror types, so the domain stays free of serde and the stored
//! format is ours to keep stable (every variant is named, never numbered).
//!
//! `encode_*` never fails; `decode_*` refuses anything that does not
//! describe a valid value (an unknown variant, a malformed id) as corrupt
//! data, never a panic.

use std::collections::BTreeMap;

use qiye_domain::approval::form::{
    AttendanceKind, AttendanceValue, Bank, BankAccount, DateKind, DateRangeValue, DateValue,
    DaySlice, DeptRef, FileRef, LeaveType, LocationValue, MemberRef, Money, PhoneNumber,
    PunchCorrectionValue, RangeUnit, SelectorOption, SliceInfo, TipsPart, VacationValue,
};
use qiye_domain::approval::formula::Expr;
use qiye_domain::approval::instance::{CancelReason, Timer};
use qiye_domain::approval::{
    ActivationId, ActivationStatus, Actor, AddSignPosition, ApproverRule, Atom, AutoReason, Branch,
    ChainSource, Cmp, Condition, ControlConfig, ControlId, ControlSpec, ControlValue, Decimal,
    Dedup, EmptyPolicy, Event, EventBody, Flow, FlowNode, FormData, FormSpec, IdempotencyKey,
    InstanceStatus, LangText, NodeKey, NodeKind, Reason, RecordId, RecordStatus, SelfPolicy,
    SignMode, SpNo, TaskNode, TemplateDraft, TemplateId, TemplateVersion, Timeout, TimeoutAction,
    TimerKind, WithdrawRule,
};
use qiye_domain::directory::TagId;
use qiye_domain::ids::{DeptId, UserId};
use serde::{Deserialize, Serialize};

/// Why a stored document could not be read.
pub(crate) type Bad = String;
type R<T> = Result<T, Bad>;

fn bad(what: impl std::fmt::Display) -> Bad {
    what.to_string()
}

fn user(s: &str) -> R<UserId> {
    UserId::parse(s).map_err(bad)
}
fn users(v: &[String]) -> R<Vec<UserId>> {
    v.iter().map(|s| user(s)).collect()
}
fn user_strs(v: &[UserId]) -> Vec<String> {
    v.iter().map(|u| u.as_str().to_owned()).collect()
}
fn control(s: &str) -> R<ControlId> {
    ControlId::parse(s).map_err(bad)
}
fn node(s: &str) -> R<NodeKey> {
    NodeKey::parse(s).map_err(bad)
}
fn opt_node(s: &Option<String>) -> R<Option<NodeKey>> {
    s.as_deref().map(node).transpose()
}
fn node_str(n: &Option<NodeKey>) -> Option<String> {
    n.as_ref().map(|n| n.as_str().to_owned())
}
fn dept(d: u32) -> R<DeptId> {
    DeptId::new(i64::from(d)).map_err(bad)
}
fn dec(s: &str) -> R<Decimal> {
    s.parse().map_err(|_| bad(format!("bad decimal {s}")))
}
fn opt_dec(s: &Option<String>) -> R<Option<Decimal>> {
    s.as_deref().map(dec).transpose()
}
fn dec_str(d: Option<Decimal>) -> Option<String> {
    d.map(|d| d.to_string())
}

#[derive(Serialize, Deserialize)]
struct Text {
    text: String,
    lang: String,
}
fn texts(v: &[LangText]) -> Vec<Text> {
    v.iter()
        .map(|t| Text {
            text: t.text.clone(),
            lang: t.lang.clone(),
        })
        .collect()
}
fn lang_texts(v: Vec<Text>) -> Vec<LangText> {
    v.into_iter()
        .map(|t| LangText {
            text: t.text,
            lang: t.lang,
        })
        .collect()
}

// ---- templates ----------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct TemplateDoc {
    id: String,
    name: Vec<Text>,
    controls: Vec<ControlDoc>,
    flow: FlowDoc,
    admins: Vec<String>,
    withdraw: String,
}

#[derive(Serialize, Deserialize)]
struct ControlDoc {
    id: String,
    title: Vec<Text>,
    placeholder: Vec<Text>,
    required: bool,
    un_print: bool,
    config: ConfigDoc,
}

#[derive(Serialize, Deserialize)]
struct OptionDoc {
    key: String,
    value: Vec<Text>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "k", content = "v", rename_all = "snake_case")]
enum TipsDoc {
    Text(String),
    Link { title: String, url: String },
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "k", content = "v", rename_all = "snake_case")]
enum ConfigDoc {
    Text {
        max_chars: Option<u32>,
    },
    Textarea {
        max_chars: Option<u32>,
    },
    Number {
        min: Option<String>,
        max: Option<String>,
        places: Option<u8>,
    },
    Money {
        min: Option<String>,
        max: Option<String>,
    },
    Date {
        hour: bool,
    },
    DateRange {
        hour: bool,
        workdays: bool,
        perday_secs: u32,
    },
    Selector {
        multi: bool,
        options: Vec<OptionDoc>,
        relations: Vec<(String, Vec<String>)>,
    },
    Contact {
        multi: bool,
        departments: bool,
    },
    Tips {
        content: Vec<(String, Vec<TipsDoc>)>,
    },
    File {
        only_photo: bool,
        max_files: u8,
    },
    Table {
        children: Vec<ControlDoc>,
        print_rows: bool,
    },
    Vacation {
        leave_types: Vec<(u32, Vec<Text>)>,
    },
    Attendance {
        kind: u8,
        hour: bool,
    },
    PunchCorrection,
    Location {
        distance: u16,
    },
    RelatedApproval {
        templates: Vec<String>,
    },
    Formula {
        source: String,
    },
    BankAccount,
    PhoneNumber,
}

fn unit_is_hour(u: RangeUnit) -> bool {
    u == RangeUnit::Hour
}
fn unit_of(hour: bool) -> RangeUnit {
    if hour {
        RangeUnit::Hour
    } else {
        RangeUnit::HalfDay
    }
}

fn encode_control(c: &ControlSpec) -> ControlDoc {
    let config = match &c.config {
        ControlConfig::Text { max_chars } => ConfigDoc::Text {
            max_chars: *max_chars,
        },
        ControlConfig::Textarea { max_chars } => ConfigDoc::Textarea {
            max_chars: *max_chars,
        },
        ControlConfig::Number { min, max, places } => ConfigDoc::Number {
            min: dec_str(*min),
            max: dec_str(*max),
            places: *places,
        },
        ControlConfig::Money { min, max } => ConfigDoc::Money {
            min: dec_str(*min),
            max: dec_str(*max),
        },
        ControlConfig::Date { kind } => ConfigDoc::Date {
            hour: *kind == DateKind::Hour,
        },
        ControlConfig::DateRange {
            unit,
            workdays,
            perday_secs,
        } => ConfigDoc::DateRange {
            hour: unit_is_hour(*unit),
            workdays: *workdays,
            perday_secs: *perday_secs,
        },
        ControlConfig::Selector {
            multi,
            options,
            relations,
        } => ConfigDoc::Selector {
            multi: *multi,
            options: options
                .iter()
                .map(|o| OptionDoc {
                    key: o.key.clone(),
                    value: texts(&o.value),
                })
                .collect(),
            relations: relations
                .iter()
                .map(|(k, ids)| {
                    (
                        k.clone(),
                        ids.iter().map(|i| i.as_str().to_owned()).collect(),
                    )
                })
                .collect(),
        },
        ControlConfig::Contact { multi, departments } => ConfigDoc::Contact {
            multi: *multi,
            departments: *departments,
        },
        ControlConfig::Tips { content } => ConfigDoc::Tips {
            content: content
                .iter()
                .map(|(lang, parts)| {
                    let parts = parts
                        .iter()
                        .map(|p| match p {
                            TipsPart::Text(t) => TipsDoc::Text(t.clone()),
                            TipsPart::Link { title, url } => TipsDoc::Link {
                                title: title.clone(),
                                url: url.clone(),
                            },
                        })
                        .collect();
                    (lang.clone(), parts)
                })
                .collect(),
        },
        ControlConfig::File {
            only_photo,
            max_files,
        } => ConfigDoc::File {
            only_photo: *only_photo,
            max_files: *max_files,
        },
        ControlConfig::Table {
            children,
            print_rows,
        } => ConfigDoc::Table {
            children: children.iter().map(encode_control).collect(),
            print_rows: *print_rows,
        },
        ControlConfig::Vacation { leave_types } => ConfigDoc::Vacation {
            leave_types: leave_types.iter().map(|l| (l.id, texts(&l.name))).collect(),
        },
        ControlConfig::Attendance { kind, unit } => ConfigDoc::Attendance {
            kind: kind.code(),
            hour: unit_is_hour(*unit),
        },
        ControlConfig::PunchCorrection => ConfigDoc::PunchCorrection,
        ControlConfig::Location { distance } => ConfigDoc::Location {
            distance: *distance,
        },
        ControlConfig::RelatedApproval { templates } => ConfigDoc::RelatedApproval {
            templates: templates.iter().map(|t| t.as_str().to_owned()).collect(),
        },
        ControlConfig::Formula { source, .. } => ConfigDoc::Formula {
            source: source.clone(),
        },
        ControlConfig::BankAccount => ConfigDoc::BankAccount,
        ControlConfig::PhoneNumber => ConfigDoc::PhoneNumber,
    };
    ControlDoc {
        id: c.id.as_str().to_owned(),
        title: texts(&c.title),
        placeholder: texts(&c.placeholder),
        required: c.required,
        un_print: c.un_print,
        config,
    }
}

fn decode_control(d: ControlDoc) -> R<ControlSpec> {
    let config = match d.config {
        ConfigDoc::Text { max_chars } => ControlConfig::Text { max_chars },
        ConfigDoc::Textarea { max_chars } => ControlConfig::Textarea { max_chars },
        ConfigDoc::Number { min, max, places } => ControlConfig::Number {
            min: opt_dec(&min)?,
            max: opt_dec(&max)?,
            places,
        },
        ConfigDoc::Money { min, max } => ControlConfig::Money {
            min: opt_dec(&min)?,
            max: opt_dec(&max)?,
        },
        ConfigDoc::Date { hour } => ControlConfig::Date {
            kind: if hour { DateKind::Hour } else { DateKind::Day },
        },
        ConfigDoc::DateRange {
            hour,
            workdays,
            perday_secs,
        } => ControlConfig::DateRange {
            unit: unit_of(hour),
            workdays,
            perday_secs,
        },
        ConfigDoc::Selector {
            multi,
            options,
            relations,
        } => ControlConfig::Selector {
            multi,
            options: options
                .into_iter()
                .map(|o| SelectorOption {
                    key: o.key,
                    value: lang_texts(o.value),
                })
                .collect(),
            relations: relations
                .into_iter()
                .map(|(k, ids)| Ok((k, ids.iter().map(|i| control(i)).collect::<R<_>>()?)))
                .collect::<R<_>>()?,
        },
        ConfigDoc::Contact { multi, departments } => ControlConfig::Contact { multi, departments },
        ConfigDoc::Tips { content } => ControlConfig::Tips {
            content: content
                .into_iter()
                .map(|(lang, parts)| {
                    let parts = parts
                        .into_iter()
                        .map(|p| match p {
                            TipsDoc::Text(t) => TipsPart::Text(t),
                            TipsDoc::Link { title, url } => TipsPart::Link { title, url },
                        })
                        .collect();
                    (lang, parts)
                })
                .collect(),
        },
        ConfigDoc::File {
            only_photo,
            max_files,
        } => ControlConfig::File {
            only_photo,
            max_files,
        },
        ConfigDoc::Table {
            children,
            print_rows,
        } => ControlConfig::Table {
            children: children.into_iter().map(decode_control).collect::<R<_>>()?,
            print_rows,
        },
        ConfigDoc::Vacation { leave_types } => ControlConfig::Vacation {
            leave_types: leave_types
                .into_iter()
                .map(|(id, name)| LeaveType {
                    id,
                    name: lang_texts(name),
                })
                .collect(),
        },
        ConfigDoc::Attendance { kind, hour } => ControlConfig::Attendance {
            kind: AttendanceKind::from_code(i64::from(kind))
                .ok_or_else(|| bad("attendance kind"))?,
            unit: unit_of(hour),
        },
        ConfigDoc::PunchCorrection => ControlConfig::PunchCorrection,
        ConfigDoc::Location { distance } => ControlConfig::Location { distance },
        ConfigDoc::RelatedApproval { templates } => ControlConfig::RelatedApproval {
            templates: templates
                .iter()
                .map(|t| TemplateId::parse(t).map_err(bad))
                .collect::<R<_>>()?,
        },
        ConfigDoc::Formula { source } => ControlConfig::Formula {
            expr: Expr::parse(&source).map_err(bad)?,
            source,
        },
        ConfigDoc::BankAccount => ControlConfig::BankAccount,
        ConfigDoc::PhoneNumber => ControlConfig::PhoneNumber,
    };
    Ok(ControlSpec {
        id: control(&d.id)?,
        title: lang_texts(d.title),
        placeholder: lang_texts(d.placeholder),
        required: d.required,
        un_print: d.un_print,
        config,
    })
}

#[derive(Serialize, Deserialize)]
struct FlowDoc {
    start: Option<String>,
    nodes: Vec<NodeDoc>,
    dedup: String,
}

#[derive(Serialize, Deserialize)]
struct NodeDoc {
    key: String,
    name: String,
    kind: KindDoc,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "k", content = "v", rename_all = "snake_case")]
enum KindDoc {
    Approval(TaskDoc),
    Handler(TaskDoc),
    Cc { rule: RuleDoc, next: Option<String> },
    Exclusive { branches: Vec<BranchDoc> },
    Parallel { branches: Vec<String>, join: String },
    Join { next: Option<String> },
}

#[derive(Serialize, Deserialize)]
struct TaskDoc {
    rule: RuleDoc,
    mode: ModeDoc,
    on_empty: Option<String>,
    applicant_is_approver: String,
    remind_after_secs: Option<u32>,
    deadline: Option<(u32, String)>,
    has_timeout: bool,
    next: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "k", content = "v", rename_all = "snake_case")]
enum ModeDoc {
    Sequential,
    All,
    Any,
    Ratio(u8),
    Vote(u32),
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "k", content = "v", rename_all = "snake_case")]
enum RuleDoc {
    Members(Vec<String>),
    Role(u32),
    Leader { dept_head: bool, level: u8 },
    LeaderChain { dept_head: bool, stop_level: u8 },
    ChosenByApplicant { multi: bool },
    FromContact(String),
    Applicant,
}

#[derive(Serialize, Deserialize)]
struct BranchDoc {
    name: String,
    priority: u32,
    condition: Option<Vec<Vec<AtomDoc>>>,
    target: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "k", content = "v", rename_all = "snake_case")]
enum AtomDoc {
    Compare {
        control: String,
        cmp: String,
        value: String,
    },
    AnyOf {
        control: String,
        keys: Vec<String>,
    },
    NoneOf {
        control: String,
        keys: Vec<String>,
    },
    Contains {
        control: String,
        text: String,
    },
    IsEmpty {
        control: String,
    },
    ApplicantInDept {
        dept: u32,
    },
    ApplicantHasRole {
        role: u32,
    },
}

macro_rules! names {
    ($enc:ident, $dec:ident, $ty:ty, $($v:path => $s:literal),* $(,)?) => {
        fn $enc(v: $ty) -> String {
            match v { $($v => $s,)* }.to_owned()
        }
        fn $dec(s: &str) -> R<$ty> {
            match s { $($s => Ok($v),)* other => Err(bad(format!("unknown {}: {other}", stringify!($ty)))) }
        }
    };
}

names!(dedup_str, dedup_of, Dedup, Dedup::None => "none", Dedup::KeepFirst => "keep_first", Dedup::KeepLast => "keep_last");
names!(empty_str, empty_of, EmptyPolicy, EmptyPolicy::AutoApprove => "auto_approve", EmptyPolicy::ToAdmins => "to_admins", EmptyPolicy::Refuse => "refuse");
names!(self_str, self_of, SelfPolicy, SelfPolicy::SelfApprove => "self_approve", SelfPolicy::Skip => "skip", SelfPolicy::ToLeader => "to_leader");
names!(timeout_str, timeout_of, TimeoutAction, TimeoutAction::AutoApprove => "auto_approve", TimeoutAction::AutoReject => "auto_reject", TimeoutAction::EscalateToLeader => "escalate");
names!(cmp_str, cmp_of, Cmp, Cmp::Eq => "eq", Cmp::Ne => "ne", Cmp::Lt => "lt", Cmp::Le => "le", Cmp::Gt => "gt", Cmp::Ge => "ge");
names!(withdraw_str, withdraw_of, WithdrawRule, WithdrawRule::Anytime => "anytime", WithdrawRule::BeforeFirstApproval => "before_first_approval", WithdrawRule::Never => "never");
names!(status_str_, status_of_, InstanceStatus, InstanceStatus::NotStarted => "not_started", InstanceStatus::Running => "running", InstanceStatus::Approved => "approved", InstanceStatus::Rejected => "rejected", InstanceStatus::Withdrawn => "withdrawn");
names!(timer_str_, timer_of_, TimerKind, TimerKind::Remind => "remind", TimerKind::Deadline => "deadline");
names!(position_str, position_of, AddSignPosition, AddSignPosition::Before => "before", AddSignPosition::After => "after");
names!(cancel_str, cancel_of, CancelReason, CancelReason::Returned => "returned", CancelReason::Withdrawn => "withdrawn", CancelReason::Rejected => "rejected");

/// An instance state's stored name.
pub(crate) fn status_str(s: InstanceStatus) -> String {
    status_str_(s)
}
/// An instance state from its stored name.
pub(crate) fn status_of(s: &str) -> R<InstanceStatus> {
    status_of_(s)
}
/// A timer kind's stored name.
pub(crate) fn timer_str(k: TimerKind) -> String {
    timer_str_(k)
}
/// A timer kind from its stored name.
pub(crate) fn timer_of(s: &str) -> R<TimerKind> {
    timer_of_(s)
}

fn chain_is_head(s: ChainSource) -> bool {
    s == ChainSource::DeptHead
}
fn chain_of(head: bool) -> ChainSource {
    if head {
        ChainSource::DeptHead
    } else {
        ChainSource::Superior
    }
}

fn encode_rule(r: &ApproverRule) -> RuleDoc {
    match r {
        ApproverRule::Members(m) => RuleDoc::Members(user_strs(m)),
        ApproverRule::Role(t) => RuleDoc::Role(t.0),
        ApproverRule::Leader { source, level } => RuleDoc::Leader {
            dept_head: chain_is_head(*source),
            level: *level,
        },
        ApproverRule::LeaderChain { source, stop_level } => RuleDoc::LeaderChain {
            dept_head: chain_is_head(*source),
            stop_level: *stop_level,
        },
        ApproverRule::ChosenByApplicant { multi } => RuleDoc::ChosenByApplicant { multi: *multi },
        ApproverRule::FromContact(c) => RuleDoc::FromContact(c.as_str().to_owned()),
        ApproverRule::Applicant => RuleDoc::Applicant,
    }
}

fn decode_rule(r: RuleDoc) -> R<ApproverRule> {
    Ok(match r {
        RuleDoc::Members(m) => ApproverRule::Members(users(&m)?),
        RuleDoc::Role(t) => ApproverRule::Role(TagId(t)),
        RuleDoc::Leader { dept_head, level } => ApproverRule::Leader {
            source: chain_of(dept_head),
            level,
        },
        RuleDoc::LeaderChain {
            dept_head,
            stop_level,
        } => ApproverRule::LeaderChain {
            source: chain_of(dept_head),
            stop_level,
        },
        RuleDoc::ChosenByApplicant { multi } => ApproverRule::ChosenByApplicant { multi },
        RuleDoc::FromContact(c) => ApproverRule::FromContact(control(&c)?),
        RuleDoc::Applicant => ApproverRule::Applicant,
    })
}

fn encode_task(t: &TaskNode) -> TaskDoc {
    TaskDoc {
        rule: encode_rule(&t.rule),
        mode: match t.mode {
            SignMode::Sequential => ModeDoc::Sequential,
            SignMode::All => ModeDoc::All,
            SignMode::Any => ModeDoc::Any,
            SignMode::Ratio { percent } => ModeDoc::Ratio(percent),
            SignMode::Vote { pass } => ModeDoc::Vote(pass),
        },
        on_empty: t.on_empty.map(empty_str),
        applicant_is_approver: self_str(t.applicant_is_approver),
        remind_after_secs: t.timeout.and_then(|x| x.remind_after_secs),
        deadline: t
            .timeout
            .and_then(|x| x.deadline)
            .map(|(secs, action)| (secs, timeout_str(action))),
        has_timeout: t.timeout.is_some(),
        next: node_str(&t.next),
    }
}

fn decode_task(t: TaskDoc) -> R<TaskNode> {
    Ok(TaskNode {
        rule: decode_rule(t.rule)?,
        mode: match t.mode {
            ModeDoc::Sequential => SignMode::Sequential,
            ModeDoc::All => SignMode::All,
            ModeDoc::Any => SignMode::Any,
            ModeDoc::Ratio(percent) => SignMode::Ratio { percent },
            ModeDoc::Vote(pass) => SignMode::Vote { pass },
        },
        on_empty: t.on_empty.as_deref().map(empty_of).transpose()?,
        applicant_is_approver: self_of(&t.applicant_is_approver)?,
        timeout: if t.has_timeout {
            Some(Timeout {
                remind_after_secs: t.remind_after_secs,
                deadline: t
                    .deadline
                    .map(|(secs, a)| Ok::<_, Bad>((secs, timeout_of(&a)?)))
                    .transpose()?,
            })
        } else {
            None
        },
        next: opt_node(&t.next)?,
    })
}

fn encode_atom(a: &Atom) -> AtomDoc {
    let c = |c: &ControlId| c.as_str().to_owned();
    match a {
        Atom::Compare {
            control,
            cmp,
            value,
        } => AtomDoc::Compare {
            control: c(control),
            cmp: cmp_str(*cmp),
            value: value.to_string(),
        },
        Atom::AnyOf { control, keys } => AtomDoc::AnyOf {
            control: c(control),
            keys: keys.clone(),
        },
        Atom::NoneOf { control, keys } => AtomDoc::NoneOf {
            control: c(control),
            keys: keys.clone(),
        },
        Atom::Contains { control, text } => AtomDoc::Contains {
            control: c(control),
            text: text.clone(),
        },
        Atom::IsEmpty { control } => AtomDoc::IsEmpty {
            control: c(control),
        },
        Atom::ApplicantInDept { dept } => AtomDoc::ApplicantInDept { dept: dept.get() },
        Atom::ApplicantHasRole { role } => AtomDoc::ApplicantHasRole { role: role.0 },
    }
}

fn decode_atom(a: AtomDoc) -> R<Atom> {
    Ok(match a {
        AtomDoc::Compare {
            control: c,
            cmp,
            value,
        } => Atom::Compare {
            control: control(&c)?,
            cmp: cmp_of(&cmp)?,
            value: dec(&value)?,
        },
        AtomDoc::AnyOf { control: c, keys } => Atom::AnyOf {
            control: control(&c)?,
            keys,
        },
        AtomDoc::NoneOf { control: c, keys } => Atom::NoneOf {
            control: control(&c)?,
            keys,
        },
        AtomDoc::Contains { control: c, text } => Atom::Contains {
            control: control(&c)?,
            text,
        },
        AtomDoc::IsEmpty { control: c } => Atom::IsEmpty {
            control: control(&c)?,
        },
        AtomDoc::ApplicantInDept { dept: d } => Atom::ApplicantInDept { dept: dept(d)? },
        AtomDoc::ApplicantHasRole { role } => Atom::ApplicantHasRole { role: TagId(role) },
    })
}

fn encode_node(n: &FlowNode) -> NodeDoc {
    let kind = match &n.kind {
        NodeKind::Approval(t) => KindDoc::Approval(encode_task(t)),
        NodeKind::Handler(t) => KindDoc::Handler(encode_task(t)),
        NodeKind::Cc { rule, next } => KindDoc::Cc {
            rule: encode_rule(rule),
            next: node_str(next),
        },
        NodeKind::Exclusive { branches } => KindDoc::Exclusive {
            branches: branches
                .iter()
                .map(|b| BranchDoc {
                    name: b.name.clone(),
                    priority: b.priority,
                    condition: b.condition.as_ref().map(|c| {
                        c.any_of
                            .iter()
                            .map(|g| g.iter().map(encode_atom).collect())
                            .collect()
                    }),
                    target: node_str(&b.target),
                })
                .collect(),
        },
        NodeKind::Parallel { branches, join } => KindDoc::Parallel {
            branches: branches.iter().map(|b| b.as_str().to_owned()).collect(),
            join: join.as_str().to_owned(),
        },
        NodeKind::Join { next } => KindDoc::Join {
            next: node_str(next),
        },
    };
    NodeDoc {
        key: n.key.as_str().to_owned(),
        name: n.name.clone(),
        kind,
    }
}

fn decode_node(n: NodeDoc) -> R<FlowNode> {
    let kind = match n.kind {
        KindDoc::Approval(t) => NodeKind::Approval(decode_task(t)?),
        KindDoc::Handler(t) => NodeKind::Handler(decode_task(t)?),
        KindDoc::Cc { rule, next } => NodeKind::Cc {
            rule: decode_rule(rule)?,
            next: opt_node(&next)?,
        },
        KindDoc::Exclusive { branches } => NodeKind::Exclusive {
            branches: branches
                .into_iter()
                .map(|b| {
                    Ok(Branch {
                        name: b.name,
                        priority: b.priority,
                        condition: b
                            .condition
                            .map(|groups| {
                                Ok::<_, Bad>(Condition {
                                    any_of: groups
                                        .into_iter()
                                        .map(|g| g.into_iter().map(decode_atom).collect())
                                        .collect::<R<_>>()?,
                                })
                            })
                            .transpose()?,
                        target: opt_node(&b.target)?,
                    })
                })
                .collect::<R<_>>()?,
        },
        KindDoc::Parallel { branches, join } => NodeKind::Parallel {
            branches: branches.iter().map(|b| node(b)).collect::<R<_>>()?,
            join: node(&join)?,
        },
        KindDoc::Join { next } => NodeKind::Join {
            next: opt_node(&next)?,
        },
    };
    Ok(FlowNode {
        key: node(&n.key)?,
        name: n.name,
        kind,
    })
}

/// A template draft as stored JSON.
pub(crate) fn encode_template(d: &TemplateDraft) -> String {
    let doc = TemplateDoc {
        id: d.id.as_str().to_owned(),
        name: texts(&d.name),
        controls: d.form.controls.iter().map(encode_control).collect(),
        flow: FlowDoc {
            start: node_str(&d.flow.start),
            nodes: d.flow.nodes.iter().map(encode_node).collect(),
            dedup: dedup_str(d.flow.dedup),
        },
        admins: user_strs(&d.admins),
        withdraw: withdraw_str(d.withdraw),
    };
    serde_json::to_string(&doc).unwrap_or_default()
}

/// A template draft from stored JSON.
pub(crate) fn decode_template(raw: &str) -> R<TemplateDraft> {
    let doc: TemplateDoc = serde_json::from_str(raw).map_err(bad)?;
    Ok(TemplateDraft {
        id: TemplateId::parse(&doc.id).map_err(bad)?,
        name: lang_texts(doc.name),
        form: FormSpec {
            controls: doc
                .controls
                .into_iter()
                .map(decode_control)
                .collect::<R<_>>()?,
        },
        flow: Flow {
            start: opt_node(&doc.flow.start)?,
            nodes: doc
                .flow
                .nodes
                .into_iter()
                .map(decode_node)
                .collect::<R<_>>()?,
            dedup: dedup_of(&doc.flow.dedup)?,
        },
        admins: users(&doc.admins)?,
        withdraw: withdraw_of(&doc.withdraw)?,
    })
}

// ---- form values --------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct RangeDoc {
    hour: bool,
    begin: i64,
    end: i64,
    duration: i64,
    zone_offset: Option<i32>,
}

#[derive(Serialize, Deserialize)]
struct SlicesDoc {
    day_items: Vec<(i64, i64)>,
    duration: i64,
    state: u8,
}

#[derive(Serialize, Deserialize)]
struct BankDoc {
    account_type: u8,
    account_name: String,
    account_number: String,
    remark: String,
    bank_alias: String,
    bank_alias_code: String,
    province: String,
    province_code: i64,
    city: String,
    city_code: i64,
    bank_branch_name: String,
    bank_branch_id: String,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "k", content = "v", rename_all = "snake_case")]
enum ValueDoc {
    Text(String),
    Number(String),
    Money(i64),
    Date {
        hour: bool,
        at: i64,
        zone_offset: Option<i32>,
    },
    DateRange(RangeDoc),
    Selector(Vec<String>),
    Members(Vec<(String, String)>),
    Departments(Vec<(u32, String)>),
    Files(Vec<(String, String)>),
    Table(Vec<BTreeMap<String, ValueDoc>>),
    Vacation {
        leave_type: u32,
        range: RangeDoc,
        slices: Option<SlicesDoc>,
    },
    Attendance {
        kind: u8,
        range: RangeDoc,
        slices: Option<SlicesDoc>,
    },
    PunchCorrection {
        state: String,
        time: i64,
        version: u32,
        daymonthyear: i64,
    },
    Location {
        latitude: String,
        longitude: String,
        title: String,
        address: String,
        time: i64,
    },
    RelatedApproval(Vec<String>),
    Formula(String),
    BankAccount(Box<BankDoc>),
    Phone {
        country_code: String,
        number: String,
    },
}

fn encode_range(r: &DateRangeValue) -> RangeDoc {
    RangeDoc {
        hour: unit_is_hour(r.unit),
        begin: r.begin,
        end: r.end,
        duration: r.duration,
        zone_offset: r.zone_offset,
    }
}
fn decode_range(r: RangeDoc) -> DateRangeValue {
    DateRangeValue {
        unit: unit_of(r.hour),
        begin: r.begin,
        end: r.end,
        duration: r.duration,
        zone_offset: r.zone_offset,
    }
}
fn encode_slices(s: &Option<SliceInfo>) -> Option<SlicesDoc> {
    s.as_ref().map(|s| SlicesDoc {
        day_items: s
            .day_items
            .iter()
            .map(|d| (d.daytime, d.duration))
            .collect(),
        duration: s.duration,
        state: s.state,
    })
}
fn decode_slices(s: Option<SlicesDoc>) -> Option<SliceInfo> {
    s.map(|s| SliceInfo {
        day_items: s
            .day_items
            .into_iter()
            .map(|(daytime, duration)| DaySlice { daytime, duration })
            .collect(),
        duration: s.duration,
        state: s.state,
    })
}

fn encode_values(values: &BTreeMap<ControlId, ControlValue>) -> BTreeMap<String, ValueDoc> {
    values
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), encode_value(v)))
        .collect()
}

fn decode_values(values: BTreeMap<String, ValueDoc>) -> R<BTreeMap<ControlId, ControlValue>> {
    values
        .into_iter()
        .map(|(k, v)| Ok((control(&k)?, decode_value(v)?)))
        .collect()
}

fn encode_value(v: &ControlValue) -> ValueDoc {
    match v {
        ControlValue::Text(t) => ValueDoc::Text(t.clone()),
        ControlValue::Number(d) => ValueDoc::Number(d.to_string()),
        ControlValue::Money(m) => ValueDoc::Money(m.minor),
        ControlValue::Date(d) => ValueDoc::Date {
            hour: d.kind == DateKind::Hour,
            at: d.at,
            zone_offset: d.zone_offset,
        },
        ControlValue::DateRange(r) => ValueDoc::DateRange(encode_range(r)),
        ControlValue::Selector(k) => ValueDoc::Selector(k.clone()),
        ControlValue::Members(m) => ValueDoc::Members(
            m.iter()
                .map(|m| (m.userid.as_str().to_owned(), m.name.clone()))
                .collect(),
        ),
        ControlValue::Departments(d) => {
            ValueDoc::Departments(d.iter().map(|d| (d.dept.get(), d.name.clone())).collect())
        }
        ControlValue::Files(f) => ValueDoc::Files(
            f.iter()
                .map(|f| (f.file_id.clone(), f.file_name.clone()))
                .collect(),
        ),
        ControlValue::Table(rows) => ValueDoc::Table(rows.iter().map(encode_values).collect()),
        ControlValue::Vacation(v) => ValueDoc::Vacation {
            leave_type: v.leave_type,
            range: encode_range(&v.range),
            slices: encode_slices(&v.slices),
        },
        ControlValue::Attendance(a) => ValueDoc::Attendance {
            kind: a.kind.code(),
            range: encode_range(&a.range),
            slices: encode_slices(&a.slices),
        },
        ControlValue::PunchCorrection(p) => ValueDoc::PunchCorrection {
            state: p.state.clone(),
            time: p.time,
            version: p.version,
            daymonthyear: p.daymonthyear,
        },
        ControlValue::Location(l) => ValueDoc::Location {
            latitude: l.latitude.to_string(),
            longitude: l.longitude.to_string(),
            title: l.title.clone(),
            address: l.address.clone(),
            time: l.time,
        },
        ControlValue::RelatedApproval(s) => {
            ValueDoc::RelatedApproval(s.iter().map(|s| s.as_str().to_owned()).collect())
        }
        ControlValue::Formula(d) => ValueDoc::Formula(d.to_string()),
        ControlValue::BankAccount(b) => ValueDoc::BankAccount(Box::new(BankDoc {
            account_type: b.account_type,
            account_name: b.account_name.clone(),
            account_number: b.account_number.clone(),
            remark: b.remark.clone(),
            bank_alias: b.bank.bank_alias.clone(),
            bank_alias_code: b.bank.bank_alias_code.clone(),
            province: b.bank.province.clone(),
            province_code: b.bank.province_code,
            city: b.bank.city.clone(),
            city_code: b.bank.city_code,
            bank_branch_name: b.bank.bank_branch_name.clone(),
            bank_branch_id: b.bank.bank_branch_id.clone(),
        })),
        ControlValue::Phone(p) => ValueDoc::Phone {
            country_code: p.country_code.clone(),
            number: p.number.clone(),
        },
    }
}

fn decode_value(v: ValueDoc) -> R<ControlValue> {
    Ok(match v {
        ValueDoc::Text(t) => ControlValue::Text(t),
        ValueDoc::Number(d) => ControlValue::Number(dec(&d)?),
        ValueDoc::Money(minor) => ControlValue::Money(Money { minor }),
        ValueDoc::Date {
            hour,
            at,
            zone_offset,
        } => ControlValue::Date(DateValue {
            kind: if hour { DateKind::Hour } else { DateKind::Day },
            at,
            zone_offset,
        }),
        ValueDoc::DateRange(r) => ControlValue::DateRange(decode_range(r)),
        ValueDoc::Selector(k) => ControlValue::Selector(k),
        ValueDoc::Members(m) => ControlValue::Members(
            m.into_iter()
                .map(|(u, name)| {
                    Ok(MemberRef {
                        userid: user(&u)?,
                        name,
                    })
                })
                .collect::<R<_>>()?,
        ),
        ValueDoc::Departments(d) => ControlValue::Departments(
            d.into_iter()
                .map(|(d, name)| {
                    Ok(DeptRef {
                        dept: dept(d)?,
                        name,
                    })
                })
                .collect::<R<_>>()?,
        ),
        ValueDoc::Files(f) => ControlValue::Files(
            f.into_iter()
                .map(|(file_id, file_name)| FileRef { file_id, file_name })
                .collect(),
        ),
        ValueDoc::Table(rows) => {
            ControlValue::Table(rows.into_iter().map(decode_values).collect::<R<_>>()?)
        }
        ValueDoc::Vacation {
            leave_type,
            range,
            slices,
        } => ControlValue::Vacation(VacationValue {
            leave_type,
            range: decode_range(range),
            slices: decode_slices(slices),
        }),
        ValueDoc::Attendance {
            kind,
            range,
            slices,
        } => ControlValue::Attendance(AttendanceValue {
            kind: AttendanceKind::from_code(i64::from(kind))
                .ok_or_else(|| bad("attendance kind"))?,
            range: decode_range(range),
            slices: decode_slices(slices),
        }),
        ValueDoc::PunchCorrection {
            state,
            time,
            version,
            daymonthyear,
        } => ControlValue::PunchCorrection(PunchCorrectionValue {
            state,
            time,
            version,
            daymonthyear,
        }),
        ValueDoc::Location {
            latitude,
            longitude,
            title,
            address,
            time,
        } => ControlValue::Location(LocationValue {
            latitude: dec(&latitude)?,
            longitude: dec(&longitude)?,
            title,
            address,
            time,
        }),
        ValueDoc::RelatedApproval(s) => ControlValue::RelatedApproval(
            s.iter()
                .map(|s| SpNo::parse(s).map_err(bad))
                .collect::<R<_>>()?,
        ),
        ValueDoc::Formula(d) => ControlValue::Formula(dec(&d)?),
        ValueDoc::BankAccount(b) => ControlValue::BankAccount(BankAccount {
            account_type: b.account_type,
            account_name: b.account_name,
            account_number: b.account_number,
            remark: b.remark,
            bank: Bank {
                bank_alias: b.bank_alias,
                bank_alias_code: b.bank_alias_code,
                province: b.province,
                province_code: b.province_code,
                city: b.city,
                city_code: b.city_code,
                bank_branch_name: b.bank_branch_name,
                bank_branch_id: b.bank_branch_id,
            },
        }),
        ValueDoc::Phone {
            country_code,
            number,
        } => ControlValue::Phone(PhoneNumber {
            country_code,
            number,
        }),
    })
}

// ---- events -------------------------------------------------------------

#[derive(Serialize, Deserialize)]
#[serde(tag = "k", content = "v", rename_all = "snake_case")]
enum AutoDoc {
    EmptyApprover,
    ApplicantSkipped,
    Dedup(String),
    Timeout,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "k", content = "v", rename_all = "snake_case")]
enum ReasonDoc {
    Named,
    Role(u32),
    Leader { level: u8, via: String },
    DeptHead { level: u8, dept: u32 },
    ChosenByApplicant,
    FromControl(String),
    FromControlDeptHead { control: String, dept: u32 },
    Applicant,
    Admin,
    InsteadOfApplicant,
    TransferredBy(String),
    AddedBy { by: String, position: String },
    Escalated(String),
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "k", content = "v", rename_all = "snake_case")]
enum RecordStatusDoc {
    Pending,
    Waiting,
    Approving,
    Approved,
    Rejected,
    Handled,
    Transferred(u32),
    HandedOver(u32),
    Returned(String),
    Auto { approved: bool, why: AutoDoc },
    Skipped(AutoDoc),
    Superseded,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "k", content = "v", rename_all = "snake_case")]
enum ActivationStatusDoc {
    Active,
    Passed,
    Rejected,
    Cancelled(String),
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "k", content = "v", rename_all = "snake_case")]
enum BodyDoc {
    Submitted {
        template: String,
        version: u32,
        applicant: String,
        dept: u32,
        form: BTreeMap<String, ValueDoc>,
        chosen: BTreeMap<String, Vec<String>>,
    },
    BranchTaken {
        gateway: String,
        branch: usize,
    },
    Activated {
        activation: u32,
        node: String,
        attempt: u32,
        by_return: bool,
        path: Vec<(String, usize)>,
        timers: Vec<(String, i64)>,
    },
    RecordOpened {
        record: u32,
        activation: u32,
        user: String,
        reason: ReasonDoc,
        stage: u32,
        parent: Option<u32>,
    },
    RecordChanged {
        record: u32,
        status: RecordStatusDoc,
        speech: String,
    },
    ActivationEnded {
        activation: u32,
        status: ActivationStatusDoc,
        auto: Option<AutoDoc>,
    },
    JoinArrived {
        join: String,
        branch: usize,
    },
    JoinPassed {
        join: String,
    },
    JoinsReset {
        joins: Vec<String>,
    },
    CcSent {
        node: String,
        users: Vec<(String, ReasonDoc)>,
    },
    Returned {
        record: u32,
        to: String,
    },
    Commented {
        id: u32,
        by: String,
        text: String,
    },
    Urged {
        users: Vec<String>,
    },
    Reminded {
        activation: u32,
        users: Vec<String>,
    },
    TimerFired {
        activation: u32,
        kind: String,
    },
    Finished {
        status: String,
    },
}

fn encode_auto(a: &AutoReason) -> AutoDoc {
    match a {
        AutoReason::EmptyApprover => AutoDoc::EmptyApprover,
        AutoReason::ApplicantSkipped => AutoDoc::ApplicantSkipped,
        AutoReason::Dedup { node } => AutoDoc::Dedup(node.as_str().to_owned()),
        AutoReason::Timeout => AutoDoc::Timeout,
    }
}
fn decode_auto(a: AutoDoc) -> R<AutoReason> {
    Ok(match a {
        AutoDoc::EmptyApprover => AutoReason::EmptyApprover,
        AutoDoc::ApplicantSkipped => AutoReason::ApplicantSkipped,
        AutoDoc::Dedup(n) => AutoReason::Dedup { node: node(&n)? },
        AutoDoc::Timeout => AutoReason::Timeout,
    })
}

fn encode_reason(r: &Reason) -> ReasonDoc {
    match r {
        Reason::Named => ReasonDoc::Named,
        Reason::Role(t) => ReasonDoc::Role(t.0),
        Reason::Leader { level, via } => ReasonDoc::Leader {
            level: *level,
            via: via.as_str().to_owned(),
        },
        Reason::DeptHead { level, dept } => ReasonDoc::DeptHead {
            level: *level,
            dept: dept.get(),
        },
        Reason::ChosenByApplicant => ReasonDoc::ChosenByApplicant,
        Reason::FromControl(c) => ReasonDoc::FromControl(c.as_str().to_owned()),
        Reason::FromControlDeptHead { control, dept } => ReasonDoc::FromControlDeptHead {
            control: control.as_str().to_owned(),
            dept: dept.get(),
        },
        Reason::Applicant => ReasonDoc::Applicant,
        Reason::Admin => ReasonDoc::Admin,
        Reason::InsteadOfApplicant => ReasonDoc::InsteadOfApplicant,
        Reason::TransferredBy(u) => ReasonDoc::TransferredBy(u.as_str().to_owned()),
        Reason::AddedBy { by, position } => ReasonDoc::AddedBy {
            by: by.as_str().to_owned(),
            position: position_str(*position),
        },
        Reason::Escalated { from } => ReasonDoc::Escalated(from.as_str().to_owned()),
    }
}
fn decode_reason(r: ReasonDoc) -> R<Reason> {
    Ok(match r {
        ReasonDoc::Named => Reason::Named,
        ReasonDoc::Role(t) => Reason::Role(TagId(t)),
        ReasonDoc::Leader { level, via } => Reason::Leader {
            level,
            via: user(&via)?,
        },
        ReasonDoc::DeptHead { level, dept: d } => Reason::DeptHead {
            level,
            dept: dept(d)?,
        },
        ReasonDoc::ChosenByApplicant => Reason::ChosenByApplicant,
        ReasonDoc::FromControl(c) => Reason::FromControl(control(&c)?),
        ReasonDoc::FromControlDeptHead {
            control: c,
            dept: d,
        } => Reason::FromControlDeptHead {
            control: control(&c)?,
            dept: dept(d)?,
        },
        ReasonDoc::Applicant => Reason::Applicant,
        ReasonDoc::Admin => Reason::Admin,
        ReasonDoc::InsteadOfApplicant => Reason::InsteadOfApplicant,
        ReasonDoc::TransferredBy(u) => Reason::TransferredBy(user(&u)?),
        ReasonDoc::AddedBy { by, position } => Reason::AddedBy {
            by: user(&by)?,
            position: position_of(&position)?,
        },
        ReasonDoc::Escalated(from) => Reason::Escalated { from: user(&from)? },
    })
}

fn encode_record_status(s: &RecordStatus) -> RecordStatusDoc {
    match s {
        RecordStatus::Pending => RecordStatusDoc::Pending,
        RecordStatus::Waiting => RecordStatusDoc::Waiting,
        RecordStatus::Approving => RecordStatusDoc::Approving,
        RecordStatus::Approved => RecordStatusDoc::Approved,
        RecordStatus::Rejected => RecordStatusDoc::Rejected,
        RecordStatus::Handled => RecordStatusDoc::Handled,
        RecordStatus::Transferred(r) => RecordStatusDoc::Transferred(r.0),
        RecordStatus::HandedOver(r) => RecordStatusDoc::HandedOver(r.0),
        RecordStatus::Returned(n) => RecordStatusDoc::Returned(n.as_str().to_owned()),
        RecordStatus::Auto { approved, why } => RecordStatusDoc::Auto {
            approved: *approved,
            why: encode_auto(why),
        },
        RecordStatus::Skipped(why) => RecordStatusDoc::Skipped(encode_auto(why)),
        RecordStatus::Superseded => RecordStatusDoc::Superseded,
    }
}
fn decode_record_status(s: RecordStatusDoc) -> R<RecordStatus> {
    Ok(match s {
        RecordStatusDoc::Pending => RecordStatus::Pending,
        RecordStatusDoc::Waiting => RecordStatus::Waiting,
        RecordStatusDoc::Approving => RecordStatus::Approving,
        RecordStatusDoc::Approved => RecordStatus::Approved,
        RecordStatusDoc::Rejected => RecordStatus::Rejected,
        RecordStatusDoc::Handled => RecordStatus::Handled,
        RecordStatusDoc::Transferred(r) => RecordStatus::Transferred(RecordId(r)),
        RecordStatusDoc::HandedOver(r) => RecordStatus::HandedOver(RecordId(r)),
        RecordStatusDoc::Returned(n) => RecordStatus::Returned(node(&n)?),
        RecordStatusDoc::Auto { approved, why } => RecordStatus::Auto {
            approved,
            why: decode_auto(why)?,
        },
        RecordStatusDoc::Skipped(why) => RecordStatus::Skipped(decode_auto(why)?),
        RecordStatusDoc::Superseded => RecordStatus::Superseded,
    })
}

fn encode_activation_status(s: ActivationStatus) -> ActivationStatusDoc {
    match s {
        ActivationStatus::Active => ActivationStatusDoc::Active,
        ActivationStatus::Passed => ActivationStatusDoc::Passed,
        ActivationStatus::Rejected => ActivationStatusDoc::Rejected,
        ActivationStatus::Cancelled(c) => ActivationStatusDoc::Cancelled(cancel_str(c)),
    }
}
fn decode_activation_status(s: ActivationStatusDoc) -> R<ActivationStatus> {
    Ok(match s {
        ActivationStatusDoc::Active => ActivationStatus::Active,
        ActivationStatusDoc::Passed => ActivationStatus::Passed,
        ActivationStatusDoc::Rejected => ActivationStatus::Rejected,
        ActivationStatusDoc::Cancelled(c) => ActivationStatus::Cancelled(cancel_of(&c)?),
    })
}

fn encode_body(b: &EventBody) -> BodyDoc {
    let s = |n: &NodeKey| n.as_str().to_owned();
    match b {
        EventBody::Submitted {
            template,
            version,
            applicant,
            dept,
            form,
            chosen,
        } => BodyDoc::Submitted {
            template: template.as_str().to_owned(),
            version: version.0,
            applicant: applicant.as_str().to_owned(),
            dept: dept.get(),
            form: encode_values(form.values()),
            chosen: chosen.iter().map(|(k, v)| (s(k), user_strs(v))).collect(),
        },
        EventBody::BranchTaken { gateway, branch } => BodyDoc::BranchTaken {
            gateway: s(gateway),
            branch: *branch,
        },
        EventBody::Activated {
            activation,
            node,
            attempt,
            by_return,
            path,
            timers,
        } => BodyDoc::Activated {
            activation: activation.0,
            node: s(node),
            attempt: *attempt,
            by_return: *by_return,
            path: path.iter().map(|(n, i)| (s(n), *i)).collect(),
            timers: timers
                .iter()
                .map(|t| (timer_str(t.kind), t.due_at))
                .collect(),
        },
        EventBody::RecordOpened {
            record,
            activation,
            user,
            reason,
            stage,
            parent,
        } => BodyDoc::RecordOpened {
            record: record.0,
            activation: activation.0,
            user: user.as_str().to_owned(),
            reason: encode_reason(reason),
            stage: *stage,
            parent: parent.map(|p| p.0),
        },
        EventBody::RecordChanged {
            record,
            status,
            speech,
        } => BodyDoc::RecordChanged {
            record: record.0,
            status: encode_record_status(status),
            speech: speech.clone(),
        },
        EventBody::ActivationEnded {
            activation,
            status,
            auto,
        } => BodyDoc::ActivationEnded {
            activation: activation.0,
            status: encode_activation_status(*status),
            auto: auto.as_ref().map(encode_auto),
        },
        EventBody::JoinArrived { join, branch } => BodyDoc::JoinArrived {
            join: s(join),
            branch: *branch,
        },
        EventBody::JoinPassed { join } => BodyDoc::JoinPassed { join: s(join) },
        EventBody::JoinsReset { joins } => BodyDoc::JoinsReset {
            joins: joins.iter().map(s).collect(),
        },
        EventBody::CcSent { node, users } => BodyDoc::CcSent {
            node: s(node),
            users: users
                .iter()
                .map(|(u, r)| (u.as_str().to_owned(), encode_reason(r)))
                .collect(),
        },
        EventBody::Returned { record, to } => BodyDoc::Returned {
            record: record.0,
            to: s(to),
        },
        EventBody::Commented { id, by, text } => BodyDoc::Commented {
            id: *id,
            by: by.as_str().to_owned(),
            text: text.clone(),
        },
        EventBody::Urged { users } => BodyDoc::Urged {
            users: user_strs(users),
        },
        EventBody::Reminded { activation, users } => BodyDoc::Reminded {
            activation: activation.0,
            users: user_strs(users),
        },
        EventBody::TimerFired { activation, kind } => BodyDoc::TimerFired {
            activation: activation.0,
            kind: timer_str(*kind),
        },
        EventBody::Finished { status } => BodyDoc::Finished {
            status: status_str(*status),
        },
    }
}

fn decode_body(b: BodyDoc) -> R<EventBody> {
    Ok(match b {
        BodyDoc::Submitted {
            template,
            version,
            applicant,
            dept: d,
            form,
            chosen,
        } => EventBody::Submitted {
            template: TemplateId::parse(&template).map_err(bad)?,
            version: TemplateVersion(version),
            applicant: user(&applicant)?,
            dept: dept(d)?,
            form: FormData::restore(decode_values(form)?),
            chosen: chosen
                .into_iter()
                .map(|(k, v)| Ok((node(&k)?, users(&v)?)))
                .collect::<R<_>>()?,
        },
        BodyDoc::BranchTaken { gateway, branch } => EventBody::BranchTaken {
            gateway: node(&gateway)?,
            branch,
        },
        BodyDoc::Activated {
            activation,
            node: n,
            attempt,
            by_return,
            path,
            timers,
        } => EventBody::Activated {
            activation: ActivationId(activation),
            node: node(&n)?,
            attempt,
            by_return,
            path: path
                .into_iter()
                .map(|(n, i)| Ok((node(&n)?, i)))
                .collect::<R<_>>()?,
            timers: timers
                .into_iter()
                .map(|(k, due_at)| {
                    Ok(Timer {
                        kind: timer_of(&k)?,
                        due_at,
                    })
                })
                .collect::<R<_>>()?,
        },
        BodyDoc::RecordOpened {
            record,
            activation,
            user: u,
            reason,
            stage,
            parent,
        } => EventBody::RecordOpened {
            record: RecordId(record),
            activation: ActivationId(activation),
            user: user(&u)?,
            reason: decode_reason(reason)?,
            stage,
            parent: parent.map(RecordId),
        },
        BodyDoc::RecordChanged {
            record,
            status,
            speech,
        } => EventBody::RecordChanged {
            record: RecordId(record),
            status: decode_record_status(status)?,
            speech,
        },
        BodyDoc::ActivationEnded {
            activation,
            status,
            auto,
        } => EventBody::ActivationEnded {
            activation: ActivationId(activation),
            status: decode_activation_status(status)?,
            auto: auto.map(decode_auto).transpose()?,
        },
        BodyDoc::JoinArrived { join, branch } => EventBody::JoinArrived {
            join: node(&join)?,
            branch,
        },
        BodyDoc::JoinPassed { join } => EventBody::JoinPassed { join: node(&join)? },
        BodyDoc::JoinsReset { joins } => EventBody::JoinsReset {
            joins: joins.iter().map(|j| node(j)).collect::<R<_>>()?,
        },
        BodyDoc::CcSent { node: n, users: u } => EventBody::CcSent {
            node: node(&n)?,
            users: u
                .into_iter()
                .map(|(u, r)| Ok((user(&u)?, decode_reason(r)?)))
                .collect::<R<_>>()?,
        },
        BodyDoc::Returned { record, to } => EventBody::Returned {
            record: RecordId(record),
            to: node(&to)?,
        },
        BodyDoc::Commented { id, by, text } => EventBody::Commented {
            id,
            by: user(&by)?,
            text,
        },
        BodyDoc::Urged { users: u } => EventBody::Urged { users: users(&u)? },
        BodyDoc::Reminded {
            activation,
            users: u,
        } => EventBody::Reminded {
            activation: ActivationId(activation),
            users: users(&u)?,
        },
        BodyDoc::TimerFired { activation, kind } => EventBody::TimerFired {
            activation: ActivationId(activation),
            kind: timer_of(&kind)?,
        },
        BodyDoc::Finished { status } => EventBody::Finished {
            status: status_of(&status)?,
        },
    })
}

/// An event's body as stored JSON.
pub(crate) fn encode_event_body(b: &EventBody) -> String {
    serde_json::to_string(&encode_body(b)).unwrap_or_default()
}

/// The stored actor column: the member's userid, `NULL` for the system.
pub(crate) fn actor_column(a: &Actor) -> Option<String> {
    match a {
        Actor::Member(u) => Some(u.as_str().to_owned()),
        Actor::System => None,
    }
}

/// An event from its stored columns.
pub(crate) fn decode_event(
    seq: u64,
    at: i64,
    key: &str,
    actor: Option<&str>,
    body: &str,
) -> R<Event> {
    let doc: BodyDoc = serde_json::from_str(body).map_err(bad)?;
    Ok(Event {
        seq,
        at,
        key: IdempotencyKey::parse(key).map_err(bad)?,
        actor: match actor {
            Some(u) => Actor::Member(user(u)?),
            None => Actor::System,
        },
        body: decode_body(doc)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use qiye_domain::approval::form::PunchCorrectionValue;

    fn c(s: &str) -> ControlId {
        ControlId::parse(s).unwrap()
    }
    fn k(s: &str) -> NodeKey {
        NodeKey::parse(s).unwrap()
    }
    fn u(s: &str) -> UserId {
        UserId::parse(s).unwrap()
    }
    fn d(n: i64) -> DeptId {
        DeptId::new(n).unwrap()
    }

    /// Every control kind, every node kind, every rule, mode and atom.
    fn everything() -> TemplateDraft {
        let zh = |t: &str| vec![LangText::zh(t)];
        let configs = vec![
            ControlConfig::Text {
                max_chars: Some(10),
            },
            ControlConfig::Textarea { max_chars: None },
            ControlConfig::Number {
                min: Some("-1.5".parse().unwrap()),
                max: None,
                places: Some(2),
            },
            ControlConfig::Money {
                min: None,
                max: Some("100".parse().unwrap()),
            },
            ControlConfig::Date {
                kind: DateKind::Hour,
            },
            ControlConfig::DateRange {
                unit: RangeUnit::HalfDay,
                workdays: true,
                perday_secs: 28_800,
            },
            ControlConfig::Selector {
                multi: true,
                options: vec![SelectorOption {
                    key: "option-1".into(),
                    value: zh("甲"),
                }],
                relations: vec![("option-1".into(), vec![c("Text-01")])],
            },
            ControlConfig::Contact {
                multi: false,
                departments: true,
            },
            ControlConfig::Tips {
                content: vec![(
                    "zh_CN".into(),
                    vec![
                        TipsPart::Text("看".into()),
                        TipsPart::Link {
                            title: "链接".into(),
                            url: "https://example.com".into(),
                        },
                    ],
                )],
            },
            ControlConfig::File {
                only_photo: true,
                max_files: 3,
            },
            ControlConfig::Table {
                children: vec![ControlSpec::new(
                    "Money-01",
                    "小计",
                    false,
                    ControlConfig::Money {
                        min: None,
                        max: None,
                    },
                )],
                print_rows: true,
            },
            ControlConfig::Vacation {
                leave_types: vec![LeaveType {
                    id: 1,
                    name: zh("年假"),
                }],
            },
            ControlConfig::Attendance {
                kind: AttendanceKind::Overtime,
                unit: RangeUnit::Hour,
            },
            ControlConfig::PunchCorrection,
            ControlConfig::Location { distance: 200 },
            ControlConfig::RelatedApproval {
                templates: vec![TemplateId::parse("other").unwrap()],
            },
            ControlConfig::Formula {
                source: "SUM({Table-11.Money-01})*2".into(),
                expr: Expr::parse("SUM({Table-11.Money-01})*2").unwrap(),
            },
            ControlConfig::BankAccount,
            ControlConfig::PhoneNumber,
        ];
        let controls = configs
            .into_iter()
            .enumerate()
            .map(|(i, config)| {
                let id = format!("{}-{:02}", config.kind().wecom_name(), i + 1);
                let mut spec = ControlSpec::new(&id, &format!("标题{i}"), i % 2 == 0, config);
                spec.placeholder = zh("请填写");
                spec.un_print = i % 3 == 0;
                spec
            })
            .collect();
        let task = |rule, mode, next: Option<&str>| TaskNode {
            rule,
            mode,
            on_empty: Some(EmptyPolicy::ToAdmins),
            applicant_is_approver: SelfPolicy::ToLeader,
            timeout: Some(Timeout {
                remind_after_secs: Some(60),
                deadline: Some((3600, TimeoutAction::EscalateToLeader)),
            }),
            next: next.map(k),
        };
        let node = |key: &str, kind| FlowNode {
            key: k(key),
            name: key.into(),
            kind,
        };
        let atoms = [
            Atom::Compare {
                control: c("Money-04"),
                cmp: Cmp::Ge,
                value: "10.5".parse().unwrap(),
            },
            Atom::AnyOf {
                control: c("Selector-07"),
                keys: vec!["option-1".into()],
            },
            Atom::NoneOf {
                control: c("Selector-07"),
                keys: vec![],
            },
            Atom::Contains {
                control: c("Text-01"),
                text: "急".into(),
            },
            Atom::IsEmpty {
                control: c("Textarea-02"),
            },
            Atom::ApplicantInDept { dept: d(3) },
            Atom::ApplicantHasRole { role: TagId(2) },
        ];
        TemplateDraft {
            id: TemplateId::parse("everything").unwrap(),
            name: vec![
                LangText::zh("全部"),
                LangText {
                    text: "All".into(),
                    lang: "en".into(),
                },
            ],
            form: FormSpec { controls },
            flow: Flow {
                start: Some(k("gate")),
                nodes: vec![
                    node(
                        "gate",
                        NodeKind::Exclusive {
                            branches: vec![
                                Branch {
                                    name: "大".into(),
                                    priority: 1,
                                    condition: Some(Condition {
                                        any_of: vec![atoms[..3].to_vec(), atoms[3..].to_vec()],
                                    }),
                                    target: Some(k("split")),
                                },
                                Branch {
                                    name: "默认".into(),
                                    priority: 2,
                                    condition: None,
                                    target: None,
                                },
                            ],
                        },
                    ),
                    node(
                        "split",
                        NodeKind::Parallel {
                            branches: vec![k("a"), k("b")],
                            join: k("join"),
                        },
                    ),
                    node(
                        "a",
                        NodeKind::Approval(task(
                            ApproverRule::LeaderChain {
                                source: ChainSource::DeptHead,
                                stop_level: 3,
                            },
                            SignMode::Ratio { percent: 60 },
                            Some("join"),
                        )),
                    ),
                    node(
                        "b",
                        NodeKind::Handler(task(
                            ApproverRule::ChosenByApplicant { multi: true },
                            SignMode::Vote { pass: 2 },
                            Some("join"),
                        )),
                    ),
                    node(
                        "join",
                        NodeKind::Join {
                            next: Some(k("cc")),
                        },
                    ),
                    node(
                        "cc",
                        NodeKind::Cc {
                            rule: ApproverRule::Role(TagId(1)),
                            next: Some(k("last")),
                        },
                    ),
                    node(
                        "last",
                        NodeKind::Approval(task(
                            ApproverRule::Leader {
                                source: ChainSource::Superior,
                                level: 2,
                            },
                            SignMode::Sequential,
                            None,
                        )),
                    ),
                ],
                dedup: Dedup::KeepLast,
            },
            admins: vec![u("gina")],
            withdraw: WithdrawRule::BeforeFirstApproval,
        }
    }

    #[test]
    fn drafts_round_trip() {
        let draft = everything();
        assert_eq!(decode_template(&encode_template(&draft)).unwrap(), draft);
    }

    #[test]
    fn values_round_trip() {
        let range = DateRangeValue {
            unit: RangeUnit::Hour,
            begin: 1,
            end: 7201,
            duration: 7200,
            zone_offset: Some(8),
        };
        let slices = Some(SliceInfo {
            day_items: vec![DaySlice {
                daytime: 0,
                duration: 7200,
            }],
            duration: 7200,
            state: 1,
        });
        let mut row = BTreeMap::new();
        row.insert(c("Money-01"), ControlValue::Money(Money { minor: 5 }));
        let values = vec![
            ControlValue::Text("文 <x>".into()),
            ControlValue::Number("-0.000001".parse().unwrap()),
            ControlValue::Money(Money { minor: 12_345 }),
            ControlValue::Date(DateValue {
                kind: DateKind::Day,
                at: 1_700_000_000,
                zone_offset: None,
            }),
            ControlValue::DateRange(range),
            ControlValue::Selector(vec!["option-1".into()]),
            ControlValue::Members(vec![MemberRef {
                userid: u("bob"),
                name: "Bob".into(),
            }]),
            ControlValue::Departments(vec![DeptRef {
                dept: d(2),
                name: "销售".into(),
            }]),
            ControlValue::Files(vec![FileRef {
                file_id: "m1".into(),
                file_name: "a.pdf".into(),
            }]),
            ControlValue::Table(vec![row]),
            ControlValue::Vacation(VacationValue {
                leave_type: 1,
                range,
                slices: slices.clone(),
            }),
            ControlValue::Attendance(AttendanceValue {
                kind: AttendanceKind::BusinessTrip,
                range,
                slices: None,
            }),
            ControlValue::PunchCorrection(PunchCorrectionValue {
                state: "正常".into(),
                time: 1,
                version: 1,
                daymonthyear: 2,
            }),
            ControlValue::Location(LocationValue {
                latitude: "30.547030".parse().unwrap(),
                longitude: "104.062890".parse().unwrap(),
                title: "天府".into(),
                address: "成都".into(),
                time: 3,
            }),
            ControlValue::RelatedApproval(vec![SpNo::parse("201909270001").unwrap()]),
            ControlValue::Formula("24.69".parse().unwrap()),
            ControlValue::BankAccount(BankAccount {
                account_type: 2,
                account_name: "张三".into(),
                account_number: "6222000011112222".into(),
                remark: String::new(),
                bank: Bank {
                    bank_alias: "工商银行".into(),
                    province_code: 51,
                    ..Bank::default()
                },
            }),
            ControlValue::Phone(PhoneNumber {
                country_code: "86".into(),
                number: "13800000000".into(),
            }),
        ];
        for v in values {
            let doc = serde_json::to_string(&encode_value(&v)).unwrap();
            let back = decode_value(serde_json::from_str(&doc).unwrap()).unwrap();
            assert_eq!(back, v, "{doc}");
        }
    }

    #[test]
    fn event_bodies_round_trip() {
        let reasons = vec![
            Reason::Named,
            Reason::Role(TagId(1)),
            Reason::Leader {
                level: 2,
                via: u("bob"),
            },
            Reason::DeptHead {
                level: 1,
                dept: d(3),
            },
            Reason::ChosenByApplicant,
            Reason::FromControl(c("Contact-08")),
            Reason::FromControlDeptHead {
                control: c("Contact-08"),
                dept: d(4),
            },
            Reason::Applicant,
            Reason::Admin,
            Reason::InsteadOfApplicant,
            Reason::TransferredBy(u("carol")),
            Reason::AddedBy {
                by: u("dave"),
                position: AddSignPosition::After,
            },
            Reason::Escalated { from: u("erin") },
        ];
        let statuses = vec![
            RecordStatus::Pending,
            RecordStatus::Waiting,
            RecordStatus::Approving,
            RecordStatus::Approved,
            RecordStatus::Rejected,
            RecordStatus::Handled,
            RecordStatus::Transferred(RecordId(3)),
            RecordStatus::HandedOver(RecordId(4)),
            RecordStatus::Returned(k("a")),
            RecordStatus::Auto {
                approved: false,
                why: AutoReason::Timeout,
            },
            RecordStatus::Skipped(AutoReason::Dedup { node: k("b") }),
            RecordStatus::Superseded,
        ];
        let mut bodies: Vec<EventBody> = reasons
            .into_iter()
            .map(|reason| EventBody::RecordOpened {
                record: RecordId(1),
                activation: ActivationId(1),
                user: u("bob"),
                reason,
                stage: 2,
                parent: Some(RecordId(9)),
            })
            .collect();
        bodies.extend(statuses.into_iter().map(|status| EventBody::RecordChanged {
            record: RecordId(1),
            status,
            speech: "好".into(),
        }));
        bodies.extend([
            EventBody::BranchTaken {
                gateway: k("gate"),
                branch: 1,
            },
            EventBody::Activated {
                activation: ActivationId(2),
                node: k("a"),
                attempt: 2,
                by_return: true,
                path: vec![(k("split"), 0)],
                timers: vec![Timer {
                    kind: TimerKind::Deadline,
                    due_at: 99,
                }],
            },
            EventBody::ActivationEnded {
                activation: ActivationId(2),
                status: ActivationStatus::Cancelled(CancelReason::Returned),
                auto: Some(AutoReason::EmptyApprover),
            },
            EventBody::JoinArrived {
                join: k("join"),
                branch: 1,
            },
            EventBody::JoinPassed { join: k("join") },
            EventBody::JoinsReset {
                joins: vec![k("join")],
            },
            EventBody::CcSent {
                node: k("cc"),
                users: vec![(u("frank"), Reason::Role(TagId(1)))],
            },
            EventBody::Returned {
                record: RecordId(5),
                to: k("a"),
            },
            EventBody::Commented {
                id: 1,
                by: u("alice"),
                text: "补充".into(),
            },
            EventBody::Urged {
                users: vec![u("bob")],
            },
            EventBody::Reminded {
                activation: ActivationId(2),
                users: vec![u("bob")],
            },
            EventBody::TimerFired {
                activation: ActivationId(2),
                kind: TimerKind::Remind,
            },
            EventBody::Finished {
                status: InstanceStatus::Withdrawn,
            },
        ]);
        for (n, body) in bodies.into_iter().enumerate() {
            let seq = n as u64 + 1;
            let raw = encode_event_body(&body);
            let event = decode_event(seq, 7, "key-1", Some("alice"), &raw).unwrap();
            assert_eq!(event.body, body, "{raw}");
            assert_eq!(event.actor, Actor::Member(u("alice")));
        }
        assert_eq!(
            decode_event(1, 7, "k", None, r#"{"k":"urged","v":{"users":[]}}"#)
                .unwrap()
                .actor,
            Actor::System
        );
    }

    #[test]
    fn corrupt_documents_are_refused() {
        assert!(decode_template("{").is_err());
        assert!(decode_event(1, 0, "k", None, r#"{"k":"nope"}"#).is_err());
        assert!(
            decode_event(
                1,
                0,
                "k",
                None,
                r#"{"k":"urged","v":{"users":["bad id!"]}}"#
            )
            .is_err()
        );
        assert!(decode_event(1, 0, "bad key!", None, r#"{"k":"urged","v":{"users":[]}}"#).is_err());
    }
}
