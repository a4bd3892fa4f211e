//! Static checks at publish (§6 S2 of the anchors). A template is published
//! only when [`check_template`] finds nothing; otherwise every reason is
//! reported, not just the first.
//!
//! The flow must be a well-formed graph: keys unique, every reference
//! resolves, no cycle, every node reachable from the start, every parallel
//! branch reaching its own join and nothing else, no node shared between
//! two parallel branches. Exclusive gateways are analysed exactly over the
//! values that matter: for every control a condition reads, one point per
//! interval between the constants it is compared with (at the control's
//! resolution, within its bounds), every combination of the selector keys
//! the conditions name, and both truths of every other test. A branch no
//! point reaches is reported, and so is a gateway without a default where
//! some point reaches no branch. When the combinations exceed
//! [`MAX_CASES`], coverage cannot be proven and a default is required.

use std::collections::{BTreeMap, BTreeSet};

use super::decimal::Decimal;
use super::flow::{
    ApproverRule, Atom, Condition, EmptyPolicy, Flow, FlowNode, NodeKind, SignMode, TaskNode,
};
use super::form::{ControlConfig, ControlKind, ControlSpec, FormSpec};
use super::model::{ControlId, NodeKey};
use super::org::Org;

/// Most combinations the branch analysis evaluates per gateway.
pub const MAX_CASES: usize = 4096;
/// Deepest leader level a rule may name.
pub const MAX_LEADER_LEVEL: u8 = 20;

/// One reason a template cannot be published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateIssue {
    /// The template's name.
    #[error("template name: {0}")]
    Name(String),
    /// The form as a whole.
    #[error("form: {0}")]
    Form(String),
    /// One control.
    #[error("control {title} ({control}): {reason}")]
    Control {
        /// Its id.
        control: ControlId,
        /// Its title.
        title: String,
        /// What is wrong.
        reason: String,
    },
    /// The flow as a whole.
    #[error("flow: {0}")]
    Flow(String),
    /// One node.
    #[error("node {node}: {reason}")]
    Node {
        /// Its key.
        node: NodeKey,
        /// What is wrong.
        reason: String,
    },
}

impl TemplateIssue {
    pub(crate) fn control(c: &ControlSpec, reason: &str) -> Self {
        TemplateIssue::Control {
            control: c.id.clone(),
            title: c.title_text().to_string(),
            reason: reason.to_string(),
        }
    }

    fn node(key: &NodeKey, reason: impl Into<String>) -> Self {
        TemplateIssue::Node {
            node: key.clone(),
            reason: reason.into(),
        }
    }
}

/// Where a node sits among parallel regions: the `(split, branch)` pairs
/// from the outermost region in. A node outside every region has an empty
/// path; a return may only go to a node whose path is a prefix of the
/// returning node's (same branch, or before the split).
pub type BranchPath = Vec<(NodeKey, usize)>;

/// What publishing learned about the flow's shape; the engine relies on it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// The branch path of every node.
    pub paths: BTreeMap<NodeKey, BranchPath>,
}

/// Checks a form and flow; `admins` are the template's administrators.
/// Returns the plan, or every issue found.
pub fn check_template(
    form: &FormSpec,
    flow: &Flow,
    has_admins: bool,
    org: &dyn Org,
) -> Result<Plan, Vec<TemplateIssue>> {
    let mut issues = Vec::new();
    form.check(&mut issues);
    let plan = check_flow(form, flow, has_admins, org, &mut issues);
    if issues.is_empty() {
        Ok(plan)
    } else {
        Err(issues)
    }
}

/// The plan of a flow that was checked before (see
/// [`super::Template::restore`]); issues found again are ignored.
pub(crate) fn plan_of(flow: &Flow) -> Plan {
    walk(flow, &mut Vec::new())
}

