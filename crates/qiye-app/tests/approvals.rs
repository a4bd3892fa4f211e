//! The approval use cases on real databases (SQLite always, PostgreSQL when
//! `QIYE_TEST_PG_URL` is set): or-sign and countersign flows, two nodes
//! (two `Services` over one database, each with its own in-process locks)
//! racing on one instance, repeated idempotency keys, refused submissions
//! that store nothing, publication refused with every reason, and a timer
//! fired exactly once by racing workers.

use std::collections::BTreeMap;
use std::sync::Arc;

use qiye_app::approval::{ApprovalUseError, DecidedBy};
use qiye_app::directory::DirCaller;
use qiye_app::{AppError, Services, ServicesConfig};
use qiye_domain::approval::form::Money;
use qiye_domain::approval::{
    Actor, ApprovalError, ApproverRule, Command, ControlConfig, ControlId, ControlSpec,
    ControlValue, Dedup, EventBody, Flow, FlowNode, FormSpec, IdempotencyKey, Instance,
    InstanceStatus, LangText, NodeKey, NodeKind, SelfPolicy, SignMode, Submission, TaskNode,
    TemplateDraft, TemplateId, Timeout, WithdrawRule,
};
use qiye_domain::audit::Actor as AuditActor;
use qiye_domain::clock::ManualClock;
use qiye_domain::directory::MemberFields;
use qiye_domain::ids::{CorpId, UserId};
use qiye_domain::plan::Plan;
use qiye_domain::ports::{ApprovalList, InstanceQuery, Store};
use qiye_store::SqlStore;
use qiye_store::testing::{TestDatabase, pg_url_from_env};

/// A fresh database per backend available here.
async fn backends() -> Vec<(Arc<dyn Store>, Option<TestDatabase>, tempfile::TempDir)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = SqlStore::open_sqlite_file(&dir.path().join("q.db"))
        .await
        .expect("sqlite");
    let mut out: Vec<(Arc<dyn Store>, Option<TestDatabase>, tempfile::TempDir)> =
        vec![(Arc::new(sqlite), None, dir)];
    if let Some(server) = pg_url_from_env() {
        let db = TestDatabase::create(&server).await.expect("pg database");
        let store = SqlStore::open(&db.url).await.expect("postgres");
        out.push((
            Arc::new(store),
            Some(db),
            tempfile::tempdir().expect("tempdir"),
        ));
    }
    out
}

fn user(s: &str) -> UserId {
    UserId::parse(s).expect("userid")
}

fn services(store: &Arc<dyn Store>, clock: &ManualClock) -> Services {
    Services::new(
        store.clone(),
        Arc::new(clock.clone()),
        ServicesConfig::default(),
    )
}

/// A corp with active members alice, bob, carol, dave and erin.
async fn corp(svc: &Services) -> CorpId {
    let created = svc
        .create_corp("审批公司", Plan::Professional, AuditActor::System)
        .await
        .expect("corp");
    let corp = created.corp.id;
    let op = DirCaller::operator(corp.clone(), AuditActor::System);
    for (n, name) in ["alice", "bob", "carol", "dave", "erin"].iter().enumerate() {
        let fields = MemberFields {
            name: Some(name.to_uppercase()),
            mobile: Some(format!("1380000{n:04}")),
            ..MemberFields::default()
        };
        svc.create_member(&op, user(name), fields)
            .await
            .expect("member");
        svc.member_verified(&op, &user(name)).await.expect("active");
    }
    corp
}

fn task(
    members: &[&str],
    mode: SignMode,
    next: Option<&str>,
    timeout: Option<Timeout>,
) -> TaskNode {
    TaskNode {
        rule: ApproverRule::Members(members.iter().map(|m| user(m)).collect()),
        mode,
        on_empty: None,
        applicant_is_approver: SelfPolicy::SelfApprove,
        timeout,
        next: next.map(|n| NodeKey::parse(n).expect("key")),
    }
}

