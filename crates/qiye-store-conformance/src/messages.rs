//! Stories for the [`MessageStore`]: gap-free sequences under concurrent
//! appends, pair conversations opened once, cursors that only move
//! forward, control entries that take effect with their entry, corp
//! isolation, the duplicate check and the delivery statistics.
//!
//! [`MessageStore`]: qiye_domain::ports::MessageStore

use std::sync::Arc;

use qiye_domain::clock::{Clock, SystemClock};
use qiye_domain::ids::{CorpId, UserId};
use qiye_domain::message::{
    Content, ConvId, ConvKind, Draft, EntryBody, MsgId, MsgKind, NewConversation, PairKey,
    Priority, Sender, Seq,
};
use qiye_domain::ports::{Store, StoreError};

use crate::{create, new_app};

fn user(name: &str) -> UserId {
    UserId::parse(name).expect("userid")
}

fn text(s: &str) -> EntryBody {
    EntryBody::Message(Content {
        msgtype: "text".into(),
        body: format!(r#"{{"content":"{s}"}}"#),
        preview: s.into(),
        media: vec!["m1".into()],
        mentions: vec![user("bob")],
        card: None,
    })
}

fn draft(corp: &CorpId, conv: &ConvId, from: &str, body: EntryBody) -> Draft {
    Draft {
        corp: corp.clone(),
        conv: conv.clone(),
        msgid: MsgId::generate(),
        sender: Sender::Member(user(from)),
        kind: MsgKind::Chat,
        priority: Priority::Normal,
        body,
        at: SystemClock.now_millis(),
    }
}

async fn group(store: &dyn Store, corp: &CorpId, members: &[&str]) -> ConvId {
    let id = ConvId::generate();
    let conv = NewConversation::group(
        id.clone(),
        ConvKind::Group,
        "team",
        user(members[0]),
        members[1..].iter().map(|m| user(m)).collect(),
    )
    .expect("group");
    store
        .create_conversation(corp, &conv, SystemClock.now_millis())
        .await
        .expect("create group");
    id
}

/// Four writers appending to one conversation at once get every sequence
/// from 1 to 200 exactly once, and reading back gives them in order.
pub async fn sequences_are_gap_free_under_concurrency(store: Arc<dyn Store>) {
    let corp = create(&*store, "Seq").await.0.id;
    let conv = group(&*store, &corp, &["alice", "bob", "carol"]).await;
    let mut tasks = Vec::new();
    for w in 0..4 {
        let (store, corp, conv) = (store.clone(), corp.clone(), conv.clone());
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for i in 0..25 {
                let batch = [
                    draft(&corp, &conv, "alice", text(&format!("w{w} {i}a"))),
                    draft(&corp, &conv, "bob", text(&format!("w{w} {i}b"))),
                ];
                let seqs = loop {
                    match store.append(&batch).await {
                        Ok(s) => break s,
                        // SQLite may report a busy database under contention.
                        Err(StoreError::Unavailable(_)) => tokio::task::yield_now().await,
                        Err(e) => panic!("append: {e}"),
                    }
                };
                assert_eq!(seqs[1], seqs[0] + 1, "one batch is contiguous");
                got.extend(seqs);
            }
            got
        }));
    }
    let mut all: Vec<Seq> = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("writer"));
    }
    all.sort_unstable();
    assert_eq!(all, (1..=200).collect::<Vec<Seq>>());
    let entries = store.entries(&corp, &conv, 0, 500).await.expect("entries");
    assert_eq!(entries.len(), 200);
    assert!(entries.windows(2).all(|w| w[1].seq == w[0].seq + 1));
    let tail = store.entries(&corp, &conv, 195, 500).await.expect("tail");
    assert_eq!(
        tail.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [196, 197, 198, 199, 200]
    );
    assert_eq!(
        store
            .conversation(&corp, &conv)
            .await
            .expect("conv")
            .last_seq,
        200
    );
    let first = &entries[0];
    let again = store.entry(&corp, &conv, first.seq).await.expect("entry");
    assert_eq!(&again, first, "an entry round-trips every field");
}