fn check_flow(
    form: &FormSpec,
    flow: &Flow,
    has_admins: bool,
    org: &dyn Org,
    issues: &mut Vec<TemplateIssue>,
) -> Plan {
    let mut keys = BTreeSet::new();
    for n in &flow.nodes {
        if !keys.insert(&n.key) {
            issues.push(TemplateIssue::node(&n.key, "the key is used twice"));
        }
    }
    let exists = |k: &NodeKey| flow.node(k).is_some();
    if let Some(s) = &flow.start {
        if !exists(s) {
            issues.push(TemplateIssue::Flow(format!(
                "the start node {s} does not exist"
            )));
        }
    }
    for n in &flow.nodes {
        for succ in n.successors().into_iter().flatten() {
            if !exists(succ) {
                issues.push(TemplateIssue::node(
                    &n.key,
                    format!("leads to {succ}, which does not exist"),
                ));
            }
        }
        check_node(form, flow, n, has_admins, org, issues);
    }
    check_cycles(flow, issues);
    let plan = walk(flow, issues);
    for n in &flow.nodes {
        if !plan.paths.contains_key(&n.key) {
            issues.push(TemplateIssue::node(
                &n.key,
                "cannot be reached from the start",
            ));
        }
    }
    plan
}

fn check_node(
    form: &FormSpec,
    flow: &Flow,
    n: &FlowNode,
    has_admins: bool,
    org: &dyn Org,
    issues: &mut Vec<TemplateIssue>,
) {
    let key = &n.key;
    match &n.kind {
        NodeKind::Approval(t) => check_task(form, key, t, false, has_admins, org, issues),
        NodeKind::Handler(t) => check_task(form, key, t, true, has_admins, org, issues),
        NodeKind::Cc { rule, .. } => check_rule(form, key, rule, org, issues),
        NodeKind::Parallel { branches, join } => {
            if branches.len() < 2 {
                issues.push(TemplateIssue::node(
                    key,
                    "a parallel split needs at least two branches",
                ));
            }
            if !matches!(
                flow.node(join).map(|j| &j.kind),
                Some(NodeKind::Join { .. })
            ) {
                issues.push(TemplateIssue::node(
                    key,
                    "the split's join is not a join node",
                ));
            }
            let splits = flow
                .nodes
                .iter()
                .filter(|m| matches!(&m.kind, NodeKind::Parallel { join: j, .. } if j == join))
                .count();
            if splits > 1 {
                issues.push(TemplateIssue::node(
                    join,
                    "a join belongs to one parallel split",
                ));
            }
        }
        NodeKind::Join { .. } => {
            let owned = flow
                .nodes
                .iter()
                .any(|m| matches!(&m.kind, NodeKind::Parallel { join, .. } if join == key));
            if !owned {
                issues.push(TemplateIssue::node(key, "a join without a parallel split"));
            }
        }
        NodeKind::Exclusive { branches } => check_gateway(form, key, branches, issues),
    }
}

fn check_task(
    form: &FormSpec,
    key: &NodeKey,
    t: &TaskNode,
    handler: bool,
    has_admins: bool,
    org: &dyn Org,
    issues: &mut Vec<TemplateIssue>,
) {
    check_rule(form, key, &t.rule, org, issues);
    match t.mode {
        SignMode::Ratio { percent } if !(1..=100).contains(&percent) => {
            issues.push(TemplateIssue::node(key, "a pass ratio is 1 to 100 percent"));
        }
        SignMode::Vote { pass: 0 } => {
            issues.push(TemplateIssue::node(
                key,
                "a vote needs at least one approval to pass",
            ));
        }
        SignMode::Ratio { .. } | SignMode::Vote { .. } if handler => {
            issues.push(TemplateIssue::node(
                key,
                "a handler node is sequential, all or any",
            ));
        }
        _ => {}
    }
    if matches!(t.rule, ApproverRule::LeaderChain { .. }) && t.mode != SignMode::Sequential {
        issues.push(TemplateIssue::node(
            key,
            "a leader chain is sequential, one level after the other",
        ));
    }
    match t.on_empty {
        None if rule_may_be_empty(form, &t.rule) => issues.push(TemplateIssue::node(
            key,
            "the approvers can resolve to nobody: set an empty-approver policy",
        )),
        Some(EmptyPolicy::ToAdmins) if !has_admins => issues.push(TemplateIssue::node(
            key,
            "the empty-approver policy asks the administrators, but the template has none",
        )),
        _ => {}
    }
    if let Some(to) = t.timeout {
        if let Some((0, _)) = to.deadline {
            issues.push(TemplateIssue::node(
                key,
                "a deadline must be after activation",
            ));
        }
        if let (Some(r), Some((d, _))) = (to.remind_after_secs, to.deadline) {
            if r >= d {
                issues.push(TemplateIssue::node(
                    key,
                    "the reminder comes after the deadline",
                ));
            }
        }
        if to.remind_after_secs == Some(0) {
            issues.push(TemplateIssue::node(
                key,
                "a reminder must be after activation",
            ));
        }
    }
}

