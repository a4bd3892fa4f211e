//! Urgent messages escalate by e-mail (a real SMTP server on loopback) and
//! SMS (an HTTP gateway on loopback) until the member reads or
//! acknowledges them, on SQLite and on PostgreSQL. The clock is moved by
//! hand and the worker's single step is called directly: no sleeps.

mod common;
#[path = "../../qiye-http/tests/support/smtp.rs"]
mod smtp;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use common::{Backend, TestApp, session_of};
use qiye_app::directory::admin::RuleEditor;
use qiye_domain::audit::Actor;
use qiye_domain::directory::MemberFields;
use qiye_domain::escalation::{EscalationPolicy, EscalationState};
use qiye_domain::ids::{CorpId, DeptId, UserId};
use qiye_domain::message::{ConvId, Seq};
use qiye_domain::plan::Plan;
use reqwest::Method;
use serde_json::{Value, json};
use smtp::{ReceivedMail, SmtpTestServer};

on_both_backends!(
    an_unread_urgent_app_message_is_emailed_until_exhausted,
    a_member_chat_urgent_message_escalates_until_acknowledged,
    an_smtp_server_that_is_down_is_retried_without_losing_the_attempt,
    the_sms_gateway_gets_the_notice,
    tenants_cannot_touch_each_others_escalations,
    the_websocket_acknowledges_too,
    recalled_messages_and_disabled_members_are_not_reminded,
);

/// The policy of these tests: after 60 s, then every 300 s, 2 times.
fn policy(email: bool, sms: bool) -> EscalationPolicy {
    EscalationPolicy {
        first_after_secs: 60,
        repeat_every_secs: 300,
        max_attempts: 2,
        email,
        sms,
    }
}

/// A server whose SMTP relay is `smtp_port` on loopback (plain SMTP).
async fn spawn(backend: Backend, smtp_port: u16) -> TestApp {
    TestApp::spawn_with(backend, |c| {
        c.public_url = "https://im.example.com/".into();
        c.smtp.host = "127.0.0.1".into();
        c.smtp.port = smtp_port;
        c.smtp.security = "none".into();
        c.smtp.from = "qiye <notice@example.com>".into();
        c.smtp.timeout_secs = 5;
    })
    .await
}

struct Org {
    corp: CorpId,
    agentid: i64,
    token: String,
    /// The super administrator's userid and one-time password.
    admin: (String, String),
}

