//! Two `qiye serve` processes share the load through one PostgreSQL
//! database and NATS: a member connected to node A hears, on A's WebSocket,
//! what is sent through node B (a member's message over `/api/v1`, an app's
//! `message/send`), and a read receipt given on A reaches a member
//! connected to B.
//!
//! Needs `QIYE_TEST_PG_URL` and `QIYE_TEST_NATS_URL`; outside CI a missing
//! one skips the test (saying so), under `CI=true` it fails
//! (`QIYE_TEST_NATS_URL` defaults to `nats://127.0.0.1:4222` there).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::process::{
    Server, Socket, create_members, free_port, json_reply, listen, member_session,
};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const NATS_URL_VAR: &str = "QIYE_TEST_NATS_URL";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The NATS server tests should use, if any. Under `CI=true` it defaults to
/// the local server, which must then be reachable.
fn nats_url_from_env() -> Option<String> {
    match std::env::var(NATS_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if in_ci() => Some("nats://127.0.0.1:4222".to_owned()),
        _ => None,
    }
}

/// Fails clearly if nothing listens where `url` points.
fn assert_reachable(url: &str) {
    let authority = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest)
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .trim_end_matches('/');
    let addr = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:4222")
    };
    if let Err(err) = std::net::TcpStream::connect(&addr) {
        panic!("NATS is not reachable at {addr} ({NATS_URL_VAR}={url}): {err}");
    }
}