fn check_rule(
    form: &FormSpec,
    key: &NodeKey,
    rule: &ApproverRule,
    org: &dyn Org,
    issues: &mut Vec<TemplateIssue>,
) {
    match rule {
        ApproverRule::Members(ms) => {
            if ms.is_empty() {
                issues.push(TemplateIssue::node(key, "names no member"));
            }
            for m in ms {
                if !org.is_active(m) {
                    issues.push(TemplateIssue::node(
                        key,
                        format!("member {m} does not exist or is not active"),
                    ));
                }
            }
        }
        ApproverRule::Leader { level, .. }
        | ApproverRule::LeaderChain {
            stop_level: level, ..
        } => {
            if !(1..=MAX_LEADER_LEVEL).contains(level) {
                issues.push(TemplateIssue::node(key, "a leader level is 1 to 20"));
            }
        }
        ApproverRule::FromContact(c) => {
            if !matches!(
                form.control(c).map(|s| &s.config),
                Some(ControlConfig::Contact { .. })
            ) {
                issues.push(TemplateIssue::node(
                    key,
                    format!("control {c} is not a Contact control of the form"),
                ));
            }
        }
        ApproverRule::Role(_)
        | ApproverRule::ChosenByApplicant { .. }
        | ApproverRule::Applicant => {}
    }
}

/// Whether a rule can find nobody: only named members (checked at
/// publish), the applicant, the applicant's own choice (required at
/// submit) and a required member-mode Contact control always find someone.
pub fn rule_may_be_empty(form: &FormSpec, rule: &ApproverRule) -> bool {
    match rule {
        ApproverRule::Members(ms) => ms.is_empty(),
        ApproverRule::Applicant | ApproverRule::ChosenByApplicant { .. } => false,
        ApproverRule::FromContact(c) => !matches!(
            form.control(c),
            Some(ControlSpec {
                required: true,
                config: ControlConfig::Contact {
                    departments: false,
                    ..
                },
                ..
            })
        ),
        ApproverRule::Role(_) | ApproverRule::Leader { .. } | ApproverRule::LeaderChain { .. } => {
            true
        }
    }
}

fn check_cycles(flow: &Flow, issues: &mut Vec<TemplateIssue>) {
    // Iterative three-colour DFS.
    let mut colour: BTreeMap<&NodeKey, u8> = BTreeMap::new();
    for root in &flow.nodes {
        if colour.contains_key(&root.key) {
            continue;
        }
        let mut stack: Vec<(&NodeKey, usize)> = vec![(&root.key, 0)];
        colour.insert(&root.key, 1);
        while let Some((k, i)) = stack.pop() {
            let succs: Vec<&NodeKey> = flow
                .node(k)
                .map(|n| n.successors().into_iter().flatten().collect())
                .unwrap_or_default();
            if let Some(next) = succs.get(i) {
                stack.push((k, i + 1));
                match colour.get(next) {
                    Some(1) => {
                        issues.push(TemplateIssue::node(
                            k,
                            format!("leads back to {next}: the flow has a cycle"),
                        ));
                    }
                    Some(_) => {}
                    None if flow.node(next).is_some() => {
                        colour.insert(next, 1);
                        stack.push((next, 0));
                    }
                    None => {}
                }
            } else {
                colour.insert(k, 2);
            }
        }
    }
}