/// Or-sign by bob or carol (reminder after 60 s), then countersign by dave
/// and erin.
fn purchase(id: &str) -> TemplateDraft {
    let node = |key: &str, t: TaskNode| FlowNode {
        key: NodeKey::parse(key).expect("key"),
        name: key.into(),
        kind: NodeKind::Approval(t),
    };
    TemplateDraft {
        id: TemplateId::parse(id).expect("id"),
        name: vec![LangText::zh("采购")],
        form: FormSpec {
            controls: vec![
                ControlSpec::new(
                    "Text-01",
                    "事由",
                    true,
                    ControlConfig::Text { max_chars: None },
                ),
                ControlSpec::new(
                    "Money-02",
                    "金额",
                    true,
                    ControlConfig::Money {
                        min: None,
                        max: None,
                    },
                ),
            ],
        },
        flow: Flow {
            start: Some(NodeKey::parse("lead").expect("key")),
            nodes: vec![
                node(
                    "lead",
                    task(
                        &["bob", "carol"],
                        SignMode::Any,
                        Some("finance"),
                        Some(Timeout {
                            remind_after_secs: Some(60),
                            deadline: None,
                        }),
                    ),
                ),
                node(
                    "finance",
                    task(&["dave", "erin"], SignMode::All, None, None),
                ),
            ],
            dedup: Dedup::None,
        },
        admins: vec![],
        withdraw: WithdrawRule::Anytime,
    }
}

fn submission(text: Option<&str>) -> Submission {
    let mut form = BTreeMap::new();
    if let Some(t) = text {
        form.insert(
            ControlId::parse("Text-01").unwrap(),
            ControlValue::Text(t.into()),
        );
    }
    form.insert(
        ControlId::parse("Money-02").unwrap(),
        ControlValue::Money(Money { minor: 99_00 }),
    );
    Submission {
        applicant: user("alice"),
        dept: None,
        form,
        chosen: BTreeMap::new(),
    }
}

async fn published(svc: &Services, corp: &CorpId) -> TemplateId {
    let draft = purchase("purchase");
    svc.create_approval_template(corp, &draft, AuditActor::System)
        .await
        .expect("create");
    svc.publish_approval_template(corp, &draft.id, AuditActor::System)
        .await
        .expect("publish");
    draft.id
}

fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey::parse(k).expect("key")
}

fn record_of(inst: &Instance, who: &str) -> qiye_domain::approval::RecordId {
    inst.actionable()
        .iter()
        .find(|r| r.user == user(who))
        .map(|r| r.id)
        .unwrap_or_else(|| panic!("{who} has nothing to act on"))
}

fn approve(inst: &Instance, who: &str) -> Command {
    Command::Approve {
        record: record_of(inst, who),
        speech: format!("{who} 同意"),
    }
}

fn alice() -> Actor {
    Actor::Member(user("alice"))
}

/// Two nodes race: bob and carol on the or-sign node (one passes it, the
/// other is refused as decided), then dave and erin on the countersign
/// node (both count): never a second activation, never a lost approval.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_racing_on_one_instance_never_duplicate_or_lose() {
    for (store, _db, _dir) in backends().await {
        let clock = ManualClock::starting_now();
        let node_a = Arc::new(services(&store, &clock));
        let node_b = Arc::new(services(&store, &clock));
        let corp = corp(&node_a).await;
        let template = published(&node_a, &corp).await;
        for round in 0..8 {
            let inst = node_a
                .submit_approval(&corp, &template, submission(Some("纸")), alice())
                .await
                .expect("submit");
            let race = |svc: Arc<Services>, who: &'static str, inst: Instance| {
                let corp = corp.clone();
                tokio::spawn(async move {
                    svc.act_on_approval(
                        &corp,
                        inst.sp_no(),
                        key(&format!("{who}-{round}")),
                        Actor::Member(user(who)),
                        approve(&inst, who),
                    )
                    .await
                })
            };
            let bob = race(node_a.clone(), "bob", inst.clone());
            let carol = race(node_b.clone(), "carol", inst.clone());
            let outcomes = [bob.await.unwrap(), carol.await.unwrap()];
            let passed = outcomes.iter().filter(|o| o.is_ok()).count();
            assert_eq!(passed, 1, "round {round}: {outcomes:?}");
            for e in outcomes.iter().filter_map(|o| o.as_ref().err()) {
                assert!(
                    matches!(e, AppError::Approval(ApprovalUseError::Engine(_))),
                    "{e:?}"
                );
            }
            let now = node_b.load_approval(&corp, inst.sp_no()).await.unwrap();
            let dave = race(node_a.clone(), "dave", now.clone());
            let erin = race(node_b.clone(), "erin", now.clone());
            dave.await.unwrap().expect("dave counts");
            erin.await.unwrap().expect("erin counts");
            let done = node_a.load_approval(&corp, inst.sp_no()).await.unwrap();
            assert_eq!(done.status(), InstanceStatus::Approved, "round {round}");
            let activations: Vec<&str> =
                done.activations().iter().map(|a| a.node.as_str()).collect();
            assert_eq!(activations, ["lead", "finance"], "round {round}");
            let approvals = done
                .events()
                .iter()
                .filter(|e| {
                    matches!(&e.body, EventBody::RecordChanged { status, .. }
                        if *status == qiye_domain::approval::RecordStatus::Approved)
                })
                .count();
            assert_eq!(
                approvals, 3,
                "round {round}: one or-sign and two countersign votes"
            );
        }
        // Lists: the approvers have nothing left to do; alice applied 8.
        for who in ["bob", "carol", "dave", "erin"] {
            let todo = node_a
                .approval_list(&corp, &user(who), ApprovalList::Todo, None, 100)
                .await
                .unwrap();
            assert!(todo.is_empty(), "{who}: {todo:?}");
        }
        let done = node_a
            .approval_list(&corp, &user("dave"), ApprovalList::Done, None, 100)
            .await
            .unwrap();
        assert_eq!(done.len(), 8);
        let applied = node_a
            .approval_list(&corp, &user("alice"), ApprovalList::Applied, None, 100)
            .await
            .unwrap();
        assert_eq!(applied.len(), 8);
    }
}