/// Runs the CLI against the shared database.
fn qiye(data_dir: &Path, database_url: &str, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_qiye"))
        .args(args)
        .arg("--json")
        .env("QIYE_DATA_DIR", data_dir)
        .env("QIYE_DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .current_dir(data_dir)
        .output()
        .expect("run qiye");
    assert!(
        out.status.success(),
        "qiye {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// The next pushed frame of `kind` (other frames, such as presence, are
/// passed over); fails if none comes within ten seconds.
async fn next_push(socket: &mut Socket, kind: &str) -> Value {
    let wait = async {
        while let Some(frame) = socket.next().await {
            let Message::Text(text) = frame.expect("frame") else {
                continue;
            };
            let v: Value = serde_json::from_str(&text).expect("JSON frame");
            if v["type"] == kind {
                return v;
            }
        }
        panic!("socket closed before a {kind} frame");
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap_or_else(|_| panic!("no {kind} frame within 10 s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_on_one_node_hears_what_is_sent_through_another() {
    let Some(pg_url) = qiye_store::testing::pg_url_from_env() else {
        eprintln!("skipped: QIYE_TEST_PG_URL is not set (two nodes need PostgreSQL)");
        return;
    };
    let Some(nats_url) = nats_url_from_env() else {
        eprintln!("skipped: {NATS_URL_VAR} is not set (two nodes need NATS)");
        return;
    };
    assert_reachable(&nats_url);
    let db = qiye_store::testing::TestDatabase::create(&pg_url)
        .await
        .expect("create a test database");
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let args = ["--database-url", &db.url, "--nats-url", &nats_url];
    let node_a = Server::start_with(dir_a.path(), free_port(), &args);
    let node_b = Server::start_with(dir_b.path(), free_port(), &args);
    for node in [&node_a, &node_b] {
        assert!(
            node.first_start
                .iter()
                .any(|l| l.starts_with("qiye: fan-out: NATS nats://")),
            "{:?}",
            node.first_start
        );
    }
    let (a, b) = (node_a.base.clone(), node_b.base.clone());
    let corpid = node_a.value_after("corpid");
    let secret = node_a.value_after("contacts secret");

    let client = reqwest::Client::new();
    create_members(&client, &b, (&corpid, &secret), &["alice", "bob"]).await;
    let one_time = |userid: &str| {
        qiye(
            dir_a.path(),
            &db.url,
            &[
                "member",
                "reset-password",
                "--corpid",
                &corpid,
                "--userid",
                userid,
            ],
        )["password"]
            .as_str()
            .expect("password")
            .to_owned()
    };
    let (alice_pw, bob_pw) = (one_time("alice"), one_time("bob"));
    let alice = member_session(
        &client,
        &b,
        &corpid,
        ("alice", &alice_pw),
        "multi-node-password-1",
    )
    .await;
    let bob = member_session(
        &client,
        &a,
        &corpid,
        ("bob", &bob_pw),
        "multi-node-password-1",
    )
    .await;

    // bob listens on A, alice on B.
    let mut bob_on_a = listen(&a, &bob).await;
    let mut alice_on_b = listen(&b, &alice).await;

    // alice sends through B's REST API; bob hears it on A.
    let opened = json_reply(
        client
            .post(format!("{b}/api/v1/conversations"))
            .bearer_auth(&alice)
            .json(&json!({"kind": "direct", "peer": "bob"})),
    )
    .await;
    let conv = opened["id"].as_str().expect("conversation id").to_owned();
    let sent = client
        .post(format!("{b}/api/v1/conversations/{conv}/messages"))
        .bearer_auth(&alice)
        .json(&json!({"msgtype": "text", "text": {"content": "跨节点 hello"}}))
        .send()
        .await
        .expect("send");
    assert_eq!(sent.status(), 201);
    let sent: Value = sent.json().await.expect("JSON");
    let pushed = next_push(&mut bob_on_a, "entry").await;
    let entry = &pushed["entry"];
    assert_eq!(entry["conv"], conv.as_str());
    assert_eq!(entry["seq"], sent["seq"]);
    assert_eq!(entry["msgid"], sent["msgid"]);
    assert_eq!(entry["sender"], json!({"kind": "member", "id": "alice"}));
    assert_eq!(entry["content"]["content"], "跨节点 hello");
    // The sender's own connection (on B) hears it from B itself.
    let own = next_push(&mut alice_on_b, "entry").await;
    assert_eq!(own["entry"]["seq"], sent["seq"]);

    // bob reads on A; alice, on B, gets the receipt.
    let seq = sent["seq"].as_u64().expect("seq");
    let read = client
        .post(format!("{a}/api/v1/conversations/{conv}/read"))
        .bearer_auth(&bob)
        .json(&json!({"seq": seq}))
        .send()
        .await
        .expect("read");
    assert!(read.status().is_success(), "{}", read.status());
    let receipt = next_push(&mut alice_on_b, "read").await;
    assert_eq!(
        receipt,
        json!({"type": "read", "conv": conv, "userid": "bob", "seq": seq})
    );

    // An app's message/send through B reaches bob on A.
    let app = qiye(
        dir_b.path(),
        &db.url,
        &[
            "app",
            "create",
            "--corpid",
            &corpid,
            "--name",
            "OA",
            "--all-visible",
        ],
    );
    let agentid = app["agentid"].as_i64().expect("agentid");
    let app_secret = app["secret"].as_str().expect("secret");
    let app_token = json_reply(client.get(format!(
        "{b}/cgi-bin/gettoken?corpid={corpid}&corpsecret={app_secret}"
    )))
    .await["access_token"]
        .as_str()
        .expect("app token")
        .to_owned();
    let reply = json_reply(
        client
            .post(format!("{b}/cgi-bin/message/send?access_token={app_token}"))
            .json(&json!({
                "touser": "bob", "msgtype": "text", "agentid": agentid,
                "text": {"content": "审批提醒"}
            })),
    )
    .await;
    assert_eq!(reply["errcode"], 0, "{reply}");
    let pushed = next_push(&mut bob_on_a, "entry").await;
    let entry = &pushed["entry"];
    assert_eq!(entry["msgid"], reply["msgid"]);
    assert_eq!(
        entry["sender"],
        json!({"kind": "app", "id": agentid.to_string()})
    );
    assert_eq!(entry["content"]["content"], "审批提醒");
    assert_eq!(entry["seq"], 1, "the first entry of bob's app conversation");
}