/// Walks from the start, giving each node its branch path and checking that
/// parallel branches meet at their own join.
fn walk(flow: &Flow, issues: &mut Vec<TemplateIssue>) -> Plan {
    let mut paths: BTreeMap<NodeKey, BranchPath> = BTreeMap::new();
    let mut reported = BTreeSet::new();
    let mut report = |issue: TemplateIssue, issues: &mut Vec<TemplateIssue>| {
        if reported.insert(issue.to_string()) {
            issues.push(issue);
        }
    };
    let mut todo: Vec<(Option<NodeKey>, BranchPath, Option<NodeKey>)> =
        vec![(flow.start.clone(), Vec::new(), None)];
    while let Some((target, mut path, from)) = todo.pop() {
        let Some(key) = target else {
            if let Some((split, _)) = path.last() {
                report(
                    TemplateIssue::node(
                        split,
                        "a branch of this parallel split ends the flow before its join",
                    ),
                    issues,
                );
            }
            continue;
        };
        let Some(node) = flow.node(&key) else {
            continue;
        };
        if let NodeKind::Join { .. } = node.kind {
            let own = path
                .last()
                .and_then(|(split, _)| flow.node(split))
                .is_some_and(
                    |s| matches!(&s.kind, NodeKind::Parallel { join, .. } if *join == key),
                );
            if !own {
                let at = from.unwrap_or_else(|| key.clone());
                report(
                    TemplateIssue::node(
                        &at,
                        format!("reaches join {key} outside its parallel split"),
                    ),
                    issues,
                );
                continue;
            }
            path.pop();
        }
        if let Some(seen) = paths.get(&key) {
            if *seen != path {
                report(
                    TemplateIssue::node(&key, "reached from two different parallel branches"),
                    issues,
                );
            }
            continue;
        }
        paths.insert(key.clone(), path.clone());
        match &node.kind {
            NodeKind::Parallel { branches, .. } => {
                for (i, b) in branches.iter().enumerate() {
                    let mut p = path.clone();
                    p.push((key.clone(), i));
                    todo.push((Some(b.clone()), p, Some(key.clone())));
                }
            }
            _ => {
                for succ in node.successors() {
                    todo.push((succ.cloned(), path.clone(), Some(key.clone())));
                }
            }
        }
    }
    Plan { paths }
}

/// Branches in the order they are tried: conditional ones by priority (then
/// position), the default last.
pub fn branch_order(branches: &[super::flow::Branch]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..branches.len()).collect();
    order.sort_by_key(|&i| (branches[i].condition.is_none(), branches[i].priority, i));
    order
}

fn check_gateway(
    form: &FormSpec,
    key: &NodeKey,
    branches: &[super::flow::Branch],
    issues: &mut Vec<TemplateIssue>,
) {
    if branches.is_empty() {
        issues.push(TemplateIssue::node(
            key,
            "a conditional gateway needs branches",
        ));
        return;
    }
    let defaults = branches.iter().filter(|b| b.condition.is_none()).count();
    if defaults > 1 {
        issues.push(TemplateIssue::node(
            key,
            "at most one default branch (one without a condition)",
        ));
    }
    let mut sound = true;
    for b in branches {
        for atom in b.condition.iter().flat_map(Condition::atoms) {
            if let Err(why) = check_atom(form, atom) {
                sound = false;
                issues.push(TemplateIssue::node(
                    key,
                    format!("branch {:?}: {why}", b.name),
                ));
            }
        }
        if b.condition
            .as_ref()
            .is_some_and(|c| c.any_of.is_empty() || c.any_of.iter().any(Vec::is_empty))
        {
            sound = false;
            issues.push(TemplateIssue::node(
                key,
                format!("branch {:?}: an empty condition group", b.name),
            ));
        }
    }
    if !sound {
        return;
    }
    let order = branch_order(branches);
    match cases(form, branches) {
        Some(worlds) => {
            let mut reached = vec![false; branches.len()];
            let mut gap = false;
            for world in &worlds {
                let taken = order.iter().copied().find(|&i| {
                    branches[i]
                        .condition
                        .as_ref()
                        .is_none_or(|c| c.holds_with(&mut |a| world.truth(a)))
                });
                match taken {
                    Some(i) => reached[i] = true,
                    None => gap = true,
                }
            }
            if gap {
                issues.push(TemplateIssue::node(
                    key,
                    "some values match no branch: add a default branch (one without a condition)",
                ));
            }
            for (i, b) in branches.iter().enumerate() {
                if !reached[i] && b.condition.is_some() {
                    issues.push(TemplateIssue::node(
                        key,
                        format!("branch {:?} can never be taken (its condition is impossible or covered by earlier branches)", b.name),
                    ));
                }
            }
        }
        None if defaults == 0 => issues.push(TemplateIssue::node(
            key,
            "the conditions are too many to prove they cover every case: add a default branch",
        )),
        None => {}
    }
}