/// A corp with alice, bob and carol (each with an e-mail address and a
/// mobile) and an app visible to all, under `policy`.
async fn org(app: &TestApp, name: &str, policy: EscalationPolicy) -> Org {
    let created = app
        .services
        .create_corp(name, Plan::Professional, Actor::System)
        .await
        .unwrap();
    let corp = created.corp.id.clone();
    let admin = (
        created.admin_userid.as_str().to_owned(),
        created.admin_password.expose().to_owned(),
    );
    for (i, who) in ["alice", "bob", "carol"].into_iter().enumerate() {
        app.services
            .create_member(
                &common::operator(&corp),
                UserId::parse(who).unwrap(),
                MemberFields {
                    name: Some(format!("{who} name")),
                    email: Some(format!("{who}@example.com")),
                    mobile: Some(format!("1380000000{i}")),
                    departments: Some(vec![DeptId::new(1).unwrap()]),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    app.services
        .set_escalation_policy(&RuleEditor::operator(corp.clone(), Actor::System), policy)
        .await
        .unwrap();
    let (agentid, secret) = app.app(&corp, "Alerts").await;
    let token = app.token(&corp, &secret).await;
    Org {
        corp,
        agentid,
        token,
        admin,
    }
}

/// Sends an urgent text from the app; answers the reply.
async fn send_urgent(app: &TestApp, o: &Org, to: &str, content: &str) -> Value {
    let reply = common::post(
        app,
        &o.token,
        "message/send",
        json!({"touser": to, "msgtype": "text", "agentid": o.agentid,
               "text": {"content": content}, "priority": "urgent", "safe": 0}),
    )
    .await;
    assert_eq!(common::errcode(&reply), 0, "{reply}");
    reply
}

/// The member's app conversation and the sequence of its last entry.
async fn app_inbox(app: &TestApp, session: &str) -> (String, u64) {
    let reply = app
        .v1(Method::GET, "/conversations", Some(session), None)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let conv = reply.body["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "app")
        .expect("an app conversation")
        .clone();
    (
        conv["id"].as_str().unwrap().to_owned(),
        conv["last_seq"].as_u64().unwrap(),
    )
}

fn now(app: &TestApp) -> i64 {
    app.services.clock().now_millis()
}

/// Runs one escalation step now; answers how many rows it settled.
async fn step(app: &TestApp) -> usize {
    app.services
        .run_escalations_once(now(app))
        .await
        .expect("escalation step")
}

async fn rows(
    app: &TestApp,
    corp: &CorpId,
    conv: &str,
    seq: Seq,
) -> Vec<(String, EscalationState, u32)> {
    app.services
        .store()
        .escalations_of(corp, &ConvId::parse(conv).unwrap(), seq)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.userid.as_str().to_owned(), r.state, r.attempts))
        .collect()
}

fn only_to(mail: &ReceivedMail, address: &str) {
    assert_eq!(mail.rcpt_to, [address.to_owned()], "{mail:?}");
}

async fn no_more_mail(smtp: &SmtpTestServer) {
    if let Some(mail) = smtp.try_next_mail().await {
        panic!("unexpected e-mail to {:?}", mail.rcpt_to);
    }
}

async fn an_unread_urgent_app_message_is_emailed_until_exhausted(backend: Backend) {
    let smtp = SmtpTestServer::start().await;
    let app = spawn(backend, smtp.port()).await;
    let o = org(&app, "Urgent", policy(true, false)).await;
    let alice = session_of(&app, &o.corp, "alice").await;
    let bob = session_of(&app, &o.corp, "bob").await;
    let carol = session_of(&app, &o.corp, "carol").await;
    send_urgent(&app, &o, "alice|bob|carol", "数据库主节点宕机，请立即处理").await;

    // bob acknowledges, carol reads; alice does neither.
    let (bob_conv, bob_seq) = app_inbox(&app, &bob).await;
    let acked = app
        .v1(
            Method::POST,
            &format!("/conversations/{bob_conv}/entries/{bob_seq}/ack"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(acked.status, 200, "{}", acked.body);
    assert_eq!(acked.body["read_seq"], bob_seq);
    let (carol_conv, carol_seq) = app_inbox(&app, &carol).await;
    let read = app
        .v1(
            Method::POST,
            &format!("/conversations/{carol_conv}/read"),
            Some(&carol),
            Some(&json!({"seq": carol_seq})),
        )
        .await;
    assert_eq!(read.status, 200, "{}", read.body);
    let (alice_conv, alice_seq) = app_inbox(&app, &alice).await;

    assert_eq!(step(&app).await, 0, "nothing is due before the first delay");
    app.clock.advance_secs(61);
    assert_eq!(step(&app).await, 1, "only alice's escalation is due");
    let mail = smtp.next_mail().await;
    only_to(&mail, "alice@example.com");
    assert_eq!(mail.mail_from, "notice@example.com");
    let subject = mail.header("Subject").unwrap_or_default();
    assert!(
        subject.starts_with("【加急】Alerts: 数据库主节点宕机"),
        "{subject}"
    );
    let body = mail.text_body();
    assert!(body.contains("Urgent"), "the corp is named: {body}");
    assert!(body.contains("第 1 次提醒"), "{body}");
    assert!(
        body.contains(&format!(
            "https://im.example.com/#/conversations/{alice_conv}?seq={alice_seq}"
        )),
        "{body}"
    );
    no_more_mail(&smtp).await;
    assert_eq!(step(&app).await, 0, "the next attempt is not due yet");

    app.clock.advance_secs(300);
    assert_eq!(step(&app).await, 1);
    let mail = smtp.next_mail().await;
    only_to(&mail, "alice@example.com");
    assert!(mail.text_body().contains("第 2 次提醒"));

    app.clock.advance_secs(3600);
    assert_eq!(step(&app).await, 0, "two attempts and no more");
    no_more_mail(&smtp).await;
    let alice_rows = rows(&app, &o.corp, &alice_conv, alice_seq).await;
    assert_eq!(
        alice_rows,
        [("alice".to_owned(), EscalationState::Exhausted, 2)]
    );
    assert_eq!(
        rows(&app, &o.corp, &bob_conv, bob_seq).await,
        [("bob".to_owned(), EscalationState::Acknowledged, 0)]
    );
    assert_eq!(
        rows(&app, &o.corp, &carol_conv, carol_seq).await,
        [("carol".to_owned(), EscalationState::Acknowledged, 0)]
    );
}

async fn a_member_chat_urgent_message_escalates_until_acknowledged(backend: Backend) {
    let smtp = SmtpTestServer::start().await;
    let app = spawn(backend, smtp.port()).await;
    let o = org(&app, "Chat", policy(true, false)).await;
    let alice = session_of(&app, &o.corp, "alice").await;
    let bob = session_of(&app, &o.corp, "bob").await;
    let opened = app
        .v1(
            Method::POST,
            "/conversations",
            Some(&alice),
            Some(&json!({"kind": "direct", "peer": "bob"})),
        )
        .await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    let conv = opened.body["id"].as_str().unwrap().to_owned();
    let say = |body: Value| {
        let (app, alice, conv) = (&app, alice.clone(), conv.clone());
        async move {
            app.v1(
                Method::POST,
                &format!("/conversations/{conv}/messages"),
                Some(&alice),
                Some(&body),
            )
            .await
        }
    };
    let normal = say(json!({"msgtype": "text", "text": {"content": "lunch?"}})).await;
    assert_eq!(normal.status, 201, "{}", normal.body);
    let urgent = say(json!({"msgtype": "text", "priority": "urgent",
                            "text": {"content": "call me now"}}))
    .await;
    assert_eq!(urgent.status, 201, "{}", urgent.body);
    assert_eq!(urgent.body["priority"], "urgent");
    let seq = urgent.body["seq"].as_u64().unwrap();

    app.clock.advance_secs(61);
    assert_eq!(step(&app).await, 1);
    let mail = smtp.next_mail().await;
    only_to(&mail, "bob@example.com");
    assert!(
        mail.header("Subject")
            .unwrap_or_default()
            .contains("alice name: call me now")
    );
    assert_eq!(
        rows(&app, &o.corp, &conv, seq).await,
        [("bob".to_owned(), EscalationState::Pending, 1)],
        "the sender gets none"
    );

    // A normal message cannot be acknowledged; another member's cannot be
    // reached at all.
    let not_urgent = app
        .v1(
            Method::POST,
            &format!("/conversations/{conv}/entries/{}/ack", seq - 1),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(not_urgent.status, 400, "{}", not_urgent.body);
    let carol = session_of(&app, &o.corp, "carol").await;
    let outsider = app
        .v1(
            Method::POST,
            &format!("/conversations/{conv}/entries/{seq}/ack"),
            Some(&carol),
            None,
        )
        .await;
    assert_eq!(outsider.status, 404, "{}", outsider.body);

    let acked = app
        .v1(
            Method::POST,
            &format!("/conversations/{conv}/entries/{seq}/ack"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(acked.status, 200, "{}", acked.body);
    assert_eq!(acked.body["read_seq"], seq);
    app.clock.advance_secs(300);
    assert_eq!(step(&app).await, 0, "acknowledged: no second notice");
    no_more_mail(&smtp).await;
    assert_eq!(
        rows(&app, &o.corp, &conv, seq).await,
        [("bob".to_owned(), EscalationState::Acknowledged, 1)]
    );
}

/// Forwards every connection to `port` on loopback to `target`.
async fn forward(port: u16, target: std::net::SocketAddr) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind the forwarder");
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
}

async fn an_smtp_server_that_is_down_is_retried_without_losing_the_attempt(backend: Backend) {
    // A port nobody listens on (yet).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = spawn(backend, port).await;
    let o = org(&app, "Down", policy(true, false)).await;
    send_urgent(&app, &o, "alice", "disk full").await;
    let alice = session_of(&app, &o.corp, "alice").await;
    let (conv, seq) = app_inbox(&app, &alice).await;

    app.clock.advance_secs(61);
    assert_eq!(step(&app).await, 1, "the try is settled, not left hanging");
    let row = app
        .services
        .store()
        .escalations_of(&o.corp, &ConvId::parse(&conv).unwrap(), seq)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(row.state, EscalationState::Pending);
    assert_eq!(
        (row.attempts, row.failures),
        (0, 1),
        "the attempt is not used up"
    );
    assert!(
        row.last_error
            .as_deref()
            .unwrap_or_default()
            .contains("SMTP"),
        "{row:?}"
    );
    assert_eq!(step(&app).await, 0, "retried later, not at once");

    let smtp = SmtpTestServer::start().await;
    forward(port, smtp.addr()).await;
    app.clock.advance_secs(60);
    assert_eq!(step(&app).await, 1);
    let mail = smtp.next_mail().await;
    only_to(&mail, "alice@example.com");
    assert!(
        mail.text_body().contains("第 1 次提醒"),
        "still the first attempt"
    );
    assert_eq!(
        rows(&app, &o.corp, &conv, seq).await,
        [("alice".to_owned(), EscalationState::Pending, 1)]
    );
}

/// What the SMS gateway received: (authorization header, JSON body).
type Received = Arc<Mutex<Vec<(String, Value)>>>;

async fn sms_gateway() -> (String, Received) {
    let received: Received = Arc::default();
    let store = Arc::clone(&received);
    let router = axum::Router::new().route(
        "/send",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| {
                let store = Arc::clone(&store);
                async move {
                    let auth = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    store.lock().unwrap().push((auth, body));
                    axum::http::StatusCode::NO_CONTENT
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/send", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (url, received)
}

async fn the_sms_gateway_gets_the_notice(backend: Backend) {
    let (url, received) = sms_gateway().await;
    let app = TestApp::spawn_with(backend, |c| {
        c.sms.url = url.clone();
        c.sms.bearer_token = "gateway-token".into();
    })
    .await;
    let o = org(&app, "Texts", policy(false, true)).await;
    send_urgent(&app, &o, "bob", "机房断电").await;
    app.clock.advance_secs(61);
    assert_eq!(step(&app).await, 1);
    let got = received.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "Bearer gateway-token");
    assert_eq!(got[0].1["mobile"], "13800000001");
    let text = got[0].1["text"].as_str().unwrap();
    assert!(text.starts_with("【Texts】加急 Alerts：机房断电"), "{text}");
    assert!(text.chars().count() <= 70);
}

async fn tenants_cannot_touch_each_others_escalations(backend: Backend) {
    let smtp = SmtpTestServer::start().await;
    let app = spawn(backend, smtp.port()).await;
    let a = org(&app, "Alpha", policy(true, false)).await;
    let b = org(&app, "Beta", EscalationPolicy::default()).await;
    send_urgent(&app, &a, "alice", "alpha only").await;
    let alice_a = session_of(&app, &a.corp, "alice").await;
    let (conv, seq) = app_inbox(&app, &alice_a).await;

    // Beta's alice (same userid, other corp) cannot acknowledge it.
    let alice_b = session_of(&app, &b.corp, "alice").await;
    let refused = app
        .v1(
            Method::POST,
            &format!("/conversations/{conv}/entries/{seq}/ack"),
            Some(&alice_b),
            None,
        )
        .await;
    assert_eq!(refused.status, 404, "{}", refused.body);
    // Beta's super administrator sets Beta's policy only; a member who is
    // no administrator cannot; out of range changes nothing.
    let b_admin = common::first_sign_in(&app, &b.corp, &b.admin.0, &b.admin.1).await;
    let put = |session: String, body: Value| {
        let app = &app;
        async move {
            app.v1(
                Method::PUT,
                "/admin/escalation",
                Some(&session),
                Some(&body),
            )
            .await
        }
    };
    let beta_policy = json!({"first_after_secs": 120, "repeat_every_secs": 600,
                             "max_attempts": 4, "email": false, "sms": true});
    let set = put(b_admin.clone(), beta_policy.clone()).await;
    assert_eq!(set.status, 200, "{}", set.body);
    let refused = put(alice_b.clone(), beta_policy.clone()).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let out_of_range = put(
        b_admin.clone(),
        json!({"first_after_secs": 1, "repeat_every_secs": 600, "max_attempts": 4,
               "email": true, "sms": false}),
    )
    .await;
    assert_eq!(out_of_range.status, 400, "{}", out_of_range.body);
    let got = app
        .v1(Method::GET, "/admin/escalation", Some(&b_admin), None)
        .await;
    assert_eq!(got.body, beta_policy);
    assert_eq!(
        app.services.escalation_policy(&a.corp).await.unwrap(),
        policy(true, false),
        "Alpha's policy is untouched"
    );
    assert!(
        app.services
            .store()
            .escalations_of(&b.corp, &ConvId::parse(&conv).unwrap(), seq)
            .await
            .unwrap()
            .is_empty()
    );
    app.clock.advance_secs(61);
    assert_eq!(step(&app).await, 1);
    only_to(&smtp.next_mail().await, "alice@example.com");
    assert_eq!(
        rows(&app, &a.corp, &conv, seq).await,
        [("alice".to_owned(), EscalationState::Pending, 1)]
    );
}

async fn the_websocket_acknowledges_too(backend: Backend) {
    let smtp = SmtpTestServer::start().await;
    let app = spawn(backend, smtp.port()).await;
    let o = org(&app, "Socket", policy(true, false)).await;
    send_urgent(&app, &o, "bob", "ack me").await;
    let bob = session_of(&app, &o.corp, "bob").await;
    let (conv, seq) = app_inbox(&app, &bob).await;
    let url = format!(
        "{}/api/v1/ws?token={bob}",
        app.base.replacen("http", "ws", 1)
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket");
    let frame = json!({"type": "acknowledge", "id": "k-1", "conv": conv, "seq": seq});
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .expect("send frame");
    let ack = loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s")
            .expect("open")
            .expect("frame");
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).expect("JSON frame");
            if v["type"] == "ack" || v["type"] == "error" {
                break v;
            }
        }
    };
    assert_eq!(ack["id"], "k-1", "{ack}");
    assert_eq!(ack["read_seq"], seq, "{ack}");
    app.clock.advance_secs(61);
    assert_eq!(step(&app).await, 0);
    no_more_mail(&smtp).await;
    assert_eq!(
        rows(&app, &o.corp, &conv, seq).await,
        [("bob".to_owned(), EscalationState::Acknowledged, 0)]
    );
}

async fn recalled_messages_and_disabled_members_are_not_reminded(backend: Backend) {
    let smtp = SmtpTestServer::start().await;
    let app = spawn(backend, smtp.port()).await;
    let o = org(&app, "Calm", policy(true, false)).await;
    let alice = session_of(&app, &o.corp, "alice").await;
    let opened = app
        .v1(
            Method::POST,
            "/conversations",
            Some(&alice),
            Some(&json!({"kind": "group", "name": "ops", "members": ["bob", "carol"]})),
        )
        .await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    let conv = opened.body["id"].as_str().unwrap().to_owned();
    let sent = app
        .v1(
            Method::POST,
            &format!("/conversations/{conv}/messages"),
            Some(&alice),
            Some(&json!({"msgtype": "text", "priority": "urgent", "text": {"content": "oops"}})),
        )
        .await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    let first = sent.body["seq"].as_u64().unwrap();
    let recalled = app
        .v1(
            Method::POST,
            &format!("/conversations/{conv}/entries/{first}/recall"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(recalled.status, 200, "{}", recalled.body);
    let again = app
        .v1(
            Method::POST,
            &format!("/conversations/{conv}/messages"),
            Some(&alice),
            Some(
                &json!({"msgtype": "text", "priority": "urgent", "text": {"content": "for real"}}),
            ),
        )
        .await;
    let second = again.body["seq"].as_u64().unwrap();
    app.services
        .update_member(
            &common::operator(&o.corp),
            &UserId::parse("carol").unwrap(),
            None,
            MemberFields {
                enable: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    app.clock.advance_secs(61);
    assert_eq!(
        step(&app).await,
        4,
        "two recipients of two messages settled"
    );
    let mail = smtp.next_mail().await;
    only_to(&mail, "bob@example.com");
    assert!(mail.text_body().contains("for real"));
    no_more_mail(&smtp).await;
    assert_eq!(
        rows(&app, &o.corp, &conv, first).await,
        [
            ("bob".to_owned(), EscalationState::Cancelled, 0),
            ("carol".to_owned(), EscalationState::Cancelled, 0)
        ]
    );
    assert_eq!(
        rows(&app, &o.corp, &conv, second).await,
        [
            ("bob".to_owned(), EscalationState::Pending, 1),
            ("carol".to_owned(), EscalationState::Cancelled, 0)
        ]
    );
}
