//! Messaging over real HTTP and WebSocket, on SQLite and on PostgreSQL:
//! `message/send` inside an app's visible range with WeCom's invalid lists,
//! recall and the duplicate check, app chats, member chat with read
//! receipts and recall, groups and their rosters, the WebSocket gateway
//! (push, receipts live, a client that misses messages and syncs them back
//! in order, once), tenant isolation and bad input.

mod common;

use std::time::Duration;

use common::{Backend, TestApp, errcode, member, post, session_of};
use futures_util::{SinkExt, StreamExt};
use qiye_domain::audit::Actor;
use qiye_domain::directory::Range;
use qiye_domain::ids::{AgentId, CorpId, DeptId, UserId};
use qiye_domain::plan::Plan;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

on_both_backends!(
    app_messages_reach_members_inside_the_range,
    recall_and_duplicate_check,
    app_chats_round_trip,
    member_chat_with_receipts_replays_and_recall,
    groups_change_their_rosters,
    websocket_pushes_receipts_and_resyncs_in_order,
    tenants_cannot_reach_each_others_messages,
    bad_message_input_gets_an_errcode,
    task_card_clicks_reach_the_app_and_update_every_copy,
    statistics_per_kind_and_per_app,
    media_in_messages_outlive_temporary_uploads,
    uploadimg_gives_a_permanent_address,
    members_upload_media_and_send_it,
);

/// A corp with members alice and bob in the root department and carol in
/// department 2 (Sales), and an app visible to the whole corp.
struct Org {
    corp: CorpId,
    /// The bootstrap super administrator's session.
    admin: String,
    agentid: i64,
    secret: String,
    token: String,
}

async fn org(app: &TestApp, name: &str) -> Org {
    let created = app
        .services
        .create_corp(name, Plan::Professional, Actor::System)
        .await
        .unwrap();
    let corp = created.corp.id.clone();
    let admin = common::first_sign_in(app, &corp, "admin", created.admin_password.expose()).await;
    common::dept(app, &corp, 2, 1, "Sales").await;
    member(app, &corp, "alice", &[1], "").await;
    member(app, &corp, "bob", &[1], "").await;
    member(app, &corp, "carol", &[2], "").await;
    let (agentid, secret) = app.app(&corp, "Notices").await;
    let token = app.token(&corp, &secret).await;
    Org {
        corp,
        admin,
        agentid,
        secret,
        token,
    }
}

/// The member's conversations.
async fn conversations(app: &TestApp, session: &str) -> Vec<Value> {
    let reply = app
        .v1(Method::GET, "/conversations", Some(session), None)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["conversations"].as_array().unwrap().clone()
}