fn check_atom(form: &FormSpec, atom: &Atom) -> Result<(), String> {
    let Some(id) = atom.control() else {
        return Ok(());
    };
    let Some(spec) = form.control(id) else {
        return Err(format!("reads {id}, which is not a control of the form"));
    };
    let kind = spec.kind();
    match atom {
        Atom::Compare { .. } if !kind.is_numeric() => Err(format!(
            "compares {id}, which is not a Number, Money or Formula"
        )),
        Atom::AnyOf { keys, .. } | Atom::NoneOf { keys, .. } => match &spec.config {
            ControlConfig::Selector { options, .. } => {
                match keys.iter().find(|k| !options.iter().any(|o| &o.key == *k)) {
                    Some(k) => Err(format!("option {k} is not offered by {id}")),
                    None if keys.is_empty() => Err("an option test names no option".into()),
                    None => Ok(()),
                }
            }
            _ => Err(format!("tests options of {id}, which is not a Selector")),
        },
        Atom::Contains { .. } if !matches!(kind, ControlKind::Text | ControlKind::Textarea) => {
            Err(format!("searches {id}, which is not text"))
        }
        Atom::IsEmpty { .. } if matches!(kind, ControlKind::Tips | ControlKind::Formula) => {
            Err(format!("{id} never has a value to test"))
        }
        _ => Ok(()),
    }
}

/// One combination of the inputs that matter to a gateway.
struct World {
    numbers: BTreeMap<ControlId, Option<Decimal>>,
    selections: BTreeMap<ControlId, BTreeSet<String>>,
    flags: BTreeMap<String, bool>,
}

impl World {
    fn truth(&self, atom: &Atom) -> bool {
        match atom {
            Atom::Compare {
                control,
                cmp,
                value,
            } => {
                matches!(self.numbers.get(control), Some(Some(v)) if cmp.holds(*v, *value))
            }
            Atom::AnyOf { control, keys } => self
                .selections
                .get(control)
                .is_some_and(|s| keys.iter().any(|k| s.contains(k))),
            Atom::NoneOf { control, keys } => !self
                .selections
                .get(control)
                .is_some_and(|s| keys.iter().any(|k| s.contains(k))),
            Atom::IsEmpty { control } if self.numbers.contains_key(control) => {
                matches!(self.numbers.get(control), Some(None))
            }
            Atom::IsEmpty { control } if self.selections.contains_key(control) => {
                self.selections.get(control).is_some_and(BTreeSet::is_empty)
            }
            other => self
                .flags
                .get(&format!("{other:?}"))
                .copied()
                .unwrap_or(false),
        }
    }
}

fn may_be_empty(form: &FormSpec, spec: &ControlSpec) -> bool {
    let hideable = form.controls.iter().any(|c| {
        matches!(&c.config, ControlConfig::Selector { relations, .. } if relations.iter().any(|(_, t)| t.contains(&spec.id)))
    });
    // A formula always has a value: it is computed even when its inputs are empty.
    spec.kind() != ControlKind::Formula && (hideable || !spec.needs_value())
}

/// Sets one input of a [`World`].
type Setter = Box<dyn Fn(&mut World)>;