/// A one-to-one or app conversation exists once, whichever side opens it
/// and however many open it at once.
pub async fn pair_conversations_open_once(store: Arc<dyn Store>) {
    let corp = create(&*store, "Pairs").await.0.id;
    let mut tasks = Vec::new();
    for i in 0..6 {
        let (store, corp) = (store.clone(), corp.clone());
        tasks.push(tokio::spawn(async move {
            let (a, b) = if i % 2 == 0 {
                ("alice", "bob")
            } else {
                ("bob", "alice")
            };
            let key = PairKey::direct(user(a), user(b)).expect("key");
            loop {
                match store.open_pair(&corp, &key, 1).await {
                    Ok(c) => break c,
                    Err(StoreError::Unavailable(_)) => tokio::task::yield_now().await,
                    Err(e) => panic!("open: {e}"),
                }
            }
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        let conv = t.await.expect("opener");
        assert_eq!(conv.kind, ConvKind::Direct);
        assert_eq!(conv.members.len(), 2);
        ids.push(conv.id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one conversation: {ids:?}");
    let (agent, _) = new_app(&*store, &corp, "HR").await;
    let app = store
        .open_pair(&corp, &PairKey::App(agent, user("alice")), 1)
        .await
        .expect("app conversation");
    assert_eq!(app.kind, ConvKind::App(agent));
    assert_eq!(app.members, vec![user("alice")]);
    assert_ne!(app.id, ids[0]);
}

/// Read cursors move forward only, stop at the last entry, and unread
/// counts leave out one's own and recalled messages.
pub async fn cursors_move_forward_and_count_unread(store: Arc<dyn Store>) {
    let corp = create(&*store, "Cursors").await.0.id;
    let key = PairKey::direct(user("alice"), user("bob")).expect("key");
    let conv = store.open_pair(&corp, &key, 1).await.expect("open").id;
    let drafts: Vec<Draft> = (0..5)
        .map(|i| draft(&corp, &conv, "alice", text(&format!("m{i}"))))
        .collect();
    store.append(&drafts).await.expect("append");
    store
        .append(&[draft(&corp, &conv, "bob", text("reply"))])
        .await
        .expect("reply");
    let unread = |list: Vec<qiye_domain::message::ConvSummary>| {
        assert_eq!(list.len(), 1);
        list[0].unread
    };
    let bob = user("bob");
    let summary = store.member_conversations(&corp, &bob).await.expect("list");
    assert_eq!(summary[0].peer, Some(user("alice")));
    assert_eq!(summary[0].member_count, 2);
    assert_eq!(summary[0].last_seq, 6);
    assert_eq!(unread(summary), 5, "bob's own reply is not unread");
    let advance = |seq| store.advance_cursor(&corp, &conv, &bob, seq, 10);
    assert_eq!(advance(3).await.expect("advance"), 3);
    assert_eq!(advance(1).await.expect("backwards"), 3, "never backwards");
    assert_eq!(
        unread(store.member_conversations(&corp, &bob).await.expect("list")),
        2
    );
    store
        .append(&[draft(
            &corp,
            &conv,
            "alice",
            EntryBody::Recall { target: 5 },
        )])
        .await
        .expect("recall");
    assert_eq!(
        unread(store.member_conversations(&corp, &bob).await.expect("list")),
        1,
        "a recalled message is not unread, a recall entry is no message"
    );
    assert_eq!(
        advance(100).await.expect("clamped"),
        7,
        "clamped to the last entry"
    );
    let cursors = store.cursors(&corp, &conv).await.expect("cursors");
    let bob_cursor = cursors.iter().find(|c| c.userid == bob).expect("bob");
    assert_eq!(bob_cursor.read_seq, 7);
    assert_eq!(
        store
            .advance_cursor(&corp, &conv, &user("carol"), 1, 10)
            .await,
        Err(StoreError::NotFound),
        "not a member"
    );
}

/// Recalls, card updates, roster changes and renames take effect in the
/// transaction of their entry; a joiner's cursor starts at their join.
pub async fn control_entries_take_effect(store: Arc<dyn Store>) {
    let corp = create(&*store, "Control").await.0.id;
    let conv = group(&*store, &corp, &["alice", "bob"]).await;
    store
        .append(&[
            draft(&corp, &conv, "alice", text("hello")),
            draft(&corp, &conv, "alice", text("card")),
        ])
        .await
        .expect("messages");
    let seqs = store
        .append(&[
            draft(&corp, &conv, "alice", EntryBody::Recall { target: 1 }),
            draft(
                &corp,
                &conv,
                "alice",
                EntryBody::CardUpdate {
                    target: 2,
                    body: r#"{"replaced":true}"#.into(),
                },
            ),
            draft(
                &corp,
                &conv,
                "alice",
                EntryBody::RosterChanged {
                    added: vec![user("carol")],
                    removed: vec![user("bob")],
                },
            ),
            draft(
                &corp,
                &conv,
                "alice",
                EntryBody::Updated {
                    name: Some("renamed".into()),
                    owner: Some(user("carol")),
                },
            ),
        ])
        .await
        .expect("controls");
    assert_eq!(seqs, [3, 4, 5, 6]);
    let first = store.entry(&corp, &conv, 1).await.expect("first");
    assert!(first.recalled_at.is_some());
    let second = store.entry(&corp, &conv, 2).await.expect("second");
    match second.body {
        EntryBody::Message(c) => assert_eq!(c.body, r#"{"replaced":true}"#),
        other => panic!("not a message: {other:?}"),
    }
    let roster = store.entry(&corp, &conv, 5).await.expect("roster entry");
    assert_eq!(
        roster.body,
        EntryBody::RosterChanged {
            added: vec![user("carol")],
            removed: vec![user("bob")],
        }
    );
    let now = store.conversation(&corp, &conv).await.expect("conv");
    assert_eq!(now.members, vec![user("alice"), user("carol")]);
    assert_eq!(now.name, "renamed");
    assert_eq!(now.owner, Some(user("carol")));
    let cursors = store.cursors(&corp, &conv).await.expect("cursors");
    assert_eq!(cursors[1].userid, user("carol"));
    assert_eq!(cursors[1].read_seq, 5, "the joiner starts at their join");
    assert!(
        store
            .member_conversations(&corp, &user("bob"))
            .await
            .expect("bob's list")
            .is_empty()
    );
}

/// Another corp's conversation is unknown: not readable, not appendable,
/// and a batch naming it stores nothing at all.
pub async fn conversations_are_isolated_per_corp(store: Arc<dyn Store>) {
    let a = create(&*store, "A").await.0.id;
    let b = create(&*store, "B").await.0.id;
    let conv = group(&*store, &a, &["alice", "bob"]).await;
    store
        .append(&[draft(&a, &conv, "alice", text("secret"))])
        .await
        .expect("append");
    assert_eq!(
        store.conversation(&b, &conv).await,
        Err(StoreError::NotFound)
    );
    assert!(
        store
            .entries(&b, &conv, 0, 10)
            .await
            .expect("entries")
            .is_empty()
    );
    assert_eq!(store.entry(&b, &conv, 1).await, Err(StoreError::NotFound));
    let mixed = [
        draft(&a, &conv, "alice", text("ok")),
        draft(&b, &conv, "mallory", text("x")),
    ];
    assert_eq!(store.append(&mixed).await, Err(StoreError::NotFound));
    assert_eq!(
        store.conversation(&a, &conv).await.expect("conv").last_seq,
        1,
        "the failed batch stored nothing"
    );
    assert!(
        store
            .member_conversations(&b, &user("alice"))
            .await
            .expect("list")
            .is_empty()
    );
    let msgid = store.entry(&a, &conv, 1).await.expect("entry").msgid;
    assert!(
        store
            .entries_by_msgid(&b, &msgid)
            .await
            .expect("by msgid")
            .is_empty()
    );
    assert_eq!(
        store
            .entries_by_msgid(&a, &msgid)
            .await
            .expect("by msgid")
            .len(),
        1
    );
}

/// The duplicate check answers the first msgid while it lasts; app
/// deliveries report when each member received and read.
pub async fn duplicate_check_and_delivery_statistics(store: Arc<dyn Store>) {
    let corp = create(&*store, "Stats").await.0.id;
    let (agent, _) = new_app(&*store, &corp, "Notices").await;
    let first = MsgId::generate();
    let second = MsgId::generate();
    assert_eq!(
        store
            .remember_send(&corp, agent, "d1", &first, 100, 200)
            .await,
        Ok(None)
    );
    assert_eq!(
        store
            .remember_send(&corp, agent, "d1", &second, 150, 250)
            .await,
        Ok(Some(first.clone()))
    );
    assert_eq!(
        store
            .remember_send(&corp, agent, "d1", &second, 200, 300)
            .await,
        Ok(None),
        "expired at its end"
    );
    let conv = store
        .open_pair(&corp, &PairKey::App(agent, user("alice")), 1)
        .await
        .expect("app conversation")
        .id;
    let sent = Draft {
        sender: Sender::App(agent),
        kind: MsgKind::Announcement,
        at: 1_000,
        ..draft(&corp, &conv, "alice", text("notice"))
    };
    store
        .append(&[
            sent.clone(),
            Draft {
                msgid: MsgId::generate(),
                ..sent
            },
        ])
        .await
        .expect("send");
    store
        .mark_delivered(&corp, &user("alice"), &[(conv.clone(), 1)], 2_000)
        .await
        .expect("delivered");
    store
        .advance_cursor(&corp, &conv, &user("alice"), 1, 3_000)
        .await
        .expect("read");
    let stats = store.app_deliveries(&corp, 0, 10_000).await.expect("stats");
    assert_eq!(stats.len(), 2);
    assert!(
        stats
            .iter()
            .all(|d| d.agentid == agent && d.kind == MsgKind::Announcement)
    );
    let read: Vec<_> = stats.iter().map(|d| (d.delivered_at, d.read_at)).collect();
    assert!(read.contains(&(Some(2_000), Some(3_000))));
    assert!(read.contains(&(None, None)));
    assert!(
        store
            .app_deliveries(&corp, 2_000, 10_000)
            .await
            .expect("window")
            .is_empty()
    );
}
