//! Nothing acknowledged is lost: a real `qiye serve` (SQLite) takes a
//! stream of chat sends from four writers while a member listens on a
//! WebSocket; the server is killed with SIGKILL in the middle of the
//! stream and restarted. Every send that got a success reply is there, the
//! sequence has no gaps, and the listener, whose connection dropped a third
//! of the way and who reconnects and syncs from what it had, ends up with
//! every entry once, in order.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::process::{
    Server, Socket, create_members, free_port, json_reply, listen, member_session,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// Acknowledged sends after which the server is killed.
const KILL_AFTER: usize = 150;
/// Concurrent writers.
const WRITERS: usize = 4;

fn reset_password(data_dir: &Path, corpid: &str, userid: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_qiye"))
        .args([
            "member",
            "reset-password",
            "--corpid",
            corpid,
            "--userid",
            userid,
            "--json",
        ])
        .env("QIYE_DATA_DIR", data_dir)
        .env_remove("QIYE_DATABASE_URL")
        .env("RUST_LOG", "warn")
        .current_dir(data_dir)
        .output()
        .expect("run qiye");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    v["password"].as_str().expect("password").to_owned()
}

/// Reads pushed entries until `n` arrived (or the socket closes or is
/// quiet for ten seconds); answers (seq, content) in arrival order.
async fn receive(socket: &mut Socket, n: usize) -> Vec<(u64, String)> {
    let mut got = Vec::new();
    while got.len() < n {
        let Ok(Some(Ok(frame))) =
            tokio::time::timeout(Duration::from_secs(10), socket.next()).await
        else {
            break;
        };
        let Message::Text(text) = frame else { continue };
        let v: Value = serde_json::from_str(&text).expect("JSON frame");
        if v["type"] == "entry" {
            got.push((
                v["entry"]["seq"].as_u64().expect("seq"),
                v["entry"]["content"]["content"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            ));
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_kill_9_and_resync_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = Server::start(dir.path(), port);
    let base = server.base.clone();
    let corpid = server.value_after("corpid");
    let secret = server.value_after("contacts secret");
    let client = reqwest::Client::new();
    create_members(&client, &base, (&corpid, &secret), &["alice", "bob"]).await;
    let alice_pw = reset_password(dir.path(), &corpid, "alice");
    let bob_pw = reset_password(dir.path(), &corpid, "bob");
    let alice = member_session(
        &client,
        &base,
        &corpid,
        ("alice", &alice_pw),
        "durable-password-1",
    )
    .await;
    let bob = member_session(
        &client,
        &base,
        &corpid,
        ("bob", &bob_pw),
        "durable-password-1",
    )
    .await;
    let opened = json_reply(
        client
            .post(format!("{base}/api/v1/conversations"))
            .bearer_auth(&alice)
            .json(&json!({"kind": "direct", "peer": "bob"})),
    )
    .await;
    let conv = opened["id"].as_str().unwrap().to_owned();
    let mut bob_socket = listen(&base, &bob).await;

    // Four writers send until the server dies under them.
    let acked = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (client, base, alice, conv, acked) = (
            reqwest::Client::new(),
            base.clone(),
            alice.clone(),
            conv.clone(),
            acked.clone(),
        );
        writers.push(tokio::spawn(async move {
            let mut confirmed: Vec<(String, u64)> = Vec::new();
            for i in 0.. {
                let content = format!("w{w}-{i}");
                let reply = client
                    .post(format!("{base}/api/v1/conversations/{conv}/messages"))
                    .bearer_auth(&alice)
                    .json(&json!({"msgtype": "text", "text": {"content": content}, "client_id": content}))
                    .send()
                    .await;
                let Ok(reply) = reply else { break };
                if reply.status() != 201 {
                    break;
                }
                let Ok(body) = reply.json::<Value>().await else { break };
                confirmed.push((content, body["seq"].as_u64().expect("seq")));
                acked.fetch_add(1, Ordering::SeqCst);
            }
            confirmed
        }));
    }
    // bob receives a third of the stream live, then his connection drops.
    let before = receive(&mut bob_socket, KILL_AFTER / 3).await;
    assert_eq!(before.len(), KILL_AFTER / 3, "pushed live");
    drop(bob_socket);
    while acked.load(Ordering::SeqCst) < KILL_AFTER {
        tokio::task::yield_now().await;
    }
    server.kill9();
    let mut confirmed: HashMap<String, u64> = HashMap::new();
    for w in writers {
        confirmed.extend(w.await.expect("writer"));
    }
    assert!(
        confirmed.len() >= KILL_AFTER,
        "{} acknowledged",
        confirmed.len()
    );

    let restarted = Server::start(dir.path(), port);
    let client = reqwest::Client::new();
    let all = json_reply(
        client
            .get(format!(
                "{}/api/v1/conversations/{conv}/entries?limit=500",
                restarted.base
            ))
            .bearer_auth(&alice),
    )
    .await;
    let stored: Vec<(u64, String)> = all["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["seq"].as_u64().unwrap(),
                e["content"]["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let seqs: Vec<u64> = stored.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        seqs,
        (1..=stored.len() as u64).collect::<Vec<_>>(),
        "gap-free after the crash"
    );
    let by_content: BTreeMap<&str, u64> = stored.iter().map(|(s, c)| (c.as_str(), *s)).collect();
    assert_eq!(by_content.len(), stored.len(), "no message stored twice");
    for (content, seq) in &confirmed {
        assert_eq!(
            by_content.get(content.as_str()),
            Some(seq),
            "acknowledged {content} (seq {seq}) lost after kill -9"
        );
    }

    // bob reconnects and syncs from the last entry he holds in order.
    let mut have = 0;
    for (seq, _) in &before {
        if *seq == have + 1 {
            have = *seq;
        }
    }
    let mut socket = listen(&restarted.base, &bob).await;
    socket
        .send(Message::Text(
            json!({"type": "sync", "id": "s", "known": {conv.clone(): have}, "limit": 500})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    let synced = loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("sync reply")
            .expect("open")
            .expect("frame");
        let Message::Text(text) = frame else { continue };
        let v: Value = serde_json::from_str(&text).unwrap();
        if v["type"] == "sync" {
            break v;
        }
    };
    let mut received: Vec<(u64, String)> =
        before.into_iter().take_while(|(s, _)| *s <= have).collect();
    if let Some(c) = synced["conversations"].as_array().unwrap().first() {
        for e in c["entries"].as_array().unwrap() {
            received.push((
                e["seq"].as_u64().unwrap(),
                e["content"]["content"].as_str().unwrap().to_owned(),
            ));
        }
    }
    assert_eq!(received, stored, "bob has every entry, once, in order");
}
