//! Approval timers survive a crash: a real `qiye serve` (SQLite) is killed
//! with SIGKILL while an instance's reminder is pending; the reminder comes
//! due while no server runs; after a restart the server's timer worker
//! fires it exactly once.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::process::{Server, free_port};
use qiye_app::directory::DirCaller;
use qiye_app::{Services, ServicesConfig};
use qiye_domain::approval::{
    Actor, ApproverRule, ControlConfig, ControlId, ControlSpec, ControlValue, Dedup, EventBody,
    Flow, FlowNode, FormSpec, LangText, NodeKey, NodeKind, SelfPolicy, SignMode, Submission,
    TaskNode, TemplateDraft, TemplateId, Timeout, WithdrawRule,
};
use qiye_domain::audit::Actor as AuditActor;
use qiye_domain::clock::{Clock, SystemClock};
use qiye_domain::directory::MemberFields;
use qiye_domain::ids::{CorpId, UserId};
use qiye_store::SqlStore;

/// Seconds from submission to the reminder.
const REMIND_AFTER: u32 = 3;

fn user(s: &str) -> UserId {
    UserId::parse(s).expect("userid")
}

fn template() -> TemplateDraft {
    TemplateDraft {
        id: TemplateId::parse("remind").expect("id"),
        name: vec![LangText::zh("提醒")],
        form: FormSpec {
            controls: vec![ControlSpec::new(
                "Text-01",
                "事由",
                true,
                ControlConfig::Text { max_chars: None },
            )],
        },
        flow: Flow {
            start: Some(NodeKey::parse("lead").expect("key")),
            nodes: vec![FlowNode {
                key: NodeKey::parse("lead").expect("key"),
                name: "主管".into(),
                kind: NodeKind::Approval(TaskNode {
                    rule: ApproverRule::Members(vec![user("bob")]),
                    mode: SignMode::Any,
                    on_empty: None,
                    applicant_is_approver: SelfPolicy::SelfApprove,
                    timeout: Some(Timeout {
                        remind_after_secs: Some(REMIND_AFTER),
                        deadline: None,
                    }),
                    next: None,
                }),
            }],
            dedup: Dedup::None,
        },
        admins: vec![],
        withdraw: WithdrawRule::Anytime,
    }
}

fn fired(events: &[qiye_domain::approval::Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e.body, EventBody::TimerFired { .. }))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_timer_fires_once_after_a_crash_and_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let server = Server::start(dir.path(), port);
    let corp = CorpId::parse(&server.value_after("corpid")).expect("corpid");

    // The test works on the same database file as the server.
    let store = Arc::new(
        SqlStore::open_sqlite_file(&dir.path().join("qiye.db"))
            .await
            .expect("open the server's database"),
    );
    let svc = Services::new(
        store.clone(),
        Arc::new(SystemClock),
        ServicesConfig::default(),
    );
    let op = DirCaller::operator(corp.clone(), AuditActor::System);
    for (n, name) in ["alice", "bob"].iter().enumerate() {
        let fields = MemberFields {
            name: Some(name.to_uppercase()),
            mobile: Some(format!("1370000{n:04}")),
            ..MemberFields::default()
        };
        svc.create_member(&op, user(name), fields)
            .await
            .expect("member");
        svc.member_verified(&op, &user(name)).await.expect("active");
    }
    let draft = template();
    svc.create_approval_template(&corp, &draft, AuditActor::System)
        .await
        .expect("template");
    svc.publish_approval_template(&corp, &draft.id, AuditActor::System)
        .await
        .expect("publish");
    let mut form = BTreeMap::new();
    form.insert(
        ControlId::parse("Text-01").expect("id"),
        ControlValue::Text("出差".into()),
    );
    let inst = svc
        .submit_approval(
            &corp,
            &draft.id,
            Submission {
                applicant: user("alice"),
                dept: None,
                form,
                chosen: BTreeMap::new(),
            },
            Actor::Member(user("alice")),
        )
        .await
        .expect("submit");
    let timers = store_timers(&svc, &corp, inst.sp_no()).await;
    assert_eq!(timers.len(), 1);
    let due = timers[0].due_at;

    // Crash while the reminder is pending, and let it come due meanwhile.
    server.kill9();
    while SystemClock.now_secs() <= due {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stored = svc.load_approval(&corp, inst.sp_no()).await.expect("load");
    assert_eq!(
        fired(stored.events()),
        0,
        "nothing runs the timer while down"
    );

    let _restarted = Server::start(dir.path(), port);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = svc.load_approval(&corp, inst.sp_no()).await.expect("load");
        if fired(now.events()) > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the reminder never fired");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Several more worker rounds (one a second) change nothing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = svc.load_approval(&corp, inst.sp_no()).await.expect("load");
    assert_eq!(fired(after.events()), 1);
    assert!(
        after.events().iter().any(
            |e| matches!(&e.body, EventBody::Reminded { users, .. } if users == &[user("bob")])
        )
    );
    assert!(store_timers(&svc, &corp, inst.sp_no()).await.is_empty());
}

async fn store_timers(
    svc: &Services,
    corp: &CorpId,
    sp_no: &qiye_domain::approval::SpNo,
) -> Vec<qiye_domain::ports::TimerRow> {
    svc.store().timers_of(corp, sp_no).await.expect("timers")
}