/// A repeated key answers the first decision, even after the state moved.
#[tokio::test]
async fn a_repeated_key_answers_the_first_outcome() {
    for (store, _db, _dir) in backends().await {
        let clock = ManualClock::starting_now();
        let svc = services(&store, &clock);
        let corp = corp(&svc).await;
        let template = published(&svc, &corp).await;
        let inst = svc
            .submit_approval(&corp, &template, submission(Some("纸")), alice())
            .await
            .unwrap();
        let command = approve(&inst, "bob");
        let bob = || Actor::Member(user("bob"));
        let first = svc
            .act_on_approval(&corp, inst.sp_no(), key("k1"), bob(), command.clone())
            .await
            .unwrap();
        assert_eq!(first.decided, DecidedBy::Now);
        let again = svc
            .act_on_approval(&corp, inst.sp_no(), key("k1"), bob(), command)
            .await
            .unwrap();
        assert_eq!(again.decided, DecidedBy::Earlier);
        assert_eq!(again.events, first.events);
        assert_eq!(again.instance.events().len(), first.instance.events().len());
    }
}

async fn corp_b(svc: &Services) -> CorpId {
    svc.create_corp("别的公司", Plan::Professional, AuditActor::System)
        .await
        .expect("corp")
        .corp
        .id
}

/// A submission the engine refuses stores nothing and takes no number;
/// another corp knows neither the template nor the instance.
#[tokio::test]
async fn refused_submissions_store_nothing() {
    for (store, _db, _dir) in backends().await {
        let clock = ManualClock::starting_now();
        let svc = services(&store, &clock);
        let corp = corp(&svc).await;
        let other = corp_b(&svc).await;
        let template = published(&svc, &corp).await;
        let err = svc
            .submit_approval(&corp, &template, submission(None), alice())
            .await
            .unwrap_err();
        match err {
            AppError::Approval(ApprovalUseError::Engine(ApprovalError::Field(f))) => {
                assert!(f.to_string().contains("Text-01"), "{f}");
            }
            other => panic!("unexpected {other:?}"),
        }
        let all = InstanceQuery {
            start: 0,
            end: i64::MAX,
            limit: 100,
            ..InstanceQuery::default()
        };
        assert!(svc.query_approvals(&corp, &all).await.unwrap().is_empty());
        let inst = svc
            .submit_approval(&corp, &template, submission(Some("纸")), alice())
            .await
            .unwrap();
        assert!(inst.sp_no().as_str().ends_with("0001"), "{}", inst.sp_no());
        assert!(matches!(
            svc.submit_approval(&other, &template, submission(Some("x")), alice())
                .await,
            Err(AppError::Approval(ApprovalUseError::UnknownTemplate))
        ));
        assert!(matches!(
            svc.load_approval(&other, inst.sp_no()).await,
            Err(AppError::Approval(ApprovalUseError::UnknownInstance))
        ));
        assert!(matches!(
            svc.act_on_approval(&other, inst.sp_no(), key("x"), alice(), Command::Urge)
                .await,
            Err(AppError::Approval(ApprovalUseError::UnknownInstance))
        ));
        assert!(svc.query_approvals(&other, &all).await.unwrap().is_empty());
    }
}