async fn entries(app: &TestApp, session: &str, conv: &str, after: u64) -> Vec<Value> {
    let reply = app
        .v1(
            Method::GET,
            &format!("/conversations/{conv}/entries?after={after}"),
            Some(session),
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["entries"].as_array().unwrap().clone()
}

fn text(to: &str, agentid: i64, content: &str) -> Value {
    json!({"touser": to, "toparty": "", "totag": "", "msgtype": "text", "agentid": agentid,
           "text": {"content": content}, "safe": 0})
}

async fn app_conversation(app: &TestApp, session: &str) -> Value {
    conversations(app, session)
        .await
        .into_iter()
        .find(|c| c["kind"] == "app")
        .expect("an app conversation")
}

async fn app_messages_reach_members_inside_the_range(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let o = org(&app, "Range").await;
    let reply = post(
        &app,
        &o.token,
        "message/send",
        json!({
            "touser": "alice|Ghost|bob", "toparty": "2|99", "totag": "7", "msgtype": "text",
            "agentid": o.agentid, "text": {"content": "审批提醒"}, "safe": 0
        }),
    )
    .await;
    assert_eq!(errcode(&reply), 0, "{reply}");
    assert_eq!(reply["invaliduser"], "ghost", "lower-cased as WeCom does");
    assert_eq!(reply["invalidparty"], "99");
    assert_eq!(reply["invalidtag"], "7");
    let msgid = reply["msgid"].as_str().unwrap().to_owned();
    for who in ["alice", "bob", "carol"] {
        let session = session_of(&app, &o.corp, who).await;
        let conv = app_conversation(&app, &session).await;
        assert_eq!(conv["agentid"], o.agentid);
        assert_eq!(conv["unread"], 1, "{who}: {conv}");
        let got = entries(&app, &session, conv["id"].as_str().unwrap(), 0).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0]["msgid"], msgid.as_str());
        assert_eq!(got[0]["content"]["content"], "审批提醒");
        assert_eq!(got[0]["sender"]["kind"], "app");
    }

    // An app visible to Sales only: alice is outside its range.
    let (sales_app, secret) = app.app(&o.corp, "Sales tool").await;
    app.services
        .set_app_range(
            Actor::System,
            &o.corp,
            AgentId::new(sales_app).unwrap(),
            Some(Range {
                depts: vec![DeptId::new(2).unwrap()],
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    let sales_token = app.token(&o.corp, &secret).await;
    let reply = post(
        &app,
        &sales_token,
        "message/send",
        text("alice|carol", sales_app, "hi"),
    )
    .await;
    assert_eq!(errcode(&reply), 0, "{reply}");
    assert_eq!(reply["invaliduser"], "alice");
    let reply = post(
        &app,
        &sales_token,
        "message/send",
        text("alice", sales_app, "hi"),
    )
    .await;
    assert_eq!(errcode(&reply), 81013, "nobody valid: {reply}");
    let reply = post(
        &app,
        &sales_token,
        "message/send",
        text("@all", sales_app, "all"),
    )
    .await;
    assert_eq!(errcode(&reply), 0, "{reply}");
    let alice = session_of(&app, &o.corp, "alice").await;
    let inbox: Vec<Value> = conversations(&app, &alice)
        .await
        .into_iter()
        .filter(|c| c["agentid"] == sales_app)
        .collect();
    assert!(inbox.is_empty(), "@all stays inside the range: {inbox:?}");

    // Another app's agentid with this token: refused.
    let reply = post(
        &app,
        &sales_token,
        "message/send",
        text("carol", o.agentid, "x"),
    )
    .await;
    assert_ne!(errcode(&reply), 0, "{reply}");
}

async fn recall_and_duplicate_check(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let o = org(&app, "Recall").await;
    let mut body = text("alice|bob", o.agentid, "same");
    body["enable_duplicate_check"] = json!(1);
    body["duplicate_check_interval"] = json!(600);
    let first = post(&app, &o.token, "message/send", body.clone()).await;
    let second = post(&app, &o.token, "message/send", body).await;
    assert_eq!(errcode(&second), 0, "{second}");
    assert_eq!(
        first["msgid"], second["msgid"],
        "a duplicate is not sent again"
    );
    let alice = session_of(&app, &o.corp, "alice").await;
    let conv = app_conversation(&app, &alice).await;
    let conv_id = conv["id"].as_str().unwrap().to_owned();
    assert_eq!(entries(&app, &alice, &conv_id, 0).await.len(), 1);

    let recalled = post(
        &app,
        &o.token,
        "message/recall",
        json!({"msgid": first["msgid"]}),
    )
    .await;
    assert_eq!(errcode(&recalled), 0, "{recalled}");
    let got = entries(&app, &alice, &conv_id, 0).await;
    assert_eq!(got.len(), 2);
    assert!(got[0]["recalled_at"].is_i64(), "{}", got[0]);
    assert!(
        got[0].get("content").is_none(),
        "a recalled message's content is withheld"
    );
    assert_eq!(got[1]["type"], "recall");
    assert_eq!(got[1]["target"], 1);
    let again = post(
        &app,
        &o.token,
        "message/recall",
        json!({"msgid": first["msgid"]}),
    )
    .await;
    assert_eq!(errcode(&again), 40035, "{again}");
    let unknown = post(&app, &o.token, "message/recall", json!({"msgid": "nope"})).await;
    assert_eq!(errcode(&unknown), 40035, "{unknown}");
    // Past 24 hours a message can no longer be recalled.
    let old = post(
        &app,
        &o.token,
        "message/send",
        text("bob", o.agentid, "old"),
    )
    .await;
    app.clock.advance_secs(25 * 3600);
    let fresh = app.token(&o.corp, &o.secret).await;
    let late = post(
        &app,
        &fresh,
        "message/recall",
        json!({"msgid": old["msgid"]}),
    )
    .await;
    assert_eq!(errcode(&late), 40035, "{late}");
}

async fn app_chats_round_trip(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let o = org(&app, "Chats").await;
    let created = post(
        &app,
        &o.token,
        "appchat/create",
        json!({
            "name": "项目群", "owner": "alice", "userlist": ["alice", "bob"], "chatid": "proj1"
        }),
    )
    .await;
    assert_eq!(errcode(&created), 0, "{created}");
    assert_eq!(created["chatid"], "proj1");
    let dup = post(
        &app,
        &o.token,
        "appchat/create",
        json!({
            "name": "again", "owner": "alice", "userlist": ["alice", "bob"], "chatid": "proj1"
        }),
    )
    .await;
    assert_eq!(errcode(&dup), 86001, "{dup}");
    let unknown_member = post(
        &app,
        &o.token,
        "appchat/create",
        json!({
            "name": "x", "owner": "alice", "userlist": ["alice", "nobody"]
        }),
    )
    .await;
    assert_eq!(errcode(&unknown_member), 86007, "{unknown_member}");

    let updated = post(&app, &o.token, "appchat/update", json!({
        "chatid": "proj1", "name": "项目群2", "add_user_list": ["carol"], "del_user_list": ["bob"]
    }))
    .await;
    assert_eq!(errcode(&updated), 0, "{updated}");
    let info = common::get(&app, &o.token, "appchat/get", "chatid=proj1").await;
    assert_eq!(errcode(&info), 0, "{info}");
    assert_eq!(info["chat_info"]["name"], "项目群2");
    assert_eq!(info["chat_info"]["owner"], "alice");
    assert_eq!(info["chat_info"]["userlist"], json!(["alice", "carol"]));

    let sent = post(
        &app,
        &o.token,
        "appchat/send",
        json!({
            "chatid": "proj1", "msgtype": "markdown", "markdown": {"content": "**上线** <@carol>"}
        }),
    )
    .await;
    assert_eq!(errcode(&sent), 0, "{sent}");
    let carol = session_of(&app, &o.corp, "carol").await;
    let got = entries(&app, &carol, "proj1", 0).await;
    let last = got.last().unwrap();
    assert_eq!(last["msgtype"], "markdown");
    assert_eq!(last["mentions"], json!(["carol"]));
    let bob = session_of(&app, &o.corp, "bob").await;
    let gone = app
        .v1(
            Method::GET,
            "/conversations/proj1/entries",
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(gone.status, 404, "bob left the chat: {}", gone.body);

    // Another app may not touch this app's chat.
    let (_, other_secret) = app.app(&o.corp, "Other").await;
    let other = app.token(&o.corp, &other_secret).await;
    let refused = post(
        &app,
        &other,
        "appchat/send",
        json!({
            "chatid": "proj1", "msgtype": "text", "text": {"content": "x"}
        }),
    )
    .await;
    assert_eq!(errcode(&refused), 86008, "{refused}");
    let missing = common::get(&app, &o.token, "appchat/get", "chatid=nothere").await;
    assert_eq!(errcode(&missing), 86003, "{missing}");
}

async fn open_direct(app: &TestApp, session: &str, peer: &str) -> String {
    let reply = app
        .v1(
            Method::POST,
            "/conversations",
            Some(session),
            Some(&json!({"kind": "direct", "peer": peer})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

async fn say(app: &TestApp, session: &str, conv: &str, body: Value) -> common::V1Reply {
    app.v1(
        Method::POST,
        &format!("/conversations/{conv}/messages"),
        Some(session),
        Some(&body),
    )
    .await
}

async fn member_chat_with_receipts_replays_and_recall(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let o = org(&app, "Chat").await;
    let alice = session_of(&app, &o.corp, "alice").await;
    let bob = session_of(&app, &o.corp, "bob").await;
    let conv = open_direct(&app, &alice, "bob").await;
    assert_eq!(
        open_direct(&app, &bob, "alice").await,
        conv,
        "one conversation per pair"
    );

    let first = say(
        &app,
        &alice,
        &conv,
        json!({"msgtype": "text", "text": {"content": "hi bob"}, "client_id": "c-1"}),
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["seq"], 1);
    let replay = say(
        &app,
        &alice,
        &conv,
        json!({"msgtype": "text", "text": {"content": "hi bob"}, "client_id": "c-1"}),
    )
    .await;
    assert_eq!(replay.status, 201, "{}", replay.body);
    assert_eq!(replay.body["seq"], 1, "a replayed send answers the first");
    assert_eq!(replay.body["msgid"], first.body["msgid"]);
    let second = say(
        &app,
        &alice,
        &conv,
        json!({"msgtype": "markdown", "markdown": {"content": "**2**"}}),
    )
    .await;
    assert_eq!(second.body["seq"], 2);

    let bob_list = conversations(&app, &bob).await;
    assert_eq!(bob_list[0]["peer"], "alice");
    assert_eq!(bob_list[0]["unread"], 2);
    let receipts = app
        .v1(
            Method::GET,
            &format!("/conversations/{conv}/entries/1/receipts"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(receipts.body["unread"], json!(["bob"]));
    let read = app
        .v1(
            Method::POST,
            &format!("/conversations/{conv}/read"),
            Some(&bob),
            Some(&json!({"seq": 1})),
        )
        .await;
    assert_eq!(read.body["read_seq"], 1);
    let receipts = app
        .v1(
            Method::GET,
            &format!("/conversations/{conv}/entries/1/receipts"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(receipts.body["read"], json!(["bob"]));
    assert_eq!(conversations(&app, &bob).await[0]["unread"], 1);
    let back = app
        .v1(
            Method::POST,
            &format!("/conversations/{conv}/read"),
            Some(&bob),
            Some(&json!({"seq": 0})),
        )
        .await;
    assert_eq!(back.body["read_seq"], 1, "a cursor never moves back");

    let not_mine = app
        .v1(
            Method::POST,
            &format!("/conversations/{conv}/entries/1/recall"),
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(not_mine.status, 403, "{}", not_mine.body);
    let recalled = app
        .v1(
            Method::POST,
            &format!("/conversations/{conv}/entries/2/recall"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(recalled.status, 200, "{}", recalled.body);
    assert_eq!(recalled.body["type"], "recall");
    assert_eq!(
        conversations(&app, &bob).await[0]["unread"],
        0,
        "a recalled message is not unread"
    );

    // carol is no member: the conversation does not exist for her.
    let carol = session_of(&app, &o.corp, "carol").await;
    let hidden = app
        .v1(
            Method::GET,
            &format!("/conversations/{conv}"),
            Some(&carol),
            None,
        )
        .await;
    assert_eq!(hidden.status, 404, "{}", hidden.body);
    let intrude = say(
        &app,
        &carol,
        &conv,
        json!({"msgtype": "text", "text": {"content": "x"}}),
    )
    .await;
    assert_eq!(intrude.status, 404, "{}", intrude.body);
    let detail = app
        .v1(
            Method::GET,
            &format!("/conversations/{conv}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(detail.body["last_seq"], 3);
    assert_eq!(detail.body["members"].as_array().unwrap().len(), 2);
}

async fn groups_change_their_rosters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let o = org(&app, "Groups").await;
    let alice = session_of(&app, &o.corp, "alice").await;
    let bob = session_of(&app, &o.corp, "bob").await;
    let carol = session_of(&app, &o.corp, "carol").await;
    let made = app
        .v1(
            Method::POST,
            "/conversations",
            Some(&alice),
            Some(&json!({"kind": "group", "name": "周会", "members": ["bob"]})),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let conv = made.body["id"].as_str().unwrap().to_owned();
    assert_eq!(made.body["owner"], "alice");
    let path = format!("/conversations/{conv}");
    let by_bob = app
        .v1(
            Method::PATCH,
            &path,
            Some(&bob),
            Some(&json!({"name": "bob's"})),
        )
        .await;
    assert_eq!(
        by_bob.status, 403,
        "only the owner renames: {}",
        by_bob.body
    );
    let add = app
        .v1(
            Method::PATCH,
            &path,
            Some(&bob),
            Some(&json!({"add": ["carol"]})),
        )
        .await;
    assert_eq!(add.status, 200, "any member adds: {}", add.body);
    assert_eq!(add.body["entries"][0]["type"], "roster");
    assert_eq!(add.body["entries"][0]["added"], json!(["carol"]));
    let said = say(
        &app,
        &carol,
        &conv,
        json!({"msgtype": "text", "text": {"content": "我来了"}}),
    )
    .await;
    assert_eq!(said.status, 201, "{}", said.body);
    let leave = app
        .v1(
            Method::PATCH,
            &path,
            Some(&bob),
            Some(&json!({"remove": ["bob"]})),
        )
        .await;
    assert_eq!(leave.status, 200, "a member leaves: {}", leave.body);
    let gone = app.v1(Method::GET, &path, Some(&bob), None).await;
    assert_eq!(gone.status, 404, "{}", gone.body);
    let detail = app.v1(Method::GET, &path, Some(&alice), None).await;
    let members: Vec<&str> = detail.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["userid"].as_str().unwrap())
        .collect();
    assert_eq!(members, ["alice", "carol"]);
    let receipts = app
        .v1(
            Method::GET,
            &format!("{path}/entries/2/receipts"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(
        receipts.body["unread"],
        json!(["alice"]),
        "{}",
        receipts.body
    );
    let too_few = app
        .v1(
            Method::PATCH,
            &path,
            Some(&alice),
            Some(&json!({"remove": ["carol"]})),
        )
        .await;
    assert_eq!(too_few.status, 400, "{}", too_few.body);
    assert_eq!(too_few.errcode(), 86006);
    let unknown = app
        .v1(
            Method::POST,
            "/conversations",
            Some(&alice),
            Some(&json!({"kind": "group", "name": "x", "members": ["nobody"]})),
        )
        .await;
    assert_eq!(unknown.errcode(), 86007, "{}", unknown.body);
}

/// A WebSocket client of the gateway.
struct Ws {
    stream: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl Ws {
    async fn connect(app: &TestApp, session: &str) -> Self {
        let url = format!(
            "{}/api/v1/ws?token={session}",
            app.base.replacen("http", "ws", 1)
        );
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket");
        let mut ws = Self { stream };
        let hello = ws.next().await;
        assert_eq!(hello["type"], "hello", "{hello}");
        ws
    }

    async fn send(&mut self, frame: Value) {
        self.stream
            .send(Message::Text(frame.to_string().into()))
            .await
            .expect("send frame");
    }

    /// The next JSON frame (pings are answered by the client library).
    async fn next(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .expect("a frame within 10 s")
                .expect("open")
                .expect("frame");
            if let Message::Text(t) = frame {
                return serde_json::from_str(&t).expect("JSON frame");
            }
        }
    }

    /// The next frame of this type, skipping others.
    async fn next_of(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }
}

async fn websocket_pushes_receipts_and_resyncs_in_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let o = org(&app, "Live").await;
    let alice = session_of(&app, &o.corp, "alice").await;
    let bob = session_of(&app, &o.corp, "bob").await;
    let conv = open_direct(&app, &alice, "bob").await;
    let mut bob_ws = Ws::connect(&app, &bob).await;
    let mut alice_ws = Ws::connect(&app, &alice).await;

    alice_ws
        .send(json!({"type": "send", "id": "a1", "conv": conv, "msgtype": "text", "text": {"content": "live"}}))
        .await;
    let ack = alice_ws.next_of("ack").await;
    assert_eq!(ack["id"], "a1");
    assert_eq!(ack["entry"]["seq"], 1);
    let pushed = bob_ws.next_of("entry").await;
    assert_eq!(pushed["entry"]["content"]["content"], "live");
    assert_eq!(pushed["entry"]["sender"]["id"], "alice");

    bob_ws
        .send(json!({"type": "read", "id": "r1", "conv": conv, "seq": 1}))
        .await;
    assert_eq!(bob_ws.next_of("ack").await["read_seq"], 1);
    let receipt = alice_ws.next_of("read").await;
    assert_eq!(receipt["userid"], "bob");
    assert_eq!(receipt["seq"], 1);

    // The same client id again: acknowledged with the first entry, not sent twice.
    alice_ws
        .send(json!({"type": "send", "id": "a1", "conv": conv, "msgtype": "text", "text": {"content": "live"}}))
        .await;
    assert_eq!(alice_ws.next_of("ack").await["entry"]["seq"], 1);

    // bob goes away; alice writes five more; bob comes back and syncs.
    drop(bob_ws);
    for i in 0..5 {
        let sent = say(
            &app,
            &alice,
            &conv,
            json!({"msgtype": "text", "text": {"content": format!("m{i}")}}),
        )
        .await;
        assert_eq!(sent.status, 201, "{}", sent.body);
    }
    let mut bob_ws = Ws::connect(&app, &bob).await;
    bob_ws
        .send(json!({"type": "sync", "id": "s1", "known": {conv.clone(): 1}}))
        .await;
    let synced = bob_ws.next_of("sync").await;
    let convs = synced["conversations"].as_array().unwrap();
    assert_eq!(convs.len(), 1, "{synced}");
    let seqs: Vec<i64> = convs[0]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [2, 3, 4, 5, 6], "exactly what was missed, in order");
    assert_eq!(convs[0]["entries"][0]["content"]["content"], "m0");
    assert_eq!(convs[0]["more"], false);
    assert_eq!(convs[0]["conversation"]["unread"], 5);

    // Bad frames are answered, the connection stays.
    bob_ws.send(json!({"type": "send", "id": "x", "conv": "nope!", "msgtype": "text", "text": {"content": "x"}})).await;
    let err = bob_ws.next_of("error").await;
    assert_eq!(err["errcode"], 86003, "{err}");
    bob_ws
        .stream
        .send(Message::Text("{not json".into()))
        .await
        .unwrap();
    assert_eq!(bob_ws.next_of("error").await["errcode"], 47001);
    bob_ws.send(json!({"type": "ping"})).await;
    assert_eq!(bob_ws.next_of("pong").await["type"], "pong");

    // Presence: bob watches alice and carol; alice leaves, carol arrives.
    bob_ws
        .send(json!({"type": "watch", "users": ["alice", "carol"]}))
        .await;
    let now = bob_ws.next_of("presence").await;
    assert_eq!(now["online"], json!(["alice"]), "{now}");
    assert_eq!(now["offline"], json!(["carol"]));
    drop(alice_ws);
    let carol = session_of(&app, &o.corp, "carol").await;
    let _carol_ws = Ws::connect(&app, &carol).await;
    let mut seen_online = Vec::new();
    let mut seen_offline = Vec::new();
    while !(seen_online.contains(&json!("carol")) && seen_offline.contains(&json!("alice"))) {
        let change = bob_ws.next_of("presence").await;
        seen_online.extend(change["online"].as_array().unwrap().iter().cloned());
        seen_offline.extend(change["offline"].as_array().unwrap().iter().cloned());
    }

    // Without a session there is no socket.
    let url = format!(
        "{}/api/v1/ws?token=wrong",
        app.base.replacen("http", "ws", 1)
    );
    assert!(tokio_tungstenite::connect_async(url).await.is_err());
}

async fn tenants_cannot_reach_each_others_messages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = org(&app, "Tenant A").await;
    let b = org(&app, "Tenant B").await;
    let a_alice = session_of(&app, &a.corp, "alice").await;
    let conv = open_direct(&app, &a_alice, "bob").await;
    say(
        &app,
        &a_alice,
        &conv,
        json!({"msgtype": "text", "text": {"content": "secret"}}),
    )
    .await;
    let b_alice = session_of(&app, &b.corp, "alice").await;
    for path in [
        format!("/conversations/{conv}"),
        format!("/conversations/{conv}/entries"),
        format!("/conversations/{conv}/entries/1/receipts"),
    ] {
        let reply = app.v1(Method::GET, &path, Some(&b_alice), None).await;
        assert_eq!(reply.status, 404, "{path}: {}", reply.body);
    }
    let intrude = say(
        &app,
        &b_alice,
        &conv,
        json!({"msgtype": "text", "text": {"content": "x"}}),
    )
    .await;
    assert_eq!(intrude.status, 404, "{}", intrude.body);
    let sync = app
        .v1(
            Method::POST,
            "/sync",
            Some(&b_alice),
            Some(&json!({"known": {}})),
        )
        .await;
    assert_eq!(sync.body["conversations"], json!([]), "{}", sync.body);

    // Corp B's app cannot message corp A's members or touch its chats.
    let sent = post(
        &app,
        &a.token,
        "message/send",
        text("alice", a.agentid, "x"),
    )
    .await;
    let cross = post(
        &app,
        &b.token,
        "message/recall",
        json!({"msgid": sent["msgid"]}),
    )
    .await;
    assert_eq!(errcode(&cross), 40035, "{cross}");
    let created = post(
        &app,
        &a.token,
        "appchat/create",
        json!({
            "name": "A", "owner": "alice", "userlist": ["alice", "bob"], "chatid": "achat"
        }),
    )
    .await;
    assert_eq!(errcode(&created), 0);
    let peek = common::get(&app, &b.token, "appchat/get", "chatid=achat").await;
    assert_eq!(errcode(&peek), 86003, "{peek}");
    let a_bob = UserId::parse("bob").unwrap();
    let b_inbox = app
        .services
        .conversations(&app_member(&app, &b.corp, &a_bob).await)
        .await
        .unwrap();
    assert!(b_inbox.is_empty(), "corp B's bob has nothing of corp A's");
}

/// A signed-in member handle for calling the use cases directly.
async fn app_member(
    app: &TestApp,
    corp: &CorpId,
    userid: &UserId,
) -> qiye_app::session::SignedInMember {
    let token = session_of(app, corp, userid.as_str()).await;
    app.services
        .authenticate_session(Some(&token), None)
        .await
        .unwrap()
        .active()
        .unwrap()
}

async fn bad_message_input_gets_an_errcode(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let o = org(&app, "Bad").await;
    let url = format!("{}/cgi-bin/message/send?access_token={}", app.base, o.token);
    let malformed = app
        .client
        .post(&url)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(errcode(&common::check_envelope(malformed).await), 47001);
    let cases = [
        (
            json!({"touser": "alice", "msgtype": "text", "text": {"content": "x"}}),
            41011,
        ),
        (
            json!({"touser": "alice", "agentid": o.agentid, "msgtype": "fax", "fax": {}}),
            40008,
        ),
        (
            json!({"touser": "", "toparty": "", "totag": "", "agentid": o.agentid, "msgtype": "text", "text": {"content": "x"}}),
            81013,
        ),
        (
            json!({"touser": "alice", "agentid": o.agentid, "msgtype": "text", "text": {"content": ""}}),
            44004,
        ),
        (
            json!({"touser": "alice", "agentid": o.agentid, "msgtype": "image", "image": {"media_id": "unknown"}}),
            40007,
        ),
        (
            json!({"touser": "alice", "agentid": o.agentid, "msgtype": "news", "safe": 1, "news": {"articles": [{"title": "t", "url": "http://x"}]}}),
            40074,
        ),
        (
            json!({"touser": "alice", "agentid": "abc", "msgtype": "text", "text": {"content": "x"}}),
            40058,
        ),
    ];
    for (body, code) in cases {
        let reply = post(&app, &o.token, "message/send", body.clone()).await;
        assert_eq!(errcode(&reply), code, "{body} -> {reply}");
    }
    let alice = session_of(&app, &o.corp, "alice").await;
    assert!(
        conversations(&app, &alice).await.is_empty(),
        "nothing was sent"
    );
    let conv = open_direct(&app, &alice, "bob").await;
    let card = say(
        &app,
        &alice,
        &conv,
        json!({"msgtype": "template_card", "template_card": {}}),
    )
    .await;
    assert_eq!(
        card.errcode(),
        40008,
        "members send no cards: {}",
        card.body
    );
    let empty = say(&app, &alice, &conv, json!({"msgtype": "text", "text": {}})).await;
    assert_eq!(empty.status, 400, "{}", empty.body);
    let bad_priority = say(
        &app,
        &alice,
        &conv,
        json!({"msgtype": "text", "text": {"content": "x"}, "priority": "panic"}),
    )
    .await;
    assert_eq!(bad_priority.errcode(), 40058, "{}", bad_priority.body);
    let huge = say(
        &app,
        &alice,
        &conv,
        json!({"msgtype": "text", "text": {"content": "长".repeat(3000)}}),
    )
    .await;
    assert_eq!(huge.errcode(), 45002, "{}", huge.body);
    let detail = app
        .v1(
            Method::GET,
            &format!("/conversations/{conv}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(detail.body["last_seq"], 0, "no bad input was stored");
    let bad_seq = app
        .v1(
            Method::POST,
            &format!("/conversations/{conv}/read"),
            Some(&alice),
            Some(&json!({"seq": "x"})),
        )
        .await;
    assert_eq!(bad_seq.errcode(), 40058, "{}", bad_seq.body);
}

fn task_card(to: &str, agentid: i64, task_id: &str) -> Value {
    json!({"touser": to, "msgtype": "template_card", "agentid": agentid, "template_card": {
        "card_type": "button_interaction", "task_id": task_id,
        "main_title": {"title": "采购申请", "desc": "¥12,000"},
        "button_list": [{"text": "同意", "style": 1, "key": "approve"},
                        {"text": "驳回", "style": 2, "key": "reject"}]
    }})
}

async fn task_card_clicks_reach_the_app_and_update_every_copy(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let o = org(&app, "Cards").await;
    let (agentid, secret, receiver) = common::app_with_receiver(&app, &o.corp).await;
    let token = app.token(&o.corp, &secret).await;
    let sent = post(
        &app,
        &token,
        "message/send",
        task_card("alice|bob", agentid, "po-1"),
    )
    .await;
    assert_eq!(errcode(&sent), 0, "{sent}");
    assert!(sent["response_code"].is_string());
    let alice = session_of(&app, &o.corp, "alice").await;
    let bob = session_of(&app, &o.corp, "bob").await;
    let alice_conv = app_conversation(&app, &alice).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bob_conv = app_conversation(&app, &bob).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let action = |session: String, conv: String, body: Value| {
        let app = &app;
        async move {
            app.v1(
                Method::POST,
                &format!("/conversations/{conv}/entries/1/card-action"),
                Some(&session),
                Some(&body),
            )
            .await
        }
    };
    let unknown = action(
        alice.clone(),
        alice_conv.clone(),
        json!({"key": "delete-everything"}),
    )
    .await;
    assert_eq!(unknown.errcode(), 40058, "{}", unknown.body);
    let clicked = action(alice.clone(), alice_conv.clone(), json!({"key": "approve"})).await;
    assert_eq!(clicked.status, 200, "{}", clicked.body);
    assert_eq!(clicked.body["content"]["replace_text"], "同意");
    assert!(clicked.body["content"].get("button_list").is_none());

    // The app hears of the click, encrypted, as WeCom's template_card_event.
    let events = receiver.wait_for(&app, 1).await;
    let event = events
        .iter()
        .find(|e| e.contains("template_card_event"))
        .expect("card event");
    assert_eq!(common::xml_field(event, "FromUserName"), "alice");
    assert_eq!(common::xml_field(event, "EventKey"), "approve");
    assert_eq!(common::xml_field(event, "TaskId"), "po-1");
    assert_eq!(common::xml_field(event, "CardType"), "button_interaction");
    let code = common::xml_field(event, "ResponseCode").to_owned();

    // A task card is done for everyone: bob's copy changed too.
    let bob_entries = entries(&app, &bob, &bob_conv, 0).await;
    let update = bob_entries.last().unwrap();
    assert_eq!(update["type"], "card_update", "{update}");
    assert_eq!(update["target"], 1);
    assert_eq!(update["sender"]["id"], "alice");
    assert_eq!(update["content"]["replace_text"], "同意");

    // The app updates the cards once with the click's response_code.
    let updated = post(
        &app,
        &token,
        "message/update_template_card",
        json!({
            "userids": ["bob", "ghost"], "agentid": agentid, "response_code": code,
            "button": {"replace_name": "已由 alice 同意"}
        }),
    )
    .await;
    assert_eq!(errcode(&updated), 0, "{updated}");
    assert_eq!(updated["invaliduser"], json!(["ghost"]));
    let last = entries(&app, &bob, &bob_conv, 0)
        .await
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["content"]["replace_text"], "已由 alice 同意");
    assert_eq!(last["sender"]["kind"], "app");
    let again = post(
        &app,
        &token,
        "message/update_template_card",
        json!({
            "atall": 1, "agentid": agentid, "response_code": code, "button": {"replace_name": "x"}
        }),
    )
    .await;
    assert_eq!(
        errcode(&again),
        40035,
        "a response_code is single use: {again}"
    );
    // Another app cannot use it, and a plain text message takes no action.
    let (other, other_secret) = app.app(&o.corp, "Other").await;
    let other_token = app.token(&o.corp, &other_secret).await;
    let stolen = post(&app, &other_token, "message/update_template_card", json!({
        "atall": 1, "agentid": other, "response_code": sent["response_code"], "button": {"replace_name": "x"}
    }))
    .await;
    assert_eq!(errcode(&stolen), 40035, "{stolen}");
    post(
        &app,
        &token,
        "message/send",
        text("alice", agentid, "plain"),
    )
    .await;
    let plain = app
        .v1(
            Method::POST,
            &format!("/conversations/{alice_conv}/entries/4/card-action"),
            Some(&alice),
            Some(&json!({"key": "approve"})),
        )
        .await;
    assert!(plain.status == 400 || plain.status == 404, "{}", plain.body);
}

async fn statistics_per_kind_and_per_app(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let o = org(&app, "Stats").await;
    let mut notice = text("alice|bob|carol", o.agentid, "放假通知");
    notice["kind"] = json!("announcement");
    assert_eq!(
        errcode(&post(&app, &o.token, "message/send", notice).await),
        0
    );
    let mut approval = text("alice", o.agentid, "请审批");
    approval["kind"] = json!("approval");
    assert_eq!(
        errcode(&post(&app, &o.token, "message/send", approval).await),
        0
    );

    let alice = session_of(&app, &o.corp, "alice").await;
    let bob = session_of(&app, &o.corp, "bob").await;
    let alice_conv = app_conversation(&app, &alice).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bob_conv = app_conversation(&app, &bob).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // bob's client receives his; alice reads both of hers ten minutes later.
    entries(&app, &bob, &bob_conv, 0).await;
    app.clock.advance_secs(600);
    let read = app
        .v1(
            Method::POST,
            &format!("/conversations/{alice_conv}/read"),
            Some(&alice),
            Some(&json!({"seq": 2})),
        )
        .await;
    assert_eq!(read.body["read_seq"], 2);

    let stats = app
        .v1(Method::GET, "/admin/message-stats", Some(&o.admin), None)
        .await;
    assert_eq!(stats.status, 200, "{}", stats.body);
    let rows = stats.body["stats"].as_array().unwrap();
    let of = |kind: &str| {
        rows.iter()
            .find(|r| r["kind"] == kind)
            .cloned()
            .expect(kind)
    };
    let a = of("announcement");
    assert_eq!(
        (
            a["sent"].as_i64(),
            a["delivered"].as_i64(),
            a["read"].as_i64()
        ),
        (Some(3), Some(2), Some(1))
    );
    assert_eq!(a["median_response_ms"], 600_000);
    let p = of("approval");
    assert_eq!((p["sent"].as_i64(), p["read"].as_i64()), (Some(1), Some(1)));
    assert_eq!(p["read_rate"], 1.0);
    let forbidden = app
        .v1(Method::GET, "/admin/message-stats", Some(&alice), None)
        .await;
    assert_eq!(forbidden.status, 403, "{}", forbidden.body);

    let today = post(
        &app,
        &o.token,
        "message/get_statistics",
        json!({"time_type": 0}),
    )
    .await;
    assert_eq!(errcode(&today), 0, "{today}");
    assert_eq!(
        today["statistics"],
        json!([{"agentid": o.agentid, "app_name": "Notices", "count": 4}])
    );
    let other = org(&app, "Other corp").await;
    let theirs = post(
        &app,
        &other.token,
        "message/get_statistics",
        json!({"time_type": 0}),
    )
    .await;
    assert_eq!(
        theirs["statistics"],
        json!([]),
        "another corp sees none of it"
    );
}

async fn media_in_messages_outlive_temporary_uploads(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let o = org(&app, "Media").await;
    let png = b"\x89PNG\r\n\x1a\n-a-small-picture".to_vec();
    let kept = common::upload(&app, &o.token, "image", "photo.png", png.clone()).await;
    let temporary =
        common::upload(&app, &o.token, "file", "notes.txt", b"temporary".to_vec()).await;
    let kept_id = kept["media_id"].as_str().unwrap().to_owned();
    let sent = post(&app, &o.token, "message/send", json!({
        "touser": "alice", "msgtype": "image", "agentid": o.agentid, "image": {"media_id": kept_id}
    }))
    .await;
    assert_eq!(errcode(&sent), 0, "{sent}");
    let alice = session_of(&app, &o.corp, "alice").await;
    let conv = open_direct(&app, &alice, "bob").await;
    let chat = say(
        &app,
        &alice,
        &conv,
        json!({"msgtype": "image", "image": {"media_id": kept_id}}),
    )
    .await;
    assert_eq!(chat.status, 201, "{}", chat.body);

    app.clock.advance_secs(4 * 24 * 3600);
    app.services.housekeeping().await.unwrap();
    let fresh = app.token(&o.corp, &o.secret).await;
    let url = |id: &str| {
        format!(
            "{}/cgi-bin/media/get?access_token={fresh}&media_id={id}",
            app.base
        )
    };
    let bytes = app
        .client
        .get(url(&kept_id))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.to_vec(), png, "a message's picture stays");
    let gone = app
        .client
        .get(url(temporary["media_id"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        errcode(&common::check_envelope(gone).await),
        40007,
        "an unused upload expires"
    );
    let expired = post(
        &app,
        &fresh,
        "message/send",
        json!({
            "touser": "alice", "msgtype": "file", "agentid": o.agentid,
            "file": {"media_id": temporary["media_id"]}
        }),
    )
    .await;
    assert_eq!(errcode(&expired), 40007, "{expired}");
}

async fn upload_img(app: &TestApp, token: &str, bytes: Vec<u8>) -> Value {
    let part = reqwest::multipart::Part::bytes(bytes).file_name("pic.png");
    let form = reqwest::multipart::Form::new().part("media", part);
    let response = app
        .client
        .post(format!(
            "{}/cgi-bin/media/uploadimg?access_token={token}",
            app.base
        ))
        .multipart(form)
        .send()
        .await
        .unwrap();
    common::check_envelope(response).await
}

async fn uploadimg_gives_a_permanent_address(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let o = org(&app, "Images").await;
    let png = b"\x89PNG\r\n\x1a\n-pixels-".to_vec();
    let reply = upload_img(&app, &o.token, png.clone()).await;
    assert_eq!(errcode(&reply), 0, "{reply}");
    let url = reply["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&app.base), "{url}");
    app.clock.advance_secs(30 * 24 * 3600);
    app.services.housekeeping().await.unwrap();
    let fetched = app.client.get(&url).send().await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(
        fetched.bytes().await.unwrap().to_vec(),
        png,
        "no token needed, never expires"
    );
    let fresh = app.token(&o.corp, &o.secret).await;
    assert_eq!(
        errcode(&upload_img(&app, &fresh, b"GIF89a....".to_vec()).await),
        40005
    );
    let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
    big.resize(2 * 1024 * 1024 + 1, 0);
    assert_eq!(errcode(&upload_img(&app, &fresh, big).await), 40006);
    let other = org(&app, "Elsewhere").await;
    let wrong_corp = url.replace(o.corp.as_str(), other.corp.as_str());
    let refused = app.client.get(&wrong_corp).send().await.unwrap();
    assert_eq!(errcode(&common::check_envelope(refused).await), 40007);
}

/// Uploads a file as a member (`POST /api/v1/media`, the raw body).
async fn member_upload(
    app: &TestApp,
    session: &str,
    query: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> common::V1Reply {
    let response = app
        .client
        .post(format!("{}/api/v1/media?{query}", app.base))
        .bearer_auth(session)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    common::v1_reply(response).await
}

async fn members_upload_media_and_send_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let o = org(&app, "Member media").await;
    let other = org(&app, "Other corp").await;
    let alice = session_of(&app, &o.corp, "alice").await;
    let bob = session_of(&app, &o.corp, "bob").await;
    let png = b"\x89PNG\r\n\x1a\n-a-member-picture".to_vec();

    let uploaded = member_upload(
        &app,
        &alice,
        "type=image&filename=photo.png",
        "image/png",
        png.clone(),
    )
    .await;
    assert_eq!(uploaded.status, 201, "{}", uploaded.body);
    assert_eq!(uploaded.body["type"], "image");
    let media_id = uploaded.body["media_id"].as_str().unwrap().to_owned();
    let conv = open_direct(&app, &alice, "bob").await;
    let sent = say(
        &app,
        &alice,
        &conv,
        json!({"msgtype": "image", "image": {"media_id": media_id}}),
    )
    .await;
    assert_eq!(sent.status, 201, "{}", sent.body);

    // bob, in the same corp, downloads it with its type and name.
    let download = |session: String, id: String| {
        let request = app
            .client
            .get(format!("{}/api/v1/media/{id}", app.base))
            .bearer_auth(session);
        async move { request.send().await.unwrap() }
    };
    let got = download(bob.clone(), media_id.clone()).await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "image/png");
    assert!(
        got.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("photo.png")
    );
    assert_eq!(got.bytes().await.unwrap().to_vec(), png);

    // Another corp's member cannot fetch it, whatever the id.
    let outsider = other.admin.clone();
    let refused = common::v1_reply(download(outsider, media_id.clone()).await).await;
    assert_eq!(
        (refused.status, refused.errcode()),
        (400, 40007),
        "{}",
        refused.body
    );
    let unknown = common::v1_reply(download(bob.clone(), "nonexistent".into()).await).await;
    assert_eq!(unknown.errcode(), 40007, "{}", unknown.body);

    // Bad input: unknown type, no type, empty file, over the voice limit (2 MB), no session.
    let bad_type = member_upload(&app, &alice, "type=movie", "video/mp4", b"x".to_vec()).await;
    assert_eq!(
        (bad_type.status, bad_type.errcode()),
        (400, 40005),
        "{}",
        bad_type.body
    );
    let no_type = member_upload(&app, &alice, "filename=x", "text/plain", b"x".to_vec()).await;
    assert_eq!(
        (no_type.status, no_type.errcode()),
        (400, 40058),
        "{}",
        no_type.body
    );
    let empty = member_upload(&app, &alice, "type=file", "text/plain", Vec::new()).await;
    assert_eq!(
        (empty.status, empty.errcode()),
        (400, 44001),
        "{}",
        empty.body
    );
    let huge = member_upload(
        &app,
        &alice,
        "type=voice",
        "audio/amr",
        vec![0u8; 2 * 1024 * 1024 + 1],
    )
    .await;
    assert_eq!((huge.status, huge.errcode()), (413, 40006), "{}", huge.body);
    let anonymous = common::v1_reply(
        app.client
            .post(format!("{}/api/v1/media?type=file", app.base))
            .body(b"x".to_vec())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);
}
