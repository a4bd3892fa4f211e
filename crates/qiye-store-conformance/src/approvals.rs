//! Stories for the [`ApprovalStore`]: template versions never change and
//! stay in their corp, an instance's events round-trip and have one writer
//! (two commits decided on the same state: exactly one is stored), an
//! idempotency key is stored once, timers are claimed once per lease and
//! consumed by exactly one commit, instance numbers are never reused, and
//! the members' lists page through the task projection.
//!
//! [`ApprovalStore`]: qiye_domain::ports::ApprovalStore

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use qiye_domain::approval::form::Money;
use qiye_domain::approval::{
    ApproverRule, Command, ControlConfig, ControlId, ControlSpec, ControlValue, Dedup, Envelope,
    Event, EventBody, Flow, FlowNode, FormSpec, IdempotencyKey, Instance, InstanceStatus, LangText,
    NodeKey, NodeKind, Org, OrgMember, RecordStatus, SelfPolicy, SignMode, SpNo, Submission,
    TaskNode, Template, TemplateDraft, TemplateId, TemplateVersion, Timeout, TimerKind,
    WithdrawRule,
};
use qiye_domain::directory::TagId;
use qiye_domain::ids::{CorpId, DeptId, UserId};
use qiye_domain::ports::{
    ApprovalCommit, ApprovalList, InstanceQuery, ListCursor, NewInstance, Store, StoreError,
    TaskRow, TaskState, TimerRow,
};

use crate::{create, record};

/// Unix seconds of the stories' submissions.
const T0: i64 = 1_800_000_000;

fn user(name: &str) -> UserId {
    UserId::parse(name).expect("userid")
}

/// Everyone named is an active member of the root department.
struct FlatOrg;

impl Org for FlatOrg {
    fn member(&self, _: &UserId) -> Option<OrgMember> {
        Some(OrgMember {
            active: true,
            departments: vec![DeptId::ROOT],
            main_department: DeptId::ROOT,
            leaders: vec![],
        })
    }
    fn dept_exists(&self, dept: DeptId) -> bool {
        dept == DeptId::ROOT
    }
    fn dept_parent(&self, _: DeptId) -> Option<DeptId> {
        None
    }
    fn dept_heads(&self, _: DeptId) -> Vec<UserId> {
        vec![]
    }
    fn role_members(&self, _: TagId) -> Vec<UserId> {
        vec![]
    }
}

/// A purchase request: text, money, a choice, a formula; one or-sign node
/// (bob or carol) with a reminder after 60 s, then a countersign by dave.
fn draft(id: &str, name: &str) -> TemplateDraft {
    let choice = ControlConfig::Selector {
        multi: false,
        options: vec![qiye_domain::approval::form::SelectorOption {
            key: "option-1".into(),
            value: vec![LangText::zh("办公")],
        }],
        relations: vec![],
    };
    let formula = ControlConfig::Formula {
        source: "{Money-02}*2".into(),
        expr: qiye_domain::approval::formula::Expr::parse("{Money-02}*2").expect("formula"),
    };
    let task = |rule: &[&str], mode, next: Option<&str>, timeout| TaskNode {
        rule: ApproverRule::Members(rule.iter().map(|n| user(n)).collect()),
        mode,
        on_empty: None,
        applicant_is_approver: SelfPolicy::SelfApprove,
        timeout,
        next: next.map(|n| NodeKey::parse(n).expect("key")),
    };
    TemplateDraft {
        id: TemplateId::parse(id).expect("template id"),
        name: vec![LangText::zh(name)],
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
                ControlSpec::new("Selector-03", "类别", false, choice),
                ControlSpec::new("Formula-04", "两倍", false, formula),
            ],
        },
        flow: Flow {
            start: Some(NodeKey::parse("first").expect("key")),
            nodes: vec![
                FlowNode {
                    key: NodeKey::parse("first").expect("key"),
                    name: "主管".into(),
                    kind: NodeKind::Approval(task(
                        &["bob", "carol"],
                        SignMode::Any,
                        Some("second"),
                        Some(Timeout {
                            remind_after_secs: Some(60),
                            deadline: None,
                        }),
                    )),
                },
                FlowNode {
                    key: NodeKey::parse("second").expect("key"),
                    name: "财务".into(),
                    kind: NodeKind::Approval(task(&["dave"], SignMode::All, None, None)),
                },
            ],
            dedup: Dedup::None,
        },
        admins: vec![],
        withdraw: WithdrawRule::Anytime,
    }
}

fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey::parse(k).expect("key")
}

fn envelope(k: &str, actor: Option<&str>, at: i64, command: Command) -> Envelope {
    Envelope {
        key: key(k),
        actor: match actor {
            Some(u) => qiye_domain::approval::Actor::Member(user(u)),
            None => qiye_domain::approval::Actor::System,
        },
        at,
        command,
    }
}

fn submission(applicant: &str, text: &str) -> Command {
    let mut form = BTreeMap::new();
    let c = |s: &str| ControlId::parse(s).expect("control");
    form.insert(c("Text-01"), ControlValue::Text(text.into()));
    form.insert(c("Money-02"), ControlValue::Money(Money { minor: 12_345 }));
    form.insert(
        c("Selector-03"),
        ControlValue::Selector(vec!["option-1".into()]),
    );
    Command::Submit(Submission {
        applicant: user(applicant),
        dept: None,
        form,
        chosen: BTreeMap::new(),
    })
}

/// The task rows of an instance's records now (a minimal projection: the
/// app computes the same from the engine's state).
fn tasks_of(inst: &Instance, at_ms: i64) -> Vec<TaskRow> {
    let actionable: BTreeSet<u32> = inst.actionable().iter().map(|r| r.id.0).collect();
    inst.records()
        .iter()
        .map(|r| TaskRow {
            record: r.id.0,
            user: r.user.clone(),
            state: if actionable.contains(&r.id.0) {
                TaskState::Todo
            } else if r.status == RecordStatus::Pending {
                TaskState::Closed
            } else {
                TaskState::Done
            },
            at: at_ms,
        })
        .collect()
}

/// The timers the events schedule.
fn timers_of(events: &[Event]) -> Vec<TimerRow> {
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
            _ => vec![],
        })
        .collect()
}

/// Decides `env` on `inst` and commits it; answers the new state.
async fn act(
    store: &dyn Store,
    corp: &CorpId,
    inst: &Instance,
    env: &Envelope,
    fired: Option<TimerRow>,
) -> Result<Instance, StoreError> {
    let events = inst.decide(env, &FlatOrg).expect("decide");
    let mut next = inst.clone();
    for e in &events {
        next.apply(e).expect("apply");
    }
    let new = (inst.status() == InstanceStatus::NotStarted).then(|| NewInstance {
        template: inst.template().id().clone(),
        version: inst.template().version(),
        applicant: next.applicant().expect("applicant").clone(),
        submitted_at: env.at,
    });
    store
        .commit_approval(ApprovalCommit {
            corp,
            sp_no: inst.sp_no(),
            new,
            events: &events,
            key: &env.key,
            status: next.status(),
            finished_at: next.times().1,
            tasks: tasks_of(&next, env.at * 1000),
            timers: timers_of(&events),
            fired,
            cancelled: vec![],
            outbox: vec![],
            at: env.at * 1000,
        })
        .await?;
    Ok(next)
}

async fn published(store: &dyn Store, corp: &CorpId, id: &str) -> Arc<Template> {
    let d = draft(id, "采购");
    store
        .create_template(
            corp,
            &d,
            T0 * 1000,
            &record(corp, "approval.template.create"),
        )
        .await
        .expect("create template");
    let t = d
        .publish(TemplateVersion(1), &FlatOrg)
        .expect("publishable");
    store
        .publish_template(
            corp,
            &t,
            T0 * 1000,
            &record(corp, "approval.template.publish"),
        )
        .await
        .expect("publish");
    Arc::new(
        store
            .template_version(corp, t.id(), None)
            .await
            .expect("version"),
    )
}

