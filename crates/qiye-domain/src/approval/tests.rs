//! Scenario and property tests of the engine, over a small literal
//! organisation.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;

use super::form::{
    BankAccount, DateRangeValue, MemberRef, Money, PhoneNumber, RangeUnit, SelectorOption,
};
use super::*;
use crate::directory::TagId;
use crate::ids::{DeptId, UserId};

// ---------------------------------------------------------------- org

/// Sales East (3) under Sales (2) under the root (1); Finance (4).
/// alice → bob → carol → dave is the leader chain; bob heads 3, carol 2,
/// dave 1; erin and frank hold role 1 (finance); gina administers;
/// harry has left.
struct TestOrg {
    members: BTreeMap<UserId, OrgMember>,
    parents: BTreeMap<DeptId, Option<DeptId>>,
    heads: BTreeMap<DeptId, Vec<UserId>>,
    roles: BTreeMap<TagId, Vec<UserId>>,
}

fn u(s: &str) -> UserId {
    UserId::parse(s).unwrap()
}

fn d(n: i64) -> DeptId {
    DeptId::new(n).unwrap()
}

fn k(s: &str) -> NodeKey {
    NodeKey::parse(s).unwrap()
}

fn c(s: &str) -> ControlId {
    ControlId::parse(s).unwrap()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

impl TestOrg {
    fn new() -> Self {
        let mut members = BTreeMap::new();
        let mut add = |name: &str, dept: i64, leader: Option<&str>, active: bool| {
            members.insert(
                u(name),
                OrgMember {
                    active,
                    departments: vec![d(dept)],
                    main_department: d(dept),
                    leaders: leader.map(u).into_iter().collect(),
                },
            );
        };
        add("alice", 3, Some("bob"), true);
        add("bob", 3, Some("carol"), true);
        add("carol", 2, Some("dave"), true);
        add("dave", 1, None, true);
        add("erin", 4, Some("dave"), true);
        add("frank", 4, Some("dave"), true);
        add("gina", 1, Some("dave"), true);
        add("harry", 3, Some("bob"), false);
        Self {
            members,
            parents: BTreeMap::from([
                (d(1), None),
                (d(2), Some(d(1))),
                (d(3), Some(d(2))),
                (d(4), Some(d(1))),
            ]),
            heads: BTreeMap::from([
                (d(1), vec![u("dave")]),
                (d(2), vec![u("carol")]),
                (d(3), vec![u("bob")]),
            ]),
            roles: BTreeMap::from([(TagId(1), vec![u("erin"), u("frank")]), (TagId(2), vec![])]),
        }
    }
}

impl Org for TestOrg {
    fn member(&self, user: &UserId) -> Option<OrgMember> {
        self.members.get(user).cloned()
    }
    fn dept_exists(&self, dept: DeptId) -> bool {
        self.parents.contains_key(&dept)
    }
    fn dept_parent(&self, dept: DeptId) -> Option<DeptId> {
        self.parents.get(&dept).copied().flatten()
    }
    fn dept_heads(&self, dept: DeptId) -> Vec<UserId> {
        self.heads.get(&dept).cloned().unwrap_or_default()
    }
    fn role_members(&self, role: TagId) -> Vec<UserId> {
        self.roles.get(&role).cloned().unwrap_or_default()
    }
}

// ---------------------------------------------------------------- builders

fn task(rule: ApproverRule, mode: SignMode, next: Option<&str>) -> TaskNode {
    TaskNode {
        rule,
        mode,
        on_empty: None,
        applicant_is_approver: SelfPolicy::SelfApprove,
        timeout: None,
        next: next.map(k),
    }
}

fn members(names: &[&str]) -> ApproverRule {
    ApproverRule::Members(names.iter().map(|n| u(n)).collect())
}

fn node(key: &str, kind: NodeKind) -> FlowNode {
    FlowNode {
        key: k(key),
        name: key.to_uppercase(),
        kind,
    }
}

fn approval(key: &str, t: TaskNode) -> FlowNode {
    node(key, NodeKind::Approval(t))
}

fn purchase_form() -> FormSpec {
    FormSpec {
        controls: vec![
            ControlSpec::new(
                "Text-01",
                "事由",
                true,
                ControlConfig::Text { max_chars: None },
            ),
            ControlSpec::new(
                "Money-01",
                "金额",
                true,
                ControlConfig::Money {
                    min: Some(Decimal::ZERO),
                    max: None,
                },
            ),
            ControlSpec::new(
                "Selector-01",
                "类别",
                false,
                ControlConfig::Selector {
                    multi: false,
                    options: vec![
                        SelectorOption {
                            key: "it".into(),
                            value: vec![LangText::zh("IT")],
                        },
                        SelectorOption {
                            key: "office".into(),
                            value: vec![LangText::zh("办公")],
                        },
                    ],
                    relations: vec![("it".into(), vec![c("Text-02")])],
                },
            ),
            ControlSpec::new(
                "Text-02",
                "资产编号",
                false,
                ControlConfig::Text {
                    max_chars: Some(20),
                },
            ),
            ControlSpec::new(
                "Contact-01",
                "经办人",
                false,
                ControlConfig::Contact {
                    multi: true,
                    departments: false,
                },
            ),
        ],
    }
}

fn draft(flow: Flow) -> TemplateDraft {
    TemplateDraft {
        id: TemplateId::parse("tpl01").unwrap(),
        name: vec![LangText::zh("采购")],
        form: purchase_form(),
        flow,
        admins: vec![u("gina")],
        withdraw: WithdrawRule::Anytime,
    }
}

fn flow(start: &str, nodes: Vec<FlowNode>) -> Flow {
    Flow {
        start: Some(k(start)),
        nodes,
        dedup: Dedup::None,
    }
}

fn publish(f: Flow) -> Arc<Template> {
    Arc::new(
        draft(f)
            .publish(TemplateVersion(1), &TestOrg::new())
            .unwrap(),
    )
}

fn form(amount: &str) -> FormInput {
    FormInput::from([
        (c("Text-01"), ControlValue::Text("laptops".into())),
        (
            c("Money-01"),
            ControlValue::Money(Money::from_decimal(dec(amount)).unwrap()),
        ),
    ])
}

fn submission(amount: &str) -> Submission {
    Submission {
        applicant: u("alice"),
        dept: None,
        form: form(amount),
        chosen: BTreeMap::new(),
    }
}

// ---------------------------------------------------------------- harness

struct Run {
    inst: Instance,
    org: TestOrg,
    now: i64,
    n: u32,
}

impl Run {
    fn new(template: Arc<Template>) -> Self {
        Self {
            inst: Instance::new(SpNo::for_day(20240101, 1), template),
            org: TestOrg::new(),
            now: 1_700_000_000,
            n: 0,
        }
    }

    fn started(template: Arc<Template>, s: Submission) -> Self {
        let mut run = Self::new(template);
        run.submit(s).unwrap();
        run
    }

    fn send(&mut self, actor: Actor, command: Command) -> Result<Vec<Event>, ApprovalError> {
        self.n += 1;
        self.now += 60;
        let env = Envelope {
            key: IdempotencyKey::parse(&format!("k{}", self.n)).unwrap(),
            actor,
            at: self.now,
            command,
        };
        self.send_env(&env)
    }

    fn send_env(&mut self, env: &Envelope) -> Result<Vec<Event>, ApprovalError> {
        let before = self.inst.clone();
        let out = self.inst.decide(env, &self.org);
        assert_eq!(self.inst, before, "decide never mutates");
        let events = out?;
        for e in &events {
            self.inst.apply(e).unwrap();
        }
        self.check_invariants();
        Ok(events)
    }

    fn check_invariants(&self) {
        let mut active = std::collections::BTreeSet::new();
        for a in self.inst.active() {
            assert!(
                active.insert(a.node.clone()),
                "two active copies of {}",
                a.node
            );
        }
        let replayed = Instance::replay(
            self.inst.sp_no().clone(),
            Arc::clone(self.inst.template()),
            self.inst.events(),
        )
        .unwrap();
        assert_eq!(replayed, self.inst, "replay rebuilds the state");
        if self.inst.status() == InstanceStatus::Running {
            assert!(
                !self.inst.actionable().is_empty(),
                "a running instance has someone to act"
            );
        }
    }

    fn submit(&mut self, s: Submission) -> Result<Vec<Event>, ApprovalError> {
        self.send(Actor::Member(s.applicant.clone()), Command::Submit(s))
    }

    /// The actionable record of `who`.
    fn rec(&self, who: &str) -> RecordId {
        self.try_rec(who)
            .unwrap_or_else(|| panic!("{who} has no actionable record"))
    }

    fn try_rec(&self, who: &str) -> Option<RecordId> {
        self.inst
            .actionable()
            .iter()
            .find(|r| r.user == u(who))
            .map(|r| r.id)
    }

    fn approve(&mut self, who: &str) -> Result<Vec<Event>, ApprovalError> {
        let record = self
            .try_rec(who)
            .or_else(|| self.any_rec(who))
            .expect("a record");
        self.send(
            Actor::Member(u(who)),
            Command::Approve {
                record,
                speech: "ok".into(),
            },
        )
    }

    fn any_rec(&self, who: &str) -> Option<RecordId> {
        self.inst
            .records()
            .iter()
            .rev()
            .find(|r| r.user == u(who))
            .map(|r| r.id)
    }

    fn reject(&mut self, who: &str) -> Result<Vec<Event>, ApprovalError> {
        let record = self.rec(who);
        self.send(
            Actor::Member(u(who)),
            Command::Reject {
                record,
                speech: "no".into(),
            },
        )
    }

    fn pending_users(&self) -> Vec<String> {
        self.inst
            .actionable()
            .iter()
            .map(|r| r.user.to_string())
            .collect()
    }

    fn status(&self) -> InstanceStatus {
        self.inst.status()
    }
}

// ---------------------------------------------------------------- logics

#[test]
fn sequential_asks_one_after_the_other() {
    let t = publish(flow(
        "n1",
        vec![approval(
            "n1",
            task(members(&["bob", "carol"]), SignMode::Sequential, None),
        )],
    ));
    let mut run = Run::started(t, submission("100"));
    assert_eq!(run.pending_users(), ["bob"]);
    let carol_record = run
        .inst
        .records()
        .iter()
        .find(|r| r.user == u("carol"))
        .unwrap()
        .id;
    let early = run.send(
        Actor::Member(u("carol")),
        Command::Approve {
            record: carol_record,
            speech: String::new(),
        },
    );
    assert_eq!(early, Err(ApprovalError::NotPendingApprover));
    run.approve("bob").unwrap();
    assert_eq!(run.pending_users(), ["carol"]);
    run.approve("carol").unwrap();
    assert_eq!(run.status(), InstanceStatus::Approved);
}

#[test]
fn or_sign_second_approval_is_refused_and_never_duplicates_the_node() {
    let t = publish(flow(
        "n1",
        vec![
            approval(
                "n1",
                task(members(&["bob", "carol"]), SignMode::Any, Some("n2")),
            ),
            approval("n2", task(members(&["dave"]), SignMode::Any, None)),
        ],
    ));
    let mut run = Run::started(t, submission("100"));
    let carol = run.rec("carol");
    run.approve("bob").unwrap();
    let second = run.send(
        Actor::Member(u("carol")),
        Command::Approve {
            record: carol,
            speech: String::new(),
        },
    );
    assert_eq!(second, Err(ApprovalError::AlreadyDecided));
    assert_eq!(run.inst.activations().len(), 2, "n1 once, n2 once");
    assert_eq!(run.pending_users(), ["dave"]);
    let carol_rec = &run.inst.records()[(carol.0 - 1) as usize];
    assert_eq!(carol_rec.status, RecordStatus::Superseded);
}

#[test]
fn countersign_fails_at_the_first_reject() {
    let t = publish(flow(
        "n1",
        vec![approval(
            "n1",
            task(members(&["bob", "carol", "dave"]), SignMode::All, None),
        )],
    ));
    let mut run = Run::started(t, submission("100"));
    run.approve("bob").unwrap();
    assert_eq!(run.status(), InstanceStatus::Running);
    run.reject("carol").unwrap();
    assert_eq!(run.status(), InstanceStatus::Rejected);
    assert!(run.inst.actionable().is_empty());
}

#[test]
fn countersign_passes_when_all_approve() {
    let t = publish(flow(
        "n1",
        vec![approval(
            "n1",
            task(members(&["bob", "carol"]), SignMode::All, None),
        )],
    ));
    let mut run = Run::started(t, submission("100"));
    run.approve("carol").unwrap();
    run.approve("bob").unwrap();
    assert_eq!(run.status(), InstanceStatus::Approved);
}

#[test]
fn ratio_thresholds_round_up_for_one_to_seven_participants() {
    // p = 50 %: need ⌈N/2⌉ approvals; fail once rejections exceed N − need.
    for n in 1..=7u32 {
        let need = n.div_ceil(2);
        let mut votes: Vec<(u32, Option<bool>)> = vec![(0, None); n as usize];
        assert_eq!(
            decide_node(SignMode::Ratio { percent: 50 }, &[]),
            NodeDecision::Passed
        );
        for i in 0..need as usize {
            votes[i] = (0, Some(true));
            let expect = if i as u32 + 1 == need {
                NodeDecision::Passed
            } else {
                NodeDecision::Open
            };
            assert_eq!(
                decide_node(SignMode::Ratio { percent: 50 }, &votes),
                expect,
                "n={n} i={i}"
            );
        }
        let mut votes: Vec<(u32, Option<bool>)> = vec![(0, None); n as usize];
        for i in 0..(n - need + 1) {
            votes[i as usize] = (0, Some(false));
            let expect = if i + 1 > n - need {
                NodeDecision::Rejected
            } else {
                NodeDecision::Open
            };
            assert_eq!(
                decide_node(SignMode::Ratio { percent: 50 }, &votes),
                expect,
                "n={n} reject {i}"
            );
        }
    }
    // A reject is a no-vote, not a veto (YunaiV/ruoyi-vue-pro#1069).
    let votes = [(0, Some(false)), (0, Some(true)), (0, None), (0, None)];
    assert_eq!(
        decide_node(SignMode::Ratio { percent: 50 }, &votes),
        NodeDecision::Open
    );
    assert_eq!(
        decide_node(SignMode::Vote { pass: 2 }, &votes),
        NodeDecision::Open
    );
    assert_eq!(
        decide_node(SignMode::Vote { pass: 9 }, &[(0, Some(true))]),
        NodeDecision::Passed
    );
}

proptest! {
    #[test]
    fn node_decision_does_not_depend_on_vote_order(
        votes in proptest::collection::vec((0u32..3, proptest::option::of(any::<bool>())), 0..8),
        mode in 0u8..5,
        seed in any::<u64>(),
    ) {
        let mode = match mode {
            0 => SignMode::Sequential,
            1 => SignMode::All,
            2 => SignMode::Any,
            3 => SignMode::Ratio { percent: 50 },
            _ => SignMode::Vote { pass: 2 },
        };
        let mut shuffled = votes.clone();
        let len = shuffled.len();
        if len > 1 {
            for i in 0..len {
                let j = (seed.rotate_left(i as u32) as usize) % len;
                shuffled.swap(i, j);
            }
        }
        if mode != SignMode::Any || votes.iter().filter(|v| v.1.is_some()).count() <= 1 {
            prop_assert_eq!(decide_node(mode, &votes), decide_node(mode, &shuffled));
        }
    }
}

#[test]
fn vote_passes_at_the_count() {
    let t = publish(flow(
        "n1",
        vec![approval(
            "n1",
            task(
                members(&["bob", "carol", "dave"]),
                SignMode::Vote { pass: 2 },
                None,
            ),
        )],
    ));
    let mut run = Run::started(t, submission("100"));
    run.reject("bob").unwrap();
    assert_eq!(run.status(), InstanceStatus::Running);
    run.approve("carol").unwrap();
    run.approve("dave").unwrap();
    assert_eq!(run.status(), InstanceStatus::Approved);
}

fn amount_gateway(default: bool) -> Flow {
    let mut branches = vec![Branch {
        name: "large".into(),
        priority: 1,
        condition: Some(Condition::atom(Atom::Compare {
            control: c("Money-01"),
            cmp: Cmp::Ge,
            value: dec("10000"),
        })),
        target: Some(k("cfo")),
    }];
    if default {
        branches.push(Branch {
            name: "default".into(),
            priority: 9,
            condition: None,
            target: Some(k("head")),
        });
    }
    flow(
        "gw",
        vec![
            node("gw", NodeKind::Exclusive { branches }),
            approval("cfo", task(members(&["dave"]), SignMode::Any, Some("head"))),
            approval(
                "head",
                TaskNode {
                    on_empty: Some(EmptyPolicy::ToAdmins),
                    ..task(
                        ApproverRule::Leader {
                            source: ChainSource::DeptHead,
                            level: 1,
                        },
                        SignMode::Any,
                        Some("cc"),
                    )
                },
            ),
            node(
                "cc",
                NodeKind::Cc {
                    rule: ApproverRule::Role(TagId(1)),
                    next: None,
                },
            ),
        ],
    )
}

#[test]
fn conditional_branch_routes_large_purchases_and_simulation_shows_the_path() {
    let t = publish(amount_gateway(true));
    let org = TestOrg::new();
    let small = simulate(Arc::clone(&t), submission("9999.99"), &org, 0).unwrap();
    assert_eq!(small.nodes(), [&k("head")]);
    let large = simulate(Arc::clone(&t), submission("10000"), &org, 0).unwrap();
    assert_eq!(large.nodes(), [&k("cfo"), &k("head")]);
    assert_eq!(large.outcome, InstanceStatus::Approved);
    let TraceStep::Node { seats, .. } = &large.steps[2] else {
        panic!("{:?}", large.steps)
    };
    assert_eq!(seats[0].user, u("bob"));
    assert_eq!(
        seats[0].reason,
        Reason::DeptHead {
            level: 1,
            dept: d(3)
        }
    );
    assert!(matches!(&large.steps[3], TraceStep::Cc { users, .. } if users.len() == 2));

    let mut run = Run::started(t, submission("20000"));
    assert_eq!(run.pending_users(), ["dave"]);
    run.approve("dave").unwrap();
    run.approve("bob").unwrap();
    assert_eq!(run.status(), InstanceStatus::Approved);
    assert_eq!(run.inst.cc().len(), 2);
}

#[test]
fn parallel_branches_join_before_continuing() {
    let t = publish(flow(
        "split",
        vec![
            node(
                "split",
                NodeKind::Parallel {
                    branches: vec![k("a"), k("b"), k("join")],
                    join: k("join"),
                },
            ),
            approval("a", task(members(&["bob"]), SignMode::Any, Some("join"))),
            approval("b", task(members(&["carol"]), SignMode::Any, Some("join"))),
            node(
                "join",
                NodeKind::Join {
                    next: Some(k("last")),
                },
            ),
            approval("last", task(members(&["dave"]), SignMode::Any, None)),
        ],
    ));
    let mut run = Run::started(t, submission("1"));
    let mut pending = run.pending_users();
    pending.sort();
    assert_eq!(pending, ["bob", "carol"]);
    run.approve("carol").unwrap();
    assert_eq!(run.pending_users(), ["bob"]);
    run.approve("bob").unwrap();
    assert_eq!(run.pending_users(), ["dave"]);
    run.approve("dave").unwrap();
    assert_eq!(run.status(), InstanceStatus::Approved);
}

#[test]
fn a_rejected_parallel_branch_rejects_the_instance_and_supersedes_siblings() {
    let t = publish(flow(
        "split",
        vec![
            node(
                "split",
                NodeKind::Parallel {
                    branches: vec![k("a"), k("b")],
                    join: k("join"),
                },
            ),
            approval("a", task(members(&["bob"]), SignMode::Any, Some("join"))),
            approval("b", task(members(&["carol"]), SignMode::Any, Some("join"))),
            node("join", NodeKind::Join { next: None }),
        ],
    ));
    let mut run = Run::started(t, submission("1"));
    run.reject("bob").unwrap();
    assert_eq!(run.status(), InstanceStatus::Rejected);
    let carol = run
        .inst
        .records()
        .iter()
        .find(|r| r.user == u("carol"))
        .unwrap();
    assert_eq!(carol.status, RecordStatus::Superseded);
}

#[test]
fn leader_chain_walks_levels_with_provenance() {
    let t = publish(flow(
        "chain",
        vec![approval(
            "chain",
            TaskNode {
                on_empty: Some(EmptyPolicy::AutoApprove),
                ..task(
                    ApproverRule::LeaderChain {
                        source: ChainSource::Superior,
                        stop_level: 2,
                    },
                    SignMode::Sequential,
                    None,
                )
            },
        )],
    ));
    let mut run = Run::started(t, submission("1"));
    let reasons: Vec<(String, Reason)> = run
        .inst
        .records()
        .iter()
        .map(|r| (r.user.to_string(), r.reason.clone()))
        .collect();
    assert_eq!(
        reasons,
        [
            (
                "bob".to_string(),
                Reason::Leader {
                    level: 1,
                    via: u("alice")
                }
            ),
            (
                "carol".to_string(),
                Reason::Leader {
                    level: 2,
                    via: u("bob")
                }
            ),
        ]
    );
    assert_eq!(run.pending_users(), ["bob"]);
    run.approve("bob").unwrap();
    run.approve("carol").unwrap();
    assert_eq!(run.status(), InstanceStatus::Approved);
}

#[test]
fn dept_head_chain_stops_at_the_top() {
    let t = publish(flow(
        "chain",
        vec![approval(
            "chain",
            TaskNode {
                on_empty: Some(EmptyPolicy::AutoApprove),
                ..task(
                    ApproverRule::LeaderChain {
                        source: ChainSource::DeptHead,
                        stop_level: 9,
                    },
                    SignMode::Sequential,
                    None,
                )
            },
        )],
    ));
    let trace = simulate(t, submission("1"), &TestOrg::new(), 0).unwrap();
    let TraceStep::Node { seats, .. } = &trace.steps[0] else {
        panic!()
    };
    let users: Vec<(&str, u32)> = seats.iter().map(|s| (s.user.as_str(), s.stage)).collect();
    assert_eq!(users, [("bob", 0), ("carol", 1), ("dave", 2)]);
}

#[test]
fn empty_approver_policies() {
    let role_node = |policy| {
        flow(
            "n1",
            vec![approval(
                "n1",
                TaskNode {
                    on_empty: Some(policy),
                    ..task(ApproverRule::Role(TagId(2)), SignMode::Any, None)
                },
            )],
        )
    };
    let run = Run::started(
        publish(role_node(EmptyPolicy::AutoApprove)),
        submission("1"),
    );
    assert_eq!(run.status(), InstanceStatus::Approved);
    assert_eq!(
        run.inst.activations()[0].auto,
        Some(AutoReason::EmptyApprover)
    );

    let run = Run::started(publish(role_node(EmptyPolicy::ToAdmins)), submission("1"));
    assert_eq!(run.pending_users(), ["gina"]);
    assert_eq!(run.inst.records()[0].reason, Reason::Admin);

    let mut run = Run::new(publish(role_node(EmptyPolicy::Refuse)));
    assert_eq!(
        run.submit(submission("1")),
        Err(ApprovalError::EmptyApprovers("n1".into()))
    );
    assert_eq!(run.status(), InstanceStatus::NotStarted);
}

#[test]
fn applicant_is_approver_policies() {
    let with = |policy| {
        publish(flow(
            "n1",
            vec![approval(
                "n1",
                TaskNode {
                    applicant_is_approver: policy,
                    ..task(members(&["alice", "carol"]), SignMode::All, None)
                },
            )],
        ))
    };
    let run = Run::started(with(SelfPolicy::Skip), submission("1"));
    assert_eq!(run.pending_users(), ["carol"]);
    assert_eq!(
        run.inst.records()[0].status,
        RecordStatus::Skipped(AutoReason::ApplicantSkipped)
    );

    let run = Run::started(with(SelfPolicy::ToLeader), submission("1"));
    assert_eq!(run.pending_users(), ["bob", "carol"]);
    assert_eq!(run.inst.records()[0].reason, Reason::InsteadOfApplicant);

    let mut run = Run::started(with(SelfPolicy::SelfApprove), submission("1"));
    run.approve("alice").unwrap();
    run.approve("carol").unwrap();
    assert_eq!(run.status(), InstanceStatus::Approved);
}

#[test]
fn dedup_keep_first_passes_a_repeated_approver_but_not_after_a_return() {
    let mut f = flow(
        "n1",
        vec![
            approval("n1", task(members(&["bob"]), SignMode::Any, Some("n2"))),
            approval(
                "n2",
                task(members(&["bob", "carol"]), SignMode::All, Some("n3")),
            ),
            approval("n3", task(members(&["dave"]), SignMode::Any, None)),
        ],
    );
    f.dedup = Dedup::KeepFirst;
    let mut run = Run::started(publish(f), submission("1"));
    run.approve("bob").unwrap();
    assert_eq!(run.pending_users(), ["carol"]);
    let skipped = run
        .inst
        .records()
        .iter()
        .filter(|r| matches!(r.status, RecordStatus::Skipped(AutoReason::Dedup { .. })))
        .count();
    assert_eq!(skipped, 1);
    run.approve("carol").unwrap();
    // dave returns to n2: bob is asked again this time.
    let record = run.rec("dave");
    run.send(
        Actor::Member(u("dave")),
        Command::Return {
            record,
            to: k("n2"),
            speech: "again".into(),
        },
    )
    .unwrap();
    let mut pending = run.pending_users();
    pending.sort();
    assert_eq!(pending, ["bob", "carol"]);
    assert!(run.inst.activations().last().unwrap().by_return);
}

#[test]
fn dedup_keep_last_defers_to_the_later_node() {
    let mut f = flow(
        "n1",
        vec![
            approval(
                "n1",
                task(members(&["bob", "carol"]), SignMode::All, Some("n2")),
            ),
            approval("n2", task(members(&["bob"]), SignMode::Any, None)),
        ],
    );
    f.dedup = Dedup::KeepLast;
    let mut run = Run::started(publish(f), submission("1"));
    assert_eq!(run.pending_users(), ["carol"]);
    run.approve("carol").unwrap();
    assert_eq!(run.pending_users(), ["bob"]);
}

// ---------------------------------------------------------------- actions

fn two_step() -> Arc<Template> {
    publish(flow(
        "n1",
        vec![
            approval("n1", task(members(&["bob"]), SignMode::Any, Some("n2"))),
            approval("n2", task(members(&["carol"]), SignMode::Any, None)),
        ],
    ))
}

#[test]
fn idempotency_key_replay_changes_nothing() {
    let mut run = Run::started(two_step(), submission("1"));
    let env = Envelope {
        key: IdempotencyKey::parse("approve-once").unwrap(),
        actor: Actor::Member(u("bob")),
        at: run.now + 1,
        command: Command::Approve {
            record: run.rec("bob"),
            speech: String::new(),
        },
    };
    let first = run.send_env(&env).unwrap();
    assert!(!first.is_empty());
    let again = run.send_env(&env).unwrap();
    assert!(again.is_empty());
    assert_eq!(run.inst.events_of(&env.key), Some(first.as_slice()));
    assert_eq!(run.inst.activations().len(), 2);
}

#[test]
fn only_the_records_member_may_act() {
    let mut run = Run::started(two_step(), submission("1"));
    let record = run.rec("bob");
    for actor in [Actor::Member(u("carol")), Actor::Member(u("alice"))] {
        let out = run.send(
            actor,
            Command::Approve {
                record,
                speech: String::new(),
            },
        );
        assert_eq!(out, Err(ApprovalError::NotPendingApprover));
    }
    let out = run.send(
        Actor::System,
        Command::Approve {
            record,
            speech: String::new(),
        },
    );
    assert_eq!(out, Err(ApprovalError::WrongActor));
    let out = run.send(
        Actor::Member(u("bob")),
        Command::Approve {
            record: RecordId(99),
            speech: String::new(),
        },
    );
    assert_eq!(out, Err(ApprovalError::UnknownRecord));
}

#[test]
fn transfer_hands_the_record_to_another_member() {
    let mut run = Run::started(two_step(), submission("1"));
    let record = run.rec("bob");
    let bad = run.send(
        Actor::Member(u("bob")),
        Command::Transfer {
            record,
            to: u("harry"),
            speech: String::new(),
        },
    );
    assert_eq!(bad, Err(ApprovalError::InvalidMember("harry".into())));
    run.send(
        Actor::Member(u("bob")),
        Command::Transfer {
            record,
            to: u("erin"),
            speech: "not mine".into(),
        },
    )
    .unwrap();
    assert_eq!(run.pending_users(), ["erin"]);
    assert_eq!(
        run.inst.records().last().unwrap().reason,
        Reason::TransferredBy(u("bob"))
    );
    run.approve("erin").unwrap();
    assert_eq!(run.pending_users(), ["carol"]);
}

#[test]
fn add_sign_before_and_after() {
    let mut run = Run::started(two_step(), submission("1"));
    let record = run.rec("bob");
    run.send(
        Actor::Member(u("bob")),
        Command::AddSign {
            record,
            users: vec![u("erin"), u("frank")],
            position: AddSignPosition::Before,
            speech: String::new(),
        },
    )
    .unwrap();
    assert_eq!(run.pending_users(), ["erin", "frank"]);
    run.approve("erin").unwrap();
    run.approve("frank").unwrap();
    assert_eq!(run.pending_users(), ["bob"]);
    let record = run.rec("bob");
    run.send(
        Actor::Member(u("bob")),
        Command::AddSign {
            record,
            users: vec![u("gina")],
            position: AddSignPosition::After,
            speech: "approve, and gina too".into(),
        },
    )
    .unwrap();
    assert_eq!(run.pending_users(), ["gina"]);
    assert_eq!(
        status::record_code(&run.inst.records()[0].status, ActivationStatus::Active),
        13
    );
    run.approve("gina").unwrap();
    assert_eq!(run.inst.records()[0].status, RecordStatus::Approved);
    assert_eq!(run.pending_users(), ["carol"]);
}

#[test]
fn a_rejecting_added_signer_rejects_the_node() {
    let mut run = Run::started(two_step(), submission("1"));
    let record = run.rec("bob");
    run.send(
        Actor::Member(u("bob")),
        Command::AddSign {
            record,
            users: vec![u("erin")],
            position: AddSignPosition::After,
            speech: String::new(),
        },
    )
    .unwrap();
    run.reject("erin").unwrap();
    assert_eq!(run.status(), InstanceStatus::Rejected);
}

#[test]
fn return_goes_back_to_a_passed_node_only() {
    let mut run = Run::started(two_step(), submission("1"));
    let record = run.rec("bob");
    let not_passed = run.send(
        Actor::Member(u("bob")),
        Command::Return {
            record,
            to: k("n2"),
            speech: String::new(),
        },
    );
    assert_eq!(not_passed, Err(ApprovalError::BadReturnTarget("n2".into())));
    run.approve("bob").unwrap();
    let record = run.rec("carol");
    run.send(
        Actor::Member(u("carol")),
        Command::Return {
            record,
            to: k("n1"),
            speech: "fix the amount".into(),
        },
    )
    .unwrap();
    assert_eq!(run.pending_users(), ["bob"]);
    let last = run.inst.activations().last().unwrap();
    assert_eq!(
        (last.node.as_str(), last.attempt, last.by_return),
        ("n1", 2, true)
    );
    assert_eq!(status::node_code(run.inst.activations()[1].status), 11);
}

#[test]
fn a_return_before_a_parallel_split_resets_its_join() {
    let t = publish(flow(
        "first",
        vec![
            approval(
                "first",
                task(members(&["dave"]), SignMode::Any, Some("split")),
            ),
            node(
                "split",
                NodeKind::Parallel {
                    branches: vec![k("a"), k("b")],
                    join: k("join"),
                },
            ),
            approval("a", task(members(&["bob"]), SignMode::Any, Some("join"))),
            approval("b", task(members(&["carol"]), SignMode::Any, Some("join"))),
            node("join", NodeKind::Join { next: None }),
        ],
    ));
    let mut run = Run::started(t, submission("1"));
    run.approve("dave").unwrap();
    run.approve("bob").unwrap();
    let record = run.rec("carol");
    run.send(
        Actor::Member(u("carol")),
        Command::Return {
            record,
            to: k("first"),
            speech: String::new(),
        },
    )
    .unwrap();
    assert_eq!(run.pending_users(), ["dave"]);
    run.approve("dave").unwrap();
    run.approve("bob").unwrap();
    assert_eq!(
        run.status(),
        InstanceStatus::Running,
        "the join waits for both branches again"
    );
    run.approve("carol").unwrap();
    assert_eq!(run.status(), InstanceStatus::Approved);
}

#[test]
fn withdraw_comment_and_urge() {
    let mut run = Run::started(two_step(), submission("1"));
    assert_eq!(
        run.send(Actor::Member(u("bob")), Command::Withdraw),
        Err(ApprovalError::NotApplicant)
    );
    run.send(Actor::Member(u("alice")), Command::Urge).unwrap();
    assert!(matches!(
        run.send(Actor::Member(u("alice")), Command::Urge),
        Err(ApprovalError::UrgeTooSoon(_))
    ));
    assert_eq!(
        run.send(
            Actor::Member(u("erin")),
            Command::Comment { text: "hi".into() }
        ),
        Err(ApprovalError::NotParticipant)
    );
    run.send(
        Actor::Member(u("bob")),
        Command::Comment {
            text: "looking".into(),
        },
    )
    .unwrap();
    run.send(Actor::Member(u("alice")), Command::Withdraw)
        .unwrap();
    assert_eq!(run.status(), InstanceStatus::Withdrawn);
    run.send(
        Actor::Member(u("alice")),
        Command::Comment {
            text: "sorry".into(),
        },
    )
    .unwrap();
    assert_eq!(run.inst.comments().len(), 2);
    let events: Vec<u8> = run
        .inst
        .events()
        .iter()
        .filter_map(|e| status::status_change_event(&e.body))
        .collect();
    assert_eq!(events, [1, 5, 10, 6, 10]);
}

#[test]
fn withdraw_rules() {
    let mut d = draft(two_step().flow().clone());
    d.withdraw = WithdrawRule::BeforeFirstApproval;
    let t = Arc::new(d.publish(TemplateVersion(1), &TestOrg::new()).unwrap());
    let mut run = Run::started(t, submission("1"));
    run.approve("bob").unwrap();
    assert_eq!(
        run.send(Actor::Member(u("alice")), Command::Withdraw),
        Err(ApprovalError::WithdrawNotAllowed)
    );
}

fn timed(action: TimeoutAction) -> Arc<Template> {
    publish(flow(
        "n1",
        vec![
            approval(
                "n1",
                TaskNode {
                    timeout: Some(Timeout {
                        remind_after_secs: Some(4 * 3600),
                        deadline: Some((24 * 3600, action)),
                    }),
                    ..task(members(&["bob", "carol"]), SignMode::Sequential, Some("n2"))
                },
            ),
            approval("n2", task(members(&["dave"]), SignMode::Any, None)),
        ],
    ))
}

fn fire(run: &mut Run, kind: TimerKind) -> Result<Vec<Event>, ApprovalError> {
    let act = run.inst.activations()[0].clone();
    let due = act.timers.iter().find(|t| t.kind == kind).unwrap().due_at;
    run.now = run.now.max(due - 60);
    run.send(
        Actor::System,
        Command::TimerFired {
            activation: act.id,
            kind,
        },
    )
}

#[test]
fn timers_remind_then_act_exactly_once() {
    let mut run = Run::started(timed(TimeoutAction::AutoApprove), submission("1"));
    let act = run.inst.activations()[0].id;
    let early = run.send(
        Actor::System,
        Command::TimerFired {
            activation: act,
            kind: TimerKind::Remind,
        },
    );
    assert_eq!(early, Err(ApprovalError::TimerNotDue));
    let reminded = fire(&mut run, TimerKind::Remind).unwrap();
    assert!(
        reminded
            .iter()
            .any(|e| matches!(&e.body, EventBody::Reminded { users, .. } if users == &[u("bob")]))
    );
    assert!(
        fire(&mut run, TimerKind::Remind).unwrap().is_empty(),
        "a timer fires once"
    );
    fire(&mut run, TimerKind::Deadline).unwrap();
    assert_eq!(run.pending_users(), ["dave"], "both stages auto-approved");
    assert!(matches!(
        run.inst.records()[1].status,
        RecordStatus::Auto {
            approved: true,
            why: AutoReason::Timeout
        }
    ));
    assert!(
        fire(&mut run, TimerKind::Deadline).unwrap().is_empty(),
        "stale activation: nothing"
    );
}

#[test]
fn timeout_auto_reject_and_escalate() {
    let mut run = Run::started(timed(TimeoutAction::AutoReject), submission("1"));
    fire(&mut run, TimerKind::Deadline).unwrap();
    assert_eq!(run.status(), InstanceStatus::Rejected);

    let mut run = Run::started(timed(TimeoutAction::EscalateToLeader), submission("1"));
    fire(&mut run, TimerKind::Deadline).unwrap();
    // bob's leader carol is asked at the next stage already, so the
    // administrator gets bob's record.
    assert_eq!(run.pending_users(), ["gina"]);
    let last = run.inst.records().last().unwrap();
    assert_eq!(last.reason, Reason::Escalated { from: u("bob") });
    run.approve("gina").unwrap();
    assert_eq!(run.pending_users(), ["carol"]);
}

#[test]
fn handler_nodes_handle_and_hand_over_but_never_reject() {
    let t = publish(flow(
        "h",
        vec![node(
            "h",
            NodeKind::Handler(task(members(&["erin"]), SignMode::Any, None)),
        )],
    ));
    let mut run = Run::started(t, submission("1"));
    assert_eq!(run.reject("erin"), Err(ApprovalError::NotAllowedOnHandler));
    let record = run.rec("erin");
    run.send(
        Actor::Member(u("erin")),
        Command::Transfer {
            record,
            to: u("frank"),
            speech: String::new(),
        },
    )
    .unwrap();
    assert_eq!(
        status::record_code(&run.inst.records()[0].status, ActivationStatus::Active),
        15
    );
    run.approve("frank").unwrap();
    assert_eq!(run.inst.records()[1].status, RecordStatus::Handled);
    assert_eq!(run.status(), InstanceStatus::Approved);
}

#[test]
fn chosen_by_applicant_is_required_at_submit() {
    let t = publish(flow(
        "pick",
        vec![approval(
            "pick",
            task(
                ApproverRule::ChosenByApplicant { multi: false },
                SignMode::Any,
                None,
            ),
        )],
    ));
    let mut run = Run::new(Arc::clone(&t));
    assert_eq!(
        run.submit(submission("1")),
        Err(ApprovalError::ChoiceMissing("pick".into()))
    );
    let mut s = submission("1");
    s.chosen.insert(k("pick"), vec![u("erin"), u("frank")]);
    assert_eq!(
        run.submit(s.clone()),
        Err(ApprovalError::BadChoice("pick".into()))
    );
    s.chosen.insert(k("pick"), vec![u("erin")]);
    run.submit(s).unwrap();
    assert_eq!(run.pending_users(), ["erin"]);
    assert_eq!(run.inst.records()[0].reason, Reason::ChosenByApplicant);
}

#[test]
fn approvers_from_a_contact_control() {
    let t = publish(flow(
        "n1",
        vec![approval(
            "n1",
            TaskNode {
                on_empty: Some(EmptyPolicy::AutoApprove),
                ..task(
                    ApproverRule::FromContact(c("Contact-01")),
                    SignMode::All,
                    None,
                )
            },
        )],
    ));
    let mut s = submission("1");
    s.form.insert(
        c("Contact-01"),
        ControlValue::Members(vec![MemberRef {
            userid: u("frank"),
            name: "Frank".into(),
        }]),
    );
    let run = Run::started(t, s);
    assert_eq!(run.pending_users(), ["frank"]);
    assert_eq!(
        run.inst.records()[0].reason,
        Reason::FromControl(c("Contact-01"))
    );
}

#[test]
fn submit_checks_the_applicant_and_the_form() {
    let mut run = Run::new(two_step());
    let mut s = submission("1");
    s.dept = Some(d(4));
    assert_eq!(run.submit(s), Err(ApprovalError::InvalidApplicant));
    let mut s = submission("1");
    s.form.remove(&c("Money-01"));
    match run.submit(s) {
        Err(ApprovalError::Field(e)) => {
            assert_eq!(
                (e.control.as_str(), e.title.as_str(), &e.problem),
                ("Money-01", "金额", &ValueProblem::Required)
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(run.inst.events().is_empty(), "nothing stored");
    run.submit(submission("1")).unwrap();
    assert_eq!(
        run.submit(submission("1")),
        Err(ApprovalError::AlreadySubmitted)
    );
}

#[test]
fn an_empty_flow_approves_at_once() {
    let mut d = draft(Flow {
        start: None,
        nodes: vec![],
        dedup: Dedup::None,
    });
    d.admins.clear();
    let t = Arc::new(d.publish(TemplateVersion(1), &TestOrg::new()).unwrap());
    let run = Run::started(t, submission("1"));
    assert_eq!(run.status(), InstanceStatus::Approved);
}

// ---------------------------------------------------------------- forms

fn validate(spec: &FormSpec, input: FormInput) -> Result<FormData, FieldError> {
    spec.validate(&input, &TestOrg::new())
}

#[test]
fn form_values_are_checked_and_named() {
    let spec = purchase_form();
    let problem = |input: FormInput| validate(&spec, input).unwrap_err();
    let mut f = form("1");
    f.insert(c("Text-01"), ControlValue::Text("two\nlines".into()));
    assert_eq!(problem(f).problem, ValueProblem::Newline);
    let mut f = form("1");
    f.insert(c("Money-01"), ControlValue::Money(Money { minor: -1 }));
    let e = problem(f);
    assert_eq!(
        (e.control.as_str(), e.problem),
        ("Money-01", ValueProblem::OutOfRange)
    );
    let mut f = form("1");
    f.insert(c("Money-01"), ControlValue::Number(dec("1")));
    assert_eq!(problem(f).problem, ValueProblem::WrongKind("Money"));
    let mut f = form("1");
    f.insert(c("Selector-01"), ControlValue::Selector(vec!["car".into()]));
    assert_eq!(
        problem(f).problem,
        ValueProblem::UnknownOption("car".into())
    );
    let mut f = form("1");
    f.insert(
        c("Selector-01"),
        ControlValue::Selector(vec!["it".into(), "office".into()]),
    );
    assert_eq!(problem(f).problem, ValueProblem::TooManyChoices);
    let mut f = form("1");
    f.insert(
        c("Contact-01"),
        ControlValue::Members(vec![MemberRef {
            userid: u("harry"),
            name: "H".into(),
        }]),
    );
    assert_eq!(
        problem(f).problem,
        ValueProblem::UnknownMember("harry".into())
    );
    let mut f = form("1");
    f.insert(c("Nope-01"), ControlValue::Text("x".into()));
    assert_eq!(problem(f).problem, ValueProblem::UnknownControl);
    let e = problem(
        form("1")
            .into_iter()
            .filter(|(id, _)| id.as_str() != "Text-01")
            .collect(),
    );
    assert_eq!(e.to_string(), "事由 (Text-01): a value is required");
}

#[test]
fn option_relations_hide_and_drop_controls() {
    let spec = purchase_form();
    let mut f = form("1");
    f.insert(c("Text-02"), ControlValue::Text("A-1".into()));
    let data = validate(&spec, f.clone()).unwrap();
    assert!(
        data.get(&c("Text-02")).is_none(),
        "hidden without its option"
    );
    f.insert(c("Selector-01"), ControlValue::Selector(vec!["it".into()]));
    let data = validate(&spec, f).unwrap();
    assert_eq!(
        data.get(&c("Text-02")),
        Some(&ControlValue::Text("A-1".into()))
    );
}

fn table_form() -> FormSpec {
    FormSpec {
        controls: vec![
            ControlSpec::new(
                "Table-01",
                "明细",
                true,
                ControlConfig::Table {
                    children: vec![
                        ControlSpec::new(
                            "Text-11",
                            "品名",
                            true,
                            ControlConfig::Text { max_chars: None },
                        ),
                        ControlSpec::new(
                            "Money-11",
                            "单价",
                            true,
                            ControlConfig::Money {
                                min: None,
                                max: None,
                            },
                        ),
                    ],
                    print_rows: false,
                },
            ),
            ControlSpec::new(
                "Number-01",
                "人数",
                false,
                ControlConfig::Number {
                    min: Some(Decimal::ZERO),
                    max: Some(dec("1000")),
                    places: Some(0),
                },
            ),
            ControlSpec::new(
                "Formula-01",
                "人均",
                false,
                ControlConfig::Formula {
                    source: "SUM({Table-01.Money-11}) / {Number-01}".into(),
                    expr: formula::Expr::parse("SUM({Table-01.Money-11}) / {Number-01}").unwrap(),
                },
            ),
            ControlSpec::new(
                "BankAccount-01",
                "收款账户",
                false,
                ControlConfig::BankAccount,
            ),
            ControlSpec::new("PhoneNumber-01", "电话", false, ControlConfig::PhoneNumber),
            ControlSpec::new(
                "DateRange-01",
                "时长",
                false,
                ControlConfig::DateRange {
                    unit: RangeUnit::HalfDay,
                    workdays: false,
                    perday_secs: 86_400,
                },
            ),
        ],
    }
}

fn row(name: &str, price: &str) -> form::Row {
    form::Row::from([
        (c("Text-11"), ControlValue::Text(name.into())),
        (
            c("Money-11"),
            ControlValue::Money(Money::from_decimal(dec(price)).unwrap()),
        ),
    ])
}

#[test]
fn tables_formulas_and_sensitive_values() {
    let spec = table_form();
    let mut issues = Vec::new();
    spec.check(&mut issues);
    assert!(issues.is_empty(), "{issues:?}");
    let base = FormInput::from([
        (
            c("Table-01"),
            ControlValue::Table(vec![row("pen", "10.5"), row("ink", "20")]),
        ),
        (c("Number-01"), ControlValue::Number(dec("3"))),
        (c("Formula-01"), ControlValue::Formula(dec("999"))),
    ]);
    let data = validate(&spec, base.clone()).unwrap();
    assert_eq!(
        data.get(&c("Formula-01")),
        Some(&ControlValue::Formula(dec("10.166667"))),
        "client value ignored"
    );

    let mut zero = base.clone();
    zero.insert(c("Number-01"), ControlValue::Number(dec("0")));
    let e = validate(&spec, zero).unwrap_err();
    assert_eq!(
        (e.control.as_str(), e.problem),
        (
            "Formula-01",
            ValueProblem::Formula(DecimalError::DivisionByZero)
        )
    );

    let mut bad_row = base.clone();
    bad_row.insert(
        c("Table-01"),
        ControlValue::Table(vec![
            row("pen", "1"),
            form::Row::from([(c("Text-11"), ControlValue::Text("x".into()))]),
        ]),
    );
    let e = validate(&spec, bad_row).unwrap_err();
    assert_eq!(
        (e.control.as_str(), e.row, e.problem),
        ("Money-11", Some(1), ValueProblem::Required)
    );

    let mut frac = base.clone();
    frac.insert(c("Number-01"), ControlValue::Number(dec("2.5")));
    assert_eq!(
        validate(&spec, frac).unwrap_err().problem,
        ValueProblem::TooPrecise(0)
    );

    let account = BankAccount {
        account_type: 2,
        account_name: "Alice".into(),
        account_number: "6222020200001234".into(),
        remark: String::new(),
        bank: form::Bank::default(),
    };
    let mut with_account = base.clone();
    with_account.insert(
        c("BankAccount-01"),
        ControlValue::BankAccount(account.clone()),
    );
    with_account.insert(
        c("PhoneNumber-01"),
        ControlValue::Phone(PhoneNumber {
            country_code: "86".into(),
            number: "13800000000".into(),
        }),
    );
    let data = validate(&spec, with_account.clone()).unwrap();
    let ControlValue::BankAccount(masked) =
        data.masked().get(&c("BankAccount-01")).unwrap().clone()
    else {
        panic!()
    };
    assert_eq!(masked.account_number, "**** 1234");
    assert!(
        !format!("{:?}", data).contains("6222020200001234"),
        "Debug masks the number"
    );
    assert_eq!(
        data.get(&c("BankAccount-01")),
        Some(&ControlValue::BankAccount(account.clone())),
        "kept whole inside the instance"
    );

    let mut bad_phone = base.clone();
    bad_phone.insert(
        c("PhoneNumber-01"),
        ControlValue::Phone(PhoneNumber {
            country_code: "086".into(),
            number: "138".into(),
        }),
    );
    assert_eq!(
        validate(&spec, bad_phone).unwrap_err().problem,
        ValueProblem::BadPhone
    );

    // Half days begin and end at 00:00 or 12:00 China time.
    let midnight_cn = 1_704_038_400; // 2024-01-01 00:00 +08:00
    let range = |begin, end| {
        let mut f = base.clone();
        f.insert(
            c("DateRange-01"),
            ControlValue::DateRange(DateRangeValue {
                unit: RangeUnit::HalfDay,
                begin,
                end,
                duration: 0,
                zone_offset: None,
            }),
        );
        validate(&spec, f)
    };
    let ok = range(midnight_cn, midnight_cn + 43_200).unwrap();
    assert!(
        matches!(ok.get(&c("DateRange-01")), Some(ControlValue::DateRange(r)) if r.duration == 43_200),
        "duration computed"
    );
    assert_eq!(
        range(midnight_cn + 3600, midnight_cn + 43_200)
            .unwrap_err()
            .problem,
        ValueProblem::NotHalfDay
    );
    assert_eq!(
        range(midnight_cn, midnight_cn).unwrap_err().problem,
        ValueProblem::BadRange
    );
}

#[test]
fn the_nineteen_controls_have_wecom_names() {
    assert_eq!(ControlKind::ALL.len(), 19);
    for kind in ControlKind::ALL {
        assert_eq!(ControlKind::from_wecom_name(kind.wecom_name()), Some(kind));
    }
    assert_eq!(ControlKind::from_wecom_name("text"), None);
}

// ---------------------------------------------------------------- publish

fn issues_of(d: TemplateDraft) -> Vec<String> {
    match d.publish(TemplateVersion(1), &TestOrg::new()) {
        Ok(_) => Vec::new(),
        Err(PublishError(issues)) => issues.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn a_broken_template_is_refused_with_every_reason() {
    let mut d = draft(flow(
        "gw",
        vec![
            node(
                "gw",
                NodeKind::Exclusive {
                    branches: vec![
                        Branch {
                            name: "big".into(),
                            priority: 1,
                            condition: Some(Condition::atom(Atom::Compare {
                                control: c("Money-01"),
                                cmp: Cmp::Gt,
                                value: dec("1000"),
                            })),
                            target: Some(k("a")),
                        },
                        Branch {
                            name: "text".into(),
                            priority: 2,
                            condition: Some(Condition::atom(Atom::Compare {
                                control: c("Text-01"),
                                cmp: Cmp::Gt,
                                value: dec("1"),
                            })),
                            target: Some(k("a")),
                        },
                    ],
                },
            ),
            approval(
                "a",
                task(ApproverRule::Role(TagId(1)), SignMode::Any, Some("b")),
            ),
            approval("b", task(members(&["bob"]), SignMode::Any, Some("a"))),
            approval(
                "orphan",
                task(members(&["harry"]), SignMode::Ratio { percent: 0 }, None),
            ),
        ],
    ));
    d.name = vec![LangText::zh("")];
    let issues = issues_of(d);
    let expect = [
        "template name",
        "compares Text-01, which is not a Number",
        "can resolve to nobody",
        "the flow has a cycle",
        "node orphan: cannot be reached",
        "member harry does not exist",
        "a pass ratio is 1 to 100",
    ];
    for e in expect {
        assert!(
            issues.iter().any(|i| i.contains(e)),
            "missing {e:?} in {issues:#?}"
        );
    }
}

fn gateway_issues(branches: Vec<(Option<Condition>, u32)>) -> Vec<String> {
    let bs = branches
        .into_iter()
        .enumerate()
        .map(|(i, (condition, priority))| Branch {
            name: format!("b{i}"),
            priority,
            condition,
            target: None,
        })
        .collect();
    issues_of(draft(flow(
        "gw",
        vec![node("gw", NodeKind::Exclusive { branches: bs })],
    )))
}

fn amount(cmp: Cmp, v: &str) -> Option<Condition> {
    Some(Condition::atom(Atom::Compare {
        control: c("Money-01"),
        cmp,
        value: dec(v),
    }))
}

#[test]
fn branch_coverage_is_proven_or_refused() {
    // < 1000 and >= 1000 cover everything: no default needed.
    assert!(
        gateway_issues(vec![
            (amount(Cmp::Lt, "1000"), 1),
            (amount(Cmp::Ge, "1000"), 2)
        ])
        .is_empty()
    );
    // <= 1000 and >= 1000.01 cover every amount in fen.
    assert!(
        gateway_issues(vec![
            (amount(Cmp::Le, "1000"), 1),
            (amount(Cmp::Ge, "1000.01"), 2)
        ])
        .is_empty()
    );
    // < 1000 and > 1000 miss exactly 1000.
    let gap = gateway_issues(vec![
        (amount(Cmp::Lt, "1000"), 1),
        (amount(Cmp::Gt, "1000"), 2),
    ]);
    assert!(
        gap.iter().any(|i| i.contains("add a default branch")),
        "{gap:?}"
    );
    // > 5000 after > 1000 is shadowed.
    let shadowed = gateway_issues(vec![
        (amount(Cmp::Gt, "1000"), 1),
        (amount(Cmp::Gt, "5000"), 2),
        (None, 3),
    ]);
    assert!(
        shadowed
            .iter()
            .any(|i| i.contains("branch \"b1\" can never be taken")),
        "{shadowed:?}"
    );
    // An impossible condition.
    let impossible = Condition {
        any_of: vec![vec![
            Atom::Compare {
                control: c("Money-01"),
                cmp: Cmp::Lt,
                value: dec("10"),
            },
            Atom::Compare {
                control: c("Money-01"),
                cmp: Cmp::Gt,
                value: dec("20"),
            },
        ]],
    };
    let never = gateway_issues(vec![(Some(impossible), 1), (None, 2)]);
    assert!(
        never.iter().any(|i| i.contains("can never be taken")),
        "{never:?}"
    );
    // An optional selector may be empty: "it" and "office" alone do not cover.
    let sel = |key: &str| {
        Some(Condition::atom(Atom::AnyOf {
            control: c("Selector-01"),
            keys: vec![key.into()],
        }))
    };
    let empty_gap = gateway_issues(vec![(sel("it"), 1), (sel("office"), 2)]);
    assert!(
        empty_gap.iter().any(|i| i.contains("add a default branch")),
        "{empty_gap:?}"
    );
    let applicant = Some(Condition::atom(Atom::ApplicantInDept { dept: d(2) }));
    let unknown = gateway_issues(vec![(applicant, 1)]);
    assert!(
        unknown.iter().any(|i| i.contains("add a default branch")),
        "{unknown:?}"
    );
    let unknown_key = gateway_issues(vec![(sel("car"), 1), (None, 2)]);
    assert!(
        unknown_key
            .iter()
            .any(|i| i.contains("option car is not offered")),
        "{unknown_key:?}"
    );
}

#[test]
fn parallel_branches_must_meet_at_their_join() {
    let issues = issues_of(draft(flow(
        "split",
        vec![
            node(
                "split",
                NodeKind::Parallel {
                    branches: vec![k("a"), k("b")],
                    join: k("join"),
                },
            ),
            approval("a", task(members(&["bob"]), SignMode::Any, Some("join"))),
            approval("b", task(members(&["carol"]), SignMode::Any, None)),
            node("join", NodeKind::Join { next: Some(k("b")) }),
        ],
    )));
    assert!(
        issues
            .iter()
            .any(|i| i.contains("ends the flow before its join")),
        "{issues:#?}"
    );
    assert!(
        issues
            .iter()
            .any(|i| i.contains("reached from two different parallel branches")),
        "{issues:#?}"
    );
}

#[test]
fn form_checks_at_publish() {
    let mut d = draft(two_step().flow().clone());
    d.form.controls.push(ControlSpec::new(
        "Text-01",
        "事由",
        false,
        ControlConfig::Text { max_chars: None },
    ));
    d.form.controls.push(ControlSpec::new(
        "Formula-01",
        "公式",
        false,
        ControlConfig::Formula {
            source: "{Formula-01} + {Text-02}".into(),
            expr: formula::Expr::parse("{Formula-01} + {Text-02}").unwrap(),
        },
    ));
    d.form.controls.push(ControlSpec::new(
        "Location-01",
        "位置",
        false,
        ControlConfig::Location { distance: 150 },
    ));
    let issues = issues_of(d);
    for e in [
        "id is used twice",
        "not a Number, Money or Formula",
        "cycle",
        "100, 200 or 300",
    ] {
        assert!(
            issues.iter().any(|i| i.contains(e)),
            "missing {e:?} in {issues:#?}"
        );
    }
}

#[test]
fn directory_implements_the_org_port() {
    use crate::directory::Directory;
    let dir = Directory::with_root("corp");
    assert!(Org::dept_exists(&dir, DeptId::ROOT));
    assert_eq!(Org::dept_parent(&dir, DeptId::ROOT), None);
    assert!(Org::member(&dir, &u("nobody")).is_none());
    assert!(Org::role_members(&dir, TagId(1)).is_empty());
}

// ---------------------------------------------------------------- properties

/// A generated flow element.
#[derive(Debug, Clone)]
enum Elem {
    Task {
        rule: u8,
        mode: u8,
        policy: u8,
        timeout: u8,
        handler: bool,
    },
    Cc,
    Exclusive(Vec<Vec<Elem>>),
    Parallel(Vec<Vec<Elem>>),
}

fn elem() -> impl Strategy<Value = Elem> {
    let leaf = prop_oneof![
        4 => (0u8..7, 0u8..5, 0u8..3, 0u8..4, prop::bool::weighted(0.15))
            .prop_map(|(rule, mode, policy, timeout, handler)| Elem::Task { rule, mode, policy, timeout, handler }),
        1 => Just(Elem::Cc),
    ];
    leaf.prop_recursive(2, 16, 3, |inner| {
        let chain = prop::collection::vec(inner, 0..3);
        prop_oneof![
            prop::collection::vec(chain.clone(), 1..4).prop_map(Elem::Exclusive),
            prop::collection::vec(chain, 2..4).prop_map(Elem::Parallel),
        ]
    })
}

struct Builder {
    nodes: Vec<FlowNode>,
    n: usize,
}

impl Builder {
    fn key(&mut self) -> NodeKey {
        self.n += 1;
        k(&format!("n{}", self.n))
    }

    /// Builds a chain ending at `next`; returns its first node.
    fn chain(&mut self, elems: &[Elem], next: Option<NodeKey>) -> Option<NodeKey> {
        let mut next = next;
        for e in elems.iter().rev() {
            next = Some(self.elem(e, next));
        }
        next
    }

    fn elem(&mut self, e: &Elem, next: Option<NodeKey>) -> NodeKey {
        let key = self.key();
        let kind = match e {
            Elem::Task {
                rule,
                mode,
                policy,
                timeout,
                handler,
            } => {
                let rule = match rule {
                    0 => members(&["bob"]),
                    1 => members(&["bob", "carol", "dave"]),
                    2 => ApproverRule::Role(TagId(1)),
                    3 => ApproverRule::Role(TagId(2)),
                    4 => ApproverRule::LeaderChain {
                        source: ChainSource::Superior,
                        stop_level: 3,
                    },
                    5 => ApproverRule::Leader {
                        source: ChainSource::DeptHead,
                        level: 2,
                    },
                    _ => members(&["alice", "erin"]),
                };
                let chain = matches!(rule, ApproverRule::LeaderChain { .. });
                let mode = match (chain, mode, handler) {
                    (true, _, _) => SignMode::Sequential,
                    (_, 0, _) => SignMode::Sequential,
                    (_, 1, _) => SignMode::All,
                    (_, 2, _) | (_, _, true) => SignMode::Any,
                    (_, 3, _) => SignMode::Ratio { percent: 50 },
                    _ => SignMode::Vote { pass: 2 },
                };
                let t = TaskNode {
                    rule,
                    mode,
                    on_empty: Some(if *policy == 0 {
                        EmptyPolicy::ToAdmins
                    } else {
                        EmptyPolicy::AutoApprove
                    }),
                    applicant_is_approver: [
                        SelfPolicy::SelfApprove,
                        SelfPolicy::Skip,
                        SelfPolicy::ToLeader,
                    ][*policy as usize],
                    timeout: match timeout {
                        0 => None,
                        1 => Some(Timeout {
                            remind_after_secs: Some(60),
                            deadline: Some((3600, TimeoutAction::AutoApprove)),
                        }),
                        2 => Some(Timeout {
                            remind_after_secs: None,
                            deadline: Some((3600, TimeoutAction::AutoReject)),
                        }),
                        _ => Some(Timeout {
                            remind_after_secs: Some(60),
                            deadline: Some((3600, TimeoutAction::EscalateToLeader)),
                        }),
                    },
                    next,
                };
                if *handler {
                    NodeKind::Handler(t)
                } else {
                    NodeKind::Approval(t)
                }
            }
            Elem::Cc => NodeKind::Cc {
                rule: ApproverRule::Role(TagId(1)),
                next,
            },
            Elem::Exclusive(chains) => {
                let mut branches = Vec::new();
                for (i, ch) in chains.iter().enumerate() {
                    let target = self.chain(ch, next.clone());
                    let last = i + 1 == chains.len();
                    branches.push(Branch {
                        name: format!("b{i}"),
                        priority: i as u32,
                        condition: (!last).then(|| {
                            Condition::atom(Atom::Compare {
                                control: c("Money-01"),
                                cmp: Cmp::Lt,
                                value: Decimal::from_int(1000 * (i as i64 + 1)),
                            })
                        }),
                        target,
                    });
                }
                NodeKind::Exclusive { branches }
            }
            Elem::Parallel(chains) => {
                let join = self.key();
                self.nodes
                    .push(node(join.as_str(), NodeKind::Join { next }));
                let branches = chains
                    .iter()
                    .map(|ch| {
                        self.chain(ch, Some(join.clone()))
                            .unwrap_or_else(|| join.clone())
                    })
                    .collect();
                NodeKind::Parallel { branches, join }
            }
        };
        self.nodes.push(node(key.as_str(), kind));
        key
    }
}

fn build(elems: &[Elem], dedup: u8) -> Flow {
    let mut b = Builder {
        nodes: Vec::new(),
        n: 0,
    };
    let start = b.chain(elems, None);
    Flow {
        start,
        nodes: b.nodes,
        dedup: [Dedup::None, Dedup::KeepFirst, Dedup::KeepLast][dedup as usize],
    }
}

/// A random command on the current state, or `None` when nothing applies.
fn random_command(run: &Run, pick: (u8, usize, usize)) -> Option<(Actor, Command)> {
    let (what, i, j) = pick;
    let actionable = run.inst.actionable();
    let r = *actionable.get(i % actionable.len().max(1))?;
    let actor = Actor::Member(r.user.clone());
    let others = ["bob", "carol", "dave", "erin", "frank", "gina"];
    let other = u(others[j % others.len()]);
    let cmd = match what % 9 {
        0 | 1 => Command::Approve {
            record: r.id,
            speech: String::new(),
        },
        2 => Command::Reject {
            record: r.id,
            speech: String::new(),
        },
        3 => Command::Transfer {
            record: r.id,
            to: other,
            speech: String::new(),
        },
        4 => Command::AddSign {
            record: r.id,
            users: vec![other],
            position: if j % 2 == 0 {
                AddSignPosition::Before
            } else {
                AddSignPosition::After
            },
            speech: String::new(),
        },
        5 => {
            let passed: Vec<&Activation> = run
                .inst
                .activations()
                .iter()
                .filter(|a| a.status == ActivationStatus::Passed)
                .collect();
            let to = passed.get(j % passed.len().max(1))?.node.clone();
            Command::Return {
                record: r.id,
                to,
                speech: String::new(),
            }
        }
        6 => Command::Comment {
            text: "note".into(),
        },
        7 => return Some((Actor::Member(u("alice")), Command::Urge)),
        _ => {
            let act = run
                .inst
                .active()
                .nth(j % run.inst.active().count().max(1))?;
            let kind = if i % 2 == 0 {
                TimerKind::Remind
            } else {
                TimerKind::Deadline
            };
            return Some((
                Actor::System,
                Command::TimerFired {
                    activation: act.id,
                    kind,
                },
            ));
        }
    };
    Some((actor, cmd))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn published_random_templates_always_terminate(
        elems in prop::collection::vec(elem(), 1..5),
        dedup in 0u8..3,
        amount in 0i64..4000,
        picks in prop::collection::vec((any::<u8>(), any::<usize>(), any::<usize>()), 0..25),
    ) {
        let t = draft(build(&elems, dedup)).publish(TemplateVersion(1), &TestOrg::new());
        let t = match t {
            Ok(t) => Arc::new(t),
            Err(e) => return Err(TestCaseError::fail(format!("a generated template was refused: {e}"))),
        };
        let mut run = Run::started(t, submission(&amount.to_string()));
        for pick in picks {
            if run.status() != InstanceStatus::Running {
                break;
            }
            let Some((actor, cmd)) = random_command(&run, pick) else { continue };
            if let Command::TimerFired { activation, kind } = &cmd {
                let due = run.inst.activations()[(activation.0 - 1) as usize].timers.iter().find(|t| t.kind == *kind).map(|t| t.due_at);
                if let Some(due) = due {
                    run.now = run.now.max(due);
                }
            }
            let _ = run.send(actor, cmd);
        }
        // Everyone approves from here: the instance must end.
        for _ in 0..500 {
            if run.status() != InstanceStatus::Running {
                break;
            }
            let r = run.inst.actionable()[0].clone();
            run.send(Actor::Member(r.user.clone()), Command::Approve { record: r.id, speech: String::new() }).unwrap();
        }
        prop_assert!(matches!(run.status(), InstanceStatus::Approved | InstanceStatus::Rejected), "ended as {:?}", run.status());
    }
}