/// Publishing a broken draft names every problem and publishes nothing.
#[tokio::test]
async fn publishing_refuses_with_every_reason() {
    for (store, _db, _dir) in backends().await {
        let clock = ManualClock::starting_now();
        let svc = services(&store, &clock);
        let corp = corp(&svc).await;
        let mut draft = purchase("broken");
        draft.flow.nodes[0].kind =
            NodeKind::Approval(task(&["nobody"], SignMode::Any, Some("missing"), None));
        svc.create_approval_template(&corp, &draft, AuditActor::System)
            .await
            .unwrap();
        let err = svc
            .publish_approval_template(&corp, &draft.id, AuditActor::System)
            .await
            .unwrap_err();
        let AppError::Approval(ApprovalUseError::NotPublishable(issues)) = err else {
            panic!("unexpected {err:?}");
        };
        let text = issues.to_string();
        assert!(issues.0.len() >= 2, "{text}");
        assert!(
            text.contains("nobody") && text.contains("missing"),
            "{text}"
        );
        let stored = svc.approval_template(&corp, &draft.id).await.unwrap();
        assert_eq!(stored.published, None);
        // Fixed, it publishes as version 1; published again, version 2.
        svc.update_approval_template(&corp, &purchase("broken"), AuditActor::System)
            .await
            .unwrap();
        for expected in [1, 2] {
            let v = svc
                .publish_approval_template(&corp, &draft.id, AuditActor::System)
                .await
                .unwrap();
            assert_eq!(v.0, expected);
        }
    }
}

/// A due reminder fires once, whichever of two racing workers takes it;
/// the timers of a node that passed are cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_timer_fires_exactly_once() {
    for (store, _db, _dir) in backends().await {
        let clock = ManualClock::starting_now();
        let node_a = Arc::new(services(&store, &clock));
        let node_b = Arc::new(services(&store, &clock));
        let corp = corp(&node_a).await;
        let template = published(&node_a, &corp).await;
        let inst = node_a
            .submit_approval(&corp, &template, submission(Some("纸")), alice())
            .await
            .unwrap();
        assert_eq!(node_a.run_approval_timers_once().await.unwrap(), 0);
        clock.advance_secs(61);
        let a = tokio::spawn({
            let n = node_a.clone();
            async move { n.run_approval_timers_once().await.unwrap() }
        });
        let b = tokio::spawn({
            let n = node_b.clone();
            async move { n.run_approval_timers_once().await.unwrap() }
        });
        assert_eq!(a.await.unwrap() + b.await.unwrap(), 1);
        clock.advance_secs(3600);
        assert_eq!(node_b.run_approval_timers_once().await.unwrap(), 0);
        let after = node_a.load_approval(&corp, inst.sp_no()).await.unwrap();
        let fired = after
            .events()
            .iter()
            .filter(|e| matches!(e.body, EventBody::TimerFired { .. }))
            .count();
        assert_eq!(fired, 1);
        assert!(
            after
                .events()
                .iter()
                .any(|e| matches!(&e.body, EventBody::Reminded { users, .. } if users.len() == 2))
        );
        // Once the node passes, nothing is left scheduled.
        let inst2 = node_a
            .submit_approval(&corp, &template, submission(Some("笔")), alice())
            .await
            .unwrap();
        node_a
            .act_on_approval(
                &corp,
                inst2.sp_no(),
                key("b"),
                Actor::Member(user("bob")),
                approve(&inst2, "bob"),
            )
            .await
            .unwrap();
        clock.advance_secs(3600);
        assert_eq!(node_a.run_approval_timers_once().await.unwrap(), 0);
    }
}
