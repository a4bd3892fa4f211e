//! `sys_approval_change` callbacks: each decision of an instance queues,
//! in its own transaction, one event per app with callback settings whose
//! visible range holds the applicant, rendered by the real wire
//! ([`WecomCallbackWire`]) into WeCom's XML. On SQLite and, when
//! `QIYE_TEST_PG_URL` is set, PostgreSQL.

use std::collections::BTreeMap;
use std::sync::Arc;

use qiye_app::directory::DirCaller;
use qiye_app::{Services, ServicesConfig};
use qiye_domain::approval::form::Money;
use qiye_domain::approval::{
    Actor, ApproverRule, Command, ControlConfig, ControlId, ControlSpec, ControlValue, Dedup, Flow,
    FlowNode, FormSpec, IdempotencyKey, LangText, NodeKey, NodeKind, SelfPolicy, SignMode,
    Submission, TaskNode, TemplateDraft, TemplateId, WithdrawRule,
};
use qiye_domain::audit::{Actor as AuditActor, AuditRecord, Outcome};
use qiye_domain::callback::CallbackConfig;
use qiye_domain::clock::ManualClock;
use qiye_domain::directory::{MemberFields, Range};
use qiye_domain::ids::{CorpId, UserId};
use qiye_domain::plan::Plan;
use qiye_domain::ports::Store;
use qiye_http::callback::WecomCallbackWire;
use qiye_store::SqlStore;
use qiye_store::testing::{TestDatabase, pg_url_from_env};

fn user(s: &str) -> UserId {
    UserId::parse(s).expect("userid")
}

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

fn audit(corp: &CorpId) -> AuditRecord {
    AuditRecord {
        at: 0,
        corp_id: corp.clone(),
        actor: AuditActor::System,
        client_ip: None,
        action: "test.setup".into(),
        target: String::new(),
        outcome: Outcome::Succeeded,
    }
}

/// A one-node or-sign template (bob or carol) with a required text.
fn template() -> TemplateDraft {
    TemplateDraft {
        id: TemplateId::parse("leave").expect("id"),
        name: vec![LangText::zh("请假")],
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
                    false,
                    ControlConfig::Money {
                        min: None,
                        max: None,
                    },
                ),
            ],
        },
        flow: Flow {
            start: Some(NodeKey::parse("lead").expect("key")),
            nodes: vec![FlowNode {
                key: NodeKey::parse("lead").expect("key"),
                name: "主管".into(),
                kind: NodeKind::Approval(TaskNode {
                    rule: ApproverRule::Members(vec![user("bob"), user("carol")]),
                    mode: SignMode::Any,
                    on_empty: None,
                    applicant_is_approver: SelfPolicy::SelfApprove,
                    timeout: None,
                    next: None,
                }),
            }],
            dedup: Dedup::None,
        },
        admins: vec![],
        withdraw: WithdrawRule::Anytime,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_queue_sys_approval_change_for_apps_that_see_the_applicant() {
    for (store, _db, _dir) in backends().await {
        let clock = ManualClock::starting_now();
        let svc = Services::new(
            store.clone(),
            Arc::new(clock.clone()),
            ServicesConfig::default(),
        )
        .with_callback_wire(Arc::new(WecomCallbackWire::new()));
        let corp = svc
            .create_corp("回调公司", Plan::Professional, AuditActor::System)
            .await
            .expect("corp")
            .corp
            .id;
        let op = DirCaller::operator(corp.clone(), AuditActor::System);
        for (n, name) in ["alice", "bob", "carol"].iter().enumerate() {
            let fields = MemberFields {
                name: Some(name.to_uppercase()),
                mobile: Some(format!("1390000{n:04}")),
                ..MemberFields::default()
            };
            svc.create_member(&op, user(name), fields)
                .await
                .expect("member");
            svc.member_verified(&op, &user(name)).await.expect("active");
        }
        // Two apps with callbacks: one sees everyone, one only bob.
        let config =
            CallbackConfig::new("http://127.0.0.1:9/cb", "token", &"a".repeat(43)).expect("config");
        let (wide, _) = svc
            .create_app(&corp, "审批", true, AuditActor::System)
            .await
            .expect("app");
        let (narrow, _) = svc
            .create_app(&corp, "其他", false, AuditActor::System)
            .await
            .expect("app");
        for app in [&wide, &narrow] {
            store
                .set_callback_config(&corp, app.agentid, Some(&config), 0, &audit(&corp))
                .await
                .expect("callback");
        }
        let only_bob = Range {
            depts: vec![],
            users: vec![user("bob")],
            tags: vec![],
        };
        store
            .set_app_range(&corp, narrow.agentid, Some(&only_bob), &audit(&corp))
            .await
            .expect("range");

        let draft = template();
        svc.create_approval_template(&corp, &draft, AuditActor::System)
            .await
            .unwrap();
        svc.publish_approval_template(&corp, &draft.id, AuditActor::System)
            .await
            .unwrap();
        let mut form = BTreeMap::new();
        form.insert(
            ControlId::parse("Text-01").unwrap(),
            ControlValue::Text("家事 <急>".into()),
        );
        form.insert(
            ControlId::parse("Money-02").unwrap(),
            ControlValue::Money(Money { minor: 100 }),
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
            .unwrap();
        let record = inst.actionable()[0].id;
        let approver = inst.actionable()[0].user.clone();
        svc.act_on_approval(
            &corp,
            inst.sp_no(),
            IdempotencyKey::parse("approve-1").unwrap(),
            Actor::Member(approver.clone()),
            Command::Approve {
                record,
                speech: "准".into(),
            },
        )
        .await
        .unwrap();

        let mut log = store
            .delivery_log(&corp, wide.agentid, None, 10)
            .await
            .unwrap();
        log.reverse();
        assert_eq!(log.len(), 2, "submitted, then approved");
        assert!(log.iter().all(|e| e.event == "sys_approval_change"));
        let sp_no = format!("<SpNo><![CDATA[{}]]></SpNo>", inst.sp_no());
        let submitted = &log[0].payload;
        assert!(submitted.contains(&sp_no), "{submitted}");
        assert!(submitted.contains("<Event><![CDATA[sys_approval_change]]></Event>"));
        assert!(submitted.contains(&format!("<AgentID>{}</AgentID>", wide.agentid.get())));
        assert!(
            submitted.contains("<SpStatus>1</SpStatus><TemplateId><![CDATA[leave]]></TemplateId>")
        );
        assert!(
            submitted
                .contains("<Applyer><UserId><![CDATA[alice]]></UserId><Party>1</Party></Applyer>")
        );
        assert!(
            submitted.contains("<StatuChangeEvent>1</StatuChangeEvent>"),
            "{submitted}"
        );
        let approved = &log[1].payload;
        assert!(
            approved.contains("<SpStatus>2</SpStatus><TemplateId>"),
            "{approved}"
        );
        assert!(approved.contains(&format!(
            "<Details><Approver><UserId><![CDATA[{approver}]]></UserId></Approver>\
             <Speech><![CDATA[准]]></Speech><SpStatus>2</SpStatus>"
        )));
        assert!(
            approved.contains("<StatuChangeEvent>2</StatuChangeEvent>"),
            "{approved}"
        );
        // The app that cannot see alice hears nothing.
        assert!(
            store
                .delivery_log(&corp, narrow.agentid, None, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