async fn submitted(
    store: &dyn Store,
    corp: &CorpId,
    template: &Arc<Template>,
    applicant: &str,
    at: i64,
) -> Instance {
    let sp_no = store.next_sp_no(corp, 20270115).await.expect("sp_no");
    let inst = Instance::new(sp_no, template.clone());
    act(
        store,
        corp,
        &inst,
        &envelope(
            &format!("submit-{applicant}-{at}"),
            None,
            at,
            submission(applicant, "纸"),
        ),
        None,
    )
    .await
    .expect("submit")
}

/// Drafts are created once and edited; published versions never change;
/// the latest version is the default; another corp sees nothing.
pub async fn approval_templates_are_versioned(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    let (b, _) = create(store.as_ref(), "Beta").await;
    let s = store.as_ref();
    let v1 = published(s, &a.id, "purchase").await;
    let again = s
        .create_template(&a.id, &draft("purchase", "重复"), T0, &record(&a.id, "x"))
        .await
        .unwrap_err();
    assert!(matches!(again, StoreError::Conflict(_)), "{again:?}");
    // Edit the draft: version 1 stays as published.
    let edited = draft("purchase", "采购（新）");
    s.update_template(
        &a.id,
        &edited,
        T0 * 1000 + 1,
        &record(&a.id, "approval.template.update"),
    )
    .await
    .unwrap();
    let stored = s.template(&a.id, v1.id()).await.unwrap();
    assert_eq!(stored.draft, edited);
    assert_eq!(stored.published, Some(TemplateVersion(1)));
    assert_eq!(
        s.template_version(&a.id, v1.id(), Some(TemplateVersion(1)))
            .await
            .unwrap()
            .to_draft(),
        draft("purchase", "采购")
    );
    // Version 1 again is refused; version 2 is the new default.
    let dup = edited
        .clone()
        .publish(TemplateVersion(1), &FlatOrg)
        .unwrap();
    assert!(matches!(
        s.publish_template(&a.id, &dup, T0, &record(&a.id, "x"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let v2 = edited
        .clone()
        .publish(TemplateVersion(2), &FlatOrg)
        .unwrap();
    s.publish_template(&a.id, &v2, T0, &record(&a.id, "approval.template.publish"))
        .await
        .unwrap();
    let latest = s.template_version(&a.id, v1.id(), None).await.unwrap();
    assert_eq!(latest.version(), TemplateVersion(2));
    assert_eq!(latest.to_draft(), edited);
    assert_eq!(s.list_templates(&a.id).await.unwrap().len(), 1);
    // Corp B sees none of it, and cannot change it.
    assert_eq!(s.template(&b.id, v1.id()).await, Err(StoreError::NotFound));
    assert_eq!(
        s.template_version(&b.id, v1.id(), None).await.err(),
        Some(StoreError::NotFound)
    );
    assert!(s.list_templates(&b.id).await.unwrap().is_empty());
    assert_eq!(
        s.update_template(&b.id, &edited, T0, &record(&b.id, "x"))
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        s.template_version(&a.id, v1.id(), Some(TemplateVersion(3)))
            .await
            .err(),
        Some(StoreError::NotFound)
    );
}

/// Instance numbers are per corp and day and never repeat, also when many
/// are taken at once.
pub async fn approval_numbers_never_repeat(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    let (b, _) = create(store.as_ref(), "Beta").await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let store = store.clone();
        let corp = a.id.clone();
        tasks.push(tokio::spawn(async move {
            store.next_sp_no(&corp, 20270115).await.unwrap()
        }));
    }
    let mut seen = BTreeSet::new();
    for t in tasks {
        assert!(seen.insert(t.await.unwrap()));
    }
    let expected: BTreeSet<SpNo> = (1..=16).map(|n| SpNo::for_day(20270115, n)).collect();
    assert_eq!(seen, expected);
    assert_eq!(
        store.next_sp_no(&b.id, 20270115).await.unwrap(),
        SpNo::for_day(20270115, 1)
    );
    assert_eq!(
        store.next_sp_no(&a.id, 20270116).await.unwrap(),
        SpNo::for_day(20270116, 1)
    );
}

/// Stored events read back equal (form values included); of two commits
/// decided on the same state (bob and carol approve the or-sign node at
/// once) exactly one is stored, many times over; a stored key is refused.
pub async fn approval_events_have_one_writer(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    let s = store.as_ref();
    let template = published(s, &a.id, "purchase").await;
    for round in 0..10 {
        let inst = submitted(s, &a.id, &template, "alice", T0 + round).await;
        let stored = s.instance(&a.id, inst.sp_no()).await.unwrap();
        assert_eq!(stored.events, inst.events());
        assert_eq!(stored.version, TemplateVersion(1));
        let records: Vec<_> = inst
            .actionable()
            .iter()
            .map(|r| (r.id, r.user.clone()))
            .collect();
        assert_eq!(records.len(), 2);
        let mut racers = Vec::new();
        for (record, who) in records {
            let store = store.clone();
            let corp = a.id.clone();
            let inst = inst.clone();
            racers.push(tokio::spawn(async move {
                let env = envelope(
                    &format!("approve-{who}"),
                    Some(who.as_str()),
                    T0 + 100,
                    Command::Approve {
                        record,
                        speech: "同意".into(),
                    },
                );
                act(store.as_ref(), &corp, &inst, &env, None).await
            }));
        }
        let mut won = 0;
        for r in racers {
            match r.await.unwrap() {
                Ok(_) => won += 1,
                Err(StoreError::Conflict(_)) => {}
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(won, 1, "round {round}");
        let stored = s.instance(&a.id, inst.sp_no()).await.unwrap();
        let replayed = Instance::replay(inst.sp_no().clone(), template.clone(), &stored.events)
            .expect("the stored history replays");
        // Node "first" passed once; "second" is active once.
        assert_eq!(replayed.activations().len(), 2);
        assert_eq!(replayed.actionable().len(), 1);
        // The same key again (a retry that decided anew) is refused.
        let retry = envelope(
            "approve-dave",
            Some("dave"),
            T0 + 200,
            Command::Approve {
                record: replayed.actionable()[0].id,
                speech: String::new(),
            },
        );
        let done = act(s, &a.id, &replayed, &retry, None).await.unwrap();
        assert_eq!(done.status(), InstanceStatus::Approved);
        let mut stale = replayed.clone();
        let events = done.events()[stale.events().len()..].to_vec();
        let dup = s
            .commit_approval(ApprovalCommit {
                corp: &a.id,
                sp_no: stale.sp_no(),
                new: None,
                events: &events
                    .iter()
                    .map(|e| Event {
                        seq: e.seq + events.len() as u64,
                        ..e.clone()
                    })
                    .collect::<Vec<_>>(),
                key: &key("approve-dave"),
                status: InstanceStatus::Approved,
                finished_at: None,
                tasks: vec![],
                timers: vec![],
                fired: None,
                cancelled: vec![],
                outbox: vec![],
                at: T0 * 1000,
            })
            .await
            .unwrap_err();
        assert!(matches!(dup, StoreError::Conflict(_)), "{dup:?}");
        for e in &events {
            stale.apply(e).unwrap();
        }
        assert_eq!(
            s.instance(&a.id, inst.sp_no()).await.unwrap().events,
            stale.events()
        );
    }
}

/// A due timer is claimed once per lease (also by concurrent claimers),
/// again after the lease, and consumed by exactly one commit.
pub async fn approval_timers_fire_once(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    let s = store.as_ref();
    let template = published(s, &a.id, "purchase").await;
    let inst = submitted(s, &a.id, &template, "alice", T0).await;
    let timers = s.timers_of(&a.id, inst.sp_no()).await.unwrap();
    assert_eq!(timers.len(), 1);
    assert_eq!(timers[0].kind, TimerKind::Remind);
    assert_eq!(timers[0].due_at, T0 + 60);
    let ms = 5_000_000_000_000;
    assert!(
        s.claim_timers(T0 + 59, ms, 30_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let mut claimers = Vec::new();
    for _ in 0..4 {
        let store = store.clone();
        claimers.push(tokio::spawn(async move {
            store.claim_timers(T0 + 60, ms, 30_000, 10).await.unwrap()
        }));
    }
    let mut claimed = Vec::new();
    for c in claimers {
        claimed.extend(c.await.unwrap());
    }
    assert_eq!(claimed.len(), 1, "one claim per lease");
    assert_eq!(claimed[0].sp_no, *inst.sp_no());
    assert_eq!(claimed[0].corp, a.id);
    // The lease lapses: claimable again (the node that held it died).
    assert!(
        s.claim_timers(T0 + 61, ms + 29_999, 30_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.claim_timers(T0 + 61, ms + 30_000, 30_000, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // Two nodes fire it at once: one commit wins.
    let timer = claimed[0].timer;
    let mut firers = Vec::new();
    for n in 0..2 {
        let store = store.clone();
        let corp = a.id.clone();
        let inst = inst.clone();
        firers.push(tokio::spawn(async move {
            let env = envelope(
                &format!("timer-{}-remind-{n}", timer.activation.0),
                None,
                T0 + 61,
                Command::TimerFired {
                    activation: timer.activation,
                    kind: timer.kind,
                },
            );
            act(store.as_ref(), &corp, &inst, &env, Some(timer)).await
        }));
    }
    let outcomes: Vec<_> = futures_join(firers).await;
    assert_eq!(
        outcomes.iter().filter(|r| r.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    assert!(s.timers_of(&a.id, inst.sp_no()).await.unwrap().is_empty());
    let stored = s.instance(&a.id, inst.sp_no()).await.unwrap();
    let fired = stored
        .events
        .iter()
        .filter(|e| matches!(e.body, EventBody::TimerFired { .. }))
        .count();
    assert_eq!(fired, 1);
}

async fn futures_join<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

/// To-do, done, applied and CC lists follow the projection, newest first,
/// page by cursor, and stay in their corp; `query_instances` filters by
/// time, template, applicant and state.
pub async fn approval_lists_page_and_stay_in_their_corp(store: Arc<dyn Store>) {
    let (a, _) = create(store.as_ref(), "Alpha").await;
    let (b, _) = create(store.as_ref(), "Beta").await;
    let s = store.as_ref();
    let template = published(s, &a.id, "purchase").await;
    let mut all = Vec::new();
    for n in 0..5 {
        all.push(submitted(s, &a.id, &template, "alice", T0 + n).await);
    }
    // bob approves the first two.
    for inst in &all[..2] {
        let record = inst
            .actionable()
            .iter()
            .find(|r| r.user == user("bob"))
            .unwrap()
            .id;
        let env = envelope(
            "bob-approves",
            Some("bob"),
            T0 + 10,
            Command::Approve {
                record,
                speech: String::new(),
            },
        );
        act(s, &a.id, inst, &env, None).await.unwrap();
    }
    let list = |who: &str, l, after: Option<ListCursor>, limit| {
        let corp = a.id.clone();
        let who = user(who);
        async move {
            s.approval_list(&corp, &who, l, after.as_ref(), limit)
                .await
                .unwrap()
        }
    };
    let todo = list("bob", ApprovalList::Todo, None, 10).await;
    assert_eq!(todo.len(), 3);
    assert!(todo.windows(2).all(|w| w[0].at >= w[1].at));
    let done = list("bob", ApprovalList::Done, None, 10).await;
    assert_eq!(done.len(), 2);
    // carol's record of the two passed instances is done too (superseded).
    assert_eq!(list("carol", ApprovalList::Todo, None, 10).await.len(), 3);
    assert_eq!(list("dave", ApprovalList::Todo, None, 10).await.len(), 2);
    // Paging by cursor gives every line once.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = list("alice", ApprovalList::Applied, cursor.clone(), 2).await;
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        cursor = Some(ListCursor {
            at: last.at,
            sp_no: last.sp_no.as_str().to_owned(),
            record: last.record,
        });
        seen.extend(page.into_iter().map(|l| l.sp_no));
    }
    let mut expected: Vec<SpNo> = all.iter().map(|i| i.sp_no().clone()).collect();
    expected.reverse();
    assert_eq!(seen, expected);
    let mut todo_pages = list("bob", ApprovalList::Todo, None, 2).await;
    let last = todo_pages.last().unwrap().clone();
    todo_pages.extend(
        list(
            "bob",
            ApprovalList::Todo,
            Some(ListCursor {
                at: last.at,
                sp_no: last.sp_no.as_str().to_owned(),
                record: last.record,
            }),
            2,
        )
        .await,
    );
    assert_eq!(todo_pages, todo);
    assert!(list("bob", ApprovalList::Cc, None, 10).await.is_empty());
    // Queries.
    let q = |start, end, status| InstanceQuery {
        start,
        end,
        template: Some(template.id().clone()),
        applicant: Some(user("alice")),
        status,
        after: None,
        limit: 100,
    };
    let found = s
        .query_instances(&a.id, &q(T0 + 1, T0 + 3, None))
        .await
        .unwrap();
    assert_eq!(found.len(), 3);
    assert_eq!(found[0].sp_no, *all[1].sp_no());
    let running = s
        .query_instances(&a.id, &q(T0, T0 + 10, Some(InstanceStatus::Running)))
        .await
        .unwrap();
    assert_eq!(running.len(), 5);
    let after = InstanceQuery {
        after: Some((found[0].submitted_at, found[0].sp_no.as_str().to_owned())),
        ..q(T0 + 1, T0 + 3, None)
    };
    assert_eq!(s.query_instances(&a.id, &after).await.unwrap().len(), 2);
    // Corp B sees nothing of A's.
    assert!(
        s.query_instances(&b.id, &q(0, i64::MAX, None))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.approval_list(&b.id, &user("bob"), ApprovalList::Todo, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.instance(&b.id, all[0].sp_no()).await.err(),
        Some(StoreError::NotFound)
    );
    assert!(s.timers_of(&b.id, all[0].sp_no()).await.unwrap().is_empty());
    // A commit naming corp B's (absent) instance changes nothing.
    let inst = &all[4];
    let record = inst.actionable()[0].id;
    let events = inst
        .decide(
            &envelope(
                "cross",
                Some("bob"),
                T0 + 20,
                Command::Approve {
                    record,
                    speech: String::new(),
                },
            ),
            &FlatOrg,
        )
        .unwrap();
    let err = s
        .commit_approval(ApprovalCommit {
            corp: &b.id,
            sp_no: inst.sp_no(),
            new: None,
            events: &events,
            key: &key("cross"),
            status: InstanceStatus::Running,
            finished_at: None,
            tasks: vec![],
            timers: vec![],
            fired: None,
            cancelled: vec![],
            outbox: vec![],
            at: T0,
        })
        .await
        .unwrap_err();
    assert_eq!(err, StoreError::NotFound);
    assert_eq!(
        s.instance(&a.id, inst.sp_no()).await.unwrap().events,
        inst.events()
    );
}