/// Every combination of inputs, or `None` past [`MAX_CASES`].
fn cases(form: &FormSpec, branches: &[super::flow::Branch]) -> Option<Vec<World>> {
    let atoms: Vec<&Atom> = branches
        .iter()
        .flat_map(|b| b.condition.iter())
        .flat_map(Condition::atoms)
        .collect();
    let mut numeric: BTreeMap<&ControlId, BTreeSet<Decimal>> = BTreeMap::new();
    let mut selector: BTreeMap<&ControlId, BTreeSet<&str>> = BTreeMap::new();
    let mut flags: BTreeSet<String> = BTreeSet::new();
    for a in &atoms {
        let spec = a.control().and_then(|c| form.control(c));
        match (a, spec.map(ControlSpec::kind)) {
            (Atom::Compare { control, value, .. }, _) => {
                numeric.entry(control).or_default().insert(*value);
            }
            (Atom::IsEmpty { control }, Some(k)) if k.is_numeric() => {
                numeric.entry(control).or_default();
            }
            (Atom::AnyOf { control, keys } | Atom::NoneOf { control, keys }, _) => {
                selector
                    .entry(control)
                    .or_default()
                    .extend(keys.iter().map(String::as_str));
            }
            (Atom::IsEmpty { control }, Some(ControlKind::Selector)) => {
                selector.entry(control).or_default();
            }
            (other, _) => {
                flags.insert(format!("{other:?}"));
            }
        }
    }
    // Candidate values per input.
    let mut dims: Vec<Vec<Setter>> = Vec::new();
    for (control, constants) in numeric {
        let Some(spec) = form.control(control) else {
            continue;
        };
        let (step_places, min, max) = match &spec.config {
            ControlConfig::Money { min, max } => (2, *min, *max),
            ControlConfig::Number { min, max, places } => {
                (u32::from(places.unwrap_or(6)).min(6), *min, *max)
            }
            _ => (6, None, None),
        };
        let step = Decimal::from_scaled(1, step_places).unwrap_or(Decimal::ONE);
        let mut points = BTreeSet::new();
        for c in &constants {
            for p in [c.checked_sub(step), Ok(*c), c.checked_add(step)]
                .into_iter()
                .flatten()
            {
                points.insert(p);
            }
        }
        if constants.is_empty() {
            points.insert(min.unwrap_or(Decimal::ZERO));
        }
        let points: Vec<Decimal> = points
            .into_iter()
            .filter(|p| min.is_none_or(|m| *p >= m) && max.is_none_or(|m| *p <= m))
            .collect();
        let mut options: Vec<Setter> = Vec::new();
        for p in points {
            let c = control.clone();
            options.push(Box::new(move |w: &mut World| {
                w.numbers.insert(c.clone(), Some(p));
            }));
        }
        if may_be_empty(form, spec) {
            let c = control.clone();
            options.push(Box::new(move |w: &mut World| {
                w.numbers.insert(c.clone(), None);
            }));
        }
        dims.push(options);
    }
    for (control, mentioned) in selector {
        let Some(spec) = form.control(control) else {
            continue;
        };
        let ControlConfig::Selector { multi, options, .. } = &spec.config else {
            continue;
        };
        let mentioned: Vec<&str> = mentioned.into_iter().collect();
        if mentioned.len() > 10 {
            return None;
        }
        let other = options
            .iter()
            .map(|o| o.key.as_str())
            .find(|k| !mentioned.contains(k));
        let mut sets: Vec<BTreeSet<String>> = Vec::new();
        if *multi {
            for mask in 0u32..(1 << mentioned.len()) {
                let base: BTreeSet<String> = mentioned
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, k)| k.to_string())
                    .collect();
                if let Some(o) = other {
                    let mut with = base.clone();
                    with.insert(o.to_string());
                    sets.push(with);
                }
                sets.push(base);
            }
        } else {
            sets.extend(
                mentioned
                    .iter()
                    .chain(other.iter())
                    .map(|k| BTreeSet::from([k.to_string()])),
            );
            sets.push(BTreeSet::new());
        }
        if !may_be_empty(form, spec) {
            sets.retain(|s| !s.is_empty());
        }
        let c = control.clone();
        dims.push(
            sets.into_iter()
                .map(|s| {
                    let c = c.clone();
                    Box::new(move |w: &mut World| {
                        w.selections.insert(c.clone(), s.clone());
                    }) as Setter
                })
                .collect(),
        );
    }
    for f in flags {
        dims.push(
            [true, false]
                .into_iter()
                .map(|v| {
                    let f = f.clone();
                    Box::new(move |w: &mut World| {
                        w.flags.insert(f.clone(), v);
                    }) as Setter
                })
                .collect(),
        );
    }
    let total = dims
        .iter()
        .try_fold(1usize, |acc, d| acc.checked_mul(d.len().max(1)))?;
    if total > MAX_CASES {
        return None;
    }
    let mut worlds = Vec::with_capacity(total);
    for mut n in 0..total {
        let mut w = World {
            numbers: BTreeMap::new(),
            selections: BTreeMap::new(),
            flags: BTreeMap::new(),
        };
        for d in &dims {
            if d.is_empty() {
                continue;
            }
            d[n % d.len()](&mut w);
            n /= d.len();
        }
        worlds.push(w);
    }
    Some(worlds)
}
